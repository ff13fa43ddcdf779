package org.foliofs.fs;

import java.io.IOException;

/**
 * Where a {@link DeviceMetaStore} gets blocks for new metadata (B+tree nodes). Pluggable so that the
 * free-space trees can take over; until they do, {@link BitmapMetaAllocator} hands out blocks from a
 * fixed range. Not thread-safe (the store's caller serialises).
 */
public interface MetaAllocator {
    /** Allocates one block for metadata owned by {@code owner} (an allocation group or inode). */
    long allocate(long owner) throws IOException;

    /** Returns an allocated block. */
    void free(long blkno);

    /** Whether {@code blkno} is allocated (a store only writes allocated blocks). */
    boolean isAllocated(long blkno);

    /** An allocator with no space: for stores that only read (e.g. {@link Volume#open}). */
    static MetaAllocator none() {
        return new MetaAllocator() {
            @Override public long allocate(long owner) throws IOException {
                throw new IOException("no metadata allocator: this store is read-only");
            }
            @Override public void free(long blkno) {
                throw new IllegalStateException("free of block " + blkno + " on a read-only store");
            }
            @Override public boolean isAllocated(long blkno) { return false; }
        };
    }
}
