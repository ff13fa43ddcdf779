package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.IoRequest;

/**
 * Makes a FolioFS volume on a device: superblock (primary at block 0, a backup at the start of every
 * other group), and in every allocation group a header and two free-space B+trees holding one extent,
 * the group minus its {@link AgHeader#RESERVED_BLOCKS} fixed blocks. Order: groups and backups, FLUSH,
 * then the primary superblock with FUA, so an interrupted mkfs never leaves a valid primary behind.
 */
public final class Mkfs {
    private Mkfs() {}

    /** Smallest and largest allocation group, in blocks (group-relative block numbers are 32 bits). */
    public static final long MIN_AG_BLOCKS = 64, MAX_AG_BLOCKS = 1L << 31;
    /** With {@code agCount == 0}, mkfs makes 4 groups (fewer on small devices), one more per TiB beyond 4 TiB. */
    static final int DEFAULT_AG_COUNT = 4;
    /** Smallest journal, in blocks, and the free blocks group 0 must keep besides it. */
    public static final long MIN_LOG_BLOCKS = 64, MIN_AG_FREE = 16;
    /** The derived journal is at least this long when group 0 has room (1/32 of the volume, at most 64 MiB). */
    static final long DEFAULT_MIN_LOG_BLOCKS = 1024;
    /** The root directory: the first inode of group 0. */
    public static final long ROOT_INO = 1;

    /**
     * What to make. Immutable; every component is checked on construction.
     *
     * @param blockSize power of two from 1024 to 65536 (and a multiple of the device's logical block)
     * @param agCount   allocation groups, at least 1; 0 derives it from the size
     * @param size      bytes of the device to use; 0 = all of it
     * @param label     up to 32 bytes of UTF-8, never null ("" = none)
     * @param uuid      the volume UUID; null = a random one
     */
    public record Options(int blockSize, int agCount, long size, String label, UUID uuid, long logBlocks) {
        public Options(int blockSize, int agCount, long size, String label, UUID uuid) {
            this(blockSize, agCount, size, label, uuid, 0);
        }

        public Options {
            if (logBlocks < 0) throw new IllegalArgumentException("logBlocks (" + logBlocks + ") must not be negative (0 = derive)");
            MetaBlockLayout.checkBlockSize(blockSize);
            if (agCount < 0) throw new IllegalArgumentException("agCount (" + agCount + ") must be at least 1, or 0 to derive it");
            if (size < 0) throw new IllegalArgumentException("size (" + size + ") must not be negative (0 = the whole device)");
            if (label == null) throw new IllegalArgumentException("label must not be null (use \"\" for none)");
            int n = label.getBytes(StandardCharsets.UTF_8).length;
            if (n > SuperblockLayout.LABEL_MAX)
                throw new IllegalArgumentException("label (" + label + ") is " + n + " bytes of UTF-8, more than "
                        + SuperblockLayout.LABEL_MAX);
            if (label.indexOf('\0') >= 0) throw new IllegalArgumentException("label (" + label + ") must not contain NUL");
        }

        /** 4 KiB blocks, derived group count, the whole device, no label, a random UUID. */
        public static Options defaults() { return new Options(4096, 0, 0, "", null); }

        public Options withBlockSize(int v) { return new Options(v, agCount, size, label, uuid, logBlocks); }
        public Options withAgCount(int v) { return new Options(blockSize, v, size, label, uuid, logBlocks); }
        public Options withSize(long v) { return new Options(blockSize, agCount, v, label, uuid, logBlocks); }
        public Options withLabel(String v) { return new Options(blockSize, agCount, size, v, uuid, logBlocks); }
        public Options withUuid(UUID v) { return new Options(blockSize, agCount, size, label, v, logBlocks); }
        /** Journal length in blocks; 0 derives it (1/32 of the volume, at least 1024 blocks and at most 64 MiB, within group 0). */
        public Options withLogBlocks(long v) { return new Options(blockSize, agCount, size, label, uuid, v); }
    }

    /** Formats {@code dev} and returns the superblock written. Overwrites whatever was there. */
    public static Superblock format(BlockDevice dev, Options opts) throws IOException {
        int bs = opts.blockSize();
        if (bs % dev.logicalBlockSize() != 0)
            throw new IllegalArgumentException("blockSize (" + bs + ") must be a multiple of the logical block size ("
                    + dev.logicalBlockSize() + ") of " + dev.describe());
        long bytes = opts.size() == 0 ? dev.capacity() : opts.size();
        if (bytes > dev.capacity())
            throw new IllegalArgumentException("size (" + bytes + ") exceeds the capacity (" + dev.capacity() + " bytes) of "
                    + dev.describe());
        long total = bytes / bs;
        long align = Math.max(1, SuperblockLayout.AG_ALIGNMENT / bs);
        long minAg = roundUp(MIN_AG_BLOCKS, align);
        int agCount = opts.agCount() != 0 ? opts.agCount() : deriveAgCount(total, minAg, bs);
        long agBlocks = total / agCount / align * align;
        long minLog = opts.logBlocks() != 0 ? opts.logBlocks() : MIN_LOG_BLOCKS;
        while (opts.agCount() == 0 && agCount > 1 && agBlocks < AgHeader.RESERVED_BLOCKS + minLog + MIN_AG_FREE) {
            agCount--;   // derived: fewer, larger groups so that group 0 holds the journal
            agBlocks = total / agCount / align * align;
        }
        if (agBlocks < minAg)
            throw new IllegalArgumentException("device too small: " + bytes + " bytes (" + total + " blocks of " + bs
                    + ") cannot hold " + agCount + " allocation group(s) of at least " + minAg + " blocks; need at least "
                    + agCount * minAg * bs + " bytes");
        if (agBlocks > MAX_AG_BLOCKS)
            throw new IllegalArgumentException("agCount (" + agCount + ") is too small for " + total + " blocks: groups of "
                    + agBlocks + " blocks exceed " + MAX_AG_BLOCKS + "; use at least " + ceilDiv(total, MAX_AG_BLOCKS) + " groups");
        // The last group takes the remainder, up to 2 * agBlocks - 1 blocks; any rest of the device is unused.
        total = (agCount - 1) * agBlocks + Math.min(total - (agCount - 1) * agBlocks, 2 * agBlocks - 1);
        long ag0 = Math.min(agBlocks, total);
        long logBlocks = opts.logBlocks() != 0 ? opts.logBlocks()
                : Math.min(Math.max(DEFAULT_MIN_LOG_BLOCKS, Math.min(total / 32, (64L << 20) / bs)),
                        ag0 - AgHeader.RESERVED_BLOCKS - MIN_AG_FREE);
        if (opts.logBlocks() != 0 && logBlocks < MIN_LOG_BLOCKS)
            throw new IllegalArgumentException("logBlocks (" + logBlocks + ") must be at least " + MIN_LOG_BLOCKS);
        if (logBlocks < MIN_LOG_BLOCKS || AgHeader.RESERVED_BLOCKS + logBlocks + MIN_AG_FREE > ag0)
            throw new IllegalArgumentException("device too small: allocation group 0 (" + ag0 + " blocks of " + bs
                    + ") cannot hold the journal (" + Math.max(logBlocks, MIN_LOG_BLOCKS) + " blocks) and " + MIN_AG_FREE
                    + " free blocks; use a larger size, fewer groups or a smaller journal");
        Superblock sb = new Superblock(SuperblockLayout.MAJOR, SuperblockLayout.MINOR,
                opts.uuid() != null ? opts.uuid() : UUID.randomUUID(), bs, agCount, agBlocks, total,
                ROOT_INO, AgHeader.RESERVED_BLOCKS, logBlocks, 0, 0, SuperblockLayout.INCOMPAT_LOG_DELTA, opts.label());

        MemorySegment sbBlock = MemorySegment.ofArray(new byte[bs]);
        try (BlockIo io = new BlockIo(dev, bs)) {
            // Invalidate a previous primary first (durably), so re-formatting a FolioFS device that
            // is interrupted never leaves the old, valid primary in front of half-rewritten groups.
            // An old backup found later by the fallback scan then meets group headers stamped with
            // the new UUID: reported as corrupt, not mounted.
            io.write(0, sbBlock, IoRequest.FUA);
            Journal.formatLog(dev, sb);
            for (int agno = 0; agno < agCount; agno++) {
                formatGroup(dev, sb, agno);
                if (agno > 0) {
                    SuperblockLayout.encode(sb, agno, sbBlock);
                    io.write(sb.agStart(agno) * bs, sbBlock, 0);
                }
            }
            dev.flush();
            SuperblockLayout.encode(sb, 0, sbBlock);
            io.write(0, sbBlock, IoRequest.FUA);
        }
        return sb;
    }

    /**
     * Header and empty trees of one group (free-space, inode and refcount roots at their fixed
     * blocks), with one free extent after the reserved blocks (and, in group 0, after the journal).
     */
    private static void formatGroup(BlockDevice dev, Superblock sb, int agno) throws IOException {
        long start = sb.agStart(agno), len = sb.agLength(agno);
        var alloc = new BitmapMetaAllocator(start + AgHeader.BY_BLOCK_ROOT, 4);
        try (DeviceMetaStore store = new DeviceMetaStore(dev, sb.blockSize(), sb.uuid(), alloc)) {
            BTree<Long> byBlock = BTree.create(store, FreeSpaceOps.BY_BLOCK, agno);
            BTree<Long> bySize = BTree.create(store, FreeSpaceOps.BY_SIZE, agno);
            MetaBlock ino = store.allocate(MetaType.INODE_BTREE, agno);
            store.write(ino);
            MetaBlock ref = store.allocate(MetaType.REFCOUNT_BTREE, agno);
            store.write(ref);
            long freeStart = AgHeader.RESERVED_BLOCKS + (agno == 0 ? sb.logBlocks() : 0);
            long free = len - freeStart;
            byBlock.insert(freeStart, free);
            bySize.insert(FreeSpaceOps.sizeKey(freeStart, free), free);
            AgHeader h = new AgHeader();
            h.agno = agno;
            h.length = len;
            h.freeBlocks = free;
            h.freeExtents = 1;
            h.longestFree = free;
            h.byBlockRoot = byBlock.root();
            h.bySizeRoot = bySize.root();
            h.byBlockLevels = byBlock.levels();
            h.bySizeLevels = bySize.levels();
            h.inoRoot = ino.blkno();
            h.inoLevels = 1;
            h.nextIno = 1;
            h.refRoot = ref.blkno();
            h.refLevels = 1;
            MetaBlock b = store.newBlock(start + AgHeader.HEADER_BLOCK, AgHeader.TYPE, agno);
            h.encode(b);
            store.writeFixed(b);
        }
    }

    private static int deriveAgCount(long total, long minAg, int bs) {
        long perTiB = ceilDiv(total * bs, 1L << 40);
        long n = Math.max(DEFAULT_AG_COUNT, perTiB);
        n = Math.max(n, ceilDiv(total, MAX_AG_BLOCKS));
        n = Math.min(n, total / minAg);
        return (int) Math.max(1, Math.min(n, Integer.MAX_VALUE));
    }

    private static long roundUp(long v, long unit) { return ceilDiv(v, unit) * unit; }
    private static long ceilDiv(long a, long b) { return (a + b - 1) / b; }
}
