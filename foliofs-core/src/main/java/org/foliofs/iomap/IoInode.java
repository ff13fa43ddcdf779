package org.foliofs.iomap;

/**
 * The engine's view of a file: what it needs to know besides the mappings. The file system's
 * inode implements it (and its {@link IoMapOps} cast it back, as Linux's container_of does).
 * The engine takes no lock of the inode: the caller holds it (see the package documentation).
 */
public interface IoInode {

    /**
     * The file size in bytes (in memory), stable while the caller holds the inode lock. Reads stop
     * here. Buffered writeback also reads it without the lock (to clip end-of-I/O ranges, on the
     * completion executor), so it must be safe to call from any thread (e.g. a volatile field).
     */
    long size();

    /**
     * The file system block size (allocation unit): a power of two, at least the device's logical
     * block size. Sub-block direct writes into NEW or UNWRITTEN blocks are zero-padded to it.
     */
    int blockSize();

    /**
     * The page cache range hook of this file; {@link CacheRangeSync#NONE} while nothing is cached.
     * A file used with {@link BufferedIo} returns its {@link BufferedFile} here (from
     * {@link BufferedIo#open}); the buffered engine finds the file's cache through it.
     */
    default CacheRangeSync cache() { return CacheRangeSync.NONE; }

    /**
     * Buffered writes: moves the in-memory size up to {@code newSize} (Linux's i_size_write in
     * iomap_write_end). Called by {@link BufferedIo} with the folio still locked, right after
     * the copy, only to grow the size; the on-disk size is the file system's to move at end of
     * I/O ({@link IoEndHandler#ioEnd} ranges are clipped to {@link #size()}). Must not block or
     * take the inode lock (the caller of the write holds it). The default refuses: a file
     * system without buffered writes need not implement it.
     */
    default void setSizeInMemory(long newSize) {
        throw new UnsupportedOperationException(getClass().getName() + " does not support buffered writes (setSizeInMemory("
                + newSize + "))");
    }
}
