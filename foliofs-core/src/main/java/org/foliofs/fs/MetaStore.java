package org.foliofs.fs;

import java.io.IOException;
import java.util.UUID;

/**
 * Where metadata blocks live. Every block handed out by {@link #read} has been verified
 * ({@link MetaBlockLayout#verify}); a block that fails raises {@link CorruptMetadataException}.
 * Changes to a returned block reach the store only through {@link #write}: a block may wrap the
 * store's cached image read-only ({@link MetaBlock}: its first {@link MetaBlock#segment()} copies it).
 *
 * <p>Not thread-safe: callers serialise access per tree (as XFS holds the AG header buffer lock).
 */
public interface MetaStore {
    /** Bytes per metadata block, a power of two from 1 KiB to 64 KiB. */
    int blockSize();

    /** The volume UUID stamped into and checked in every block. */
    UUID volumeUuid();

    /** Reads and verifies block {@code blkno} as a block of {@code type} owned by {@code owner}. */
    MetaBlock read(long blkno, MetaType type, long owner) throws IOException;

    /** Allocates a block and returns it initialised (header filled in, empty node); not yet written. */
    MetaBlock allocate(MetaType type, long owner) throws IOException;

    /** Stamps the checksum and writes the block to its block number, which must be allocated. */
    void write(MetaBlock block) throws IOException;

    /** Returns an allocated block to the free pool. */
    void free(long blkno) throws IOException;

    /**
     * A hint: blocks {@code blknos[0..count)} are about to be read (fsck's readahead). A store may
     * read them ahead, several at a time; it must not fail or report anything here (a block that
     * cannot be read is reported by the {@link #read} that needs it). The default does nothing.
     */
    default void prefetch(long[] blknos, int count) {}

    /**
     * A hint like {@link #prefetch}: the B+tree internal nodes {@code nodes[from..to)} (already read or
     * prefetched) are about to be descended into, so their children are about to be read. The default
     * does nothing.
     */
    default void prefetchChildren(long[] nodes, int from, int to) {}
}
