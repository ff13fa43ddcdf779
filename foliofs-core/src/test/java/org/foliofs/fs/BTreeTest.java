package org.foliofs.fs;

import org.junit.jupiter.api.Test;

import java.util.ConcurrentModificationException;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BTreeTest {
    static final UUID VOL = new UUID(5, 6);

    private static BTree<Long> tree(int blockSize, int recordSize) throws Exception {
        return BTree.create(new MemMetaStore(blockSize, VOL, 16), new LongRecordOps(MetaType.EXTENT_BTREE, recordSize), 9);
    }

    @Test
    void emptyTreeAnswersNothing() throws Exception {
        BTree<Long> t = tree(1024, 8);
        assertThat(t.lookup(5)).isNull();
        assertThat(t.lookupLE(5)).isNull();
        assertThat(t.lookupGE(5)).isNull();
        assertThat(t.first().valid()).isFalse();
        assertThat(t.count()).isZero();
        assertThat(t.delete(5)).isFalse();
        assertThat(t.update(5, 1L)).isFalse();
        assertThat(t.verify()).isEqualTo(new BTree.Shape(0, 1, 1));
    }

    @Test
    void duplicatesAreRefusedAndUpdatesReplace() throws Exception {
        BTree<Long> t = tree(1024, 8);
        assertThat(t.insert(7, 70L)).isTrue();
        assertThat(t.insert(7, 71L)).isFalse();
        assertThat(t.lookup(7)).isEqualTo(70L);
        assertThat(t.update(7, 72L)).isTrue();
        assertThat(t.lookup(7)).isEqualTo(72L);
        MemMetaStore store = new MemMetaStore(1024, VOL, 16);
        BTree<Long> u = BTree.create(store, new LongRecordOps(MetaType.EXTENT_BTREE, 8), 9);
        assertThat(u.insert(7, 70L)).isTrue();
        long w = store.writes();
        assertThat(u.update(7, 70L)).as("an unchanged record").isTrue();
        assertThat(store.writes()).as("is not written").isEqualTo(w);
        assertThat(u.update(7, 71L)).isTrue();
        assertThat(store.writes()).isEqualTo(w + 1);
        assertThat(u.lookup(7)).isEqualTo(71L);
        assertThat(t.lookupLE(6)).isNull();
        assertThat(t.lookupGE(8)).isNull();
        assertThat(t.lookupLE(-1L)).isEqualTo(new BTree.Entry<>(7, 72L)); // keys are unsigned: -1 is the largest
    }

    @Test
    void sequentialGrowthAndShrinkAt64KiB() throws Exception {
        MemMetaStore store = new MemMetaStore(65536, VOL, 16);
        BTree<Long> t = BTree.create(store, new LongRecordOps(MetaType.EXTENT_BTREE, 8), 9);
        int n = 40_000;
        for (long k = 0; k < n; k++) assertThat(t.insert(k * 3, k)).isTrue();
        assertThat(t.levels()).isEqualTo(2);
        assertThat(t.verify().records()).isEqualTo(n);
        assertThat(t.lookupLE(3 * 20_000 + 1)).isEqualTo(new BTree.Entry<>(60_000, 20_000L));
        assertThat(t.lookupGE(3 * 20_000 + 1)).isEqualTo(new BTree.Entry<>(60_003, 20_001L));
        for (long k = n - 1; k >= 0; k--) assertThat(t.delete(k * 3)).isTrue();
        assertThat(t.levels()).isEqualTo(1);
        assertThat(store.allocatedCount()).isEqualTo(1);
    }

    @Test
    void descendingInsertsKeepSeparatorsExact() throws Exception {
        BTree<Long> t = tree(1024, 8);
        for (long k = 10_000; k > 0; k--) t.insert(k, -k);
        assertThat(t.levels()).isEqualTo(3);
        assertThat(t.verify().records()).isEqualTo(10_000);
        BTree<Long>.Cursor c = t.seekLE(10_000);
        long expect = 10_000;
        do assertThat(c.key()).isEqualTo(expect--); while (c.prev());
        assertThat(expect).isZero();
    }

    @Test
    void aCursorIsInvalidatedByChanges() throws Exception {
        BTree<Long> t = tree(1024, 8);
        t.insert(1, 1L);
        t.insert(2, 2L);
        BTree<Long>.Cursor c = t.first();
        t.insert(3, 3L);
        assertThatThrownBy(c::key).isInstanceOf(ConcurrentModificationException.class)
                .hasMessage("the tree changed since this cursor was positioned");
        BTree<Long>.Cursor d = t.seekGE(3);
        assertThat(d.next()).isFalse();
        assertThatThrownBy(d::key).isInstanceOf(IllegalStateException.class).hasMessage("cursor is past the end of the tree");
    }

    @Test
    void recordsTooLargeForTheBlockAreRefused() {
        assertThatThrownBy(() -> tree(1024, 300)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("recordSize (300) is too large for blockSize (1024): a leaf must hold at least 4 records");
    }
}
