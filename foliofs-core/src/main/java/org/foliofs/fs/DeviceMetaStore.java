package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.UUID;
import org.foliofs.device.BlockDevice;

/**
 * A {@link MetaStore} on a {@link BlockDevice}: block {@code n} is the {@code blockSize} bytes at byte
 * offset {@code n * blockSize}. Reads and writes are synchronous, through one reused request and one
 * 4096-aligned buffer ({@link BlockIo}); every read is verified ({@link MetaBlockLayout#verify}) and
 * handed out as a private heap copy, as {@link MemMetaStore} does. New blocks come from a pluggable
 * {@link MetaAllocator}.
 *
 * <p>Not thread-safe (see {@link MetaStore}). Close it to release the buffer.
 */
public final class DeviceMetaStore implements MetaStore, AutoCloseable {
    private final BlockDevice dev;
    private final int blockSize;
    private final UUID uuid;
    private final MetaAllocator allocator;
    private final BlockIo io;
    private final long deviceBlocks;
    private long reads, writes;

    public DeviceMetaStore(BlockDevice dev, int blockSize, UUID uuid, MetaAllocator allocator) {
        this.blockSize = MetaBlockLayout.checkBlockSize(blockSize);
        if (blockSize % dev.logicalBlockSize() != 0)
            throw new IllegalArgumentException("blockSize (" + blockSize + ") must be a multiple of the logical block size ("
                    + dev.logicalBlockSize() + ") of " + dev.describe());
        this.dev = dev;
        this.uuid = uuid;
        this.allocator = allocator;
        this.deviceBlocks = dev.capacity() / blockSize;
        this.io = new BlockIo(dev, blockSize);
    }

    @Override public int blockSize() { return blockSize; }
    @Override public UUID volumeUuid() { return uuid; }
    public BlockDevice device() { return dev; }
    public MetaAllocator allocator() { return allocator; }

    @Override
    public MetaBlock read(long blkno, MetaType type, long owner) throws IOException {
        checkRange(blkno, type);
        reads++;
        MemorySegment s = io.read(blkno * blockSize, blockSize);
        MemorySegment copy = MemorySegment.ofArray(new byte[blockSize]);
        copy.copyFrom(s);
        MetaBlockLayout.verify(copy, blkno, type, owner, uuid);
        return new MetaBlock(blkno, copy);
    }

    @Override
    public MetaBlock allocate(MetaType type, long owner) throws IOException {
        long b = allocator.allocate(owner);
        return newBlock(b, type, owner);
    }

    /** An initialised block at a fixed position (group header and the like), not from the allocator. */
    MetaBlock newBlock(long blkno, MetaType type, long owner) throws CorruptMetadataException {
        checkRange(blkno, type);
        MemorySegment seg = MemorySegment.ofArray(new byte[blockSize]);
        MetaBlockLayout.init(seg, type, blkno, owner, uuid);
        return new MetaBlock(blkno, seg);
    }

    @Override
    public void write(MetaBlock block) throws IOException {
        if (!allocator.isAllocated(block.blkno()))
            throw new IllegalStateException("write of block " + block.blkno() + ", which is not allocated");
        writeFixed(block);
    }

    /** Writes a block at a fixed position (not from the allocator): stamps the checksum and writes it. */
    void writeFixed(MetaBlock block) throws IOException {
        long b = block.blkno();
        if (block.size() != blockSize)
            throw new IllegalArgumentException("block " + b + " is " + block.size() + " bytes, not " + blockSize);
        if (b < 0 || b >= deviceBlocks)
            throw new IllegalArgumentException("block " + b + " is beyond the end of " + dev.describe() + " (" + deviceBlocks + " blocks)");
        writes++;
        MetaBlockLayout.stampCrc(block.segment());
        io.write(b * blockSize, block.segment(), 0);
    }

    @Override
    public void free(long blkno) {
        allocator.free(blkno);
    }

    public long reads() { return reads; }
    public long writes() { return writes; }

    private void checkRange(long blkno, MetaType type) throws CorruptMetadataException {
        if (blkno < 0 || blkno >= deviceBlocks)
            throw MetaBlockLayout.corrupt(blkno, type, "block number is beyond the end of the device ("
                    + deviceBlocks + " blocks of " + blockSize + " bytes)");
    }

    @Override
    public void close() {
        io.close();
    }
}
