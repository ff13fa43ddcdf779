package org.foliofs.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.zip.CRC32C;

import static org.foliofs.fs.MetaBlockLayout.U16;
import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;
import static org.foliofs.fs.MetaBlockLayout.U64_BE;

/**
 * The superblock: a 512-byte record at the start of block 0 (primary) and of the first block of every
 * other allocation group (backups); the rest of its block is zero. It does not use the common metadata
 * header, because it must be found before the block size is known. Little-endian.
 *
 * <pre>
 *   0                               8               12      14      16
 *   +-------------------------------+---------------+-------+-------+
 *   | magic "FOLIOFS1"  (8 ASCII)   | crc32c    u32 | major | minor |   u16 each
 *   +-------------------------------+---------------+-------+-------+
 *  16                                                              32
 *   | volume uuid (16 bytes, RFC 4122 order)                        |
 *   +---------------+---------------+-------------------------------+
 *  32              36              40                              48
 *   | blockSize u32 | agCount   u32 | agBlocks                  u64 |
 *   +---------------+---------------+-------------------------------+
 *  48                              56                              64
 *   | totalBlocks               u64 | rootIno (reserved, 0)     u64 |
 *   +-------------------------------+-------------------------------+
 *  64                              72                              80
 *   | logStart (reserved, 0)    u64 | logBlocks (reserved, 0)   u64 |
 *   +-------------------------------+-------------------------------+
 *  80                              88                              96
 *   | compat features           u64 | ro-compat features        u64 |
 *   +-------------------------------+---------------+---------------+
 *  96                             104             108             112
 *   | incompat features         u64 | copy agno u32 | reserved  u32 |
 *   +-------------------------------+---------------+---------------+
 * 112                             144                             512
 *   | label (UTF-8, NUL-padded, 32) | zero ...                      |
 *   +-------------------------------+-------------------------------+
 * </pre>
 *
 * The CRC32C covers bytes 0-511 with bytes 8-11 taken as zero. Reading checks, in order: magic, major
 * version (a newer major is refused before the checksum, whose position it may have moved), checksum,
 * then geometry and unknown incompatible features.
 */
public final class SuperblockLayout {
    private SuperblockLayout() {}

    /** "FOLIOFS1" as stored (little-endian u64 of the ASCII bytes). */
    public static final byte[] MAGIC_BYTES = "FOLIOFS1".getBytes(StandardCharsets.US_ASCII);
    static final long MAGIC_VALUE = MemorySegment.ofArray(MAGIC_BYTES).get(U64, 0);

    public static final int MAJOR = 1, MINOR = 0;
    /** Bytes of the superblock record; the rest of its block is zero. */
    public static final int SIZE = 512;
    /** Allocation groups start at multiples of this many bytes, so backups can be found without the geometry. */
    public static final int AG_ALIGNMENT = 64 * 1024;
    public static final int LABEL_MAX = 32;
    /**
     * Incompatible feature: journal commits may write delta records (docs/FORMAT.md section 5.2),
     * which a build without it would take for torn records. mkfs sets it; a volume without it keeps
     * whole-image records.
     */
    public static final long INCOMPAT_LOG_DELTA = 1;
    /** Incompatible features this build understands. */
    public static final long KNOWN_INCOMPAT = INCOMPAT_LOG_DELTA;

    static final long MAGIC = 0, CRC = 8, MAJOR_OFF = 12, MINOR_OFF = 14, UUID_OFF = 16, BLOCK_SIZE = 32,
            AG_COUNT = 36, AG_BLOCKS = 40, TOTAL_BLOCKS = 48, ROOT_INO = 56, LOG_START = 64, LOG_BLOCKS = 72,
            COMPAT = 80, RO_COMPAT = 88, INCOMPAT = 96, COPY_AGNO = 104, RESERVED = 108, LABEL = 112;

    /** Encodes {@code sb} as the copy kept in group {@code agno} into the first {@link #SIZE} bytes of {@code dst}. */
    static void encode(Superblock sb, int agno, MemorySegment dst) {
        MemorySegment s = dst.asSlice(0, SIZE);
        s.fill((byte) 0);
        s.set(U64, MAGIC, MAGIC_VALUE);
        s.set(U16, MAJOR_OFF, (short) sb.major());
        s.set(U16, MINOR_OFF, (short) sb.minor());
        s.set(U64_BE, UUID_OFF, sb.uuid().getMostSignificantBits());
        s.set(U64_BE, UUID_OFF + 8, sb.uuid().getLeastSignificantBits());
        s.set(U32, BLOCK_SIZE, sb.blockSize());
        s.set(U32, AG_COUNT, sb.agCount());
        s.set(U64, AG_BLOCKS, sb.agBlocks());
        s.set(U64, TOTAL_BLOCKS, sb.totalBlocks());
        s.set(U64, ROOT_INO, sb.rootIno());
        s.set(U64, LOG_START, sb.logStart());
        s.set(U64, LOG_BLOCKS, sb.logBlocks());
        s.set(U64, COMPAT, sb.compatFeatures());
        s.set(U64, RO_COMPAT, sb.roCompatFeatures());
        s.set(U64, INCOMPAT, sb.incompatFeatures());
        s.set(U32, COPY_AGNO, agno);
        byte[] label = sb.label().getBytes(StandardCharsets.UTF_8);
        if (label.length > LABEL_MAX)
            throw new IllegalArgumentException("label (" + sb.label() + ") is " + label.length + " bytes of UTF-8, more than " + LABEL_MAX);
        MemorySegment.copy(label, 0, s, ValueLayout.JAVA_BYTE, LABEL, label.length);
        s.set(U32, CRC, crc(s));
    }

    /** Whether the record starts with the FolioFS magic (nothing else checked). */
    static boolean hasMagic(MemorySegment src) {
        return src.get(U64, MAGIC) == MAGIC_VALUE;
    }

    /** The group whose copy this is (0: the primary); valid only after {@link #decode} succeeded. */
    static int copyAgno(MemorySegment src) {
        return src.get(U32, COPY_AGNO);
    }

    /**
     * Decodes and checks a superblock read from {@code where} (used in messages, e.g. "block 0 of
     * /dev/x"); {@code blkno} is the block the exception names.
     *
     * @throws VolumeFormatException   bad magic, newer major version, unknown incompatible features
     * @throws CorruptMetadataException bad checksum or impossible geometry
     */
    static Superblock decode(MemorySegment src, long blkno, String where) throws VolumeFormatException, CorruptMetadataException {
        MemorySegment s = src.asSlice(0, SIZE);
        long magic = s.get(U64, MAGIC);
        if (magic != MAGIC_VALUE)
            throw new VolumeFormatException("not a FolioFS volume: bad magic " + describeMagic(s) + " at " + where
                    + " (expected 'FOLIOFS1')");
        int major = Short.toUnsignedInt(s.get(U16, MAJOR_OFF)), minor = Short.toUnsignedInt(s.get(U16, MINOR_OFF));
        if (major > MAJOR)
            throw new VolumeFormatException("FolioFS format version " + major + "." + minor + " at " + where
                    + " is newer than this build supports (" + MAJOR + "." + MINOR + "); use a newer foliofs");
        int stored = s.get(U32, CRC), computed = crc(s);
        if (stored != computed)
            throw corrupt(blkno, String.format("CRC32C 0x%08x does not match computed 0x%08x", stored, computed));
        if (major < 1) throw corrupt(blkno, "format version " + major + "." + minor + " does not exist");
        int bs = s.get(U32, BLOCK_SIZE), agCount = s.get(U32, AG_COUNT);
        long agBlocks = s.get(U64, AG_BLOCKS), total = s.get(U64, TOTAL_BLOCKS);
        if (bs < MetaBlockLayout.MIN_BLOCK_SIZE || bs > MetaBlockLayout.MAX_BLOCK_SIZE || Integer.bitCount(bs) != 1)
            throw corrupt(blkno, "block size " + bs + " is not a power of two from 1024 to 65536");
        if (agCount < 1) throw corrupt(blkno, "allocation group count " + Integer.toUnsignedString(agCount) + " is not positive");
        if (agBlocks < Mkfs.MIN_AG_BLOCKS || agBlocks > Mkfs.MAX_AG_BLOCKS || (agBlocks * bs) % AG_ALIGNMENT != 0)
            throw corrupt(blkno, "allocation group size " + agBlocks + " blocks is out of range or not a multiple of "
                    + AG_ALIGNMENT + " bytes");
        long last = total - (agCount - 1) * agBlocks;
        if (total <= 0 || last < agBlocks || last >= 2 * agBlocks)
            throw corrupt(blkno, "total blocks " + total + " does not fit " + agCount + " groups of " + agBlocks + " blocks");
        int copy = s.get(U32, COPY_AGNO);
        if (copy < 0 || copy >= agCount) throw corrupt(blkno, "copy group " + copy + " is not below the group count " + agCount);
        long incompat = s.get(U64, INCOMPAT);
        if ((incompat & ~KNOWN_INCOMPAT) != 0)
            throw new VolumeFormatException(String.format("FolioFS volume at %s uses incompatible features 0x%x that this build"
                    + " does not support", where, incompat & ~KNOWN_INCOMPAT));
        byte[] label = s.asSlice(LABEL, LABEL_MAX).toArray(ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < label.length && label[n] != 0) n++;
        return new Superblock(major, minor, new UUID(s.get(U64_BE, UUID_OFF), s.get(U64_BE, UUID_OFF + 8)), bs, agCount,
                agBlocks, total, s.get(U64, ROOT_INO), s.get(U64, LOG_START), s.get(U64, LOG_BLOCKS), s.get(U64, COMPAT),
                s.get(U64, RO_COMPAT), incompat, new String(label, 0, n, StandardCharsets.UTF_8));
    }

    static int crc(MemorySegment s) {
        CRC32C c = new CRC32C();
        c.update(s.asSlice(0, CRC).asByteBuffer());
        c.update(new byte[4]);
        c.update(s.asSlice(CRC + 4, SIZE - CRC - 4).asByteBuffer());
        return (int) c.getValue();
    }

    private static String describeMagic(MemorySegment s) {
        byte[] b = s.asSlice(0, 8).toArray(ValueLayout.JAVA_BYTE);
        StringBuilder hex = new StringBuilder("0x"), text = new StringBuilder();
        boolean printable = true;
        for (byte x : b) {
            hex.append(String.format("%02x", x & 0xff));
            if (x < 0x20 || x > 0x7e) printable = false;
            text.append((char) x);
        }
        return printable ? hex + " ('" + text + "')" : hex.toString();
    }

    static CorruptMetadataException corrupt(long blkno, String problem) {
        return new CorruptMetadataException(blkno, "superblock", problem);
    }
}
