package org.foliofs.fs;

import java.io.IOException;
import java.util.BitSet;

/**
 * A {@link MetaAllocator} over the block range {@code [first, first + count)}, kept as a bitmap in
 * memory and never persisted. <b>Temporary</b>: mkfs uses it for the blocks it reserves for the
 * free-space tree roots; once the free-space trees allocate (with a per-group free list, as XFS's
 * AGFL), this class remains for tests only.
 */
public final class BitmapMetaAllocator implements MetaAllocator {
    private final long first;
    private final int count;
    private final BitSet used;

    public BitmapMetaAllocator(long first, int count) {
        if (first < 0) throw new IllegalArgumentException("first (" + first + ") must not be negative");
        if (count < 0) throw new IllegalArgumentException("count (" + count + ") must not be negative");
        this.first = first;
        this.count = count;
        this.used = new BitSet(count);
    }

    @Override
    public long allocate(long owner) throws IOException {
        int i = used.nextClearBit(0);
        if (i >= count)
            throw new IOException("no free metadata block in [" + first + ", " + (first + count) + ") for owner " + owner
                    + " (all " + count + " in use)");
        used.set(i);
        return first + i;
    }

    @Override
    public void free(long blkno) {
        if (!isAllocated(blkno)) throw new IllegalStateException("free of block " + blkno + ", which is not allocated");
        used.clear((int) (blkno - first));
    }

    @Override
    public boolean isAllocated(long blkno) {
        return blkno >= first && blkno < first + count && used.get((int) (blkno - first));
    }

    /** Blocks allocated and not freed. */
    public int allocatedCount() { return used.cardinality(); }
}
