package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.foliofs.device.BlockDevice;

/**
 * An opened FolioFS volume, read-only so far: the superblock and the verified header and free-space
 * trees of every allocation group, summarised.
 *
 * <p>{@link #open} reads the primary superblock (block 0); if it is unreadable (bad magic, checksum or
 * geometry) it looks for a backup at every {@link SuperblockLayout#AG_ALIGNMENT} boundary, accepting the
 * first valid copy that sits where its own geometry puts group {@code copy agno}, and says so in
 * {@link #warnings()}. Then every group header is read and checked, and both free-space trees are
 * verified ({@link BTree#verify()}) and summed against the header's counts.
 */
public final class Volume {
    private final Superblock sb;
    private final List<AgHeader> groups;
    private final List<String> warnings;

    private Volume(Superblock sb, List<AgHeader> groups, List<String> warnings) {
        this.sb = sb;
        this.groups = List.copyOf(groups);
        this.warnings = List.copyOf(warnings);
    }

    public Superblock superblock() { return sb; }
    public int blockSize() { return sb.blockSize(); }
    public int agCount() { return sb.agCount(); }
    public long totalBlocks() { return sb.totalBlocks(); }
    public List<AgHeader> groups() { return groups; }
    /** Problems found and worked around, e.g. a corrupt primary superblock replaced by a backup. */
    public List<String> warnings() { return warnings; }
    public boolean usedBackupSuperblock() { return !warnings.isEmpty(); }

    public long freeBlocks() {
        long n = 0;
        for (AgHeader g : groups) n += g.freeBlocks();
        return n;
    }

    /** Whether block 0 of {@code dev} starts with the FolioFS magic (checksum not checked). */
    public static boolean hasPrimaryMagic(BlockDevice dev) throws IOException {
        if (dev.capacity() < Math.max(SuperblockLayout.SIZE, dev.logicalBlockSize())) return false;
        try (BlockIo io = new BlockIo(dev, Math.max(SuperblockLayout.SIZE, dev.logicalBlockSize()))) {
            return SuperblockLayout.hasMagic(io.read(0, Math.max(SuperblockLayout.SIZE, dev.logicalBlockSize())));
        }
    }

    /**
     * Opens and verifies the volume on {@code dev}.
     *
     * @throws VolumeFormatException    not FolioFS, newer major version, or truncated image
     * @throws CorruptMetadataException no valid superblock, or a group header or free-space tree is corrupt
     */
    public static Volume open(BlockDevice dev) throws IOException {
        List<String> warnings = new ArrayList<>();
        Superblock sb = readSuperblock(dev, warnings);
        List<AgHeader> groups = new ArrayList<>(sb.agCount());
        try (DeviceMetaStore store = new DeviceMetaStore(dev, sb.blockSize(), sb.uuid(), MetaAllocator.none())) {
            for (int agno = 0; agno < sb.agCount(); agno++) groups.add(checkGroup(store, sb, agno));
        }
        return new Volume(sb, groups, warnings);
    }

    /**
     * Reads and checks the superblock of {@code dev} (falling back to a backup, noted in {@code
     * warnings}) and checks it against the device (size, logical block size).
     */
    public static Superblock readSuperblock(BlockDevice dev, List<String> warnings) throws IOException {
        Superblock sb;
        try (BlockIo io = new BlockIo(dev, readUnit(dev))) {
            sb = readSuperblock(io, warnings);
        }
        if (dev.capacity() < sb.volumeBytes())
            throw new VolumeFormatException("truncated image: " + dev.describe() + " holds " + dev.capacity()
                    + " bytes but the superblock describes " + sb.volumeBytes() + " bytes (" + sb.totalBlocks() + " blocks of "
                    + sb.blockSize() + ")");
        if (sb.blockSize() % dev.logicalBlockSize() != 0)
            throw new VolumeFormatException("block size " + sb.blockSize() + " is not a multiple of the logical block size ("
                    + dev.logicalBlockSize() + ") of " + dev.describe());
        return sb;
    }

    private static int readUnit(BlockDevice dev) {
        return Math.max(SuperblockLayout.SIZE, dev.logicalBlockSize());
    }

    private static Superblock readSuperblock(BlockIo io, List<String> warnings) throws IOException {
        BlockDevice dev = io.device();
        int unit = readUnit(dev);
        if (dev.capacity() < unit)
            throw new VolumeFormatException("not a FolioFS volume: " + dev.describe() + " holds only " + dev.capacity() + " bytes");
        IOException primaryError;
        try {
            Superblock sb = SuperblockLayout.decode(io.read(0, unit), 0, "block 0 of " + dev.describe());
            return sb;
        } catch (VolumeFormatException e) {
            if (SuperblockLayout.hasMagic(io.read(0, unit))) throw e;   // newer version or features: do not fall back
            primaryError = e;
        } catch (CorruptMetadataException e) {
            primaryError = e;
        }
        for (long off = SuperblockLayout.AG_ALIGNMENT; off + unit <= dev.capacity(); off += SuperblockLayout.AG_ALIGNMENT) {
            MemorySegment s = io.read(off, unit);
            if (!SuperblockLayout.hasMagic(s)) continue;
            Superblock sb;
            try {
                sb = SuperblockLayout.decode(s, off, "byte offset " + off + " of " + dev.describe());
            } catch (CorruptMetadataException | VolumeFormatException e) {
                continue;
            }
            int agno = SuperblockLayout.copyAgno(s);
            if (agno == 0 || sb.agStart(agno) * sb.blockSize() != off) continue;   // stale or misplaced copy
            warnings.add("primary superblock is unusable (" + primaryError.getMessage() + "); using the backup in allocation group "
                    + agno + " at block " + sb.agStart(agno));
            return sb;
        }
        if (primaryError instanceof CorruptMetadataException c)
            throw new CorruptMetadataException(0, "superblock", c.getMessage().substring(c.getMessage().indexOf("): ") + 3)
                    + "; no valid backup superblock found on " + dev.describe());
        throw primaryError;
    }

    private static AgHeader checkGroup(DeviceMetaStore store, Superblock sb, int agno) throws IOException {
        long start = sb.agStart(agno), len = sb.agLength(agno), hblk = start + AgHeader.HEADER_BLOCK;
        AgHeader h = AgHeader.decode(store.read(hblk, AgHeader.TYPE, agno));
        if (h.agno() != agno) throw corrupt(hblk, "group number " + h.agno() + " where " + agno + " expected");
        if (h.length() != len) throw corrupt(hblk, "length " + h.length() + " blocks where the superblock implies " + len);
        checkRoot(hblk, "by-block", h.byBlockRoot(), start, len);
        checkRoot(hblk, "by-size", h.bySizeRoot(), start, len);
        BTree<Long> byBlock = BTree.open(store, FreeSpaceOps.BY_BLOCK, agno, h.byBlockRoot());
        BTree<Long> bySize = BTree.open(store, FreeSpaceOps.BY_SIZE, agno, h.bySizeRoot());
        byBlock.verify();
        bySize.verify();
        if (byBlock.levels() != h.byBlockLevels())
            throw corrupt(hblk, "by-block tree has " + byBlock.levels() + " levels, header says " + h.byBlockLevels());
        if (bySize.levels() != h.bySizeLevels())
            throw corrupt(hblk, "by-size tree has " + bySize.levels() + " levels, header says " + h.bySizeLevels());
        long free = 0, extents = 0, longest = 0, end = AgHeader.RESERVED_BLOCKS + (agno == 0 ? sb.logBlocks() : 0);
        for (BTree<Long>.Cursor c = byBlock.first(); c.valid(); c.next()) {
            long s = c.key(), n = c.record();
            if (s < end || n <= 0 || n > len - s)
                throw corrupt(hblk, "free extent [" + s + ", +" + n + ") in the by-block tree overlaps or leaves the group of "
                        + len + " blocks");
            Long inSize = bySize.lookup(FreeSpaceOps.sizeKey(s, n));
            if (inSize == null || inSize != n)
                throw corrupt(hblk, "free extent [" + s + ", +" + n + ") is missing from the by-size tree");
            end = s + n;
            free += n;
            extents++;
            longest = Math.max(longest, n);
        }
        long sizeCount = bySize.count();
        if (sizeCount != extents)
            throw corrupt(hblk, "by-size tree holds " + sizeCount + " extents, by-block tree " + extents);
        if (free != h.freeBlocks())
            throw corrupt(hblk, "free block count " + h.freeBlocks() + " does not match the free-space trees' " + free);
        if (extents != h.freeExtents())
            throw corrupt(hblk, "free extent count " + h.freeExtents() + " does not match the free-space trees' " + extents);
        if (longest != h.longestFree())
            throw corrupt(hblk, "longest free extent " + h.longestFree() + " does not match the free-space trees' " + longest);
        return h;
    }

    private static void checkRoot(long hblk, String tree, long root, long start, long len) throws CorruptMetadataException {
        if (root < start + AgHeader.BY_BLOCK_ROOT || root >= start + len)
            throw corrupt(hblk, tree + " tree root " + root + " is outside the group [" + start + ", " + (start + len) + ")");
    }

    private static CorruptMetadataException corrupt(long blkno, String problem) {
        return MetaBlockLayout.corrupt(blkno, AgHeader.TYPE, problem);
    }

    /** A few lines for people: geometry and free space. */
    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append("FolioFS ").append(sb.version()).append(" volume ").append(sb.uuid());
        if (!sb.label().isEmpty()) b.append(" label '").append(sb.label()).append('\'');
        b.append('\n');
        b.append(String.format("  block size:         %d%n", sb.blockSize()));
        b.append(String.format("  blocks:             %d (%d bytes)%n", sb.totalBlocks(), sb.volumeBytes()));
        b.append(String.format("  allocation groups:  %d of %d blocks%s%n", sb.agCount(), sb.agBlocks(),
                sb.agLength(sb.agCount() - 1) != sb.agBlocks() ? " (last " + sb.agLength(sb.agCount() - 1) + ")" : ""));
        b.append(String.format("  free blocks:        %d (%d bytes)%n", freeBlocks(), freeBlocks() * sb.blockSize()));
        for (String w : warnings) b.append("  warning: ").append(w).append('\n');
        return b.toString();
    }

    @Override
    public String toString() {
        return "Volume[" + sb.uuid() + ", " + sb.agCount() + " groups, " + sb.totalBlocks() + " blocks of " + sb.blockSize()
                + ", " + freeBlocks() + " free]";
    }
}
