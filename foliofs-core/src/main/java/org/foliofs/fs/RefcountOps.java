package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.U32;

/**
 * Codec of the refcount tree ({@link Refcounts}), one per allocation group, nodes of type
 * {@link MetaType#REFCOUNT_BTREE} owned by the group number. Key: the group-relative start block of
 * the extent, with bit 63 ({@link Refcounts#COW_FLAG}) set for CoW staging records. Record (8 bytes):
 *
 * <pre>
 *  0               4               8
 *  +---------------+---------------+
 *  | length    u32 | refcount  u32 |
 *  +---------------+---------------+
 * </pre>
 */
public final class RefcountOps implements BTreeOps<RefcountOps.Rec> {
    public static final RefcountOps INSTANCE = new RefcountOps();

    /** One refcount record: {@code length} blocks from its key's start have {@code refcount} owners. */
    public record Rec(long length, long refcount) {}

    private RefcountOps() {}

    @Override public MetaType type() { return MetaType.REFCOUNT_BTREE; }
    @Override public int recordSize() { return 8; }

    @Override
    public void writeRecord(MemorySegment block, long offset, Rec r) {
        block.set(U32, offset, (int) r.length());
        block.set(U32, offset + 4, (int) r.refcount());
    }

    @Override
    public Rec readRecord(MemorySegment block, long offset) {
        return new Rec(Integer.toUnsignedLong(block.get(U32, offset)), Integer.toUnsignedLong(block.get(U32, offset + 4)));
    }
}
