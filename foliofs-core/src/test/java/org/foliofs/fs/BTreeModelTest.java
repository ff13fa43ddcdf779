package org.foliofs.fs;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Iterator;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Seeded model-based test of {@link BTree} against a {@link TreeMap} with unsigned key order: random
 * insert / update / delete / lookup / lookupLE / lookupGE / forward and backward range scans, with the
 * tree verified ({@link BTree#verify()}: order, separators, fill, depth, siblings, count) and compared
 * with the model in full every {@value #CHECK_EVERY} operations, and no node leaked.
 *
 * <p>Operations alternate between insert-heavy and delete-heavy phases so trees grow several levels
 * deep and shrink back to a single leaf (splits, borrows, merges, root growth and collapse).
 * Replay: {@code mvn -o -pl foliofs-core test -Dtest=BTreeModelTest -Dfoliofs.seed=N}.
 */
class BTreeModelTest {
    static final int CHECK_EVERY = 1000;

    static long seed() {
        String prop = System.getProperty("foliofs.seed");
        long seed = prop != null ? Long.parseLong(prop) : new Random().nextLong();
        System.out.println("BTreeModelTest seed=" + seed + " (replay: mvn -o -pl foliofs-core test "
                + "-Dtest=BTreeModelTest -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    // 65536/8 holds 4092 records per leaf, more than this run keeps live: it covers big-block leaf
    // code; BTreeTest grows such a tree to several levels with sequential inserts.
    @ParameterizedTest(name = "blockSize={0} recordSize={1} ops={2}")
    @CsvSource({
            "1024, 8, 35000, 3",
            "1024, 100, 15000, 3",
            "4096, 8, 25000, 2",
            "4096, 400, 10000, 2",
            "65536, 8, 10000, 1",
            "65536, 2000, 10000, 2",
    })
    void matchesTreeMap(int blockSize, int recordSize, int ops, int minLevels) throws Exception {
        long seed = seed() ^ blockSize * 31L ^ recordSize;
        try {
            run(blockSize, recordSize, ops, minLevels, seed);
        } catch (Throwable t) {
            throw new AssertionError("failed with blockSize=" + blockSize + " recordSize=" + recordSize
                    + " (derived seed " + seed + "); replay with the -Dfoliofs.seed printed above", t);
        }
    }

    private static void run(int blockSize, int recordSize, int opCount, int minLevels, long seed) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        MemMetaStore store = new MemMetaStore(blockSize, UUID.randomUUID(), 16);
        LongRecordOps ops = new LongRecordOps(MetaType.FREE_BY_BLOCK, recordSize);
        BTree<Long> tree = BTree.create(store, ops, 3);
        TreeMap<Long, Long> model = new TreeMap<>(Long::compareUnsigned);
        // Key space: wide enough that the growing phases are not capped by it; lookups both hit and miss.
        long span = Math.max(4000, Math.min(1_000_000, (long) tree.leafCapacity() * 100));
        int maxLevels = 1;
        int phase = opCount / 3; // grow, shrink, grow; then everything is deleted
        for (int op = 1; op <= opCount; op++) {
            boolean growing = (op / phase) % 2 == 0;
            long key = randomKey(rnd, span);
            int dice = rnd.nextInt(100);
            int insertPct = growing ? 60 : 12, deletePct = growing ? 12 : 60;
            if (dice < insertPct) {
                long v = rnd.nextLong();
                boolean absent = !model.containsKey(key);
                assertThat(tree.insert(key, v)).as("insert %s", Long.toUnsignedString(key)).isEqualTo(absent);
                if (absent) model.put(key, v);
            } else if (dice < insertPct + deletePct) {
                if (!model.isEmpty() && rnd.nextBoolean()) key = existingKey(model, rnd, key);
                assertThat(tree.delete(key)).as("delete %s", Long.toUnsignedString(key))
                        .isEqualTo(model.remove(key) != null);
            } else if (dice < insertPct + deletePct + 8) {
                if (!model.isEmpty()) key = existingKey(model, rnd, key);
                long v = rnd.nextLong();
                boolean present = model.containsKey(key);
                assertThat(tree.update(key, v)).isEqualTo(present);
                if (present) model.put(key, v);
            } else if (dice < insertPct + deletePct + 14) {
                assertThat(tree.lookup(key)).as("lookup %s", Long.toUnsignedString(key)).isEqualTo(model.get(key));
            } else if (dice < insertPct + deletePct + 20) {
                assertEntry(tree.lookupLE(key), model.floorEntry(key), "lookupLE", key);
            } else if (dice < insertPct + deletePct + 26) {
                assertEntry(tree.lookupGE(key), model.ceilingEntry(key), "lookupGE", key);
            } else {
                scan(tree, model, key, rnd.nextInt(1, 200), rnd.nextInt(4) == 0);
            }
            if (op % CHECK_EVERY == 0 || op == opCount) {
                check(tree, ops, store, model);
                maxLevels = Math.max(maxLevels, tree.levels());
            }
        }
        // Shrink to nothing: every merge path down to an empty root leaf.
        for (Long k : model.keySet().toArray(new Long[0])) assertThat(tree.delete(k)).isTrue();
        model.clear();
        check(tree, ops, store, model);
        assertThat(tree.levels()).isEqualTo(1);
        assertThat(store.allocatedCount()).isEqualTo(1);
        System.out.printf("  blockSize=%d recordSize=%d: %d ops, up to %d levels, %d reads %d writes%n",
                blockSize, recordSize, opCount, maxLevels, store.reads(), store.writes());
        assertThat(maxLevels).as("levels the tree grew to").isGreaterThanOrEqualTo(minLevels);
    }

    private static long randomKey(SplittableRandom rnd, long span) {
        int r = rnd.nextInt(100);
        if (r < 2) return rnd.nextLong(); // anywhere in unsigned 64-bit space, including "negative" longs
        if (r < 4) return -1L - rnd.nextLong(span); // crowded near 2^64 - 1
        return rnd.nextLong(span);
    }

    private static long existingKey(TreeMap<Long, Long> model, SplittableRandom rnd, long near) {
        Map.Entry<Long, Long> e = model.ceilingEntry(near);
        return (e != null ? e : model.firstEntry()).getKey();
    }

    private static void assertEntry(BTree.Entry<Long> got, Map.Entry<Long, Long> want, String what, long key) {
        if (want == null) {
            assertThat(got).as("%s %s", what, Long.toUnsignedString(key)).isNull();
        } else {
            assertThat(got).as("%s %s", what, Long.toUnsignedString(key)).isNotNull();
            assertThat(got.key()).as("%s %s key", what, Long.toUnsignedString(key)).isEqualTo(want.getKey());
            assertThat(got.record()).isEqualTo(want.getValue());
        }
    }

    private static void scan(BTree<Long> tree, TreeMap<Long, Long> model, long from, int n, boolean backward)
            throws Exception {
        BTree<Long>.Cursor c = backward ? tree.seekLE(from) : tree.seekGE(from);
        Iterator<Map.Entry<Long, Long>> it = backward
                ? model.headMap(from, true).descendingMap().entrySet().iterator()
                : model.tailMap(from, true).entrySet().iterator();
        for (int i = 0; i < n; i++) {
            if (!it.hasNext()) {
                assertThat(c.valid()).as("scan from %s ended", Long.toUnsignedString(from)).isFalse();
                return;
            }
            Map.Entry<Long, Long> e = it.next();
            assertThat(c.valid()).isTrue();
            assertThat(c.key()).isEqualTo(e.getKey());
            assertThat(c.record()).isEqualTo(e.getValue());
            if (backward) c.prev();
            else c.next();
        }
    }

    private static void check(BTree<Long> tree, BTreeOps<Long> ops, MemMetaStore store, TreeMap<Long, Long> model) throws Exception {
        BTree.Shape shape = tree.verify();
        assertThat(shape.records()).isEqualTo(model.size());
        assertThat(tree.count()).isEqualTo(model.size());
        assertThat(store.allocatedCount()).as("nodes allocated vs in the tree").isEqualTo(shape.nodes());
        BTree<Long>.Cursor c = tree.first();
        for (Map.Entry<Long, Long> e : model.entrySet()) {
            assertThat(c.valid()).isTrue();
            assertThat(c.key()).isEqualTo(e.getKey());
            assertThat(c.record()).isEqualTo(e.getValue());
            c.next();
        }
        assertThat(c.valid()).isFalse();
        // Reopening from the root block gives the same tree.
        BTree<Long> again = BTree.open(store, ops, 3, tree.root());
        assertThat(again.levels()).isEqualTo(tree.levels());
    }
}
