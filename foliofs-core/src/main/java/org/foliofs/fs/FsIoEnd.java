package org.foliofs.fs;

import java.io.IOException;
import java.util.List;
import org.foliofs.iomap.IoEndHandler;
import org.foliofs.iomap.IoInode;
import org.foliofs.iomap.IoMap;

/**
 * FolioFS's end-of-I/O work, run by the engine after the data of a mapping reached the device (its
 * write completed; durability comes from the journal commit's PREFLUSH):
 * <ul>
 *   <li>UNWRITTEN blocks the write covered become written ({@link ExtentMap#markWritten});</li>
 *   <li>copy-on-write mappings (SHARED) are remapped: the old blocks are unmapped (their refcounts
 *       dropped, freed at zero), the new ones mapped written and taken off the CoW staging list;
 *       staging blocks the write did not use, and all of them on an error, are freed;</li>
 *   <li>the on-disk size moves to {@code max(size, min(end of the written range, in-memory size))}.</li>
 * </ul>
 * All in one journal handle per mapping, after the data I/O: a commit can then never expose blocks
 * whose data is not yet on the device ("never stale data"). Pure overwrites inside the on-disk size
 * need no handle. {@link #sync} (DSYNC, fsync) forces the journal.
 * {@link #WRITEBACK} clips to the in-memory size (buffered writes grew it already);
 * {@link #DIRECT} first grows the in-memory size to the end of the write.
 */
public final class FsIoEnd implements IoEndHandler {
    public static final FsIoEnd WRITEBACK = new FsIoEnd(false);
    public static final FsIoEnd DIRECT = new FsIoEnd(true);

    private final boolean direct;

    private FsIoEnd(boolean direct) { this.direct = direct; }

    @Override
    public void ioEnd(IoInode inode, long pos, long length, IoMap map, int error) throws IOException {
        FsInode fi = (FsInode) inode;
        FolioFs fs = fi.fs;
        int bs = fi.bs;
        boolean cow = map.hasFlag(IoMap.SHARED) && map.type() == IoMap.Type.MAPPED;
        long mapFirst = map.offset() / bs, mapEnd = Math.ceilDiv(map.end(), bs);
        if (error != 0 || length <= 0) {
            if (cow) fs.op(h -> { freeStaging(h, fs, map, bs, mapFirst, mapEnd); return null; });
            return;
        }
        if (direct) fi.setSizeInMemory(pos + length);
        long newSize = Math.max(fi.diskSize, Math.min(pos + length, fi.size()));
        if (map.type() == IoMap.Type.MAPPED && !cow && newSize <= fi.diskSize) return;
        long a = Math.max(pos / bs, mapFirst), b = Math.min(Math.ceilDiv(pos + length, bs), mapEnd);
        long size = fs.op(h -> {
            Inode i = Inodes.get(h, fi.ino);
            if (map.type() == IoMap.Type.UNWRITTEN && a < b) ExtentMap.markWritten(h, i, a, b - a);
            if (cow && a < b) {
                remap(h, fs, i, a, b, (map.deviceAddress() + (a * bs - map.offset())) / bs, false);
                freeStaging(h, fs, map, bs, mapFirst, a);
                freeStaging(h, fs, map, bs, b, mapEnd);
            }
            return putSize(h, fi, i, pos + length);
        });
        diskSizeAtLeast(fi, size);
    }

    /**
     * File blocks [a, b) of {@code i} now map the written blocks from {@code newStart} (a
     * copy-on-write's staging blocks): the old extents unmapped (refcounts dropped, freed at
     * zero), the new one inserted written, its staging record removed. {@code recycle}: freed
     * old blocks may stay staged for the next atomic write instead ({@link StagingPool#recycle}).
     */
    private static void remap(Txn h, FolioFs fs, Inode i, long a, long b, long newStart, boolean recycle) throws IOException {
        for (Extent e : ExtentMap.remap(h, i, a, b - a, newStart)) fs.freeExtent(h, i, e, recycle);
        i.blocks += b - a;
        fs.refcounts().removeCowStaging(h, newStart, b - a);
    }

    /** Moves the on-disk size to {@code min(end, in-memory size)} if that is larger, writes the inode; returns its size. */
    private static long putSize(Txn h, FsInode fi, Inode i, long end) throws IOException {
        long s = Math.min(end, fi.size());
        if (s > i.size) i.size = s;
        Inodes.put(h, i);
        fi.metaChanged(h);
        return i.size;
    }

    private static void diskSizeAtLeast(FsInode fi, long size) {
        synchronized (fi) {
            if (size > fi.diskSize) fi.diskSize = size;
        }
    }

    /**
     * The end of an atomic write: every out-of-place (NEW|SHARED) mapping is remapped, the old
     * blocks unmapped (refcounts dropped, freed at zero), the staging records removed and the size
     * moved, all in ONE handle (its reservation grows with the range; the atomic unit limit keeps
     * it within the journal's largest transaction): after a crash the
     * range reads all old (the handle did not commit; mount frees the staging blocks) or all new.
     * An in-place mapping (written by one ATOMIC device request) needs only the size. A failed
     * write frees its staging blocks.
     */
    @Override
    public boolean ioEndAtomic(IoInode inode, long pos, long length, List<IoMap> maps, int error, java.lang.foreign.MemorySegment data)
            throws IOException {
        FsInode fi = (FsInode) inode;
        FolioFs fs = fi.fs;
        int bs = fi.bs;
        boolean allLogged = true;
        for (IoMap m : maps) allLogged &= m.hasFlag(IoMap.LOGGED);
        if (allLogged) return error == 0;   // logAtomic did it all: the data is in the journal's running transaction
        if (error != 0) {
            fs.op(h -> {
                for (IoMap m : maps) if (m.hasFlag(IoMap.SHARED)) freeStaging(h, fs, m, bs, m.offset() / bs, Math.ceilDiv(m.end(), bs));
                return null;
            });
            return false;
        }
        if (direct) fi.setSizeInMemory(pos + length);
        long blocks = 0;
        boolean inPlace = false;
        for (IoMap m : maps) {
            if (m.hasFlag(IoMap.SHARED)) blocks += Math.ceilDiv(m.end(), bs) - m.offset() / bs;
            else inPlace = true;
        }
        if (blocks == 0 && Math.min(pos + length, fi.size()) <= fi.diskSize) return false;   // in place, inside the size: nothing to log
        // What the handle exposes: the new blocks, holding exactly the call's bytes (the atomic
        // range is whole blocks, and one mapping lies inside it). The commit then needs no
        // PREFLUSH; recovery checks the data instead (Journal: data dependencies). The CRC32C is
        // computed here, before the handle: not under the journal lock.
        List<long[]> deps = new java.util.ArrayList<>(maps.size());
        boolean declare = true;   // false: a mapping in place or not checksummable, so the commit keeps its PREFLUSH
        for (IoMap m : maps) {
            long a = m.offset() / bs, b = Math.ceilDiv(m.end(), bs), off = m.offset() - pos;
            if (m.hasFlag(IoMap.SHARED) && data != null && off >= 0 && off + m.length() <= data.byteSize() && m.length() == (b - a) * bs) {
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(data.asSlice(off, m.length()).asByteBuffer());
                deps.add(new long[] {m.deviceAddress() / bs, b - a, crc.getValue()});
            } else {
                declare = false;
            }
        }
        boolean declared = declare;
        // Distinct blocks the remap may change: a few per old extent (at most one per block) in
        // the extent, refcount and free-space trees, shared leaves mostly; bounded by the journal.
        int reserve = (int) Math.min(fs.journal().maxTransactionBlocks(), 64 + 4 * blocks);
        boolean recycle = FsIoMapOps.atomicAlignBlocks(fs, bs) == 1;   // the staging pool serves this volume's atomic writes
        long size = fs.op(reserve, h -> {
            Inode i = Inodes.get(h, fi.ino);
            // An overwrite in extents of its own size leaves the inode record as it was (size, block
            // count, extent-tree root or inline extents): then it is not looked up again to be put back.
            byte[] before = i.encoded();
            for (IoMap m : maps)
                if (m.hasFlag(IoMap.SHARED)) remap(h, fs, i, m.offset() / bs, Math.ceilDiv(m.end(), bs), m.deviceAddress() / bs, recycle);
            if (declared) for (long[] d : deps) h.dataDependency(d[0], d[1], (int) d[2]);
            if (Math.min(pos + length, fi.size()) <= i.size && java.util.Arrays.equals(before, i.encoded())) {
                fi.metaChanged(h);
                return i.size;
            }
            return putSize(h, fi, i, pos + length);
        });
        diskSizeAtLeast(fi, size);
        return !inPlace;
    }

    /**
     * A logged atomic write ({@link IoMap#LOGGED}, {@link FsIoMapOps}): one handle logs the data
     * ({@link Journal.Handle#logData}); the journal writes it home after the commit. The blocks
     * stay the file's, so nothing else changes. Without DSYNC the log thread is asked to commit
     * soon all the same: the folios stay under writeback until their home write.
     */
    @Override
    public void logAtomic(IoInode inode, long deviceOffset, java.lang.foreign.MemorySegment[] segs, boolean dsync,
                          java.util.function.BiConsumer<Throwable, Boolean> homeDone) throws IOException {
        FsInode fi = (FsInode) inode;
        FolioFs fs = fi.fs;
        int bs = fi.bs;
        if (deviceOffset % bs != 0)
            throw new IllegalArgumentException("logged atomic write at device offset " + deviceOffset + " is not block aligned (" + bs + ")");
        long bytes = 0;
        for (var m : segs) bytes += m.byteSize();
        int reserve = (int) Math.ceilDiv(bytes, bs) + 1;   // (logData checks the segments are whole blocks)
        fs.op(reserve, h -> {
            h.logData(deviceOffset / bs, segs, homeDone);
            return null;
        });
        if (!dsync) fs.journal().forceCommittedAsync(e -> {});
    }

    /** Frees the CoW staging blocks of {@code map} for file blocks [from, to). */
    private static void freeStaging(Txn h, FolioFs fs, IoMap map, int bs, long from, long to) throws IOException {
        if (from >= to) return;
        long start = (map.deviceAddress() + (from * bs - map.offset())) / bs;
        fs.refcounts().removeCowStaging(h, start, to - from);
        fs.allocator().freeData(h, start, to - from);
    }

    /** A closed (lingering) file whose writeback finished and left it clean: queue it to be dropped (by the next open, close or sync). */
    @Override
    public void writebackDone(IoInode inode) {
        FsInode fi = (FsInode) inode;
        // StoreLoad: our folios' WRITEBACK tags were cleared with release stores; without a full
        // fence the read of lingering below may pass them, and a last close running now (which
        // sets lingering, fences, then reads the tags) and this completion can both miss each
        // other, leaving a clean closed inode in the table until sync or unmount.
        java.lang.invoke.VarHandle.fullFence();
        if (fi.lingering && fi.clean()) fi.cleaned.add(fi);
    }

    @Override
    public boolean sync(IoInode inode, long pos, long length) throws IOException {
        FsInode fi = (FsInode) inode;
        long g = fi.metaGeneration();
        // A commit written by this call starts with a PREFLUSH, issued after the data and its
        // end-of-I/O handle completed: the data is durable with it (no FLUSH after). Nothing to
        // commit (someone else's commit took our handle, or there was none): the engine flushes.
        boolean committed = fi.fs.commit();
        fi.markDurable(g);
        return committed;
    }

    /**
     * DSYNC of an atomic write written wholly out of place: its remap handle committed after its
     * data completed, so the commit that holds the handle (the running one, or one already in
     * flight: gathered after the handle) makes the data durable with the flush it ends or starts
     * with ({@link Journal#forceCommitted}). Never a separate FLUSH.
     */
    @Override
    public boolean syncLogged(IoInode inode, long pos, long length) throws IOException {
        FsInode fi = (FsInode) inode;
        long g = fi.metaGeneration();
        fi.fs.journal().forceCommitted();
        fi.markDurable(g);
        return true;
    }

    /** {@link #syncLogged} without a waiting thread ({@link Journal#forceCommittedAsync}). */
    @Override
    public boolean syncLoggedAsync(IoInode inode, long pos, long length, java.util.function.Consumer<Throwable> done) {
        FsInode fi = (FsInode) inode;
        long g = fi.metaGeneration();
        fi.fs.journal().forceCommittedAsync(e -> {
            if (e == null) fi.markDurable(g);
            done.accept(e);
        });
        return true;
    }

    @Override
    public String toString() { return direct ? "FsIoEnd.DIRECT" : "FsIoEnd.WRITEBACK"; }
}
