package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

/**
 * What one kind of tree stores: the block type of its nodes and the codec of its fixed-size records.
 * One small instance per tree kind (free space by block, by size, inodes, extents, refcounts,
 * directories), as XFS has one {@code xfs_btree_ops} per tree.
 *
 * <p>Keys are not part of the codec: every tree is keyed by an unsigned 64-bit integer (see
 * {@link BTree} for why that is enough for all planned trees).
 *
 * @param <R> the record as the caller sees it
 */
public interface BTreeOps<R> {
    /** Magic and name of this tree's nodes. */
    MetaType type();

    /** Bytes per record in a leaf, at least 1. */
    int recordSize();

    /** Encodes {@code record} into {@code recordSize()} bytes at {@code offset}. */
    void writeRecord(MemorySegment block, long offset, R record);

    /** Decodes the record stored at {@code offset}. */
    R readRecord(MemorySegment block, long offset);
}
