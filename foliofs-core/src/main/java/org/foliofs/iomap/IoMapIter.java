package org.foliofs.iomap;

import java.io.IOException;

/**
 * The one iteration loop of the engine (Linux's iomap_iter), over a file range
 * {@code [pos, pos + length)}:
 *
 * <pre>{@code
 *   IoMapIter it = new IoMapIter(inode, pos, length, opFlags);
 *   return it.run(ops, chunk);   // = while (it.next(ops)) it.advance(chunk.process(it));
 * }</pre>
 *
 * <ul>
 *   <li>{@link #next} first finishes the previous mapping: {@code ops.end(pos, chunkLength,
 *       processed, ...)}, then moves the position by the bytes processed. It stops (returns false)
 *       when the range is done or the chunk processed 0 bytes, unless the chunk marked the mapping
 *       {@link #markStale stale}: then it maps the same position again. Otherwise it calls
 *       {@code ops.begin} for the rest of the range and checks the answer.</li>
 *   <li>A chunk works on {@code [pos(), pos() + length())}, the intersection of the mapping with
 *       what is left, and returns the bytes it processed from {@code pos()} (0 to stop).</li>
 *   <li>A chunk that throws ends the loop; {@link #run} still calls {@code ops.end} for that
 *       mapping (with 0 bytes written) and rethrows.</li>
 * </ul>
 * Not thread-safe: one iterator per call, used by the calling thread only.
 */
final class IoMapIter {

    /** Work on one mapping; returns the bytes processed from {@link #pos()}. */
    @FunctionalInterface
    interface Chunk {
        long process(IoMapIter it) throws IOException;
    }

    private final IoInode inode;
    private final int opFlags;
    private final long start;
    private long pos;
    private long remaining;
    private IoMap map;          // current mapping, null before the first next() and after the last
    private long chunkLength;   // length() of the current mapping
    private long processed = -1; // of the current mapping; -1 = advance() not called yet
    private boolean stale;

    IoMapIter(IoInode inode, long pos, long length, int opFlags) {
        if (pos < 0 || length < 0 || pos + length < 0) {
            throw new IllegalArgumentException("range [" + pos + ", +" + length + ") is not a valid file range");
        }
        this.inode = inode;
        this.opFlags = opFlags;
        this.start = pos;
        this.pos = pos;
        this.remaining = length;
    }

    /** Runs the loop with {@code chunk} and returns the bytes processed in all. */
    long run(IoMapOps ops, Chunk chunk) throws IOException {
        try {
            while (next(ops)) advance(chunk.process(this));
        } catch (IOException | RuntimeException | Error e) {
            abandon(ops, e);
            throw e;
        }
        return processed();
    }

    /** Finishes the previous mapping and maps the next one; false when the loop is over. */
    boolean next(IoMapOps ops) throws IOException {
        if (map != null) {
            if (processed < 0) {
                throw new IllegalStateException("next() called without advance() for mapping " + map + " at " + pos);
            }
            IoMap done = stale ? map.withFlags(map.flags() | IoMap.STALE) : map;
            long written = processed;
            map = null; // end() is called exactly once, even if it throws
            ops.end(inode, pos, chunkLength, written, opFlags, done);
            pos += written;
            remaining -= written;
            if (remaining == 0 || (written == 0 && !stale)) return false;
        } else if (remaining == 0) {
            return false;
        }
        stale = false;
        processed = -1;
        IoMap m = ops.begin(inode, pos, remaining, opFlags);
        if (m == null) {
            throw new IllegalStateException(ops.getClass().getName() + ".begin(" + pos + ", " + remaining + ") returned null");
        }
        if (!m.contains(pos)) {
            throw new IllegalStateException(ops.getClass().getName() + ".begin(" + pos + ", " + remaining
                    + ") returned " + m + ", which does not contain position " + pos);
        }
        map = m;
        chunkLength = Math.min(remaining, m.end() - pos);
        return true;
    }

    /** Records the bytes the chunk processed from {@link #pos()}: 0 to stop (or remap, if stale). */
    void advance(long bytes) {
        if (map == null) throw new IllegalStateException("advance(" + bytes + ") without a current mapping");
        if (bytes < 0 || bytes > chunkLength) {
            throw new IllegalStateException("advance(" + bytes + ") outside [0, " + chunkLength + "] for mapping " + map
                    + " at " + pos);
        }
        if (bytes > 0 && stale) throw new IllegalStateException("advance(" + bytes + ") of a stale mapping " + map);
        processed = bytes;
    }

    /** The chunk found the mapping invalid: end() gets it flagged STALE and the loop remaps. */
    void markStale() { stale = true; }

    private void abandon(IoMapOps ops, Throwable cause) {
        IoMap m = map;
        if (m == null) return;
        map = null;
        try {
            ops.end(inode, pos, chunkLength, 0, opFlags, m);
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    IoInode inode() { return inode; }
    int opFlags() { return opFlags; }
    /** The current mapping. */
    IoMap map() { return map; }
    /** File position of the current chunk. */
    long pos() { return pos; }
    /** Length of the current chunk: the mapping clipped to what is left of the range. */
    long length() { return chunkLength; }
    /** Bytes processed so far, over all finished mappings. */
    long processed() { return pos - start; }
}
