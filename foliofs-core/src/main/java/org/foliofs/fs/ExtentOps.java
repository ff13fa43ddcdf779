package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * Codec of the extent-map B+tree ({@link MetaType#EXTENT_BTREE}, owned by the inode): key = file block,
 * 16-byte record:
 *
 * <pre>
 *  0                               8               12              16
 *  +-------------------------------+---------------+---------------+
 *  | start block (absolute)    u64 | length    u32 | flags     u32 |   flags bit 0 = unwritten
 *  +-------------------------------+---------------+---------------+
 * </pre>
 *
 * Records are decoded raw ({@link Rec}, unchecked): {@link ExtentMap} checks them and names the block
 * when one is implausible.
 */
final class ExtentOps implements BTreeOps<ExtentOps.Rec> {
    static final ExtentOps INSTANCE = new ExtentOps();
    static final int RECORD_SIZE = 16;
    static final int FLAG_UNWRITTEN = 1;

    /** A record as stored: lengths and flags as raw u32 values. */
    record Rec(long startBlock, int length, int flags) {
        static Rec of(Extent e) { return new Rec(e.startBlock(), (int) e.length(), e.unwritten() ? FLAG_UNWRITTEN : 0); }
    }

    private ExtentOps() {}

    @Override public MetaType type() { return MetaType.EXTENT_BTREE; }
    @Override public int recordSize() { return RECORD_SIZE; }

    @Override
    public void writeRecord(MemorySegment block, long offset, Rec r) {
        block.set(U64, offset, r.startBlock());
        block.set(U32, offset + 8, r.length());
        block.set(U32, offset + 12, r.flags());
    }

    @Override
    public Rec readRecord(MemorySegment block, long offset) {
        return new Rec(block.get(U64, offset), block.get(U32, offset + 8), block.get(U32, offset + 12));
    }
}
