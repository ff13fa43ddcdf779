package org.foliofs.fs;

import java.util.Arrays;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The allocation group header: block 1 of every group (group-relative), a metadata block with the
 * common header (magic {@code FAGH}, owner = group number) and these fields from byte 40:
 *
 * <pre>
 *  40              44              48                              56
 *  +---------------+---------------+-------------------------------+
 *  | agno      u32 | length    u32 | free blocks               u64 |
 *  +---------------+---------------+-------------------------------+
 *  56                              64                              72
 *  | free extents              u64 | longest free extent       u64 |
 *  +-------------------------------+-------------------------------+
 *  72                              80                              88
 *  | by-block tree root        u64 | by-size tree root         u64 |   absolute block numbers
 *  +---------------+---------------+-------------------------------+
 *  88              92              96                             104
 *  | bb levels u32 | bs levels u32 | inode tree root           u64 |
 *  +---------------+---------------+-------------------------------+
 * 104             108             112                             120
 *  | ino lvls  u32 | next ino  u32 | inodes in use             u64 |
 *  +---------------+---------------+-------------------------------+
 * 120                             128             132             136
 *  | refcount tree root        u64 | ref lvls  u32 | agfl count u32|
 *  +-------------------------------+---------------+---------------+
 * 136                                                             392
 *  | AGFL: up to 32 absolute block numbers (u64), count used        |
 *  +---------------------------------------------------------------+
 *  392 zero ... to the end of the block
 * </pre>
 *
 * Free-space records are group-relative: the by-block tree maps start to length, the by-size tree keys
 * {@code length << 32 | start} and stores the length. The free counts do not include the AGFL's
 * blocks (they are allocated: reserved for the free-space trees' own nodes, as XFS's AGFL is).
 * {@code nextIno} is the next group-relative inode number to hand out (inode numbers are
 * {@code agno << 32 | local}, local from 1, never reused within a volume's life).
 *
 * <p>Mutable: code reads it from a transaction, changes fields and writes it back ({@link #encode}).
 */
public final class AgHeader {

    public static final MetaType TYPE = MetaType.of("FAGH", "allocation group header");

    /** Group-relative layout of the fixed blocks at the start of every group. */
    public static final int SB_BLOCK = 0, HEADER_BLOCK = 1, BY_BLOCK_ROOT = 2, BY_SIZE_ROOT = 3, INODE_ROOT = 4,
            REFCOUNT_ROOT = 5;
    /** Blocks at the start of every group that mkfs does not leave free. */
    public static final int RESERVED_BLOCKS = 6;
    /** Capacity of the AGFL (free list of blocks for the free-space trees' own nodes). */
    public static final int AGFL_MAX = 32;

    static final long AGNO = 40, LENGTH = 44, FREE = 48, EXTENTS = 56, LONGEST = 64, BB_ROOT = 72, BS_ROOT = 80,
            BB_LEVELS = 88, BS_LEVELS = 92, INO_ROOT = 96, INO_LEVELS = 104, NEXT_INO = 108, INO_COUNT = 112,
            REF_ROOT = 120, REF_LEVELS = 128, AGFL_COUNT = 132, AGFL = 136;
    static final long END = AGFL + 8L * AGFL_MAX;

    public int agno;
    public long length, freeBlocks, freeExtents, longestFree;
    public long byBlockRoot, bySizeRoot;
    public int byBlockLevels, bySizeLevels;
    public long inoRoot;
    public int inoLevels;
    /** Next group-relative inode number (unsigned 32 bits, from 1). */
    public long nextIno;
    public long inoCount;
    public long refRoot;
    public int refLevels;
    public int agflCount;
    public final long[] agfl = new long[AGFL_MAX];

    public AgHeader() {}

    public int agno() { return agno; }
    public long length() { return length; }
    public long freeBlocks() { return freeBlocks; }
    public long freeExtents() { return freeExtents; }
    public long longestFree() { return longestFree; }
    public long byBlockRoot() { return byBlockRoot; }
    public long bySizeRoot() { return bySizeRoot; }
    public int byBlockLevels() { return byBlockLevels; }
    public int bySizeLevels() { return bySizeLevels; }

    /** Header block number of group {@code agno}. */
    public static long blockOf(Superblock sb, int agno) { return sb.agStart(agno) + HEADER_BLOCK; }

    public void encode(MetaBlock b) {
        var s = b.segment();
        s.asSlice(MetaBlockLayout.COMMON_HEADER_SIZE).fill((byte) 0);
        s.set(U32, AGNO, agno);
        s.set(U32, LENGTH, (int) length);
        s.set(U64, FREE, freeBlocks);
        s.set(U64, EXTENTS, freeExtents);
        s.set(U64, LONGEST, longestFree);
        s.set(U64, BB_ROOT, byBlockRoot);
        s.set(U64, BS_ROOT, bySizeRoot);
        s.set(U32, BB_LEVELS, byBlockLevels);
        s.set(U32, BS_LEVELS, bySizeLevels);
        s.set(U64, INO_ROOT, inoRoot);
        s.set(U32, INO_LEVELS, inoLevels);
        s.set(U32, NEXT_INO, (int) nextIno);
        s.set(U64, INO_COUNT, inoCount);
        s.set(U64, REF_ROOT, refRoot);
        s.set(U32, REF_LEVELS, refLevels);
        s.set(U32, AGFL_COUNT, agflCount);
        for (int i = 0; i < AGFL_MAX; i++) s.set(U64, AGFL + 8L * i, i < agflCount ? agfl[i] : 0);
    }

    /** Decodes a verified header block; checks the AGFL count (the rest is checked by its users and fsck). */
    public static AgHeader decode(MetaBlock b) throws CorruptMetadataException {
        var s = b.view();
        AgHeader h = new AgHeader();
        h.agno = s.get(U32, AGNO);
        h.length = Integer.toUnsignedLong(s.get(U32, LENGTH));
        h.freeBlocks = s.get(U64, FREE);
        h.freeExtents = s.get(U64, EXTENTS);
        h.longestFree = s.get(U64, LONGEST);
        h.byBlockRoot = s.get(U64, BB_ROOT);
        h.bySizeRoot = s.get(U64, BS_ROOT);
        h.byBlockLevels = s.get(U32, BB_LEVELS);
        h.bySizeLevels = s.get(U32, BS_LEVELS);
        h.inoRoot = s.get(U64, INO_ROOT);
        h.inoLevels = s.get(U32, INO_LEVELS);
        h.nextIno = Integer.toUnsignedLong(s.get(U32, NEXT_INO));
        h.inoCount = s.get(U64, INO_COUNT);
        h.refRoot = s.get(U64, REF_ROOT);
        h.refLevels = s.get(U32, REF_LEVELS);
        h.agflCount = s.get(U32, AGFL_COUNT);
        if (h.agflCount < 0 || h.agflCount > AGFL_MAX)
            throw MetaBlockLayout.corrupt(b.blkno(), TYPE, "AGFL count " + h.agflCount + " is outside [0, " + AGFL_MAX + "]");
        for (int i = 0; i < h.agflCount; i++) h.agfl[i] = s.get(U64, AGFL + 8L * i);
        return h;
    }

    @Override
    public String toString() {
        return "AgHeader[ag " + agno + ", " + length + " blocks, free " + freeBlocks + " in " + freeExtents + " extents (longest "
                + longestFree + "), inodes " + inoCount + " next " + nextIno + ", agfl " + Arrays.toString(Arrays.copyOf(agfl, agflCount)) + "]";
    }
}
