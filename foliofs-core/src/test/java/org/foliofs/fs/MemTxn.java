package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.foliofs.device.BlockDevice;

/**
 * Test-only {@link Txn}: a freshly made volume (SimDevice + Mkfs) whose metadata blocks live in a map
 * after the first read; no journal. Reads verify like the real store. Metadata allocation goes to a
 * pluggable {@link MetaSpace} (default: a bump allocator from the top of the last group down, which
 * the free-space trees do not know about: fine for tests of inodes, extents and directories).
 * {@link #commit()} runs the commit actions; {@link #checkpoint()} the checkpoint actions.
 */
public final class MemTxn implements Txn {
    private final BlockDevice dev;
    private final Superblock sb;
    private final Map<Long, byte[]> blocks = new HashMap<>();
    private final List<Runnable> committed = new ArrayList<>(), checkpointed = new ArrayList<>();
    private MetaSpace space;
    private long bump;
    public long reads, writes;

    public MemTxn(BlockDevice dev, Superblock sb) {
        this.dev = dev;
        this.sb = sb;
        this.bump = sb.totalBlocks() - 1;
        this.space = new MetaSpace() {
            @Override public long allocMeta(Txn tx, MetaType type, long owner) { return bump--; }
            @Override public void freeMeta(Txn tx, long blkno, MetaType type) {}
        };
    }

    /** A SimDevice of {@code bytes}, formatted with {@code opts}, and a MemTxn on it. */
    public static MemTxn format(long bytes, Mkfs.Options opts) throws IOException {
        var dev = org.foliofs.device.SimDevice.builder().capacity(bytes).build();
        Superblock sb = Mkfs.format(dev, opts);
        return new MemTxn(dev, sb);
    }

    public MemTxn space(MetaSpace s) { this.space = s; return this; }
    public BlockDevice device() { return dev; }

    @Override public Superblock superblock() { return sb; }
    @Override public int blockSize() { return sb.blockSize(); }
    @Override public java.util.UUID volumeUuid() { return sb.uuid(); }

    @Override
    public MetaBlock read(long blkno, MetaType type, long owner) throws IOException {
        reads++;
        byte[] b = blocks.get(blkno);
        if (b == null) {
            try (BlockIo io = new BlockIo(dev, sb.blockSize())) {
                b = io.read(blkno * sb.blockSize(), sb.blockSize()).toArray(ValueLayout.JAVA_BYTE);
            }
            blocks.put(blkno, b);
        }
        MemorySegment seg = MemorySegment.ofArray(b.clone());
        MetaBlockLayout.verify(seg, blkno, type, owner, sb.uuid());
        return new MetaBlock(blkno, seg);
    }

    @Override
    public MetaBlock allocate(MetaType type, long owner) throws IOException {
        long b = space.allocMeta(this, type, owner);
        MemorySegment seg = MemorySegment.ofArray(new byte[sb.blockSize()]);
        MetaBlockLayout.init(seg, type, b, owner, sb.uuid());
        return new MetaBlock(b, seg);
    }

    @Override
    public void write(MetaBlock block) {
        writes++;
        MetaBlockLayout.stampCrc(block.segment());
        blocks.put(block.blkno(), block.segment().toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public void free(long blkno) throws IOException {
        byte[] b = blocks.get(blkno);
        int magic = b == null ? 0 : MemorySegment.ofArray(b).get(MetaBlockLayout.U32, 0);
        space.freeMeta(this, blkno, new MetaType(magic == 0 ? 1 : magic, "freed block"));
        blocks.remove(blkno);
    }

    /** Raw bytes of a block as last written (for corruption tests: change and put back). */
    public byte[] raw(long blkno) { return blocks.get(blkno); }

    @Override public void onCommitted(Runnable r) { committed.add(r); }
    @Override public void onCheckpointed(Runnable r) { checkpointed.add(r); }
    @Override public void onAbort(Runnable r) {}

    public void commit() { var l = new ArrayList<>(committed); committed.clear(); l.forEach(Runnable::run); }
    public void checkpoint() { commit(); var l = new ArrayList<>(checkpointed); checkpointed.clear(); l.forEach(Runnable::run); }
}
