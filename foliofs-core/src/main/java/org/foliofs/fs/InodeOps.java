package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

/**
 * Codec of the inode B+tree ({@link MetaType#INODE_BTREE}, one per allocation group, owner = group
 * number): key = group-relative inode number, record = the {@link Inode#SIZE}-byte inode as laid out
 * in {@link Inode}. The key is not part of the record: a decoded inode has {@code ino == 0} until
 * {@link Inodes} sets it from the key and the group.
 */
final class InodeOps implements BTreeOps<Inode> {
    static final InodeOps INSTANCE = new InodeOps();

    private InodeOps() {}

    @Override public MetaType type() { return MetaType.INODE_BTREE; }
    @Override public int recordSize() { return Inode.SIZE; }
    @Override public void writeRecord(MemorySegment block, long offset, Inode inode) { inode.encode(block, offset); }
    @Override public Inode readRecord(MemorySegment block, long offset) { return Inode.decode(0, block, offset); }
}
