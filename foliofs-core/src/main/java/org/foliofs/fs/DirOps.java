package org.foliofs.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * Codec of directory B+tree records ({@link MetaType#DIR_BTREE}). The key is
 * {@code hash32(name) << 32 | collision index} (see {@link Directory}); the record is
 *
 * <pre>
 *  0                8      9         10
 *  +----------------+------+---------+------------------------------------+
 *  | ino        u64 | type | namelen | name bytes, zero-padded to nameMax |
 *  |                |  u8  |   u8    |                                    |
 *  +----------------+------+---------+------------------------------------+
 *  recordSize = 10 + nameMax(blockSize)   (265 bytes, or 232 with 1 KiB blocks)
 * </pre>
 *
 * {@link #readRecord} decodes without checking (the B+tree's codec cannot throw a checked
 * exception); {@link Directory} decodes leaf records itself through a cursor and raises
 * {@link CorruptMetadataException} naming the leaf for a bad record.
 */
final class DirOps implements BTreeOps<DirEntry> {
    /** Bytes before the name: ino u64, type u8, namelen u8. */
    static final int FIXED = 10;
    static final long INO = 0, TYPE = 8, NAMELEN = 9, NAME = 10;

    private static final DirOps[] BY_SHIFT = new DirOps[17];

    final int nameMax;

    private DirOps(int nameMax) {
        this.nameMax = nameMax;
    }

    /** The codec for {@code blockSize}-byte blocks (shared instances). */
    static DirOps forBlockSize(int blockSize) {
        int shift = Integer.numberOfTrailingZeros(MetaBlockLayout.checkBlockSize(blockSize));
        synchronized (BY_SHIFT) {
            DirOps o = BY_SHIFT[shift];
            if (o == null) BY_SHIFT[shift] = o = new DirOps(Directory.nameMax(blockSize));
            return o;
        }
    }

    @Override public MetaType type() { return MetaType.DIR_BTREE; }
    @Override public int recordSize() { return FIXED + nameMax; }

    @Override
    public void writeRecord(MemorySegment block, long offset, DirEntry e) {
        byte[] name = e.name();
        block.set(U64, offset + INO, e.ino());
        block.set(ValueLayout.JAVA_BYTE, offset + TYPE, (byte) e.type());
        block.set(ValueLayout.JAVA_BYTE, offset + NAMELEN, (byte) name.length);
        MemorySegment.copy(name, 0, block, ValueLayout.JAVA_BYTE, offset + NAME, name.length);
        block.asSlice(offset + NAME + name.length, nameMax - name.length).fill((byte) 0);
    }

    @Override
    public DirEntry readRecord(MemorySegment block, long offset) {
        int len = Math.min(Byte.toUnsignedInt(block.get(ValueLayout.JAVA_BYTE, offset + NAMELEN)), nameMax);
        byte[] name = new byte[len];
        MemorySegment.copy(block, ValueLayout.JAVA_BYTE, offset + NAME, name, 0, len);
        return new DirEntry(name, block.get(U64, offset + INO),
                Byte.toUnsignedInt(block.get(ValueLayout.JAVA_BYTE, offset + TYPE)), 0);
    }
}
