package org.foliofs.fs;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * A {@link MetaStore} in memory, for tests: each written block is kept as bytes exactly as it would be
 * on disk, and every read copies and verifies them, so corruption planted with {@link #raw} is found.
 * Never-written blocks read as zeros (and so fail verification on their magic).
 */
public final class MemMetaStore implements MetaStore {
    private final int blockSize;
    private final UUID uuid;
    private final long firstBlock;
    private final Map<Long, byte[]> blocks = new HashMap<>();
    private final BitSet allocated = new BitSet();
    private long reads, writes;

    /** Blocks are allocated from {@code firstBlock} up (lower numbers stand for superblock and friends). */
    public MemMetaStore(int blockSize, UUID uuid, long firstBlock) {
        this.blockSize = MetaBlockLayout.checkBlockSize(blockSize);
        this.uuid = uuid;
        if (firstBlock < 0 || firstBlock > Integer.MAX_VALUE / 2)
            throw new IllegalArgumentException("firstBlock (" + firstBlock + ") must be in [0, 2^30)");
        this.firstBlock = firstBlock;
    }

    @Override public int blockSize() { return blockSize; }
    @Override public UUID volumeUuid() { return uuid; }

    @Override
    public MetaBlock read(long blkno, MetaType type, long owner) throws CorruptMetadataException {
        reads++;
        byte[] stored = blocks.get(blkno);
        byte[] copy = stored == null ? new byte[blockSize] : stored.clone();
        MemorySegment seg = MemorySegment.ofArray(copy);
        MetaBlockLayout.verify(seg, blkno, type, owner, uuid);
        return new MetaBlock(blkno, seg);
    }

    @Override
    public MetaBlock allocate(MetaType type, long owner) {
        int b = allocated.nextClearBit((int) firstBlock);
        allocated.set(b);
        MemorySegment seg = MemorySegment.ofArray(new byte[blockSize]);
        MetaBlockLayout.init(seg, type, b, owner, uuid);
        return new MetaBlock(b, seg);
    }

    @Override
    public void write(MetaBlock block) {
        long b = block.blkno();
        if (!isAllocated(b)) throw new IllegalStateException("write of block " + b + ", which is not allocated");
        if (block.size() != blockSize)
            throw new IllegalArgumentException("block " + b + " is " + block.size() + " bytes, not " + blockSize);
        writes++;
        MetaBlockLayout.stampCrc(block.segment());
        blocks.put(b, block.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Override
    public void free(long blkno) {
        if (!isAllocated(blkno)) throw new IllegalStateException("free of block " + blkno + ", which is not allocated");
        allocated.clear((int) blkno);
        blocks.remove(blkno);
    }

    public boolean isAllocated(long blkno) {
        return blkno >= firstBlock && blkno < Integer.MAX_VALUE && allocated.get((int) blkno);
    }

    /** Number of blocks allocated and not freed. */
    public int allocatedCount() { return allocated.cardinality(); }

    public long reads() { return reads; }
    public long writes() { return writes; }

    /** The stored bytes of a block, live: tests change them to plant corruption. Null if never written. */
    byte[] raw(long blkno) { return blocks.get(blkno); }

    /** Replaces the stored bytes of a block (tests: misdirected writes, restoring after a flip). */
    void putRaw(long blkno, byte[] bytes) {
        if (bytes.length != blockSize) throw new IllegalArgumentException("bytes.length (" + bytes.length + ") != " + blockSize);
        blocks.put(blkno, Arrays.copyOf(bytes, bytes.length));
    }
}
