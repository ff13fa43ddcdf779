package org.foliofs.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AllocatorTest {

    /** A formatted SimDevice with a real journal and an allocator, reopenable. */
    static final class Vol implements AutoCloseable {
        final SimDevice dev;
        final Superblock sb;
        Allocator alloc;
        Journal j;

        Vol(int bs, int ags, long bytes, long logBlocks) throws IOException {
            dev = SimDevice.builder().capacity(bytes).build();
            sb = Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(bs).withAgCount(ags).withLogBlocks(logBlocks));
            mount();
        }

        void mount() throws IOException {
            alloc = new Allocator(sb);
            j = Journal.open(dev, sb, alloc, 1 << 16);
            try (var h = begin()) {
                alloc.init(h);
                h.commit();
            }
        }

        Journal.Handle begin() throws IOException {
            return j.begin((int) Math.min(j.maxTransactionBlocks() / 2, 400));
        }

        void reopen() throws IOException {
            j.close();
            mount();
        }

        long[] alloc(int agHint, long goal, long min, long max) throws IOException {
            try (var h = begin()) {
                long[] r = alloc.allocData(h, agHint, goal, min, max);
                h.commit();
                return r;
            }
        }

        void free(long start, long len) throws IOException {
            try (var h = begin()) {
                alloc.freeData(h, start, len);
                h.commit();
            }
        }

        List<Allocator.GroupShape> verify() throws IOException {
            try (var h = begin()) {
                return alloc.verify(h);
            }
        }

        /** Headers and both trees of every group, as text (equal text = identical state). */
        String dump() throws IOException {
            StringBuilder b = new StringBuilder();
            try (var h = begin()) {
                for (int g = 0; g < sb.agCount(); g++) {
                    AgHeader a = h.agHeader(g);
                    b.append(a).append(" roots ").append(a.byBlockRoot).append('/').append(a.bySizeRoot).append(" levels ")
                            .append(a.byBlockLevels).append('/').append(a.bySizeLevels).append('\n');
                    for (long root : new long[] {a.byBlockRoot, a.bySizeRoot}) {
                        BTree<Long> t = BTree.open(h, root == a.byBlockRoot ? FreeSpaceOps.BY_BLOCK : FreeSpaceOps.BY_SIZE, g, root);
                        for (var c = t.first(); c.valid(); c.next()) b.append(c.key()).append(':').append(c.record()).append(' ');
                        b.append('\n');
                    }
                }
            }
            return b.append("free ").append(alloc.freeBlocks()).toString();
        }

        @Override
        public void close() throws IOException {
            j.close();
            dev.close();
        }
    }

    static long seed(String name) {
        String p = System.getProperty("foliofs.seed");
        long seed = p != null ? Long.parseLong(p) : System.nanoTime();
        System.out.println(name + " seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    /** Checks the allocator's own verification plus the model: nothing allocated is free, nothing leaks. */
    static void check(Vol v, BitSet model) throws IOException {
        Superblock sb = v.sb;
        List<Allocator.GroupShape> shapes = v.verify();
        try (var h = v.begin()) {
            for (int g = 0; g < sb.agCount(); g++) {
                AgHeader a = h.agHeader(g);
                long agStart = sb.agStart(g);
                BTree<Long> bb = BTree.open(h, FreeSpaceOps.BY_BLOCK, g, a.byBlockRoot);
                for (var c = bb.first(); c.valid(); c.next()) {
                    long s = agStart + c.key(), n = c.record();
                    int set = model.nextSetBit((int) s);
                    assertThat(set < 0 || set >= s + n).as("allocated block %d is in free extent [%d, +%d)", set, s, n).isTrue();
                }
                for (int i = 0; i < a.agflCount; i++)
                    assertThat(model.get((int) a.agfl[i])).as("AGFL block %d is allocated to the model", a.agfl[i]).isFalse();
                var sh = shapes.get(g);
                long fixed = 2 + 2 /* inode and refcount roots */ + (g == 0 ? sb.logBlocks() : 0);
                long held = model.get((int) agStart, (int) (agStart + sb.agLength(g))).cardinality();
                assertThat(fixed + sh.freeBlocks() + sh.agflCount() + sh.byBlockNodes() + sh.bySizeNodes() + held)
                        .as("block conservation in group %d: %s", g, sh).isEqualTo(sb.agLength(g));
            }
        }
    }

    static void take(Vol v, BitSet model, long[] r) {
        Superblock sb = v.sb;
        int g = v.alloc.agOf(r[0]);
        assertThat(v.alloc.agOf(r[0] + r[1] - 1)).isEqualTo(g);
        assertThat(r[0] - sb.agStart(g)).isGreaterThanOrEqualTo(AgHeader.RESERVED_BLOCKS);
        assertThat(r[0] >= sb.logStart() + sb.logBlocks() || r[0] + r[1] <= sb.logStart()).isTrue();
        int set = model.nextSetBit((int) r[0]);
        assertThat(set < 0 || set >= r[0] + r[1]).as("[%d, +%d) handed out twice (block %d)", r[0], r[1], set).isTrue();
        model.set((int) r[0], (int) (r[0] + r[1]));
    }

    @ParameterizedTest(name = "bs {0}, {1} AGs")
    @CsvSource({"1024, 4, 8388608", "4096, 3, 25165824", "65536, 2, 134217728"})
    void randomAllocFreeAgainstBitmapModel(int bs, int ags, long bytes) throws Exception {
        long seed = seed("randomAllocFree bs " + bs);
        Random rnd = new Random(seed);
        try (Vol v = new Vol(bs, ags, bytes, 0)) {
            BitSet model = new BitSet();
            List<long[]> held = new ArrayList<>();
            long initialFree = v.alloc.freeBlocks();
            int steps = 4000, busyRetries = 0, enospc = 0;
            for (int step = 0; step < steps; step++) {
                boolean doAlloc = held.isEmpty() || rnd.nextInt(100) < (step < steps / 2 ? 60 : 45);
                if (doAlloc) {
                    long min = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 64), max = min + rnd.nextInt(64);
                    int hint = rnd.nextInt(ags);
                    long goal = rnd.nextInt(4) == 0 ? rnd.nextLong(v.sb.totalBlocks()) : -1;
                    long[] r;
                    try {
                        r = v.alloc(hint, goal, min, max);
                    } catch (BusyException e) {
                        busyRetries++;
                        v.j.checkpoint();
                        try {
                            r = v.alloc(hint, goal, min, max);
                        } catch (NoSpaceException e2) {
                            assertThat(e2).isNotInstanceOf(BusyException.class);
                            enospc++;
                            continue;
                        }
                    } catch (NoSpaceException e) {
                        assertThat(e.getMessage()).contains("no free extent of " + min + " blocks");
                        enospc++;
                        continue;
                    }
                    assertThat(r[1]).isBetween(min, max);
                    if (goal >= 0 && r[0] >= goal && v.alloc.agOf(r[0]) == v.alloc.agOf(goal))
                        assertThat(r[0]).isGreaterThanOrEqualTo(goal);
                    take(v, model, r);
                    held.add(r);
                } else {
                    long[] e = held.remove(rnd.nextInt(held.size()));
                    // Free a random piece; the rest stays held.
                    long off = rnd.nextLong(e[1]), len = 1 + rnd.nextLong(e[1] - off);
                    v.free(e[0] + off, len);
                    model.clear((int) (e[0] + off), (int) (e[0] + off + len));
                    if (off > 0) held.add(new long[] {e[0], off});
                    if (off + len < e[1]) held.add(new long[] {e[0] + off + len, e[1] - off - len});
                }
                if (rnd.nextInt(10) == 0) v.j.force();
                if (rnd.nextInt(150) == 0) v.j.checkpoint();
                if (step % 97 == 0) check(v, model);
            }
            check(v, model);
            String before = v.dump();
            v.reopen();
            assertThat(v.dump()).isEqualTo(before);
            check(v, model);
            // Free everything: all space comes back (less what the trees and AGFLs hold).
            for (long[] e : held) v.free(e[0], e[1]);
            model.clear();
            v.j.checkpoint();
            check(v, model);
            long trees = 0;
            for (var s : v.verify()) trees += s.agflCount() + s.byBlockNodes() + s.bySizeNodes() - 2;
            assertThat(v.alloc.freeBlocks() + trees).isEqualTo(initialFree);
            System.out.println("  busy retries " + busyRetries + ", ENOSPC " + enospc);
        }
    }

    @Test
    void freeSpaceTreesGrowToThreeLevelsAndShrinkBack() throws Exception {
        try (Vol v = new Vol(1024, 1, 24L << 20, 0)) {
            BitSet model = new BitSet();
            long initialFree = v.alloc.freeBlocks();
            List<long[]> held = new ArrayList<>();
            while (true) {
                try {
                    long[] r = v.alloc(0, -1, 1, 1 << 20);
                    take(v, model, r);
                    held.add(r);
                } catch (NoSpaceException e) {
                    assertThat(e.getMessage()).contains("no free extent of 1 blocks");
                    break;
                }
            }
            assertThat(v.alloc.freeBlocks()).isLessThan(40);
            check(v, model);
            // Free every other block: thousands of one-block extents.
            int n = 0;
            var h = v.begin();
            for (long[] e : held)
                for (long b = e[0]; b < e[0] + e[1]; b += 2) {
                    v.alloc.freeData(h, b, 1);
                    model.clear((int) b);
                    if (++n % 8 == 0) { h.commit(); h = v.begin(); }
                    if (n % 2000 == 0) { h.commit(); check(v, model); h = v.begin(); }
                }
            h.commit();
            check(v, model);
            var shape = v.verify().getFirst();
            System.out.println("  fragmented: " + shape);
            assertThat(shape.freeExtents()).isGreaterThan(5000);
            assertThat(Math.max(shape.byBlockLevels(), shape.bySizeLevels())).isGreaterThanOrEqualTo(3);
            // Allocate single blocks into the holes (by size: shrinks both trees), then free everything.
            v.j.checkpoint();
            for (int i = 0; i < 3000; i++) take(v, model, v.alloc(0, -1, 1, 1));
            check(v, model);
            String before = v.dump();
            v.reopen();
            assertThat(v.dump()).isEqualTo(before);
            h = v.begin();
            n = 0;
            for (int b = model.nextSetBit(0); b >= 0; b = model.nextSetBit(b + 1)) {
                v.alloc.freeData(h, b, 1);
                model.clear(b);
                if (++n % 8 == 0) { h.commit(); h = v.begin(); }
            }
            h.commit();
            v.j.checkpoint();
            check(v, model);
            shape = v.verify().getFirst();
            // Only the AGFL blocks and the remaining tree nodes (wherever they were allocated) split the free space.
            assertThat(shape.freeExtents()).isLessThanOrEqualTo(1 + shape.agflCount() + shape.byBlockNodes() + shape.bySizeNodes());
            assertThat(shape.byBlockLevels()).isEqualTo(1);
            assertThat(v.alloc.freeBlocks() + shape.agflCount() + shape.byBlockNodes() + shape.bySizeNodes() - 2)
                    .isEqualTo(initialFree);
        }
    }

    @Test
    void freedDataIsNotReusedBeforeCommit() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            long[] a = v.alloc(0, -1, 10, 10);
            v.j.force();
            v.free(a[0], 10);
            assertThat(v.alloc.busy().blocks()).isEqualTo(10);
            long[] b = v.alloc(0, a[0], 10, 10);
            assertThat(b[0] + 10 <= a[0] || b[0] >= a[0] + 10).as("busy range reused: %d", b[0]).isTrue();
            v.j.force();
            assertThat(v.alloc.busy().blocks()).isZero();
            long[] c = v.alloc(0, a[0], 10, 10);
            assertThat(c[0]).isEqualTo(a[0]);
        }
    }

    @Test
    void freedMetadataIsNotReusedBeforeCheckpoint() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            long blk;
            try (var h = v.begin()) {
                MetaBlock m = h.allocate(MetaType.INODE_BTREE, 1);
                h.write(m);
                blk = m.blkno();
                h.commit();
            }
            assertThat(v.alloc.agOf(blk)).isEqualTo(1);
            v.j.force();
            try (var h = v.begin()) {
                h.free(blk);
                h.commit();
            }
            v.j.force();
            assertThat(v.alloc.busy().overlaps(blk, 1)).isTrue();
            long[] b = v.alloc(1, blk, 1, 1);
            assertThat(b[0]).isNotEqualTo(blk);
            v.j.checkpoint();
            assertThat(v.alloc.busy().blocks()).isZero();
            assertThat(v.alloc(1, blk, 1, 1)[0]).isEqualTo(blk);
        }
    }

    @Test
    void busyExceptionWhenOnlyBusySpaceIsLeftThenCheckpointFrees() throws Exception {
        try (Vol v = new Vol(4096, 1, 4L << 20, 256)) {
            List<long[]> held = new ArrayList<>();
            try {
                while (true) held.add(v.alloc(0, -1, 1, 4096));
            } catch (NoSpaceException e) {
                assertThat(e).isNotInstanceOf(BusyException.class);
            }
            long[] big = held.getFirst();
            assertThat(big[1]).isGreaterThan(100);
            v.free(big[0], big[1]);
            try (var h = v.begin()) {
                assertThatThrownBy(() -> v.alloc.allocData(h, 0, -1, 50, 50))
                        .isInstanceOf(BusyException.class)
                        .hasMessageContaining("no free extent of 50 blocks that is not busy")
                        .hasMessageContaining(big[1] + " of them busy");
            }
            v.j.checkpoint();
            long[] r = v.alloc(0, -1, 50, 50);
            assertThat(r[0]).isBetween(big[0], big[0] + big[1] - 50);
        }
    }

    @Test
    void fillingTheVolumeEndsWithNoSpaceAndFreeingMakesRoom() throws Exception {
        try (Vol v = new Vol(1024, 2, 4L << 20, 0)) {
            BitSet model = new BitSet();
            List<long[]> held = new ArrayList<>();
            NoSpaceException enospc = null;
            while (enospc == null) {
                try {
                    long[] r = v.alloc(held.size() % 2, -1, 3, 3);
                    take(v, model, r);
                    held.add(r);
                } catch (NoSpaceException e) {
                    enospc = e;
                }
            }
            check(v, model);
            assertThat(enospc).isNotInstanceOf(BusyException.class)
                    .hasMessageContaining("no free extent of 3 blocks: " + v.alloc.freeBlocks() + " blocks free on the volume");
            assertThat(v.alloc.freeBlocks()).isLessThan(3 * 40);
            v.free(held.get(5)[0], 3);
            model.clear((int) held.get(5)[0], (int) held.get(5)[0] + 3);
            v.j.force();
            take(v, model, v.alloc(0, -1, 3, 3));
            check(v, model);
        }
    }

    @Test
    void reserveAndUnreserveAccounting() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            long free = v.alloc.freeBlocks();
            assertThat(v.alloc.available()).isEqualTo(free);
            v.alloc.reserve(free - 10);
            assertThat(v.alloc.reserved()).isEqualTo(free - 10);
            assertThat(v.alloc.available()).isEqualTo(10);
            assertThatThrownBy(() -> v.alloc.reserve(11)).isInstanceOf(NoSpaceException.class)
                    .hasMessage("cannot reserve 11 blocks: " + free + " blocks free, " + (free - 10) + " already reserved");
            assertThatThrownBy(() -> v.alloc.unreserve(free)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("blocks to unreserve (" + free + ") must be in [0, " + (free - 10) + "]");
            assertThatThrownBy(() -> v.alloc.reserve(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(-1)");
            v.alloc.unreserve(free - 10);
            // Allocation lowers the free count; abort restores it.
            long[] r = v.alloc(0, -1, 100, 100);
            long after = v.alloc.freeBlocks();
            assertThat(after).isLessThanOrEqualTo(free - 100);
            v.free(r[0], r[1]);
            // Concurrent reserve/unreserve from threads.
            AtomicLong failures = new AtomicLong();
            Thread[] ts = new Thread[8];
            for (int i = 0; i < ts.length; i++) {
                ts[i] = new Thread(() -> {
                    for (int k = 0; k < 20_000; k++) {
                        try {
                            v.alloc.reserve(7);
                            v.alloc.unreserve(7);
                        } catch (NoSpaceException e) {
                            failures.incrementAndGet();
                        }
                    }
                });
                ts[i].start();
            }
            for (Thread t : ts) t.join();
            assertThat(failures.get()).isZero();
            assertThat(v.alloc.reserved()).isZero();
        }
    }

    @Test
    void abortedHandleLeavesTreesAndCountersAsBefore() throws Exception {
        long seed = seed("abort");
        Random rnd = new Random(seed);
        try (Vol v = new Vol(1024, 2, 4L << 20, 0)) {
            List<long[]> held = new ArrayList<>();
            for (int i = 0; i < 200; i++) held.add(v.alloc(rnd.nextInt(2), -1, 1, 1 + rnd.nextInt(8)));
            for (int i = 0; i < 100; i++) {
                long[] e = held.remove(rnd.nextInt(held.size()));
                v.free(e[0], e[1]);
            }
            v.j.checkpoint();
            String before = v.dump();
            long free = v.alloc.freeBlocks();
            try (var h = v.begin()) {
                for (int i = 0; i < 10; i++) v.alloc.allocData(h, rnd.nextInt(2), -1, 1, 1 + rnd.nextInt(30));
                for (int i = 0; i < 5; i++) { long[] e = held.remove(0); v.alloc.freeData(h, e[0], e[1]); }
                assertThat(v.alloc.freeBlocks()).isNotEqualTo(free);
                assertThat(v.alloc.busy().size()).isPositive();
                // no commit: closing aborts
            }
            assertThat(v.alloc.freeBlocks()).isEqualTo(free);
            assertThat(v.alloc.busy().size()).isZero();
            assertThat(v.dump()).isEqualTo(before);
            v.verify();
        }
    }

    @Test
    void crashAfterForceRecoversTheCommittedState() throws Exception {
        try (Vol v = new Vol(1024, 2, 4L << 20, 0)) {
            List<long[]> held = new ArrayList<>();
            for (int i = 0; i < 300; i++) held.add(v.alloc(i % 2, -1, 1, 5));
            for (int i = 0; i < 300; i += 2) v.free(held.get(i)[0], held.get(i)[1]);
            v.j.force();
            String before = v.dump();
            v.alloc(0, -1, 7, 7);          // not forced: lost in the crash
            v.j.abandon();
            v.mount();
            assertThat(v.j.recovery().transactions()).isPositive();
            assertThat(v.dump()).isEqualTo(before);
            v.verify();
        }
    }

    @Test
    void badArgumentsAndDoubleFreesAreRefused() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            Superblock sb = v.sb;
            long[] r = v.alloc(1, -1, 8, 8);
            try (var h = v.begin()) {
                assertThatThrownBy(() -> v.alloc.allocData(h, 2, -1, 1, 1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("allocation group 2 is not in [0, 2)");
                assertThatThrownBy(() -> v.alloc.allocData(h, 0, -1, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("[0, 1] is invalid");
                assertThatThrownBy(() -> v.alloc.allocData(h, 0, -1, 5, 4)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("[5, 4] is invalid");
                assertThatThrownBy(() -> v.alloc.allocData(h, 0, sb.totalBlocks(), 1, 1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("goal (" + sb.totalBlocks() + ")");
                assertThatThrownBy(() -> v.alloc.allocData(h, 0, -1, sb.totalBlocks(), sb.totalBlocks()))
                        .isInstanceOf(NoSpaceException.class).hasMessageContaining("no free extent of " + sb.totalBlocks() + " blocks");
                assertThatThrownBy(() -> v.alloc.freeData(h, r[0], 0)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("(0)");
                assertThatThrownBy(() -> v.alloc.freeData(h, sb.totalBlocks() - 1, 2)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("outside the volume");
                long boundary = sb.agStart(1);
                assertThatThrownBy(() -> v.alloc.freeData(h, boundary - 1, 2)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("range [" + (boundary - 1) + ", +2) to free crosses the boundary of allocation group 0 at block " + boundary);
                assertThatThrownBy(() -> v.alloc.freeData(h, boundary + 1, 1)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("covers fixed blocks of allocation group 1");
                assertThatThrownBy(() -> v.alloc.freeData(h, sb.logStart() + 3, 1)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("overlaps the journal");
                // Already free: the block after r is free space.
                assertThatThrownBy(() -> v.alloc.freeData(h, r[0] + 4, 8)).isInstanceOf(CorruptMetadataException.class)
                        .hasMessageContaining("free of [" + (r[0] + 4) + ", +8) overlaps free extent")
                        .hasMessageContaining("(double free)")
                        .hasMessageContaining("block " + AgHeader.blockOf(sb, 1));
                AgHeader a = h.agHeader(1);
                long agflBlock = a.agfl[0];
                assertThatThrownBy(() -> v.alloc.freeData(h, agflBlock, 1)).isInstanceOf(CorruptMetadataException.class)
                        .hasMessageContaining("which is on the AGFL (double free)");
                assertThatThrownBy(() -> v.alloc.allocMeta(h, MetaType.EXTENT_BTREE, 5L << 32)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("names group 5");
            }
            v.free(r[0], r[1]);
            assertThatThrownBy(() -> new Allocator(v.sb).allocData(null, 0, -1, 1, 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("init(tx) was not called");
            v.verify();
        }
    }

    @Test
    void goalIsHonouredWhenFree() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            long goal = v.sb.agStart(1) + 500;
            long[] r = v.alloc(0, goal, 4, 16);
            assertThat(r).containsExactly(goal, 16);
            long[] next = v.alloc(0, goal, 4, 16);          // goal taken: the next free blocks after it
            assertThat(next).containsExactly(goal + 16, 16);
            long[] small = v.alloc(1, -1, 1, 1);          // no goal: best fit by size in the hinted group
            assertThat(v.alloc.agOf(small[0])).isEqualTo(1);
            v.verify();
        }
    }

    @Test
    void metadataTypesComeFromTheirOwnersGroup() throws Exception {
        try (Vol v = new Vol(4096, 4, 32L << 20, 0)) {
            try (var h = v.begin()) {
                MetaBlock ext = h.allocate(MetaType.EXTENT_BTREE, 3L << 32 | 17);
                MetaBlock ino = h.allocate(MetaType.INODE_BTREE, 2);
                h.write(ext);
                h.write(ino);
                assertThat(v.alloc.agOf(ext.blkno())).isEqualTo(3);
                assertThat(v.alloc.agOf(ino.blkno())).isEqualTo(2);
                h.commit();
            }
            v.verify();
        }
    }

    /**
     * The alignment hint: starts congruent to the phase, carved from inside a free extent (the
     * trees stay consistent: verify), the goal used only when congruent, and a fallback to an
     * unaligned extent when nothing aligned fits; bad hints are refused naming the value.
     */
    @Test
    void alignedAllocationsStartCongruentAndFallBackWhenNothingAlignedFits() throws Exception {
        try (Vol v = new Vol(4096, 2, 16L << 20, 0)) {
            BitSet model = new BitSet();
            take(v, model, v.alloc(0, -1, 3, 3));                            // misalign the free space
            for (long[] ap : new long[][] {{16, 0}, {16, 5}, {64, 0}, {8, 7}}) {
                long[] r;
                try (var h = v.begin()) {
                    r = v.alloc.allocDataAligned(h, 0, -1, 16, 16, ap[0], ap[1]);
                    h.commit();
                }
                take(v, model, r);
                assertThat(r[0] % ap[0]).as("start %d aligned to %d phase %d", r[0], ap[0], ap[1]).isEqualTo(ap[1]);
                assertThat(r[1]).isEqualTo(16);
            }
            long[] g;
            try (var h = v.begin()) {                                          // a congruent goal is honoured
                g = v.alloc.allocDataAligned(h, 0, 3072, 4, 4, 16, 0);
                h.commit();
            }
            take(v, model, g);
            assertThat(g[0]).isEqualTo(3072);
            v.verify();
            // nothing aligned of the length: every free extent shorter than length + alignment slack
            try (Vol w = new Vol(4096, 1, 4L << 20, 0)) {
                List<long[]> held = new ArrayList<>();
                while (true) {
                    try { held.add(w.alloc(0, -1, 1, 1)); } catch (NoSpaceException e) { break; }
                }
                BitSet used = new BitSet();
                for (long[] r : held) used.set((int) r[0], (int) (r[0] + r[1]));
                long at = -1;
                for (int b = 4 * 16 + 1; b + 4 < 1024 && at < 0; b += 4) if (used.get(b, b + 4).cardinality() == 4) at = b;
                assertThat(at).isPositive();
                w.free(at, 4);                                                   // free [4m+1, +4): none of it can start an aligned 4

                w.j.force();
                long[] r;
                try (var h = w.begin()) {
                    r = w.alloc.allocDataAligned(h, 0, -1, 4, 4, 4, 0);
                    h.commit();
                }
                assertThat(r[1]).isEqualTo(4);
                assertThat(r[0] % 4).as("fallback: unaligned").isNotZero();
                w.verify();
            }
            try (var h = v.begin()) {
                assertThatThrownBy(() -> v.alloc.allocDataAligned(h, 0, -1, 1, 1, 12, 0)).hasMessageContaining("(12 blocks)");
                assertThatThrownBy(() -> v.alloc.allocDataAligned(h, 0, -1, 1, 1, 16, 16)).hasMessageContaining("(16)");
            }
        }
    }
}
