package org.foliofs.fs;

import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeviceMetaStoreTest {
    static final UUID VOL = new UUID(7, 8);

    @ParameterizedTest
    @ValueSource(ints = {1024, 4096, 65536})
    void aTreeOnTheDeviceSurvivesReopening(int bs) throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(64L << 20).build()) {
            var alloc = new BitmapMetaAllocator(16, 800);
            TreeMap<Long, Long> model = new TreeMap<>();
            long root;
            try (var store = new DeviceMetaStore(dev, bs, VOL, alloc)) {
                BTree<Long> t = BTree.create(store, new LongRecordOps(MetaType.EXTENT_BTREE, 24), 3);
                Random rnd = new Random(42);
                for (int i = 0; i < 3000; i++) {
                    long k = rnd.nextInt(100_000);
                    if (t.insert(k, k * 3)) model.put(k, k * 3);
                }
                for (int i = 0; i < 1000; i++) {
                    long k = rnd.nextInt(100_000);
                    assertThat(t.delete(k)).isEqualTo(model.remove(k) != null);
                }
                root = t.root();
                assertThat(store.writes()).isPositive();
            }
            try (var store = new DeviceMetaStore(dev, bs, VOL, alloc)) {
                BTree<Long> t = BTree.open(store, new LongRecordOps(MetaType.EXTENT_BTREE, 24), 3, root);
                assertThat(t.verify().records()).isEqualTo(model.size());
                for (var e : model.entrySet()) assertThat(t.lookup(e.getKey())).isEqualTo(e.getValue());
            }
        }
    }

    @Test
    void aFlippedBitIsReportedWithTheBlock() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(1L << 20).build();
             var store = new DeviceMetaStore(dev, 4096, VOL, new BitmapMetaAllocator(10, 4))) {
            MetaBlock b = store.allocate(MetaType.INODE_BTREE, 1);
            store.write(b);
            assertThat(store.read(b.blkno(), MetaType.INODE_BTREE, 1).blkno()).isEqualTo(10);
            DiskBytes.flip(dev, 10 * 4096 + 100);
            assertThatThrownBy(() -> store.read(10, MetaType.INODE_BTREE, 1))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageStartingWith("block 10 (inode btree node): CRC32C");
            assertThatThrownBy(() -> store.read(1000, MetaType.INODE_BTREE, 1))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageContaining("block 1000").hasMessageContaining("beyond the end of the device (256 blocks");
        }
    }

    @Test
    void allocationIsDelegatedAndBounded() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(1L << 20).build();
             var store = new DeviceMetaStore(dev, 4096, VOL, new BitmapMetaAllocator(10, 2))) {
            assertThat(store.allocate(MetaType.INODE_BTREE, 1).blkno()).isEqualTo(10);
            assertThat(store.allocate(MetaType.INODE_BTREE, 1).blkno()).isEqualTo(11);
            assertThatThrownBy(() -> store.allocate(MetaType.INODE_BTREE, 1))
                    .hasMessageContaining("no free metadata block in [10, 12)");
            store.free(10);
            assertThat(store.allocate(MetaType.INODE_BTREE, 1).blkno()).isEqualTo(10);
            MetaBlock stray = store.newBlock(20, MetaType.INODE_BTREE, 1);
            assertThatThrownBy(() -> store.write(stray)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("block 20, which is not allocated");
        }
    }

    @Test
    void blockSizeMustSuitTheDevice() {
        try (SimDevice dev = SimDevice.builder().capacity(1L << 20).logicalBlockSize(4096).build()) {
            assertThatThrownBy(() -> new DeviceMetaStore(dev, 1024, VOL, MetaAllocator.none()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("blockSize (1024) must be a multiple of the logical block size (4096)");
            assertThatThrownBy(() -> new DeviceMetaStore(dev, 3000, VOL, MetaAllocator.none()))
                    .hasMessageContaining("blockSize (3000) must be a power of two");
        }
    }
}
