package org.foliofs.iomap;

import java.io.IOException;

/**
 * A cached mapping for the buffered engine's walks that are not one contiguous range (read fills
 * of the gaps in folios, writeback of dirty runs): like Linux's writepage context keeping
 * {@code wpc->iomap}, it reuses the last mapping while it contains the next range and is still
 * valid ({@link IoMapValidity}), else ends it and begins a new one. Keeps the begin/end contract:
 * {@link IoMapOps#end} exactly once per successful begin, from {@link #close} at the latest.
 * One walk, one thread.
 */
final class MapCursor implements AutoCloseable {
    private final IoInode inode;
    private final IoMapOps ops;
    private final int opFlags;
    private IoMap map;
    private long beginPos;   // position begin() was called for
    private long usedEnd;    // end of the furthest range handed out from map

    MapCursor(IoInode inode, IoMapOps ops, int opFlags) {
        this.inode = inode;
        this.ops = ops;
        this.opFlags = opFlags;
    }

    /**
     * The mapping containing {@code pos}, asking begin for {@code [pos, pos + length)} when the
     * cached one does not contain {@code pos} or went stale. The caller uses at most
     * {@code map.end() - pos} bytes of it and reports them with {@link #used}.
     */
    IoMap at(long pos, long length) throws IOException {
        IoMap m = map;
        if (m != null) {
            if (m.contains(pos) && (!(ops instanceof IoMapValidity v) || v.isValid(inode, m))) return m;
            finish(!m.contains(pos));
        }
        m = ops.begin(inode, pos, length, opFlags);
        if (m == null || !m.contains(pos)) {
            throw new IllegalStateException(ops.getClass().getName() + ".begin(" + pos + ", " + length + ", opFlags " + opFlags
                    + ") returned " + m + ", which does not contain position " + pos);
        }
        map = m;
        beginPos = pos;
        usedEnd = pos;
        return m;
    }

    /** Records that the walk used the current mapping up to {@code end}. */
    void used(long end) {
        if (end > usedEnd) usedEnd = end;
    }

    private void finish(boolean valid) throws IOException {
        IoMap m = map;
        map = null;
        long len = Math.max(usedEnd, beginPos + 1) - beginPos;
        ops.end(inode, beginPos, len, usedEnd - beginPos, opFlags, valid ? m : m.withFlags(m.flags() | IoMap.STALE));
    }

    /** Ends the current mapping, if any. */
    @Override
    public void close() throws IOException {
        if (map != null) finish(true);
    }
}
