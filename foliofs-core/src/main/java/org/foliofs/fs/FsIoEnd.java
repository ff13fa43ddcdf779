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
                List<Extent> old = ExtentMap.remove(h, i, a, b - a);
                for (Extent e : old) fs.freeExtent(h, i, e);
                long newStart = (map.deviceAddress() + (a * bs - map.offset())) / bs;
                ExtentMap.insert(h, i, new Extent(a, newStart, b - a, false));
                i.blocks += b - a;
                fs.refcounts().removeCowStaging(h, newStart, b - a);
                freeStaging(h, fs, map, bs, mapFirst, a);
                freeStaging(h, fs, map, bs, b, mapEnd);
            }
            long s = Math.min(pos + length, fi.size());
            if (s > i.size) i.size = s;
            Inodes.put(h, i);
            fi.metaChanged(h);
            return i.size;
        });
        synchronized (fi) {
            if (size > fi.diskSize) fi.diskSize = size;
        }
    }

    /** Frees the CoW staging blocks of {@code map} for file blocks [from, to). */
    private static void freeStaging(Txn h, FolioFs fs, IoMap map, int bs, long from, long to) throws IOException {
        if (from >= to) return;
        long start = (map.deviceAddress() + (from * bs - map.offset())) / bs;
        fs.refcounts().removeCowStaging(h, start, to - from);
        fs.allocator().freeData(h, start, to - from);
    }

    @Override
    public void sync(IoInode inode, long pos, long length) throws IOException {
        FsInode fi = (FsInode) inode;
        long g = fi.metaGeneration();
        fi.fs.sync();
        fi.markDurable(g);
    }

    @Override
    public String toString() { return direct ? "FsIoEnd.DIRECT" : "FsIoEnd.WRITEBACK"; }
}
