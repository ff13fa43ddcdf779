package org.foliofs.fs;

import java.io.IOException;

/**
 * Where a transaction gets blocks for new metadata and returns freed ones: the allocator of the
 * allocation groups (free-space trees, with the AGFL for the free-space trees' own nodes).
 * {@link Txn#allocate} and {@link Txn#free} delegate here.
 */
public interface MetaSpace {
    /**
     * Allocates one block for a new metadata block of {@code type} owned by {@code owner} (a group
     * number for group-owned types, an inode number otherwise: see {@link Txn}).
     *
     * @throws NoSpaceException when no block is free
     */
    long allocMeta(Txn tx, MetaType type, long owner) throws IOException;

    /** Frees metadata block {@code blkno}, which held a block of {@code type}. */
    void freeMeta(Txn tx, long blkno, MetaType type) throws IOException;
}
