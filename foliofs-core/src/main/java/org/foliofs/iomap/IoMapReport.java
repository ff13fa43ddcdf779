package org.foliofs.iomap;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Extent reporting over {@link IoMapOps} with {@link IoMapOps#REPORT}: lseek's SEEK_DATA and
 * SEEK_HOLE, and fiemap. No device I/O. The caller holds the inode lock (shared) so the size and
 * the mappings do not move underneath.
 *
 * <p>Data is MAPPED and DELALLOC; HOLE and UNWRITTEN are holes (they read as zeros). Linux also
 * looks into the page cache for dirty or up-to-date folios over UNWRITTEN extents; that needs a
 * page cache query this engine does not have yet, so until it does, data written into an
 * unwritten extent and still only cached is reported as a hole.
 */
public final class IoMapReport {
    private IoMapReport() {}

    /** Not found: lseek's ENXIO (position at or beyond the size, or no data after it). */
    public static final long NOT_FOUND = -1;

    /**
     * The first position at or after {@code pos} that holds data, or {@link #NOT_FOUND} when
     * {@code pos >= size} or only holes follow.
     */
    public static long seekData(IoInode inode, IoMapOps ops, long pos) throws IOException {
        return seek(inode, ops, pos, true);
    }

    /**
     * The first position at or after {@code pos} in a hole, the size when the data runs to the end
     * (the implicit hole at the end of the file), or {@link #NOT_FOUND} when {@code pos >= size}.
     */
    public static long seekHole(IoInode inode, IoMapOps ops, long pos) throws IOException {
        return seek(inode, ops, pos, false);
    }

    private static long seek(IoInode inode, IoMapOps ops, long pos, boolean data) throws IOException {
        if (pos < 0) throw new IllegalArgumentException((data ? "seekData" : "seekHole") + " position (" + pos + ") must not be negative");
        long size = inode.size();
        if (pos >= size) return NOT_FOUND;
        long[] found = {NOT_FOUND};
        new IoMapIter(inode, pos, size - pos, IoMapOps.REPORT).run(ops, it -> {
            if (isData(it.map().type()) == data) {
                found[0] = it.pos();
                return 0;
            }
            return it.length();
        });
        return found[0] == NOT_FOUND && !data ? size : found[0];
    }

    private static boolean isData(IoMap.Type t) {
        return t == IoMap.Type.MAPPED || t == IoMap.Type.DELALLOC;
    }

    /**
     * The extents (everything but holes) overlapping {@code [pos, pos + length)}, in file order, as
     * the file system returned them (not clipped to the range), with neighbours merged when they
     * have the same type and flags and are contiguous in the file and, for MAPPED and UNWRITTEN,
     * on the device. The merged extent keeps the first one's cookie. Like Linux's fiemap, the
     * range is not limited by the file size.
     */
    public static List<IoMap> fiemap(IoInode inode, IoMapOps ops, long pos, long length) throws IOException {
        if (pos < 0 || length < 0) {
            throw new IllegalArgumentException("fiemap range [" + pos + ", +" + length + ") must not be negative");
        }
        long len = Math.min(length, Long.MAX_VALUE - pos);
        List<IoMap> out = new ArrayList<>();
        new IoMapIter(inode, pos, len, IoMapOps.REPORT).run(ops, it -> {
            IoMap m = it.map();
            if (m.type() != IoMap.Type.HOLE) {
                int last = out.size() - 1;
                IoMap prev = last < 0 ? null : out.get(last);
                if (prev != null && mergeable(prev, m)) {
                    out.set(last, new IoMap(prev.offset(), m.end() - prev.offset(), prev.type(), prev.flags(),
                            prev.deviceAddress(), prev.cookie()));
                } else {
                    out.add(m);
                }
            }
            return it.length();
        });
        return out;
    }

    private static boolean mergeable(IoMap a, IoMap b) {
        if (a.type() != b.type() || a.flags() != b.flags() || a.end() != b.offset()) return false;
        return a.deviceAddress() == IoMap.NO_ADDRESS || a.deviceAddress() + a.length() == b.deviceAddress();
    }
}
