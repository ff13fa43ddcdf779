package org.foliofs.iomap;

/**
 * The engine's view of a file: what it needs to know besides the mappings. The file system's
 * inode implements it (and its {@link IoMapOps} cast it back, as Linux's container_of does).
 * The engine takes no lock of the inode: the caller holds it (see the package documentation).
 */
public interface IoInode {

    /** The file size in bytes, stable while the caller holds the inode lock. Reads stop here. */
    long size();

    /**
     * The file system block size (allocation unit): a power of two, at least the device's logical
     * block size. Sub-block direct writes into NEW or UNWRITTEN blocks are zero-padded to it.
     */
    int blockSize();

    /** The page cache range hook of this file; {@link CacheRangeSync#NONE} while nothing is cached. */
    default CacheRangeSync cache() { return CacheRangeSync.NONE; }
}
