package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * Codecs of the two free-space trees of an allocation group. Both records are the extent length (u64);
 * keys are group-relative: the by-block tree keys on the start block, the by-size tree on
 * {@code length << 32 | start} (so a lookupGE of {@code n << 32} finds the smallest extent of at least n).
 */
final class FreeSpaceOps implements BTreeOps<Long> {
    static final FreeSpaceOps BY_BLOCK = new FreeSpaceOps(MetaType.FREE_BY_BLOCK);
    static final FreeSpaceOps BY_SIZE = new FreeSpaceOps(MetaType.FREE_BY_SIZE);

    private final MetaType type;

    private FreeSpaceOps(MetaType type) { this.type = type; }

    static long sizeKey(long start, long length) { return length << 32 | start; }

    @Override public MetaType type() { return type; }
    @Override public int recordSize() { return 8; }
    @Override public void writeRecord(MemorySegment block, long offset, Long length) { block.set(U64, offset, length); }
    @Override public Long readRecord(MemorySegment block, long offset) { return block.get(U64, offset); }
}
