package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.*;

/**
 * One metadata block in memory: its block number and a buffer of exactly one block, with accessors for
 * the header fields ({@link MetaBlockLayout}). Changes reach the store only through
 * {@link MetaStore#write(MetaBlock)}, which stamps the checksum.
 */
public final class MetaBlock {
    private final long blkno;
    private final MemorySegment seg;

    MetaBlock(long blkno, MemorySegment seg) {
        this.blkno = blkno;
        this.seg = seg;
    }

    public long blkno() { return blkno; }
    public MemorySegment segment() { return seg; }
    public int size() { return (int) seg.byteSize(); }

    public int magic() { return seg.get(U32, MAGIC); }
    public long owner() { return seg.get(U64, OWNER); }
    public int level() { return Short.toUnsignedInt(seg.get(U16, LEVEL)); }
    public int numRecs() { return Short.toUnsignedInt(seg.get(U16, NRECS)); }
    public long left() { return seg.get(U64, LEFT); }
    public long right() { return seg.get(U64, RIGHT); }
    int reserved() { return seg.get(U32, RESERVED); }

    void level(int level) { seg.set(U16, LEVEL, (short) level); }
    void numRecs(int n) { seg.set(U16, NRECS, (short) n); }
    void left(long blk) { seg.set(U64, LEFT, blk); }
    void right(long blk) { seg.set(U64, RIGHT, blk); }

    @Override
    public String toString() {
        return "MetaBlock[" + blkno + " level " + level() + " nrecs " + numRecs() + "]";
    }
}
