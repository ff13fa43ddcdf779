package org.foliofs.fs;

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
 *  88              92              96
 *  | bb levels u32 | bs levels u32 | zero ... to the end of the block
 *  +---------------+---------------+
 * </pre>
 *
 * Free-space records are group-relative: the by-block tree maps start to length, the by-size tree keys
 * {@code length << 32 | start} and stores the length.
 */
public record AgHeader(int agno, long length, long freeBlocks, long freeExtents, long longestFree,
                       long byBlockRoot, long bySizeRoot, int byBlockLevels, int bySizeLevels) {

    public static final MetaType TYPE = MetaType.of("FAGH", "allocation group header");

    /** Group-relative layout of the fixed blocks at the start of every group. */
    public static final int SB_BLOCK = 0, HEADER_BLOCK = 1, BY_BLOCK_ROOT = 2, BY_SIZE_ROOT = 3;
    /** Blocks at the start of every group that mkfs does not leave free. */
    public static final int RESERVED_BLOCKS = 4;

    static final long AGNO = 40, LENGTH = 44, FREE = 48, EXTENTS = 56, LONGEST = 64, BB_ROOT = 72, BS_ROOT = 80,
            BB_LEVELS = 88, BS_LEVELS = 92;

    void encode(MetaBlock b) {
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
    }

    static AgHeader decode(MetaBlock b) {
        var s = b.segment();
        return new AgHeader(s.get(U32, AGNO), Integer.toUnsignedLong(s.get(U32, LENGTH)), s.get(U64, FREE),
                s.get(U64, EXTENTS), s.get(U64, LONGEST), s.get(U64, BB_ROOT), s.get(U64, BS_ROOT),
                s.get(U32, BB_LEVELS), s.get(U32, BS_LEVELS));
    }
}
