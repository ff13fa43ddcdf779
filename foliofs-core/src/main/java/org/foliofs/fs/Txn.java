package org.foliofs.fs;

import java.io.IOException;

/**
 * One metadata transaction handle: every change to metadata goes through one, so that it is
 * journaled and atomic. A handle is a {@link MetaStore}, so B+trees work on it unchanged:
 * <ul>
 *   <li>{@link #read} returns the newest image of the block, copy-on-write ({@link MetaBlock}) (including changes
 *       made earlier in this handle and in handles not yet committed);</li>
 *   <li>{@link #write} makes the block's new image part of this handle (it is logged at commit);</li>
 *   <li>{@link #allocate} takes a block for new metadata from the allocation group the owner
 *       implies: for the group-owned types (free-space, inode and refcount trees, group header)
 *       {@code owner} is the group number; for inode-owned types (extent map, directory, xattr,
 *       symlink) it is the inode number, whose group is {@code ino >>> 32};</li>
 *   <li>{@link #free} returns a metadata block; it is not reused before the free is durable
 *       (busy extents).</li>
 * </ul>
 * Handles run one at a time (the file system's metadata lock); a handle either ends with
 * {@code commit} in its owner (it joins the running compound transaction, which the journal
 * writes as one atomic record) or is aborted, which undoes every block change it made and
 * runs its {@link #onAbort} actions.
 */
public interface Txn extends MetaStore {
    /** The volume's geometry. */
    Superblock superblock();

    /** Reads the header of group {@code agno} (decoded: a private object; write it back with {@link #writeAgHeader}). */
    default AgHeader agHeader(int agno) throws IOException {
        return AgHeader.decode(read(AgHeader.blockOf(superblock(), agno), AgHeader.TYPE, agno));
    }

    /**
     * Writes {@code h} as the header of its group: a fresh image (common header, then every field:
     * {@link AgHeader#encode} rewrites all that follows the common header), without reading the
     * block again.
     */
    default void writeAgHeader(AgHeader h) throws IOException {
        long blkno = AgHeader.blockOf(superblock(), h.agno);
        java.lang.foreign.MemorySegment s = java.lang.foreign.MemorySegment.ofArray(new byte[blockSize()]);
        MetaBlockLayout.init(s, AgHeader.TYPE, blkno, h.agno, volumeUuid());
        MetaBlock b = new MetaBlock(blkno, s);
        h.encode(b);
        write(b);
    }

    /** Runs {@code r} once the transaction this handle joined is durable in the log. */
    void onCommitted(Runnable r);

    /**
     * Runs {@code r} once no log record that holds blocks changed before or by this handle can be
     * replayed any more (the log tail has moved past it): from then on a freed metadata block may
     * be overwritten by file data without recovery writing an old image over it.
     */
    void onCheckpointed(Runnable r);

    /** Runs {@code r} if this handle is aborted (after its block changes are undone). */
    void onAbort(Runnable r);
}
