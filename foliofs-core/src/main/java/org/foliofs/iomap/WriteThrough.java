package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoCompletion;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;
import org.foliofs.pagecache.Folio;

/**
 * One buffered write-through call (docs/spec WRITETHROUGH.md sections 1-9; the RFC's
 * iomap_writethrough context). Per mapping from {@code begin(WRITE | WRITETHROUGH)} (allocated
 * space: MAPPED or UNWRITTEN), per folio: lock it, wait for its writeback (stable pages), check the
 * mapping, make partial edge blocks up to date, copy, put the folio under writeback <i>before</i>
 * unlocking it, clean only the blocks this call writes, unlock; the folio's block run is appended
 * to the current {@link Req} (one device WRITE whose segments are folio slices), which is issued
 * when the mapping ends, the user data ends, the request reaches maxRequestBytes or
 * {@value ReadBatch#MAX_SEGMENTS} segments (or after every folio in the benchmark-only per-folio
 * mode). The held mapping goes down with the request.
 *
 * <p>Reference protocol: {@link IoCall}; an asynchronous call always finishes on the executor
 * (never on the submitting thread, never on the device's completion thread: end-of-I/O work may
 * block).
 *
 * <p>Folios: a request that is a pure overwrite (MAPPED, none of NEW/SHARED/DIRTY, inside the size
 * the call started with) ends writeback on its folios at its completion. Every other request keeps
 * its folios under writeback until the end-of-I/O work (unwritten conversion, CoW remap, size) is
 * done, as XFS ends writeback after the ioend: a reader that misses the cache after eviction can
 * then never see the old mapping's zeros for data the call already holds in the cache, and fsync,
 * truncate and direct I/O, which wait for writeback, also wait for the conversion.
 *
 * <p>Errors: the first one is kept; no request is issued after it; the request being built is
 * dropped; the blocks of every request whose data may not be durable and converted (all but the
 * pure overwrites that completed in full) are re-dirtied before their writeback ends, so the page
 * cache never claims the device holds data it does not: background writeback retries them.
 * The end-of-I/O handler gets the errno for every mapping (undo only).
 */
final class WriteThrough extends IoCall implements IoMapIter.Chunk {
    /**
     * Test only (org.foliofs.iomap.WriteThroughFaults): DSYNC calls skip the journal force and flush
     * after the end-of-I/O work (the durability bug the write-through crash campaign must catch).
     */
    static volatile boolean brokenSkipDsyncSync;

    private final BufferedFile file;
    private final IoInode inode;
    private final IoMapOps ops;
    private final long start;
    private final long length;
    private final MemorySegment src;
    private final boolean dsync;
    private final boolean atomic;
    private final boolean perFolio;
    private final boolean wholeFile;
    private final boolean fuaUsable;
    private final long sizeAtStart;   // the caller holds the inode lock while the call copies
    private final Runnable onDone;

    // Submitter only; published to finish() by the pending protocol.
    private final List<Req> reqs = new ArrayList<>(2);
    private Req cur;
    private WritebackIoEnd.Held last;   // the folio this call put under writeback most recently
    private boolean needSync;
    private long copied;

    // JFR stage times (WriteThroughEvent), only when a recording enables it: each written before
    // the hand-off that orders it before the next (the pending protocol, the commit's callback).
    private static final jdk.jfr.EventType TRACE = jdk.jfr.EventType.getEventType(WriteThroughEvent.class);
    private WriteThroughEvent trace;
    private long tStart, tIssued, tFinish, tEndWork, tSynced;
    private volatile long tDevice;   // the last completion's (completions may run on several threads)

    WriteThrough(BufferedFile file, IoMapOps ops, long pos, MemorySegment src, int flags, boolean async, Runnable onDone) {
        super(async, file.engine.options.executor());
        this.file = file;
        this.inode = file.inode;
        this.ops = ops;
        this.start = pos;
        this.length = src.byteSize();
        this.src = src;
        this.dsync = (flags & BufferedIo.DSYNC) != 0;
        this.atomic = (flags & BufferedIo.ATOMIC) != 0;
        this.perFolio = file.engine.options.perFolioRequests() && !atomic;
        this.wholeFile = file.engine.options.wholeFileStable();
        this.fuaUsable = file.engine.device.supportsFua() || !file.engine.device.volatileWriteCache();
        this.sizeAtStart = inode.size();
        this.onDone = onDone;
        if (TRACE.isEnabled()) {
            trace = new WriteThroughEvent();
            trace.begin();
            tStart = System.nanoTime();
        }
    }

    /** Copies and issues (on the calling thread), then drops the submitter's reference; a synchronous call waits and finishes. */
    void run(IoMapOps readOps) {
        if (wholeFile) file.stableGate.acquireUninterruptibly();   // mapping-level stable writes: one call in flight per file
        try {
            prepareEdges(readOps);
            copied = new IoMapIter(inode, start, length, IoMapOps.WRITE | IoMapOps.WRITETHROUGH | (atomic ? IoMapOps.ATOMIC : 0))
                    .run(ops, this);
        } catch (Throwable t) {
            fail(t);
        } finally {
            try {
                if (error == null) submit();
                else dropCurrent();
            } finally {
                releaseLast();
            }
        }
        if (trace != null) tIssued = System.nanoTime();
        submitted();
    }

    /**
     * Makes the partial first and last blocks of the range up to date through the read path before
     * any mapping is allocated: a copy-on-write mapping points at new blocks, so the old data of a
     * partial block can only come from the read mapping. (Should the folio be evicted before the
     * copy reaches it, the copy fails with an IOException rather than write garbage.)
     */
    private void prepareEdges(IoMapOps readOps) throws IOException {
        long bs = inode.blockSize(), end = start + length, size = inode.size();
        long eofPages = BufferedFile.lastPage(0, Math.max(size, 1)) + 1;
        for (int k = 0; k < 2; k++) {   // the first and the last block
            long edge = k == 0 ? start : end - 1;
            long blk = edge / bs * bs;
            boolean partial = k == 0 ? start % bs != 0 : end % bs != 0;
            if (!partial || blk >= size) continue;
            long idx = blk >>> Folio.PAGE_SHIFT;
            Folio f = file.cache.lookup(idx);
            if (f != null) {
                boolean ok = f.isUptodate(blk - f.fileOffset(), Math.min(bs, f.size() - (blk - f.fileOffset())));
                f.put();
                if (ok) continue;
            }
            BufferedRead.fill(file, readOps, idx, BufferedFile.lastPage(blk, bs) + 1, eofPages);
        }
    }

    // ---- the chunk: one mapping --------------------------------------------------------------------

    @Override
    public long process(IoMapIter it) throws IOException {
        if (error != null) return 0;
        IoMap m = it.map();
        if (m.type() != IoMap.Type.MAPPED && m.type() != IoMap.Type.UNWRITTEN) {
            throw new IOException("write-through of " + it.length() + " bytes at " + it.pos() + ": begin(WRITE|WRITETHROUGH) returned "
                    + m + "; it must return allocated space (MAPPED or UNWRITTEN)");
        }
        long p = it.pos(), end = p + it.length(), done = 0;
        if (atomic) checkAtomicMapping("write-through", m, p, end - p, start, length);
        try {
            while (p < end && error == null) {
                long n = writeFolio(m, p, end - p);
                if (n < 0) {   // the mapping went stale under the folio lock: remap from here
                    if (done == 0) it.markStale();
                    break;
                }
                p += n;
                done += n;
                if (perFolio) submit();
                file.engine.pageCache.balanceDirty(file.cache);   // no folio lock held here
            }
        } finally {
            submit();   // the mapping ends here (or the call stops): its request goes down now
        }
        return done;
    }

    /** Copies into one folio from {@code p} and queues its blocks; returns the bytes, or -1 when the mapping is stale. */
    private long writeFolio(IoMap m, long p, long max) throws IOException {
        long idx = p >>> Folio.PAGE_SHIFT;
        Folio f = file.cache.getOrCreate(idx, BufferedIo.orderFor(file, idx, BufferedFile.lastPage(p, max) + 1 - idx));
        boolean ours = last != null && last.folio == f;   // already under this call's writeback (another mapping's blocks)
        long off, len, head, tail;
        try {
            if (!ours && f.isWriteback()) {
                // Stable pages: never change data the device is writing. Issue what this call
                // built first, so no call waits while holding folios nobody will submit.
                if (!atomic) submit();
                f.waitWriteback();
            }
            if (ops instanceof IoMapValidity v && !v.isValid(inode, m)) {
                f.unlock();
                f.put();
                return -1;
            }
            off = p - f.fileOffset();
            len = Math.min(max, f.size() - off);
            long bsz = f.blockBytes();
            head = off & -bsz;
            tail = (off + len + bsz - 1) & -bsz;
            if (head != off) prepareBlock(f, m, head);
            if (tail != off + len) prepareBlock(f, m, tail - bsz);
            // A dirty partial last block may hold buffered bytes past the user's end whose size update
            // is still to come from writeback (end-of-I/O moves the size only to the user's end): it
            // is written now but stays dirty.
            long r = tail != off + len ? f.nextDirtyRange(tail - bsz) : -1;
            long clean = r != -1 && Folio.rangeStart(r) == tail - bsz ? tail - bsz : tail;
            MemorySegment.copy(src, p - start, f.data(), off, len);
            f.markUptodate(head, tail - head);
            if (!ours) f.startWriteback();   // before clearDirty, and before unlocking: nobody changes these blocks now
            f.clearDirty(head, clean - head);
            if (p + len > inode.size()) inode.setSizeInMemory(p + len);
        } catch (IOException | RuntimeException | Error e) {
            f.unlock();
            f.put();
            throw e;
        }
        f.unlock();
        if (ours) {
            f.put();
        } else {
            releaseLast();
            last = new WritebackIoEnd.Held(f);   // takes over our reference
        }
        append(m, f.fileOffset() + head, head, tail - head, p, len);
        return len;
    }

    /** Makes the block at {@code blockOff} of locked {@code f} up to date: read it, or zero it where the device holds no data. */
    private void prepareBlock(Folio f, IoMap m, long blockOff) throws IOException {
        long bsz = f.blockBytes();
        if (f.isUptodate(blockOff, bsz)) return;
        long bp = f.fileOffset() + blockOff;
        MemorySegment dst = f.data().asSlice(blockOff, bsz);
        if (bp >= inode.size() || m.type() == IoMap.Type.UNWRITTEN || (m.hasFlag(IoMap.NEW) && !m.hasFlag(IoMap.SHARED))) {
            dst.fill((byte) 0);
        } else if (m.hasFlag(IoMap.SHARED)) {
            // prepareEdges read it; only an eviction in between gets here (the folios stay referenced)
            throw new IOException("write-through at " + bp + ": the partial block over a copy-on-write mapping " + m
                    + " is not up to date in the cache");
        } else {
            IoRequest r = IoRequest.read(m.deviceAddressOf(bp), dst, null);
            file.engine.device.submit(r);
            long got = r.await();
            if (got < bsz) {
                throw new DeviceException("write-through's read of a partial block (completed " + got + " bytes)",
                        file.engine.device.describe(), r.offset(), bsz, Errno.EIO);
            }
        }
        f.markUptodate(blockOff, bsz);
    }

    // ---- requests --------------------------------------------------------------------------------

    private void append(IoMap m, long filePos, long folioOff, long n, long userPos, long userLen) {
        Req c = cur;
        int max = file.engine.options.maxRequestBytes();
        if (c != null && (c.map != m || c.fileEnd() != filePos || c.length + n > max || c.segs >= ReadBatch.MAX_SEGMENTS)) {
            submit();
            c = null;
        }
        if (c == null) c = cur = new Req(this, m, filePos, userPos);
        last.incrementAndGet();
        c.add(last, folioOff, n, userPos + userLen);
    }

    /** Issues the request being built (none after an error: its blocks are re-dirtied instead). */
    private void submit() {
        Req c = cur;
        if (c == null) return;
        cur = null;
        if (error != null) {
            c.release(!atomic, atomic);
            return;
        }
        if (atomic && c.map.hasFlag(IoMap.LOGGED)) {
            logAtomic(c);
            return;
        }
        int reqFlags = 0;
        boolean overwrite = c.map.type() == IoMap.Type.MAPPED && (c.map.flags() & (IoMap.NEW | IoMap.SHARED)) == 0;
        boolean pure = overwrite && !c.map.hasFlag(IoMap.DIRTY) && c.userEnd <= sizeAtStart;
        c.pure = pure && !atomic;   // an atomic write keeps its folios under writeback until its one end-of-I/O transaction
        if (atomic) reqFlags |= atomicRequestFlags(c.map);   // in place: the device must write it untorn
        if (dsync) {
            if (pure && fuaUsable && !needSync) reqFlags |= IoRequest.FUA;
            else needSync = true;
        }
        c.request.prepare(IoOp.WRITE, c.map.deviceAddressOf(c.filePos), reqFlags, c);
        for (int i = 0; i < c.segs; i++) c.request.add(c.held[i].folio.data().asSlice(c.segOff[i], c.segLen[i]));
        reqs.add(c);
        pending.incrementAndGet();
        try {
            file.engine.device.submit(c.request);
        } catch (RuntimeException e) {   // rejected: never queued
            pending.decrementAndGet();
            reqs.remove(reqs.size() - 1);
            fail(e);
            c.release(!atomic, atomic);
        }
    }

    /**
     * A LOGGED mapping's data goes into the file system's journal instead of a device request: the
     * request counts as complete at once; the folios stay under writeback until the journal wrote
     * them home (it then releases them: this call's {@link #release} skips the request). On a
     * failed commit the cached blocks are forgotten (the device holds the old data; the error is
     * also recorded for fsync, since a call without DSYNC has returned by then); on a failed home
     * write they stay as they are (the log holds the data; the journal stops, and recovery writes it home).
     */
    private void logAtomic(Req c) {
        MemorySegment[] segs = new MemorySegment[c.segs];
        for (int i = 0; i < c.segs; i++) segs[i] = c.held[i].folio.data().asSlice(c.segOff[i], c.segLen[i]);
        c.logged = true;
        reqs.add(c);
        if (dsync) needSync = true;   // durable with the commit that holds the data (syncLogged)
        try {
            file.ioEnd.logAtomic(inode, c.map.deviceAddressOf(c.filePos), segs, dsync, (t, durable) -> {
                if (t != null) file.errors.record(t instanceof DeviceException d ? d.errno() : Errno.EIO);
                c.release(false, t != null && !durable);
            });
        } catch (Throwable e) {   // nothing logged: the call fails, its blocks read old
            reqs.remove(reqs.size() - 1);
            c.logged = false;
            fail(e);
            c.release(false, true);
        }
    }

    private void dropCurrent() {
        Req c = cur;
        cur = null;
        if (c != null) c.release(!atomic, atomic);
    }

    private void releaseLast() {
        WritebackIoEnd.Held h = last;
        last = null;
        if (h != null) h.release();
    }

    /** One device WRITE of block runs of one or more folios, contiguous in the file and on the device, of one mapping. */
    private static final class Req implements IoCompletion {
        final WriteThrough call;
        final IoRequest request = new IoRequest();
        final IoMap map;
        final long filePos;
        final long userPos;   // first user byte in it
        long userEnd;         // end of the user's bytes in it
        long length;
        int segs;
        WritebackIoEnd.Held[] held = new WritebackIoEnd.Held[4];
        long[] segOff = new long[4], segLen = new long[4];
        boolean pure;
        boolean logged;   // handed to the journal (LOGGED): it releases the folios after the home write
        volatile boolean released;

        Req(WriteThrough call, IoMap map, long filePos, long userPos) {
            this.call = call;
            this.map = map;
            this.filePos = filePos;
            this.userPos = userPos;
        }

        long fileEnd() { return filePos + length; }

        void add(WritebackIoEnd.Held h, long off, long len, long userEnd) {
            if (segs == held.length) {
                held = Arrays.copyOf(held, segs * 2);
                segOff = Arrays.copyOf(segOff, segs * 2);
                segLen = Arrays.copyOf(segLen, segs * 2);
            }
            held[segs] = h;
            segOff[segs] = off;
            segLen[segs++] = len;
            length += len;
            this.userEnd = userEnd;
        }

        /** Ends this request's share of its folios' writeback, re-dirtying its blocks first when their data may not be on the device. */
        void release(boolean redirty) { release(redirty, false); }

        void release(boolean redirty, boolean forget) {
            if (released) return;
            released = true;
            for (int i = 0; i < segs; i++) {
                if (redirty) held[i].folio.markDirty(segOff[i], segLen[i]);
                if (forget) held[i].folio.clearUptodate(segOff[i], segLen[i]);
                held[i].release();
                held[i] = null;
            }
        }

        @Override
        public void complete(IoRequest r, long result) {
            WriteThrough c = call;
            if (c.trace != null) c.tDevice = System.nanoTime();
            if (result < 0) {
                c.fail(r.error());
            } else if (result < length) {
                c.shortAt(filePos + result);
            } else if (pure) {
                release(false);   // pure overwrite, all on the device: the folios may be written again now
            }
            c.requestDone();
        }
    }

    // ---- completion --------------------------------------------------------------------------------

    /** After the last request: trim, end-of-I/O work per request, DSYNC, folio release, outcome. */
    @Override
    void finish() {
        if (trace != null) tFinish = System.nanoTime();
        Throwable err = error;
        long result = copied;
        long cut = shortAt();
        if (cut != Long.MAX_VALUE) result = Math.max(0, Math.min(result, cut - start));
        if (atomic) {   // all or nothing: a short completion fails the call; one end-of-I/O transaction
            List<IoMap> maps = new ArrayList<>(reqs.size());
            for (Req r : reqs) if (!maps.contains(r.map)) maps.add(r.map);
            err = endAtomic(file.ioEnd, inode, start, length, result, maps, err, file.engine.device.describe(), src);
        }
        int errno = err == null ? 0 : err instanceof DeviceException d ? d.errno() : Errno.EIO;
        for (Req r : atomic ? List.<Req>of() : reqs) {
            long n = r.userEnd - r.userPos;
            if (errno == 0) {
                n = Math.min(r.userEnd, start + result) - r.userPos;   // the user's range only: the size never passes it
                if (n <= 0) continue;
            }
            try {
                file.ioEnd.ioEnd(inode, r.userPos, n, r.map, errno);
            } catch (Exception | Error e) {
                if (err == null) {
                    err = e;
                    errno = e instanceof DeviceException d ? d.errno() : Errno.EIO;
                } else {
                    err.addSuppressed(e);
                }
            }
        }
        if (trace != null) tEndWork = System.nanoTime();
        if (err == null && dsync && needSync && result > 0 && !brokenSkipDsyncSync) {
            long done = result;
            syncThen(file.ioEnd, inode, start, result, file.engine.device, e -> release(done, e));
            return;
        }
        release(result, err);
    }

    @Override
    void syncEnded() {
        if (trace != null) tSynced = System.nanoTime();
    }

    /** The end of finish, after DSYNC's flush: folio release (or re-dirtying), stable gate, onDone, outcome. */
    private void release(long result, Throwable err) {
        long tRelease = trace != null ? System.nanoTime() : 0;
        for (Req r : reqs) {
            if (r.logged) continue;   // the journal releases it after the home write (or its failure)
            if (atomic) {
                // Untorn: on failure the range must read all old. The caller wrote the range back
                // before (it was clean), so the device holds the old data: forget the new bytes.
                r.release(false, err != null);
                continue;
            }
            // Blocks whose data is not known durable-and-mapped stay dirty: on an error all of them
            // (ioEnd undid the conversion), after a short completion those past the cut.
            boolean redirty = err != null || r.userEnd > start + result;
            r.release(redirty);
        }
        if (wholeFile) file.stableGate.release();
        if (onDone != null) {
            try {
                onDone.run();
            } catch (RuntimeException e) {
                if (err == null) err = e;
            }
        }
        complete(result, err);
        if (trace != null) commitTrace(tRelease, err != null);
    }

    /** Commits the call's JFR event (tracing on): its stages from the times taken along the way. */
    private void commitTrace(long tRelease, boolean failed) {
        WriteThroughEvent e = trace;
        long end = System.nanoTime(), dev = tDevice;
        if (dev == 0) dev = tIssued;   // nothing reached the device
        long synced = tSynced != 0 ? tSynced : tEndWork;   // no DSYNC step: no time in it
        e.end();
        e.position = start;
        e.length = length;
        e.atomic = atomic;
        e.dsync = dsync;
        e.async = future != null;
        e.failed = failed;
        e.issue = tIssued - tStart;
        e.device = Math.max(0, dev - tIssued);
        e.toEnd = tFinish - Math.max(dev, tIssued);
        e.endWork = tEndWork - tFinish;
        e.sync = Math.max(0, synced - tEndWork);
        e.toRelease = Math.max(0, tRelease - synced);
        e.release = end - tRelease;
        e.commit();
    }
}
