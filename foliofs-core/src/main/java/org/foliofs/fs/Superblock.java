package org.foliofs.fs;

import java.util.UUID;

/**
 * The volume's geometry and identity, as stored in the superblock ({@link SuperblockLayout}). Block
 * numbers are absolute; allocation group {@code g} starts at block {@code g * agBlocks}, the last group
 * runs to {@code totalBlocks} (it may be longer than the others, never shorter).
 *
 * @param rootIno  root directory inode; reserved (0) until inodes exist
 * @param logStart first block of the journal; reserved (0 = no journal yet)
 * @param logBlocks journal length in blocks; reserved (0)
 */
public record Superblock(int major, int minor, UUID uuid, int blockSize, int agCount, long agBlocks,
                         long totalBlocks, long rootIno, long logStart, long logBlocks,
                         long compatFeatures, long roCompatFeatures, long incompatFeatures, String label) {

    public Superblock {
        if (uuid == null) throw new IllegalArgumentException("uuid must not be null");
        if (label == null) label = "";
    }

    /** First block of allocation group {@code agno}. */
    public long agStart(int agno) { return agno * agBlocks; }

    /** Blocks in allocation group {@code agno}. */
    public long agLength(int agno) {
        return agno == agCount - 1 ? totalBlocks - agStart(agno) : agBlocks;
    }

    /** Bytes the volume spans on its device. */
    public long volumeBytes() { return totalBlocks * blockSize; }

    public String version() { return major + "." + minor; }
}
