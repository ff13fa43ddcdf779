package org.foliofs.device;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A sparse byte image for {@link SimDevice}: 64 KiB chunks allocated on first write, an absent
 * chunk reading as zeros, so a device of a few GiB costs only what was written. Chunks live on the
 * Java heap (no arena to close) and are found through a two-level table indexed by long offsets.
 * Not thread-safe: the device guards it with its lock.
 */
final class SimStorage {
    static final int CHUNK_SHIFT = 16;
    static final int CHUNK_SIZE = 1 << CHUNK_SHIFT;
    private static final int GROUP_SHIFT = 12; // 4096 chunks (256 MiB) per group
    private static final int GROUP_SIZE = 1 << GROUP_SHIFT;

    private final long capacity;
    private final MemorySegment[][] groups;
    private long allocatedChunks;

    SimStorage(long capacity) {
        this.capacity = capacity;
        long chunks = (capacity + CHUNK_SIZE - 1) >>> CHUNK_SHIFT;
        long groupCount = (chunks + GROUP_SIZE - 1) >>> GROUP_SHIFT;
        if (groupCount > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("capacity (" + capacity + ") is too large for a simulated device");
        }
        this.groups = new MemorySegment[(int) groupCount][];
    }

    long capacity() { return capacity; }

    /** Number of 64 KiB chunks currently allocated (for tests of sparseness). */
    long allocatedChunks() { return allocatedChunks; }

    private MemorySegment chunk(long index, boolean create) {
        int g = (int) (index >>> GROUP_SHIFT);
        int i = (int) (index & (GROUP_SIZE - 1));
        MemorySegment[] group = groups[g];
        if (group == null) {
            if (!create) return null;
            group = groups[g] = new MemorySegment[GROUP_SIZE];
        }
        MemorySegment c = group[i];
        if (c == null && create) {
            c = group[i] = MemorySegment.ofArray(new byte[CHUNK_SIZE]);
            allocatedChunks++;
        }
        return c;
    }

    private void drop(long index) {
        MemorySegment[] group = groups[(int) (index >>> GROUP_SHIFT)];
        if (group != null && group[(int) (index & (GROUP_SIZE - 1))] != null) {
            group[(int) (index & (GROUP_SIZE - 1))] = null;
            allocatedChunks--;
        }
    }

    /** Copies {@code len} bytes at device offset {@code off} into {@code dst} at {@code dstOff}. */
    void read(long off, MemorySegment dst, long dstOff, long len) {
        while (len > 0) {
            long index = off >>> CHUNK_SHIFT;
            int in = (int) (off & (CHUNK_SIZE - 1));
            int n = (int) Math.min(len, CHUNK_SIZE - in);
            MemorySegment c = chunk(index, false);
            if (c == null) {
                dst.asSlice(dstOff, n).fill((byte) 0);
            } else {
                MemorySegment.copy(c, in, dst, dstOff, n);
            }
            off += n;
            dstOff += n;
            len -= n;
        }
    }

    /** Copies {@code len} bytes from {@code src} at {@code srcOff} to device offset {@code off}. */
    void write(long off, MemorySegment src, long srcOff, long len) {
        while (len > 0) {
            long index = off >>> CHUNK_SHIFT;
            int in = (int) (off & (CHUNK_SIZE - 1));
            int n = (int) Math.min(len, CHUNK_SIZE - in);
            MemorySegment c = chunk(index, false);
            if (c == null && isZero(src, srcOff, n)) {
                // writing zeros over an absent chunk: stays absent
            } else {
                if (c == null) c = chunk(index, true);
                MemorySegment.copy(src, srcOff, c, in, n);
            }
            off += n;
            srcOff += n;
            len -= n;
        }
    }

    /** Zeroes a range; whole chunks are released. */
    void zero(long off, long len) {
        while (len > 0) {
            long index = off >>> CHUNK_SHIFT;
            int in = (int) (off & (CHUNK_SIZE - 1));
            int n = (int) Math.min(len, CHUNK_SIZE - in);
            if (n == CHUNK_SIZE) {
                drop(index);
            } else {
                MemorySegment c = chunk(index, false);
                if (c != null) c.asSlice(in, n).fill((byte) 0);
            }
            off += n;
            len -= n;
        }
    }

    /** Makes the range [off, off+len) of this image equal to the same range of {@code from}. */
    void copyRange(SimStorage from, long off, long len) {
        while (len > 0) {
            long index = off >>> CHUNK_SHIFT;
            int in = (int) (off & (CHUNK_SIZE - 1));
            int n = (int) Math.min(len, CHUNK_SIZE - in);
            MemorySegment src = from.chunk(index, false);
            if (src == null) {
                zero(off, n);
            } else {
                MemorySegment.copy(src, in, chunk(index, true), in, n);
            }
            off += n;
            len -= n;
        }
    }

    /** Releases every chunk. */
    void clear() {
        java.util.Arrays.fill(groups, null);
        allocatedChunks = 0;
    }

    private static boolean isZero(MemorySegment s, long off, int n) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            if (s.get(ValueLayout.JAVA_LONG_UNALIGNED, off + i) != 0) return false;
        }
        for (; i < n; i++) {
            if (s.get(ValueLayout.JAVA_BYTE, off + i) != 0) return false;
        }
        return true;
    }
}
