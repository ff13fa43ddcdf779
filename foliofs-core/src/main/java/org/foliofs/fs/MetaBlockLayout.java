package org.foliofs.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The header every FolioFS metadata block starts with, and the B+tree node header that follows it in
 * tree blocks. All integers are little-endian; the volume UUID is stored in RFC 4122 byte order.
 *
 * <pre>
 *  0               4               8                              16
 *  +---------------+---------------+-------------------------------+
 *  | magic    u32  | crc32c   u32  | blkno                     u64 |   self-describing header
 *  +---------------+---------------+-------------------------------+   (all metadata blocks)
 * 16                              24                              32
 *  | owner                     u64 | volume uuid (16 bytes)  ...   |
 *  +-------------------------------+-------------------------------+
 * 32                              40
 *  |   ... volume uuid             |
 *  +-------+-------+---------------+-------------------------------+
 * 40      42      44              48                              56
 *  | level | nrecs | reserved u32  | left sibling              u64 |   B+tree node header
 *  |  u16  |  u16  |  (zero)       |                               |
 *  +-------+-------+---------------+-------------------------------+
 * 56                              64
 *  | right sibling             u64 | payload ... up to blockSize
 *  +-------------------------------+
 * </pre>
 *
 * <ul>
 *   <li>magic: what structure the block belongs to ({@link MetaType}).</li>
 *   <li>crc32c: CRC32C (Castagnoli) of the whole block, computed with these four bytes taken as zero.</li>
 *   <li>blkno: the block number the block was written to; a mismatch on read is a misdirected write
 *       (or read).</li>
 *   <li>owner: the allocation group or inode the block belongs to.</li>
 *   <li>volume uuid: catches blocks left over from an earlier filesystem on the same device.</li>
 *   <li>level: 0 for leaves; nrecs: records (leaf) or children (internal node) in use;
 *       siblings: the neighbours on the same level, {@link #NIL} at the ends.</li>
 * </ul>
 *
 * Block sizes are powers of two from {@link #MIN_BLOCK_SIZE} to {@link #MAX_BLOCK_SIZE}.
 */
public final class MetaBlockLayout {
    private MetaBlockLayout() {}

    public static final int MIN_BLOCK_SIZE = 1024, MAX_BLOCK_SIZE = 64 * 1024;

    static final long MAGIC = 0, CRC = 4, BLKNO = 8, OWNER = 16, UUID_OFF = 24;
    /** Size of the header shared by all metadata blocks. */
    static final int COMMON_HEADER_SIZE = 40;
    static final long LEVEL = 40, NRECS = 42, RESERVED = 44, LEFT = 48, RIGHT = 56;
    /** Size of the B+tree node header; node payload starts here. */
    public static final int BTREE_HEADER_SIZE = 64;

    /** "No block": the sibling pointer at either end of a level. */
    public static final long NIL = -1L;

    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static final byte[] ZERO_CRC = new byte[4];

    /** Throws IllegalArgumentException naming the value unless it is a supported metadata block size. */
    public static int checkBlockSize(int blockSize) {
        if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1)
            throw new IllegalArgumentException("blockSize (" + blockSize + ") must be a power of two from "
                    + MIN_BLOCK_SIZE + " to " + MAX_BLOCK_SIZE);
        return blockSize;
    }

    /** Fills in the self-describing header (crc left zero) and an empty B+tree node header. */
    static void init(MemorySegment block, MetaType type, long blkno, long owner, UUID uuid) {
        block.fill((byte) 0);
        block.set(U32, MAGIC, type.magic());
        block.set(U64, BLKNO, blkno);
        block.set(U64, OWNER, owner);
        block.set(U64_BE, UUID_OFF, uuid.getMostSignificantBits());
        block.set(U64_BE, UUID_OFF + 8, uuid.getLeastSignificantBits());
        block.set(U64, LEFT, NIL);
        block.set(U64, RIGHT, NIL);
    }

    /** CRC32C of the whole block with the crc field taken as zero. */
    static int computeCrc(MemorySegment block) {
        CRC32C crc = new CRC32C();
        crc.update(block.asSlice(0, CRC).asByteBuffer());
        crc.update(ZERO_CRC);
        crc.update(block.asSlice(CRC + 4).asByteBuffer());
        return (int) crc.getValue();
    }

    /** Stores the checksum; the last thing done to a block before it is written. */
    static void stampCrc(MemorySegment block) {
        block.set(U32, CRC, computeCrc(block));
    }

    /**
     * Verifies a block just read from {@code blkno}: magic, then checksum, then block number, volume
     * UUID and owner, in that order (a checksum mismatch is reported before the fields it covers).
     */
    static void verify(MemorySegment block, long blkno, MetaType type, long owner, UUID uuid)
            throws CorruptMetadataException {
        checkMagic(block, blkno, type);
        int stored = block.get(U32, CRC), computed = computeCrc(block);
        if (stored != computed)
            throw corrupt(blkno, type, String.format("CRC32C 0x%08x does not match computed 0x%08x", stored, computed));
        checkIdentity(block, blkno, type, owner, uuid);
    }

    /**
     * {@link #verify} without the checksum, for an image whose checksum was already verified (or
     * stamped) in memory: magic, block number, volume UUID, owner.
     */
    static void verifyIdentity(MemorySegment block, long blkno, MetaType type, long owner, UUID uuid)
            throws CorruptMetadataException {
        checkMagic(block, blkno, type);
        checkIdentity(block, blkno, type, owner, uuid);
    }

    private static void checkMagic(MemorySegment block, long blkno, MetaType type) throws CorruptMetadataException {
        int magic = block.get(U32, MAGIC);
        if (magic != type.magic())
            throw corrupt(blkno, type, "magic " + MetaType.describeMagic(magic) + " where "
                    + MetaType.describeMagic(type.magic()) + " expected");
    }

    private static void checkIdentity(MemorySegment block, long blkno, MetaType type, long owner, UUID uuid)
            throws CorruptMetadataException {
        long where = block.get(U64, BLKNO);
        if (where != blkno)
            throw corrupt(blkno, type, "header says block " + where + " (misdirected write or read)");
        UUID u = new UUID(block.get(U64_BE, UUID_OFF), block.get(U64_BE, UUID_OFF + 8));
        if (!u.equals(uuid))
            throw corrupt(blkno, type, "volume UUID " + u + " where " + uuid + " expected (block from another filesystem)");
        long o = block.get(U64, OWNER);
        if (o != owner)
            throw corrupt(blkno, type, "owner " + o + " where " + owner + " expected");
    }

    static CorruptMetadataException corrupt(long blkno, MetaType type, String problem) {
        return new CorruptMetadataException(blkno, type.name(), problem);
    }
}
