package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoRequest;
import org.foliofs.pagecache.Folio;

/**
 * One buffered write or zeroing through the page cache (Linux's iomap_write_iter and
 * iomap_zero_iter): per folio, begin (get it locked, wait for its writeback: stable pages; check
 * the mapping is still valid, else remap), prepare the partial head and tail blocks that are not
 * up to date (read them for MAPPED, zero them for HOLE, DELALLOC, UNWRITTEN, NEW or past the end
 * of file), copy, end (mark the blocks up to date and the written bytes dirty, grow the in-memory
 * size while the folio is still locked), unlock, then balanceDirty with no lock held.
 *
 * <p>A failure after some progress ends the call short (POSIX write semantics): the bytes before
 * it are written and counted; with no progress it throws. A copy that throws (a closed source
 * segment) leaves blocks that were not up to date not up to date, re-dirties those that were (their
 * bytes may have changed) and fails the call; it never marks garbage up to date.
 *
 * <p>Zeroing ({@code src == null}, opFlags ZERO): MAPPED and DELALLOC ranges are zeroed through the
 * cache (dirty); HOLE and UNWRITTEN read as zeros already, so only cached up-to-date bytes there
 * are zeroed (dirty data over an unwritten extent).
 */
final class BufferedWrite implements IoMapIter.Chunk {
    private final BufferedFile file;
    private final IoMapOps ops;
    private final long start;
    private final long length;
    private final MemorySegment src;   // null: zeros
    private final boolean extend;      // grow the in-memory size (writes; not zeroing)
    private Exception error;           // failure after progress: the call ends short

    BufferedWrite(BufferedFile file, IoMapOps ops, long pos, long length, MemorySegment src, boolean extend) {
        this.file = file;
        this.ops = ops;
        this.start = pos;
        this.length = length;
        this.src = src;
        this.extend = extend;
    }

    /** Runs the mapping loop; returns the bytes written (short after a failure that followed progress). */
    long run() throws IOException {
        int opFlags = src == null ? IoMapOps.ZERO : IoMapOps.WRITE;
        if (file.engine.options.wholeFileStable()) {   // mapping-level stable writes: wait for the write-through in flight
            file.stableGate.acquireUninterruptibly();
            file.stableGate.release();
        }
        return new IoMapIter(file.inode, start, length, opFlags).run(ops, this);
    }

    /** The failure that ended a call short, or null. */
    Exception error() { return error; }

    @Override
    public long process(IoMapIter it) throws IOException {
        if (error != null) return 0;
        IoMap m = it.map();
        long p = it.pos(), end = p + it.length(), done = 0;
        if (src == null && (m.type() == IoMap.Type.HOLE || m.type() == IoMap.Type.UNWRITTEN)) {
            long n = zeroCached(m, p, end);
            if (n < 0) it.markStale();
            return Math.max(n, 0);
        }
        while (p < end) {
            long n;
            try {
                n = writeFolio(m, p, end - p);
            } catch (IOException | RuntimeException e) {
                if (done + it.processed() == 0) throw e;
                error = e;   // progress made: report it; the next chunk stops the loop
                return done;
            }
            if (n < 0) {     // mapping went stale under the folio lock: remap from here
                if (done == 0) it.markStale();
                return done;
            }
            p += n;
            done += n;
            file.engine.pageCache.balanceDirty(file.cache);   // no folio lock held here
        }
        return done;
    }

    /** Writes into one folio from {@code p}; returns the bytes, or -1 when the mapping is stale. */
    private long writeFolio(IoMap m, long p, long max) throws IOException {
        long idx = p >>> Folio.PAGE_SHIFT;
        Folio f = file.cache.getOrCreate(idx, BufferedIo.orderFor(file, idx, BufferedFile.lastPage(p, max) + 1 - idx));
        try {
            f.waitWriteback();   // stable pages: never change data the device is writing
            if (ops instanceof IoMapValidity v && !v.isValid(file.inode, m)) return -1;
            long off = p - f.fileOffset();
            long len = Math.min(max, f.size() - off);
            long bsz = f.blockBytes();
            long head = off & -bsz, tail = (off + len + bsz - 1) & -bsz;
            if (head != off) prepareBlock(f, m, head);
            if (tail != off + len) prepareBlock(f, m, tail - bsz);
            try {
                if (src == null) f.data().asSlice(off, len).fill((byte) 0);
                else MemorySegment.copy(src, p - start, f.data(), off, len);
            } catch (RuntimeException e) {
                redirtyUptodate(f, head, tail);
                throw e;
            }
            f.markUptodate(head, tail - head);
            f.markDirty(off, len);
            // Before unlocking: writeback must never find dirty data beyond the size it clips to.
            if (extend && p + len > file.inode.size()) file.inode.setSizeInMemory(p + len);
            return len;
        } finally {
            f.unlock();
            f.put();
        }
    }

    /** Makes the block at {@code blockOff} of locked {@code f} up to date: read it, or zero it where the device holds no data. */
    private void prepareBlock(Folio f, IoMap m, long blockOff) throws DeviceException {
        long bsz = f.blockBytes();
        if (f.isUptodate(blockOff, bsz)) return;
        long bp = f.fileOffset() + blockOff;
        MemorySegment dst = f.data().asSlice(blockOff, bsz);
        if (m.type() != IoMap.Type.MAPPED || m.hasFlag(IoMap.NEW) || bp >= file.inode.size()) {
            dst.fill((byte) 0);
        } else {
            IoRequest r = IoRequest.read(m.deviceAddressOf(bp), dst, null);
            file.engine.device.submit(r);
            long got = r.await();
            if (got < bsz) {
                throw new DeviceException("buffered write's read of a partial block (completed " + got + " bytes)",
                        file.engine.device.describe(), r.offset(), bsz, Errno.EIO);
            }
        }
        f.markUptodate(blockOff, bsz);
    }

    /** After a failed copy: blocks that were up to date may hold some new bytes now, so they must reach the device. */
    private static void redirtyUptodate(Folio f, long from, long to) {
        long bsz = f.blockBytes();
        for (long b = from; b < to; b += bsz) {
            if (f.isUptodate(b, bsz)) f.markDirty(b, bsz);
        }
    }

    /**
     * Zeroes the cached, up-to-date bytes of [p, end), a HOLE or UNWRITTEN range (the device reads
     * zeros there already). Returns end - p, or -1 when the mapping went stale while a folio's
     * writeback was waited for (the writeback's end-of-I/O work may have converted the range to
     * written data, which must then be zeroed through the cache instead): the caller remaps. After
     * some progress it returns the bytes done instead, and the loop remaps from there.
     */
    private long zeroCached(IoMap m, long p, long end) {
        long start = p;
        while (p < end) {
            long i = file.cache.nextCachedIndex(p >>> Folio.PAGE_SHIFT);
            if (i < 0 || (i << Folio.PAGE_SHIFT) >= end) break;
            Folio f = file.cache.lookup(i);
            if (f == null) {
                p = Math.max(p, (i + 1) << Folio.PAGE_SHIFT);
                continue;
            }
            long fo = f.fileOffset();
            f.lock();
            try {
                if (!f.isRemoved()) {
                    f.waitWriteback();
                    if (ops instanceof IoMapValidity v && !v.isValid(file.inode, m)) {
                        if (p == start) return -1;
                        return p - start;   // zeroed up to here under the old mapping; remap the rest
                    }
                    long from = Math.max(p, fo), to = Math.min(end, fo + f.size());
                    for (long off = from - fo; off < to - fo; ) {
                        long u = f.nextUptodateRange(off);
                        if (u < 0) break;
                        long a = Math.max(off, Folio.rangeStart(u)), b = Math.min(to - fo, Folio.rangeStart(u) + Folio.rangeLength(u));
                        if (a < b) f.data().asSlice(a, b - a).fill((byte) 0);
                        off = Folio.rangeStart(u) + Folio.rangeLength(u);
                    }
                }
            } finally {
                f.unlock();
                f.put();
            }
            p = Math.max(p, fo + f.size());
        }
        return end - start;
    }
}
