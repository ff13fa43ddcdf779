package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileSystemException;
import java.util.List;
import org.foliofs.iomap.InodeLock;

/**
 * Sharing file blocks: reflink ({@link FolioFile#cloneRange}, {@link FolioFile#cloneFrom}: Linux
 * FICLONERANGE / FICLONE) and its undoing ({@link FolioFile#fallocate} UNSHARE_RANGE).
 *
 * <h2>Clone</h2>
 * Maps the source's written blocks of a range into the destination at another offset and adds one
 * to their refcounts ({@link Refcounts#increment}); later writes to either side copy on write
 * ({@link FsIoMapOps}). Rules (FICLONERANGE):
 * <ul>
 *   <li>offsets block aligned; the length too, except that a range reaching the source's EOF may end
 *       there unaligned (its last block is cloned whole; the destination must then end at or beyond
 *       its current size, else the bytes past the source's EOF would appear inside it);
 *       length 0 = to the source's EOF;</li>
 *   <li>both files regular, on one volume; a clone within one file must not overlap itself;</li>
 *   <li>both ranges' dirty cached data is written back first (which also allocates delalloc
 *       blocks); the destination's cached folios in the range are dropped and its reservations there
 *       released; its old blocks there are unmapped (refcounts dropped, freed at zero);</li>
 *   <li>unwritten source extents are cloned as holes (both read as zeros; the destination loses the
 *       preallocation, but never shares unwritten blocks, which copy-on-write does not cover);</li>
 *   <li>the destination's size grows to the end of the clone; a destination offset past its size
 *       first zeroes the rest of its old last block (as an extending write does).</li>
 * </ul>
 * Both inode locks are held exclusively for the whole call (lower inode number first).
 *
 * <h2>Journal: bounded chunks</h2>
 * The work runs in steps, each covering one source piece (an extent, a hole, or a part of either
 * with one refcount) against one destination piece: unmap the destination piece, increment the
 * source piece's refcounts, map it. A handle ({@link FolioFs#op(int, FolioFs.Body)}, reserving
 * {@link Journal#maxTransactionBlocks}) takes another step only while the step's worst case
 * ({@link #stepBlocks}) fits in what is left of its reservation, and finishes by moving the
 * destination's size to the end of what it cloned. Each handle leaves a consistent volume, in file
 * order: a crash mid-clone leaves a prefix of the range cloned and the rest as it was, with the size
 * covering the prefix (as XFS's remap loop, one extent per transaction, does). The clone is durable
 * at the next journal commit (fsync of either file, or {@link FolioFs#sync}); no data is written,
 * and the source's data reached the device before the first handle (PREFLUSH orders it first).
 *
 * <h2>Unshare</h2>
 * {@link #unshare} gives each shared (refcount &gt;= 2) run of a range private blocks, a bounded
 * chunk at a time, the way copy-on-write does: one handle allocates the new blocks (reserved
 * first, so it never takes blocks promised to delalloc writes; ENOSPC leaves everything as it was)
 * and records them as CoW staging; the old blocks are copied to them on the device (outside the
 * journal lock); one handle then unmaps the old run (refcounts dropped), maps the copy written and
 * removes the staging record. A crash before the remap leaves the file still sharing and staging
 * blocks that mount frees; the remap commits with PREFLUSH, after the copy: never stale data.
 */
final class Reflink {
    private Reflink() {}

    /** Bytes of data one unshare chunk copies (and the copy buffer). */
    static final int COPY_BYTES = 1 << 20;

    /**
     * Test only: clone without incrementing refcounts (the blocks look owned once, so writes to either
     * side overwrite the other's data in place and fsck finds blocks owned twice). The crash campaign
     * must catch it.
     */
    static volatile boolean brokenNoRefcount;
    /** Test only: at most this many clone steps per handle (0: as many as the reservation allows), to cut clones into many handles. */
    static volatile int testMaxStepsPerHandle;

    // ------------------------------------------------------------------ clone

    static void cloneRange(FolioFs fs, FsInode dst, FsInode src, long srcOff, long dstOff, long len) throws IOException {
        if (src.fs != fs)
            throw new IllegalArgumentException("clone source (inode " + src.ino + ") is on another volume than the destination (inode "
                    + dst.ino + ")");
        int bs = dst.bs;
        if (srcOff < 0 || dstOff < 0 || len < 0)
            throw new IllegalArgumentException("clone of " + len + " bytes from " + srcOff + " (inode " + src.ino + ") to " + dstOff
                    + " (inode " + dst.ino + "): offsets and length must not be negative");
        if (srcOff % bs != 0 || dstOff % bs != 0)
            throw new IllegalArgumentException("clone offsets " + srcOff + " (source inode " + src.ino + ") and " + dstOff
                    + " (destination inode " + dst.ino + ") must be aligned to the block size " + bs);
        boolean same = src == dst;
        InodeLock first = src.ino <= dst.ino ? src.lock : dst.lock, second = src.ino <= dst.ino ? dst.lock : src.lock;
        try (InodeLock.Guard g1 = first.exclusive(); InodeLock.Guard g2 = same ? null : second.exclusive()) {
            src.waitIo();   // asynchronous direct and write-through calls in flight finish first
            dst.waitIo();
            try {
                cloneLocked(fs, src, srcOff, dst, dstOff, len, bs, same);
            } finally {
                dst.metaChanged();   // its mapping changed: a DSYNC overwrite needs a journal force until the next sync
            }
        }
    }

    private static void cloneLocked(FolioFs fs, FsInode src, long srcOff, FsInode dst, long dstOff, long len, int bs, boolean same)
            throws IOException {
        {
            long srcSize = src.size();
            if (srcOff > srcSize)
                throw new IllegalArgumentException("clone source offset " + srcOff + " is beyond the size " + srcSize + " of inode " + src.ino);
            if (len == 0) len = srcSize - srcOff;
            if (len == 0) return;
            if (len > srcSize - srcOff)
                throw new IllegalArgumentException("clone of " + len + " bytes from " + srcOff + " goes beyond the size " + srcSize
                        + " of the source (inode " + src.ino + ")");
            long dstEnd = dstOff + len;
            if (dstEnd < 0 || dstEnd > fs.maxFileSize() + 1)
                throw new FileSystemException("inode " + dst.ino, null, "File too large: clone of " + len + " bytes to " + dstOff
                        + " ends beyond the maximum file size " + fs.maxFileSize());
            if (len % bs != 0) {
                if (srcOff + len != srcSize)
                    throw new IllegalArgumentException("clone length " + len + " must be aligned to the block size " + bs
                            + " unless the range ends at the source's EOF (" + srcSize + ")");
                if (dstEnd < dst.size())
                    throw new IllegalArgumentException("clone of the unaligned tail of inode " + src.ino + " (ending at " + srcSize
                            + ") to " + dstOff + " would end at " + dstEnd + ", inside the destination (inode " + dst.ino + ", size "
                            + dst.size() + "); it must end at or beyond the destination's size");
            }
            long n = Math.ceilDiv(len, bs);
            if (same && srcOff < dstOff + n * bs && dstOff < srcOff + n * bs)
                throw new IllegalArgumentException("clone of [" + srcOff + ", +" + len + ") to " + dstOff + " within inode " + src.ino
                        + ": source and destination ranges overlap");
            // Data first: the source's dirty data (and delalloc) reaches its blocks, the destination's
            // range is written back and dropped (its blocks are replaced), reservations released.
            src.file.writeAndWait(srcOff, n * bs);
            dst.file.writeAndWait(dstOff, n * bs);
            zeroEofBlock(dst, dstOff);
            dst.file.invalidate(dstOff, n * bs);
            dst.release(fs.allocator(), dstOff / bs, dstOff / bs + n);
            long sfb = srcOff / bs, dfb = dstOff / bs;
            long done = 0;
            while (done < n) {
                long at = done;
                long total = n, cloneEnd = dstEnd;
                done = fs.op(reservation(fs), h -> cloneChunk(h, fs, dst, src, sfb, dfb, at, total, cloneEnd));
                long size = Math.min(dstEnd, (dfb + done) * bs);
                dst.setSizeInMemory(size);
                synchronized (dst) {
                    if (size > dst.diskSize) dst.diskSize = size;
                }
            }
        }
    }

    /** A destination offset past its size: zero the rest of its old last block (in the cache, then on the device). */
    private static void zeroEofBlock(FsInode dst, long dstOff) throws IOException {
        long size = dst.size();
        int bs = dst.bs;
        if (dstOff <= size || size % bs == 0) return;
        long end = (size / bs + 1) * bs;
        dst.fs.fileIo().bio.zeroRange(dst, FsIoMapOps.READ, size, end - size);
        dst.file.writeAndWait(size, end - size);
    }

    static int reservation(FolioFs fs) {
        return (int) Math.min(Integer.MAX_VALUE, fs.journal().maxTransactionBlocks());
    }

    /** Steps from block {@code at} of {@code n} while they fit in the handle; returns the blocks done. */
    private static long cloneChunk(Journal.Handle h, FolioFs fs, FsInode dst, FsInode src, long sfb, long dfb, long at, long n,
                                   long dstEnd) throws IOException {
        Inode di = Inodes.get(h, dst.ino);
        Inode si = src == dst ? di : Inodes.get(h, src.ino);
        if (!di.isReg() || !si.isReg())
            throw new FileSystemException("inode " + (di.isReg() ? si.ino : di.ino), null, "Invalid argument: clone of a non-regular file");
        long p = at;
        int steps = 0, maxSteps = testMaxStepsPerHandle;
        do {
            p += cloneStep(h, fs, si, di, sfb + p, dfb + p, n - p);
            steps++;
        } while (p < n && (maxSteps <= 0 || steps < maxSteps) && h.reserveLeft() >= stepBlocks(h, di));
        long size = Math.min(dstEnd, (dfb + p) * (long) dst.bs);
        long now = FolioFs.now();
        if (size > di.size) di.size = size;
        di.mtime = di.ctime = now;
        Inodes.put(h, di);
        return p;
    }

    /** One step at source block s / destination block d (at most {@code rem} blocks); returns the blocks done. */
    private static long cloneStep(Txn h, FolioFs fs, Inode si, Inode di, long s, long d, long rem) throws IOException {
        Refcounts refs = fs.refcounts();
        Extent se = ExtentMap.find(h, si, s);
        long k;
        if (se == null) {
            Extent nx = ExtentMap.next(h, si, s);
            k = nx == null ? rem : Math.min(rem, nx.fileBlock() - s);
        } else {
            k = Math.min(rem, se.fileEnd() - s);
            if (se.unwritten()) se = null;            // cloned as a hole
            else k = uniformRun(h, refs, se.deviceBlockOf(s), k);
        }
        Extent de = ExtentMap.find(h, di, d);
        if (de != null) {
            k = Math.min(k, de.fileEnd() - d);
            k = uniformRun(h, refs, de.deviceBlockOf(d), k);
        } else {
            Extent nx = ExtentMap.next(h, di, d);
            if (nx != null) k = Math.min(k, nx.fileBlock() - d);
        }
        if (se != null) {
            long start = se.deviceBlockOf(s);
            if (!brokenNoRefcount) refs.increment(h, start, k);   // first: a dst piece on the same blocks cannot free them
            if (de != null) unmap(h, fs, di, d, k);
            ExtentMap.insert(h, di, new Extent(d, start, k, false));
            di.blocks += k;
        } else if (de != null) {
            unmap(h, fs, di, d, k);
        }
        return k;
    }

    private static void unmap(Txn h, FolioFs fs, Inode i, long from, long count) throws IOException {
        for (Extent e : ExtentMap.remove(h, i, from, count)) fs.freeExtent(h, i, e);
    }

    /** The first {@code k'} <= k blocks from {@code start} that have one refcount (so one step changes a bounded number of records). */
    private static long uniformRun(Txn h, Refcounts refs, long start, long k) throws IOException {
        List<long[]> shared = refs.shared(h, start, k);
        if (shared.isEmpty()) return k;
        long[] f = shared.getFirst();
        return f[0] > start ? f[0] - start : Math.min(k, f[1]);
    }

    /**
     * Worst case of distinct blocks one clone or unshare step changes: the destination's extent map
     * (a remove and an insert: 4 record changes) and inode, two refcount adjustments (each rewrites at
     * most 3 records: the piece and its two touching neighbours, as deletes and inserts) with their group
     * header, and one free (by-block and by-size trees, AGFL settling, header), each record change
     * counted as {@code 3 * (L + 1) + 1} blocks for a tree of L levels, as {@link ExtentMap#maxBlocksChanged}.
     */
    static int stepBlocks(Txn h, Inode di) throws IOException {
        int refLevels = 1, freeLevels = 1;
        Superblock sb = h.superblock();
        for (int g = 0; g < sb.agCount(); g++) {
            AgHeader a = h.agHeader(g);
            refLevels = Math.max(refLevels, a.refLevels);
            freeLevels = Math.max(freeLevels, Math.max(a.byBlockLevels, a.bySizeLevels));
        }
        long refChange = 3L * (refLevels + 1) + 1 + 1, freeChange = 3L * (freeLevels + 1) + 1 + 1;
        long n = ExtentMap.maxBlocksChanged(di, 4) + Inodes.PUT_BLOCKS + 2 * (6 * refChange + 1) + (10 * freeChange + 2);
        return (int) Math.min(n, Integer.MAX_VALUE);
    }

    // ------------------------------------------------------------------ unshare

    /**
     * Gives the shared blocks of bytes {@code [off, end)} private copies (the caller holds the inode
     * lock exclusively and clips {@code end} to the size). See the class comment.
     */
    static void unshare(FsInode fi, long off, long end) throws IOException {
        if (off >= end) return;
        FolioFs fs = fi.fs;
        int bs = fi.bs;
        fi.file.writeAndWait(off, end - off);      // dirty data goes to (copy-on-write) blocks first
        long fb = off / bs, to = Math.ceilDiv(end, bs);
        long maxBlocks = Math.max(1, COPY_BYTES / bs);
        try (BlockIo io = new BlockIo(fs.device(), (int) (Math.max(1, COPY_BYTES / bs) * bs))) {
            while (fb < to) {
                long from = fb;
                long[] run = fs.op(h -> firstShared(h, fs, Inodes.get(h, fi.ino), from, to));
                if (run == null) return;
                long n = Math.min(run[2], maxBlocks);
                long[] got = allocateStaging(fs, fi, run[0], n);
                long m = got[1];
                try {
                    MemorySegment data = io.read(run[1] * bs, (int) (m * bs));
                    io.write(got[0] * bs, data, 0);
                } catch (IOException | RuntimeException e) {
                    try {
                        fs.op(h -> {
                            fs.refcounts().removeCowStaging(h, got[0], m);
                            fs.allocator().freeData(h, got[0], m);
                            return null;
                        });
                    } catch (IOException | RuntimeException s) {
                        e.addSuppressed(s);
                    }
                    throw e;
                }
                fs.op(reservation(fs), h -> {
                    Inode i = Inodes.get(h, fi.ino);
                    Extent e = ExtentMap.find(h, i, run[0]);
                    if (e == null || e.unwritten() || e.deviceBlockOf(run[0]) != run[1] || e.fileEnd() < run[0] + m)
                        throw new IllegalStateException("unshare of inode " + fi.ino + ": the mapping of file block " + run[0]
                                + " changed under the inode lock (now " + e + ")");
                    unmap(h, fs, i, run[0], m);
                    ExtentMap.insert(h, i, new Extent(run[0], got[0], m, false));
                    i.blocks += m;
                    fs.refcounts().removeCowStaging(h, got[0], m);
                    Inodes.put(h, i);
                    return null;
                });
                fb = run[0] + m;
            }
        }
    }

    /** New blocks for file block fb (1..n, near the old ones' file neighbour) recorded as CoW staging; reserved first. */
    private static long[] allocateStaging(FolioFs fs, FsInode fi, long fb, long n) throws IOException {
        Allocator alloc = fs.allocator();
        alloc.reserve(n);                  // NoSpaceException: nothing changed
        try {
            return fs.op(h -> {
                long goal = -1;
                Inode i = Inodes.get(h, fi.ino);
                if (fb > 0) {
                    Extent prev = ExtentMap.find(h, i, fb - 1);
                    if (prev != null && prev.deviceEnd() < fs.superblock().totalBlocks()) goal = prev.deviceEnd();
                }
                long[] got = alloc.allocData(h, Inode.agOf(fi.ino), goal, 1, n);
                fs.refcounts().addCowStaging(h, got[0], got[1]);
                return got;
            });
        } finally {
            alloc.unreserve(n);
        }
    }

    /**
     * The first shared run of written blocks in file blocks [from, to), as {fileBlock, deviceBlock,
     * count} (one refcount, inside one extent), or null.
     */
    private static long[] firstShared(Txn h, FolioFs fs, Inode i, long from, long to) throws IOException {
        for (Extent e : ExtentMap.range(h, i, from, to - from)) {
            if (e.unwritten()) continue;
            long a = Math.max(from, e.fileBlock()), b = Math.min(to, e.fileEnd());
            List<long[]> shared = fs.refcounts().shared(h, e.deviceBlockOf(a), b - a);
            if (shared.isEmpty()) continue;
            long[] r = shared.getFirst();
            return new long[] {e.fileBlock() + (r[0] - e.startBlock()), r[0], r[1]};
        }
        return null;
    }
}
