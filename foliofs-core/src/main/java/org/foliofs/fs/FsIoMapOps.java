package org.foliofs.fs;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.List;
import org.foliofs.iomap.IoInode;
import org.foliofs.iomap.IoMap;
import org.foliofs.iomap.IoMapOps;

/**
 * FolioFS's answers to the iomap engine's "what is at this offset?", one small instance per kind of
 * operation (as XFS keeps xfs_read_iomap_ops, xfs_buffered_write_iomap_ops, ...):
 * <ul>
 *   <li>{@link #READ}: reads, SEEK_DATA/SEEK_HOLE, zeroing: MAPPED for written extents, UNWRITTEN for
 *       unwritten ones, DELALLOC over reserved blocks, HOLE otherwise; a mapping runs to the end of
 *       its extent (or to the next extent or reservation for a hole).</li>
 *   <li>{@link #BUFFERED_WRITE}: like READ, but a hole is reserved ({@link Allocator#reserve}, so
 *       ENOSPC fails the write that asked) and answered DELALLOC. No journal change.</li>
 *   <li>{@link #WRITEBACK}: DELALLOC is converted: one contiguous extent is allocated and inserted
 *       UNWRITTEN in one handle (NEW); the end-of-I/O handler ({@link FsIoEnd}) marks it written
 *       after the data reached the device. Shared blocks are copied on write.</li>
 *   <li>{@link #DIRECT_WRITE}: holes are allocated UNWRITTEN (NEW) the same way; shared blocks are
 *       copied on write; MAPPED answers carry DIRTY when the inode has metadata changes not yet
 *       known durable ({@link FsInode#metaDirty}), so a DSYNC write asks for a journal force then
 *       and is a single FUA write otherwise.</li>
 *   <li>{@link #WRITETHROUGH}: buffered write-through; delayed allocations under the range are
 *       converted as writeback does, holes allocated UNWRITTEN (NEW) as direct writes do, shared
 *       blocks copied on write (MAPPED|NEW|SHARED; partial blocks are fine: the engine reads
 *       them through {@link #READ} first); MAPPED answers carry DIRTY as for direct writes.</li>
 * </ul>
 * All begin calls run in a journal handle ({@link FolioFs#op}) and never take the inode lock.
 */
public final class FsIoMapOps implements IoMapOps {
    enum Kind { READ, BUFFERED_WRITE, WRITEBACK, DIRECT_WRITE, WRITETHROUGH }

    public static final FsIoMapOps READ = new FsIoMapOps(Kind.READ);
    public static final FsIoMapOps BUFFERED_WRITE = new FsIoMapOps(Kind.BUFFERED_WRITE);
    public static final FsIoMapOps WRITEBACK = new FsIoMapOps(Kind.WRITEBACK);
    public static final FsIoMapOps DIRECT_WRITE = new FsIoMapOps(Kind.DIRECT_WRITE);
    public static final FsIoMapOps WRITETHROUGH = new FsIoMapOps(Kind.WRITETHROUGH);

    /** Largest extent one writeback or direct-write begin allocates (blocks). */
    static final long MAX_ALLOC = 1 << 16;

    /** Test hook: runs after every allocating begin committed its handle (e.g. a concurrent journal force). */
    interface AllocHook { void allocated(FsInode inode) throws IOException; }
    static volatile AllocHook afterAllocate;
    /**
     * Test only: insert newly allocated blocks as WRITTEN instead of UNWRITTEN (the "stale data" bug
     * the crash campaign must catch).
     */
    static volatile boolean brokenAllocateWritten;

    final Kind kind;

    private FsIoMapOps(Kind kind) { this.kind = kind; }

    /** What {@link #map} found at a file block. */
    private record Found(Extent extent, long holeEnd, long[] delalloc, long nextDelalloc) {}

    private static Found find(Txn h, FsInode fi, Inode i, long fb) throws IOException {
        Extent e = ExtentMap.find(h, i, fb);
        if (e != null) return new Found(e, 0, null, -1);
        Extent n = ExtentMap.next(h, i, fb);
        long holeEnd = n == null ? ExtentMap.MAX_FILE_BLOCKS : n.fileBlock();
        return new Found(null, holeEnd, fi.delallocAt(fb), fi.nextDelalloc(fb));
    }

    private static IoMap extentMap(Extent e, int bs, int flags) {
        return new IoMap(e.fileBlock() * bs, e.length() * bs, e.unwritten() ? IoMap.Type.UNWRITTEN : IoMap.Type.MAPPED,
                flags, e.startBlock() * bs, 0);
    }

    private static IoMap holeOrDelalloc(Found f, long fb, int bs) {
        if (f.delalloc() != null) {
            long end = Math.min(f.delalloc()[1], f.holeEnd());
            return new IoMap(fb * bs, (end - fb) * bs, IoMap.Type.DELALLOC, 0, IoMap.NO_ADDRESS, 0);
        }
        long end = f.holeEnd();
        if (f.nextDelalloc() >= 0) end = Math.min(end, f.nextDelalloc());
        return IoMap.hole(fb * bs, (end - fb) * bs, 0);
    }

    @Override
    public IoMap begin(IoInode inode, long pos, long length, int opFlags) throws IOException {
        FsInode fi = (FsInode) inode;
        int bs = fi.bs;
        long fb = pos / bs;
        boolean write = kind != Kind.READ && (opFlags & WRITE) != 0;
        if (fb >= ExtentMap.MAX_FILE_BLOCKS) {
            if (write) throw tooLarge(fi, pos);
            return IoMap.hole(pos / bs * bs, Long.MAX_VALUE - pos / bs * bs, 0);
        }
        long endB = Math.min(ExtentMap.MAX_FILE_BLOCKS, Math.ceilDiv(Math.min(pos + length, Long.MAX_VALUE - bs), bs));
        if (pos + length > ExtentMap.MAX_FILE_BLOCKS * bs && write) throw tooLarge(fi, pos + length);
        FolioFs fs = fi.fs;
        return switch (kind) {
            case READ -> fs.op(h -> {
                Inode i = Inodes.get(h, fi.ino);
                Found f = find(h, fi, i, fb);
                return f.extent() != null ? extentMap(f.extent(), bs, 0) : holeOrDelalloc(f, fb, bs);
            });
            case BUFFERED_WRITE -> fs.op(h -> {
                // Lookup and reservation under one handle (the journal lock): writeback cannot
                // allocate part of the range in between and have it reserved twice.
                Found f = find(h, fi, Inodes.get(h, fi.ino), fb);
                if (f.extent() != null) return extentMap(f.extent(), bs, 0);
                long to = Math.min(endB, f.holeEnd());
                fi.reserve(fs.allocator(), fb, to);          // NoSpaceException goes to this write
                return new IoMap(fb * bs, (to - fb) * bs, IoMap.Type.DELALLOC, 0, IoMap.NO_ADDRESS, 0);
            });
            case WRITEBACK, DIRECT_WRITE, WRITETHROUGH -> (opFlags & ATOMIC) != 0 && kind != Kind.WRITEBACK
                    ? atomic(fi, fs, pos, length, fb, endB, kind == Kind.WRITETHROUGH)
                    : allocating(fi, fs, pos, pos + length, fb, endB);
        };
    }

    private static FileSystemException tooLarge(FsInode fi, long at) {
        return new FileSystemException("inode " + fi.ino, null, "File too large: offset " + at + " is beyond the maximum file size "
                + fi.fs.maxFileSize());
    }

    /** Writeback and direct write: the mapping at fb, allocating (delalloc or hole) or copying (shared) as needed. */
    private IoMap allocating(FsInode fi, FolioFs fs, long pos, long reqEnd, long fb, long endB) throws IOException {
        int bs = fi.bs;
        boolean direct = kind == Kind.DIRECT_WRITE;
        boolean user = kind != Kind.WRITEBACK;   // a writer's call (direct, write-through): may be DSYNC
        boolean[] allocated = new boolean[1];
        IoMap m = fs.op(h -> {
            allocated[0] = false;
            Inode i = Inodes.get(h, fi.ino);
            Found f = find(h, fi, i, fb);
            Extent e = f.extent();
            if (e != null) {
                if (!e.unwritten()) {
                    IoMap cow = copyOnWrite(h, fs, fi, i, e, pos, reqEnd, fb, Math.min(endB, e.fileEnd()), direct, user);
                    if (cow != null) { allocated[0] = true; fi.metaChanged(h); return cow; }
                }
                return extentMap(e, bs, user && !e.unwritten() && fi.metaDirty() ? IoMap.DIRTY : 0);
            }
            long to;
            if (!direct && (kind == Kind.WRITEBACK || f.delalloc() != null)) {
                if (f.delalloc() == null) return holeOrDelalloc(f, fb, bs);   // a bug: the engine fails the writeback (EIO)
                to = Math.min(Math.min(fi.delallocRunEnd(fb), f.holeEnd()), fb + MAX_ALLOC);
            } else {
                to = Math.min(Math.min(endB, f.holeEnd()), fb + MAX_ALLOC);
                if (f.nextDelalloc() >= 0) to = Math.min(to, f.nextDelalloc());   // write-through: reserved blocks come next, converted then
            }
            boolean reserved = f.delalloc() != null;   // [fb, to) is one reserved run
            if (reserved) fs.allocator().consumeReservationOfNextAlloc();
            long[] got;
            try {
                got = allocate(h, fs, i, fb, to - fb);
            } finally {
                fs.allocator().consumeNone();
            }
            boolean written = brokenAllocateWritten;
            ExtentMap.insert(h, i, new Extent(fb, got[0], got[1], !written));
            i.blocks += got[1];
            Inodes.put(h, i);
            fi.metaChanged(h);
            // The reservations under the new extent ended with the allocation (in the allocator's
            // same step); drop them from the inode's map (back if the handle aborts).
            if (reserved) fi.dropConsumedReservations(h, fb, fb + got[1]);
            allocated[0] = true;
            return new IoMap(fb * bs, got[1] * bs, written ? IoMap.Type.MAPPED : IoMap.Type.UNWRITTEN, IoMap.NEW, got[0] * bs, 0);
        });
        if (allocated[0]) {
            AllocHook hook = afterAllocate;
            if (hook != null) hook.allocated(fi);
        }
        return inPlace(fs, m);
    }

    /**
     * A mapping the caller will overwrite in place: if its blocks are the data dependency of a
     * commit recovery may still check (an atomic write's remap, committed without PREFLUSH), the
     * journal first makes that commit not the log's last ({@link Journal#barrier}), or new data
     * here would make recovery take the commit for torn and drop it.
     */
    private static IoMap inPlace(FolioFs fs, IoMap m) throws IOException {
        if (m.type() == IoMap.Type.MAPPED && (m.flags() & (IoMap.NEW | IoMap.SHARED)) == 0) {
            int bs = fs.blockSize();
            long first = m.deviceAddress() / bs, count = Math.ceilDiv(m.deviceAddress() + m.length(), bs) - first;
            if (fs.journal().dependsOn(first, count)) fs.journal().barrier();
            // Logged data the log may replay over these blocks: checkpoint first, or recovery would
            // write the older logged data over this write
            if (!brokenSkipLoggedCheckpoint && fs.journal().loggedDataOverlaps(first, count)) fs.journal().checkpointLoggedData();
        }
        return m;
    }

    /** Test only (AtomicCrashTest's logged control): in-place writes over logged data skip the checkpoint (the bug it must catch). */
    static volatile boolean brokenSkipLoggedCheckpoint;

    /** Probe toggle (scripts/atomic-probe): non-zero turns logged atomic writes off, read at each write. */
    static volatile int logToggleOff;

    /**
     * An atomic (untorn) write of file blocks [fb, endB), which the caller checked against the
     * limits (aligned, power of two, at most {@link FolioFs#atomicWriteUnitMax()}). In place when
     * the device writes the whole range atomically and it is one written, unshared extent, at a
     * device address aligned to the length (the device's rule): MAPPED, the engine issues one
     * ATOMIC request. Otherwise out of place: one new contiguous extent for the whole range,
     * recorded as CoW staging (a crash before the remap frees it at mount), answered
     * MAPPED|NEW|SHARED; {@link FsIoEnd#ioEndAtomic} remaps the range in one transaction. A hole,
     * unwritten, written or shared range is all the same to the out-of-place path.
     */
    private static IoMap atomic(FsInode fi, FolioFs fs, long pos, long length, long fb, long endB, boolean buffered)
            throws IOException {
        int bs = fi.bs;
        long n = endB - fb;
        var dev = fs.device();
        boolean hw = fs.atomicHardwarePath() && length >= dev.atomicWriteUnitMin() && length <= dev.atomicWriteUnitMax()
                && dev.atomicWriteUnitMax() > 0;
        if (!hw && buffered && logToggleOff == 0 && length <= fs.atomicLogMax() && pos + length <= fi.diskSize && pos + length <= fi.size()) {
            // An overwrite of blocks the file owns: logged, if they are one written, unshared extent
            IoMap logged = fs.op(h -> {
                Extent e = ExtentMap.find(h, Inodes.get(h, fi.ino), fb);
                if (e == null || e.unwritten() || e.fileEnd() < endB || !fs.refcounts().sharedOrPending(h, e.deviceBlockOf(fb), n).isEmpty())
                    return null;
                return new IoMap(fb * bs, n * bs, IoMap.Type.MAPPED, IoMap.LOGGED, e.deviceBlockOf(fb) * bs, 0);
            });
            if (logged != null) return logged;
        }
        if (!hw && atomicAlignBlocks(fs, bs) == 1) {
            // No device alignment to keep: staging blocks from the pool, without a handle
            long s = fs.staging().take(Inode.agOf(fi.ino), n);
            if (s >= 0) {
                AllocHook hook = afterAllocate;
                if (hook != null) hook.allocated(fi);
                return new IoMap(fb * bs, n * bs, IoMap.Type.MAPPED, IoMap.NEW | IoMap.SHARED, s * bs, 0);
            }
        }
        IoMap m = fs.op(h -> {
            Inode i = Inodes.get(h, fi.ino);
            if (hw) {
                Extent e = ExtentMap.find(h, i, fb);
                if (e != null && !e.unwritten() && e.fileEnd() >= endB && (e.deviceBlockOf(fb) * bs) % length == 0
                        && fs.refcounts().sharedOrPending(h, e.deviceBlockOf(fb), n).isEmpty()) {   // pending: a crash could bring the sharer back
                    return new IoMap(fb * bs, n * bs, IoMap.Type.MAPPED, fi.metaDirty() ? IoMap.DIRTY : 0, e.deviceBlockOf(fb) * bs, 0);
                }
            }
            // aligned to the device's atomic unit (up to the length), so the next atomic overwrite of
            // this range can take the hardware path
            long align = Math.min(n, atomicAlignBlocks(fs, bs));
            long[] got = fs.allocator().allocDataAligned(h, Inode.agOf(i.ino), -1, n, n, align, Math.floorMod(fb, align));
            fs.refcounts().addCowStaging(h, got[0], got[1]);
            h.exposesNoData();   // staging blocks are in no file until the end-of-I/O remap (which declares its data)
            return new IoMap(fb * bs, n * bs, IoMap.Type.MAPPED, IoMap.NEW | IoMap.SHARED, got[0] * bs, 0);
        });
        AllocHook hook = afterAllocate;
        if (hook != null && m.hasFlag(IoMap.NEW)) hook.allocated(fi);
        return inPlace(fs, m);
    }

    /**
     * One contiguous extent of 1..want blocks for file block fb, near the file's previous extent;
     * on a device with an atomic write unit of more than one block, aligned so that unit-aligned
     * file ranges land on unit-aligned device blocks ({@link #allocFileData}).
     */
    private static long[] allocate(Txn h, FolioFs fs, Inode i, long fb, long want) throws IOException {
        long goal = -1;
        if (fb > 0) {
            Extent prev = ExtentMap.find(h, i, fb - 1);
            if (prev != null && prev.deviceEnd() < fs.superblock().totalBlocks()) goal = prev.deviceEnd();
        }
        return allocFileData(h, fs, i, fb, goal, Math.min(want, Extent.MAX_LENGTH));
    }

    /**
     * 1..want blocks of file data for file block fb: with the alignment hint of
     * {@link #atomicAlignBlocks} ({@code device block ≡ file block} modulo the unit), so that an
     * extent written by writeback, direct I/O, write-through or fallocate can later be
     * overwritten by one ATOMIC device request (the hardware path needs the device address
     * aligned to the length). Without such a device: plain {@link Allocator#allocData}.
     */
    static long[] allocFileData(Txn h, FolioFs fs, Inode i, long fb, long goal, long want) throws IOException {
        long align = atomicAlignBlocks(fs, fs.superblock().blockSize());
        return fs.allocator().allocDataAligned(h, Inode.agOf(i.ino), goal, 1, want, align, Math.floorMod(fb, align));
    }

    /**
     * The allocation alignment (blocks) that lets atomic writes use the hardware path: the device's
     * largest atomic write unit, capped by the volume's {@link FolioFs#atomicWriteUnitMax()}, when
     * that is more than one block and the hardware path is on ({@link FolioFs#atomicHardwarePath});
     * else 1 (no alignment).
     */
    static long atomicAlignBlocks(FolioFs fs, int bs) {
        if (!fs.atomicHardwarePath()) return 1;   // nothing will be written in place atomically
        long unit = Math.min(fs.device().atomicWriteUnitMax(), fs.atomicWriteUnitMax());
        if (unit <= bs || Long.bitCount(unit) != 1) return 1;
        return unit / bs;
    }

    /**
     * Copy-on-write: when the blocks at fb are shared (refcount &gt;= 2, or a sharer dropped them in a
     * handle not yet committed: {@link Refcounts#sharedOrPending}), allocates new blocks for the
     * shared run (recorded as CoW staging) and answers MAPPED|NEW|SHARED there; {@link FsIoEnd}
     * remaps at end of I/O. Null when nothing in the extent from fb on is shared; the unshared prefix
     * (a plain overwrite) when a shared run follows it.
     */
    private static IoMap copyOnWrite(Txn h, FolioFs fs, FsInode fi, Inode i, Extent e, long pos, long reqEnd, long fb, long to,
                                     boolean direct, boolean user) throws IOException {
        int bs = fi.bs;
        // shared, or unshared by a handle not yet durable (a crash could bring the other owner back)
        List<long[]> shared = fs.refcounts().sharedOrPending(h, e.deviceBlockOf(fb), e.fileEnd() - fb);
        if (shared.isEmpty()) return null;
        long firstShared = e.fileBlock() + (shared.getFirst()[0] - e.startBlock());
        if (firstShared > fb) {       // unshared prefix: plain overwrite
            return new IoMap(fb * bs, (firstShared - fb) * bs, IoMap.Type.MAPPED, user && fi.metaDirty() ? IoMap.DIRTY : 0,
                    e.deviceBlockOf(fb) * bs, 0);
        }
        long n = Math.min(shared.getFirst()[1], Math.max(1, to - fb));
        n = Math.min(n, MAX_ALLOC);
        if (direct && (pos % bs != 0 || (reqEnd % bs != 0 && reqEnd < (fb + n) * bs)))
            throw new IOException("direct write at " + pos + " into shared blocks of inode " + fi.ino
                    + " must be aligned to the block size " + bs + " (copy-on-write of a partial block is not supported; FolioFile"
                    + " sends such writes through the cache, see sharedIn)");
        long[] got = allocate(h, fs, i, fb, n);
        fs.refcounts().addCowStaging(h, got[0], got[1]);
        return new IoMap(fb * bs, got[1] * bs, IoMap.Type.MAPPED, IoMap.NEW | IoMap.SHARED, got[0] * bs, 0);
    }

    /**
     * True when a written extent under file range [pos, pos + len) has shared blocks (refcount &gt;= 2,
     * or unshared by a handle not yet durable: {@link Refcounts#sharedOrPending}), that is, when a
     * write there copies on write. {@link FolioFile} asks before a direct write that is not aligned
     * to the block size: direct I/O cannot copy a partial block (it would have to read the old
     * block's other bytes), so such a write goes through the cache instead (write-through), as XFS
     * answers {@code -ENOTBLK} and falls back to a buffered write. The caller holds the inode lock
     * exclusively: only a clone, which takes that lock too, can add sharing.
     */
    static boolean sharedIn(FsInode fi, long pos, long len) throws IOException {
        int bs = fi.bs;
        long fb = pos / bs;
        long endB = Math.min(ExtentMap.MAX_FILE_BLOCKS, Math.ceilDiv(Math.min(pos + len, Long.MAX_VALUE - bs), bs));
        if (len <= 0 || fb >= endB) return false;
        FolioFs fs = fi.fs;
        return fs.op(h -> {
            Inode i = Inodes.get(h, fi.ino);
            long b = fb;
            while (b < endB) {
                Extent e = ExtentMap.find(h, i, b);
                if (e == null) {
                    Extent n = ExtentMap.next(h, i, b);
                    if (n == null || n.fileBlock() >= endB) return false;
                    b = n.fileBlock();
                    continue;
                }
                long to = Math.min(endB, e.fileEnd());
                // unwritten extents are never shared (a clone maps them as holes)
                if (!e.unwritten() && !fs.refcounts().sharedOrPending(h, e.deviceBlockOf(b), to - b).isEmpty()) return true;
                b = to;
            }
            return false;
        });
    }

    @Override
    public String toString() { return "FsIoMapOps." + kind; }
}
