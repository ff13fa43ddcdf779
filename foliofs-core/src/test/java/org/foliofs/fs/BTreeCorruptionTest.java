package org.foliofs.fs;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Corrupted and misplaced tree nodes are reported as CorruptMetadataException naming the block. */
class BTreeCorruptionTest {
    static final UUID VOL = UUID.fromString("6f1c2e0a-8f53-4c1e-9a57-0d2b9f4a11c3");
    static final String NODE = "free-space by-block btree node";
    final LongRecordOps ops = new LongRecordOps(MetaType.FREE_BY_BLOCK, 8);

    private BTree<Long> build(MemMetaStore store) throws Exception {
        BTree<Long> tree = BTree.create(store, ops, 3);
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < 3000; i++) tree.insert(rnd.nextLong(1_000_000), (long) i);
        assertThat(tree.levels()).isEqualTo(3);
        return tree;
    }

    private static List<Long> nodes(MemMetaStore store) {
        List<Long> out = new ArrayList<>();
        for (long b = 0; out.size() < store.allocatedCount(); b++) if (store.isAllocated(b)) out.add(b);
        return out;
    }

    @Test
    void everySingleByteFlipIsDetectedAndNamesTheBlock() throws Exception {
        MemMetaStore store = new MemMetaStore(1024, VOL, 16);
        BTree<Long> tree = build(store);
        List<Long> blocks = nodes(store);
        SplittableRandom rnd = new SplittableRandom(7);
        int flips = 3000;
        for (int i = 0; i < flips; i++) {
            long blk = blocks.get(rnd.nextInt(blocks.size()));
            byte[] raw = store.raw(blk);
            int off = rnd.nextInt(raw.length), mask = rnd.nextInt(1, 256);
            raw[off] ^= (byte) mask;
            try {
                assertThatThrownBy(tree::verify).as("flip of byte %d of block %d by 0x%02x", off, blk, mask)
                        .isExactlyInstanceOf(CorruptMetadataException.class)
                        .hasMessageStartingWith("block " + blk + " (" + NODE + "): ");
            } finally {
                raw[off] ^= (byte) mask;
            }
        }
        assertThat(tree.verify().records()).isEqualTo(tree.count());
    }

    @Test
    void aMisdirectedWriteIsCaughtByTheBlockNumber() throws Exception {
        MemMetaStore store = new MemMetaStore(1024, VOL, 16);
        BTree<Long> tree = build(store);
        List<Long> blocks = nodes(store);
        long a = blocks.get(3), b = blocks.get(4);
        store.putRaw(b, store.raw(a)); // block a's contents landed at b: magic and checksum are fine
        assertThatThrownBy(tree::verify).isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + b + " (" + NODE + "): header says block " + a + " (misdirected write or read)");
    }

    @Test
    void wrongOwnerAndWrongVolumeAreRefused() throws Exception {
        MemMetaStore store = new MemMetaStore(1024, VOL, 16);
        BTree<Long> tree = build(store);
        assertThatThrownBy(() -> BTree.open(store, ops, 4, tree.root()))
                .isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + tree.root() + " (" + NODE + "): owner 3 where 4 expected");

        UUID other = new UUID(0, 1);
        MemMetaStore stale = new MemMetaStore(1024, other, 16);
        for (long b : nodes(store)) stale.putRaw(b, store.raw(b));
        assertThatThrownBy(() -> BTree.open(stale, ops, 3, tree.root()))
                .isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + tree.root() + " (" + NODE + "): volume UUID " + VOL + " where " + other
                        + " expected (block from another filesystem)");
        assertThatThrownBy(() -> BTree.open(store, new LongRecordOps(MetaType.REFCOUNT_BTREE, 8), 3, tree.root()))
                .isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + tree.root() + " (refcount btree node): magic 0x42425346 ('FSBB')");
    }

    @Test
    void checksummedButImpossibleNodesAreCaughtByTheTree() throws Exception {
        MemMetaStore store = new MemMetaStore(1024, VOL, 16);
        BTree<Long> tree = build(store);
        long leafBlk = tree.first().leaf().blkno();

        // Keys out of order, checksum valid (a bug, not a bit flip): verify finds it.
        MetaBlock leaf = store.read(leafBlk, MetaType.FREE_BY_BLOCK, 3);
        long k0 = BTree.key(leaf, 0), k1 = BTree.key(leaf, 1);
        leaf.segment().set(MetaBlockLayout.U64, 64, k1);
        leaf.segment().set(MetaBlockLayout.U64, 72, k0);
        store.write(leaf);
        assertThatThrownBy(tree::verify).isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + leafBlk + " (" + NODE + "): key 1 (");

        // A record count larger than the block can hold: any read of the node refuses it.
        leaf.numRecs(0xffff);
        store.write(leaf);
        assertThatThrownBy(() -> tree.lookup(k0)).isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + leafBlk + " (" + NODE + "): 65535 entries, more than the "
                        + tree.leafCapacity() + " that fit");

        // A leaf where an internal node should be.
        leaf.numRecs(1);
        leaf.level(1);
        store.write(leaf);
        assertThatThrownBy(tree::count).isExactlyInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + leafBlk + " (" + NODE + "): level 1 where 0 expected");
    }
}
