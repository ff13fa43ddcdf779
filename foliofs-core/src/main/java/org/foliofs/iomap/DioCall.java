package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoCompletion;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;

/**
 * One direct I/O call (Linux's struct iomap_dio): runs the mapping loop on the calling thread,
 * issues the device requests, counts them, and finishes once the last one completed.
 *
 * <p>Reference protocol: {@link IoCall}; an asynchronous call whose completion drops the last
 * reference finishes right there when nothing in finishing may block ({@link #finishInline}).
 * Fields the submitter alone writes (written, needSync, done) are published by its own decrement.
 *
 * <p>Requests: at most {@code maxInFlight} {@link Slot}s per call, each owning one reusable
 * IoRequest; a slot is free again once its completion has finished reading the request
 * ({@code busy} cleared last), and the submitter parks while none is free.
 */
final class DioCall extends IoCall implements IoMapIter.Chunk {
    /** Source of zero padding: the largest file system block is 64 KiB; native, page aligned, never written. */
    private static final MemorySegment ZEROS = Arena.global().allocate(65536, 4096).asReadOnly();

    private final DirectIo engine;
    private final BlockDevice dev;
    private final IoInode inode;
    private final IoMapOps ops;
    private final IoEndHandler ioEnd;
    private final long pos;
    private final MemorySegment buf;
    private final boolean write;
    private final boolean dsync;
    private final boolean atomic;   // untorn write: one mapping, one request, one ioEndAtomic
    private final int opFlags;
    private final long size; // file size when the call started (the caller holds the inode lock)

    // Submitter only (published to finish() by the pending protocol).
    private Slot[] slots = new Slot[2];
    private int slotCount, nextSlot;
    private final List<Written> written;
    private final List<IoMap> atomicMaps = new ArrayList<>(1);
    private boolean needSync;
    private long done;

    /** A mapping the write issued requests for: ioEnd's arguments. */
    private record Written(long pos, long length, IoMap map) {}

    DioCall(DirectIo engine, IoInode inode, IoMapOps ops, IoEndHandler ioEnd, long pos, MemorySegment buf,
            boolean write, int flags, boolean async) {
        super(async, engine.options.executor());
        this.engine = engine;
        this.dev = engine.device;
        this.inode = inode;
        this.ops = ops;
        this.ioEnd = ioEnd;
        this.pos = pos;
        this.buf = buf;
        this.write = write;
        this.dsync = (flags & DirectIo.DSYNC) != 0;
        this.atomic = (flags & DirectIo.ATOMIC) != 0;
        this.opFlags = IoMapOps.DIRECT | (write ? IoMapOps.WRITE : 0)
                | ((flags & DirectIo.NOWAIT) != 0 ? IoMapOps.NOWAIT : 0) | (atomic ? IoMapOps.ATOMIC : 0);
        this.size = inode.size();
        this.written = write ? new ArrayList<>(2) : List.of();
    }

    /** The mapping loop, then the submitter's reference drop; a synchronous call also waits and finishes. */
    void run() {
        long len = buf.byteSize();
        try {
            CacheRangeSync cache = inode.cache();
            cache.writeAndWait(pos, len);
            long iterLength = len;
            if (write) {
                cache.invalidate(pos, len);
            } else {
                long lbs = engine.lbs;
                long readable = size <= pos ? 0 : (size - pos + lbs - 1) / lbs * lbs; // whole blocks up to the size
                iterLength = Math.min(len, readable);
            }
            if (iterLength > 0) done = new IoMapIter(inode, pos, iterLength, opFlags).run(ops, this);
        } catch (Throwable t) {
            fail(t);
        }
        submitted();
    }

    // ---- the chunk: one mapping ---------------------------------------------------------------

    @Override
    public long process(IoMapIter it) throws IOException {
        if (error != null) return 0; // a request failed: issue nothing more
        IoMap m = it.map();
        long p = it.pos(), n = it.length(), off = p - pos;
        switch (m.type()) {
            case DELALLOC -> throw new IOException((write ? "direct write" : "direct read") + " at " + p + ": mapping " + m
                    + " is DELALLOC; direct I/O needs the file system to write back and allocate delayed data first");
            case HOLE -> {
                if (write) {
                    throw new IOException("direct write at " + p + ": begin(DIRECT|WRITE) returned " + m
                            + "; it must allocate (MAPPED or UNWRITTEN)");
                }
                buf.asSlice(off, n).fill((byte) 0);
                return n;
            }
            case UNWRITTEN -> {
                if (!write) {
                    buf.asSlice(off, n).fill((byte) 0);
                    return n;
                }
            }
            case MAPPED -> {}
        }
        if (ops instanceof IoMapValidity v && !v.isValid(inode, m)) {
            it.markStale();
            return 0;
        }
        if (atomic) {
            atomicMaps.add(m);   // before anything can fail: ioEndAtomic frees its out-of-place blocks on an error
            checkAtomicMapping("direct write", m, p, n, pos, buf.byteSize());
        }
        return write ? writeChunk(m, p, n, off) : issue(IoOp.READ, m.deviceAddressOf(p), buf, off, p, n, 0, false);
    }

    private long writeChunk(IoMap m, long p, long n, long off) {
        long end = p + n;
        boolean fresh = m.type() == IoMap.Type.UNWRITTEN || m.hasFlag(IoMap.NEW);
        boolean pure = m.type() == IoMap.Type.MAPPED && (m.flags() & (IoMap.NEW | IoMap.SHARED | IoMap.DIRTY)) == 0
                && end <= size; // an extending write needs its size update synced
        int reqFlags = atomic ? atomicRequestFlags(m) : 0;
        if (dsync) {
            if (pure && engine.fuaUsable && !needSync) reqFlags |= IoRequest.FUA;
            else needSync = true;
        }
        int bs = inode.blockSize();
        if (bs > engine.lbs) { // sub-block padding: never leave stale blocks behind a conversion or the size
            long head = p % bs;
            if (fresh && head != 0) {
                long from = Math.max(p - head, m.offset());
                padZeros(m, from, p - from);
            }
            long tail = end % bs;
            if (tail != 0 && (fresh || end >= size)) padZeros(m, end, Math.min(bs - tail, m.end() - end));
        }
        long issued = issue(IoOp.WRITE, m.deviceAddressOf(p), buf, off, p, n, reqFlags, false);
        if (issued > 0) written.add(new Written(p, issued, m));
        return issued;
    }

    private void padZeros(IoMap m, long filePos, long len) {
        if (len > 0) issue(IoOp.WRITE, m.deviceAddressOf(filePos), ZEROS, 0, filePos, len, 0, true);
    }

    /** Issues [src+off, +len) as requests of at most maxRequestBytes; returns the bytes issued (less after an error). */
    private long issue(IoOp op, long devAddr, MemorySegment src, long off, long filePos, long len, int reqFlags,
                       boolean pad) {
        long max = atomic ? len : engine.options.maxRequestBytes();   // atomic: one request, never split
        long issued = 0;
        while (issued < len && error == null) {
            long n = Math.min(len - issued, max);
            Slot s = acquireSlot();
            IoRequest r = s.request;
            r.prepare(op, devAddr + issued, reqFlags, s).add(src.asSlice(pad ? 0 : off + issued, n));
            s.filePos = filePos + issued;
            s.pad = pad;
            s.busy = true;
            pending.incrementAndGet();
            try {
                dev.submit(r);
            } catch (RuntimeException e) { // validation: the request was not queued
                s.busy = false;
                pending.decrementAndGet();
                throw e;
            }
            issued += n;
        }
        return issued;
    }

    private Slot acquireSlot() {
        boolean interrupted = false;
        try {
            while (true) {
                for (int i = 0; i < slotCount; i++) {
                    int k = (nextSlot + i) % slotCount;
                    if (!slots[k].busy) {
                        nextSlot = k + 1;
                        return slots[k];
                    }
                }
                if (slotCount < engine.options.maxInFlight()) {
                    if (slotCount == slots.length) slots = java.util.Arrays.copyOf(slots, slotCount * 2);
                    Slot s = new Slot(this);
                    slots[slotCount++] = s;
                    return s;
                }
                LockSupport.park(this); // a completion clears busy, then unparks us
                if (Thread.interrupted()) interrupted = true;
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    // ---- completion -----------------------------------------------------------------------------

    /** One request slot: the reusable request and the completion that accounts for it. */
    private static final class Slot implements IoCompletion {
        final DioCall call;
        final IoRequest request = new IoRequest();
        long filePos;
        boolean pad;
        volatile boolean busy;

        Slot(DioCall call) { this.call = call; }

        @Override
        public void complete(IoRequest r, long result) {
            DioCall c = call;
            if (result < 0) {
                c.fail(r.error());
            } else if (result < r.length()) {
                if (pad) { // zero padding must be whole, or stale data would be converted into the file
                    c.fail(new DeviceException("zero-padding write (completed " + result + " bytes)", c.dev.describe(),
                            r.offset(), r.length(), Errno.EIO));
                } else {
                    c.shortAt(filePos + result);
                }
            }
            busy = false; // after the last read of r: the submitter may reuse it now
            c.requestDone();
        }
    }

    /**
     * Linux's inline completion (IOMAP_DIO_INLINE_COMP): finishing needs nothing that may block
     * when the call is a read, or a write whose every mapping is a pure overwrite (MAPPED, none of
     * NEW/SHARED/DIRTY) inside the file size, with no DSYNC sync to do, and no page cache to
     * invalidate. Then the completion thread finishes the call itself: one thread hop less per
     * asynchronous I/O (measured in docs/BENCHMARKS.md). Read after pending reached 0, so the
     * submitter's fields are visible.
     */
    @Override
    boolean finishInline() {
        if (inode.cache() != CacheRangeSync.NONE) return false;
        if (!write) return true;
        if (atomic) return false;   // its one end-of-I/O transaction may block
        if (error != null || (dsync && needSync) || pos + done > size) return false;
        for (Written w : written) {
            IoMap m = w.map();
            if (m.type() != IoMap.Type.MAPPED || (m.flags() & (IoMap.NEW | IoMap.SHARED | IoMap.DIRTY)) != 0) return false;
        }
        return true;
    }

    /** After the last request: trim, end-of-I/O work, DSYNC, cache invalidation, outcome. */
    @Override
    void finish() {
        Throwable err = error;
        long result = done;
        long cut = shortAt();
        if (cut != Long.MAX_VALUE) result = Math.min(result, cut - pos);
        if (write) {
            if (atomic) {
                err = endAtomic(ioEnd, inode, pos, buf.byteSize(), result, atomicMaps, err, dev.describe(), buf);
                if (err != null) result = 0;   // all or nothing
            } else {
                err = endOfIo(err, result);
            }
            if (err == null && dsync && needSync) {
                long r = result;
                syncThen(ioEnd, inode, pos, result, dev, e -> invalidateAndComplete(r, e));
                return;
            }
            invalidateAndComplete(result, err);
        } else {
            result = Math.min(result, Math.max(0, size - pos));
            complete(result, err);
        }
    }

    /** The end of a write's finish, after DSYNC's flush: drops cached pages over the range, then the outcome. */
    private void invalidateAndComplete(long result, Throwable err) {
        try {
            inode.cache().invalidate(pos, buf.byteSize());
        } catch (IOException | RuntimeException e) {
            if (err == null) err = e;
            else err.addSuppressed(e);
        }
        complete(result, err);
    }

    private Throwable endOfIo(Throwable err, long result) {
        for (Written w : written) {
            int errno = err == null ? 0 : err instanceof DeviceException d ? d.errno() : Errno.EIO;
            long n = w.length();
            if (errno == 0) {
                n = Math.min(w.pos() + n, pos + result) - w.pos();
                if (n <= 0) continue; // beyond a short completion: nothing of it is reported written
            }
            try {
                ioEnd.ioEnd(inode, w.pos(), n, w.map(), errno);
            } catch (IOException | RuntimeException e) {
                if (err == null) err = e;
                else err.addSuppressed(e);
            }
        }
        return err;
    }
}
