package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.U64;

/** Test codec: a long value in the first 8 bytes, the rest of the record filled with its low byte. */
final class LongRecordOps implements BTreeOps<Long> {
    private final MetaType type;
    private final int size;

    LongRecordOps(MetaType type, int size) {
        if (size < 8) throw new IllegalArgumentException("size (" + size + ") must be at least 8");
        this.type = type;
        this.size = size;
    }

    @Override public MetaType type() { return type; }
    @Override public int recordSize() { return size; }

    @Override
    public void writeRecord(MemorySegment block, long offset, Long record) {
        block.set(U64, offset, record);
        if (size > 8) block.asSlice(offset + 8, size - 8).fill((byte) record.longValue());
    }

    @Override
    public Long readRecord(MemorySegment block, long offset) {
        long v = block.get(U64, offset);
        if (size > 8 && block.get(java.lang.foreign.ValueLayout.JAVA_BYTE, offset + size - 1) != (byte) v)
            throw new AssertionError("record at " + offset + " has a torn tail");
        return v;
    }
}
