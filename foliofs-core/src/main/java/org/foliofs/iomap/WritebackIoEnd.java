package org.foliofs.iomap;

import java.util.Arrays;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoCompletion;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;
import org.foliofs.pagecache.Folio;

/**
 * One writeback device request and its end-of-I/O work (Linux's iomap_ioend): dirty block runs of
 * one or more folios, contiguous in the file and on the device and of one mapping type, written
 * as one WRITE whose segments are the folios' data slices.
 *
 * <p>Completion: the device thread hands the ioend to the engine's executor (never file system
 * work there), unless the write succeeded and the handler says its ioEnd cannot block
 * ({@link IoEndHandler#completesInline}), as XFS completes ioends that need no work in the bio's
 * completion. Then, on the executor or inline: {@link IoEndHandler#ioEnd} for the
 * range (clipped to the in-memory size, so the on-disk size never passes what was written;
 * unwritten conversion), then, on failure (errno, a short write, or an ioEnd exception), the
 * errno goes into the file's {@link ErrSeq} and the blocks are re-dirtied (allowed under
 * WRITEBACK without the folio lock); last, each folio whose every run is done ends writeback and
 * is put. Ending writeback after the conversion, as XFS does, means a waiter for writeback (fsync)
 * also waits for the conversion.
 */
final class WritebackIoEnd implements IoCompletion, Runnable {
    /** A folio under writeback and its runs not yet done (+1 for the pass that is still adding runs). */
    static final class Held extends AtomicInteger {
        final Folio folio;

        Held(Folio folio) {
            super(1);
            this.folio = folio;
        }

        /**
         * Drops one count; the last puts the pass's reference and ends writeback. Put first: once
         * writeback has ended, a waiter (fsync, then eviction) must find the folio unreferenced.
         * Safe without our reference: a folio under writeback can be neither removed nor evicted,
         * so it stays in its cache until endWriteback returns.
         */
        void release() {
            if (decrementAndGet() == 0) {
                folio.put();
                folio.endWriteback();
            }
        }
    }

    private final BufferedFile file;
    final IoRequest request = new IoRequest();
    final long filePos;
    final IoMap map;
    private Held[] held = new Held[4];
    private long[] segOff = new long[4], segLen = new long[4];
    private int segs;
    private long length;

    WritebackIoEnd(BufferedFile file, IoMap map, long filePos) {
        this.file = file;
        this.map = map;
        this.filePos = filePos;
        request.prepare(IoOp.WRITE, map.deviceAddressOf(filePos), 0, this);
    }

    long fileEnd() { return filePos + length; }
    long deviceEnd() { return map.deviceAddressOf(filePos) + length; }
    long length() { return length; }
    int segments() { return segs; }

    /** Appends a run of {@code h}'s folio; the caller took a count on {@code h} for it. */
    void add(Held h, long off, long len) {
        if (segs == held.length) {
            held = Arrays.copyOf(held, segs * 2);
            segOff = Arrays.copyOf(segOff, segs * 2);
            segLen = Arrays.copyOf(segLen, segs * 2);
        }
        held[segs] = h;
        segOff[segs] = off;
        segLen[segs++] = len;
        request.add(h.folio.data().asSlice(off, len));
        length += len;
    }

    /** Submits the request; a validation failure is handled as a failed write (nothing stays under writeback). */
    void submit() {
        try {
            file.engine.device.submit(request);
        } catch (RuntimeException e) {
            System.getLogger("org.foliofs.iomap").log(System.Logger.Level.ERROR, "writeback request " + request + " rejected", e);
            finish(Errno.EIO);
        }
    }

    @Override
    public void complete(IoRequest r, long result) {
        // Success with nothing blocking to do (the handler says so): finish here, one thread hop
        // less per request (measured in docs/BENCHMARKS.md); errors always go to the executor.
        if (result == length && file.ioEnd.completesInline(file.inode, filePos, length, map)) {
            finish(0);
            return;
        }
        try {
            file.engine.options.executor().execute(this);
        } catch (RejectedExecutionException e) {
            // The executor is shut down: better to do the work here than leave folios under writeback forever.
            run();
        }
    }

    @Override
    public void run() {
        long result = request.result();
        int errno = result < 0 ? -(int) result : result < length ? Errno.EIO : 0;
        finish(errno);
    }

    private void finish(int errno) {
        IoInode inode = file.inode;
        try {
            if (errno == 0) {
                long n = Math.min(fileEnd(), inode.size()) - filePos;   // never move the size past the user's data
                if (n > 0) file.ioEnd.ioEnd(inode, filePos, n, map, 0);
            } else {
                file.ioEnd.ioEnd(inode, filePos, length, map, errno);
            }
        } catch (Exception | Error e) {
            System.getLogger("org.foliofs.iomap").log(System.Logger.Level.ERROR, "ioEnd of writeback at " + filePos + " +" + length
                    + " (" + map + ") failed", e);
            if (errno == 0) errno = e instanceof DeviceException d ? d.errno() : Errno.EIO;
        }
        if (errno != 0) {
            file.errors.record(errno);
            for (int i = 0; i < segs; i++) held[i].folio.markDirty(segOff[i], segLen[i]);   // retried, not dropped
        }
        for (int i = 0; i < segs; i++) {
            held[i].release();
            held[i] = null;
        }
        try {
            file.ioEnd.writebackDone(inode);
        } catch (RuntimeException | Error e) {
            System.getLogger("org.foliofs.iomap").log(System.Logger.Level.ERROR, "writebackDone of " + inode + " failed", e);
        }
    }
}
