package org.foliofs.fs;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RefcountsTest {

    /** Runs of refcount >= 2 in model[0..n) as {absStart, len, rc}, merged by equal refcount. */
    static List<long[]> runs(long[] model, long base) {
        List<long[]> out = new ArrayList<>();
        for (int i = 0; i < model.length; ) {
            int j = i;
            while (j < model.length && model[j] == model[i]) j++;
            if (model[i] >= 2) out.add(new long[] {base + i, j - i, model[i]});
            i = j;
        }
        return out;
    }

    static List<String> str(List<long[]> l) {
        List<String> s = new ArrayList<>();
        for (long[] r : l) s.add(java.util.Arrays.toString(r));
        return s;
    }

    @ParameterizedTest(name = "bs {0}")
    @ValueSource(ints = {1024, 4096})
    void randomIncrementsAndDecrementsAgainstModel(int bs) throws Exception {
        long seed = AllocatorTest.seed("refcounts bs " + bs);
        Random rnd = new Random(seed);
        try (var v = new AllocatorTest.Vol(bs, 2, bs == 1024 ? 16L << 20 : 64L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            int agno = 1, n = 6000;
            long base;
            try (var h = v.begin()) {             // the blocks whose counts we model belong to "files": allocate them
                long[] r = v.alloc.allocData(h, agno, v.sb.agStart(agno) + 200, n, n);
                base = r[0];
                h.commit();
            }
            long[] model = new long[n];
            java.util.Arrays.fill(model, 1);
            int maxLevels = 0;
            for (int step = 0; step < 3000; step++) {
                // A range of live blocks (refcount >= 1), short or long.
                int s = rnd.nextInt(n), len = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 400 : 12);
                int e = Math.min(n, s + len);
                boolean live = true;
                for (int i = s; i < e; i++) live &= model[i] >= 1;
                if (!live) {
                    if (rnd.nextBoolean()) for (int i = s; i < e; i++) if (model[i] == 0) model[i] = 1;   // reallocated
                    continue;
                }
                boolean inc = rnd.nextInt(100) < 55;
                try (var h = v.begin()) {
                    if (inc) {
                        rc.increment(h, base + s, e - s);
                        for (int i = s; i < e; i++) model[i]++;
                    } else {
                        List<long[]> freed = rc.decrement(h, base + s, e - s);
                        List<long[]> expect = new ArrayList<>();
                        for (int i = s; i < e; ) {
                            if (model[i] != 1) { model[i]--; i++; continue; }
                            int j = i;
                            while (j < e && model[j] == 1) model[j++] = 0;
                            expect.add(new long[] {base + i, j - i});
                            i = j;
                        }
                        assertThat(str(freed)).as("freed ranges at step %d", step).isEqualTo(str(expect));
                    }
                    h.commit();
                }
                if (step % 50 == 0 || step == 2999) {
                    try (var h = v.begin()) {
                        assertThat(str(rc.shared(h, base, n))).as("shared at step %d", step).isEqualTo(str(runs(model, base)));
                        maxLevels = Math.max(maxLevels, rc.verify(h, agno).levels());
                    }
                    v.verify();
                }
                if (rnd.nextInt(20) == 0) v.j.force();
            }
            // A sub-range query clips records.
            try (var h = v.begin()) {
                long[] sub = new long[100];
                System.arraycopy(model, 1000, sub, 0, 100);
                assertThat(str(rc.shared(h, base + 1000, 100))).isEqualTo(str(runs(sub, base + 1000)));
            }
            v.reopen();
            try (var h = v.begin()) {
                assertThat(str(rc.shared(h, base, n))).isEqualTo(str(runs(model, base)));
                rc.verify(h, agno);
            }
            System.out.println("  refcount tree levels up to " + maxLevels);
            if (bs == 1024) assertThat(maxLevels).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void incrementMergesAndDecrementSplitsRecords() throws Exception {
        try (var v = new AllocatorTest.Vol(4096, 2, 16L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            long b = v.sb.agStart(1) + 100;
            try (var h = v.begin()) {
                rc.increment(h, b, 10);                    // [b, +10) = 2
                rc.increment(h, b + 10, 5);                // touches: merged into [b, +15) = 2
                assertThat(str(rc.shared(h, b - 5, 30))).containsExactly("[" + b + ", 15, 2]");
                rc.increment(h, b + 5, 5);                 // [b,+5)=2 [b+5,+5)=3 [b+10,+5)=2
                assertThat(str(rc.shared(h, b, 15))).containsExactly("[" + b + ", 5, 2]", "[" + (b + 5) + ", 5, 3]",
                        "[" + (b + 10) + ", 5, 2]");
                assertThat(rc.decrement(h, b + 5, 5)).isEmpty();     // back to one record
                assertThat(str(rc.shared(h, b, 15))).containsExactly("[" + b + ", 15, 2]");
                // Decrement past the record's edges: the record's blocks go to 1, the others to 0 (returned).
                List<long[]> freed = rc.decrement(h, b - 3, 20);
                assertThat(str(freed)).containsExactly("[" + (b - 3) + ", 3]", "[" + (b + 15) + ", 2]");
                assertThat(rc.shared(h, b, 15)).isEmpty();
                rc.verify(h, 1);
                h.commit();
            }
        }
    }

    @Test
    void cowStagingRoundTripsAndSurvivesReopen() throws Exception {
        try (var v = new AllocatorTest.Vol(1024, 2, 8L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            long b = v.sb.agStart(1) + 50;
            try (var h = v.begin()) {
                rc.addCowStaging(h, b, 10);
                rc.addCowStaging(h, b + 10, 5);            // touching: merged
                rc.addCowStaging(h, b + 40, 8);
                rc.increment(h, b + 100, 4);              // shared records are separate from staging ones
                assertThat(str(rc.cowStaging(h, 1))).containsExactly("[" + b + ", 15]", "[" + (b + 40) + ", 8]");
                assertThatThrownBy(() -> rc.addCowStaging(h, b + 44, 10)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("CoW staging range [" + (b + 44) + ", +10) overlaps staging extent [" + (b + 40) + ", +8)");
                rc.removeCowStaging(h, b + 3, 4);          // splits
                assertThat(str(rc.cowStaging(h, 1))).containsExactly("[" + b + ", 3]", "[" + (b + 7) + ", 8]",
                        "[" + (b + 40) + ", 8]");
                assertThatThrownBy(() -> rc.removeCowStaging(h, b + 10, 10)).isInstanceOf(IllegalStateException.class)
                        .hasMessage("CoW staging range [" + (b + 10) + ", +10) is not all staged: block " + (b + 15)
                                + " has no staging record");
                assertThat(rc.cowStaging(h, 0)).isEmpty();
                assertThat(str(rc.shared(h, b, 200))).containsExactly("[" + (b + 100) + ", 4, 2]");
                h.commit();
            }
            v.reopen();
            try (var h = v.begin()) {
                assertThat(str(rc.cowStaging(h, 1))).containsExactly("[" + b + ", 3]", "[" + (b + 7) + ", 8]",
                        "[" + (b + 40) + ", 8]");
                rc.removeCowStaging(h, b, 3);
                rc.removeCowStaging(h, b + 7, 8);
                rc.removeCowStaging(h, b + 40, 8);
                assertThat(rc.cowStaging(h, 1)).isEmpty();
                rc.verify(h, 1);
                h.commit();
            }
        }
    }

    @Test
    void manyStagingRecordsGrowTheTree() throws Exception {
        try (var v = new AllocatorTest.Vol(1024, 1, 8L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            long base = v.sb.logStart() + v.sb.logBlocks() + 10;
            List<String> expect = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                try (var h = v.begin()) {
                    rc.addCowStaging(h, base + 3L * i, 2);
                    h.commit();
                }
                expect.add("[" + (base + 3L * i) + ", 2]");
            }
            try (var h = v.begin()) {
                assertThat(str(rc.cowStaging(h, 0))).isEqualTo(expect);
                assertThat(rc.verify(h, 0).levels()).isGreaterThanOrEqualTo(2);
            }
            v.verify();
            for (int i = 0; i < 400; i++) {
                try (var h = v.begin()) {
                    rc.removeCowStaging(h, base + 3L * i, 2);
                    h.commit();
                }
            }
            try (var h = v.begin()) {
                assertThat(rc.cowStaging(h, 0)).isEmpty();
                assertThat(rc.verify(h, 0).levels()).isEqualTo(1);
            }
            v.verify();
        }
    }

    @Test
    void badRangesAreRefused() throws Exception {
        try (var v = new AllocatorTest.Vol(4096, 2, 16L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            long boundary = v.sb.agStart(1);
            try (var h = v.begin()) {
                assertThatThrownBy(() -> rc.increment(h, boundary - 2, 4)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("range [" + (boundary - 2) + ", +4) crosses the boundary of allocation group 0 at block " + boundary);
                assertThatThrownBy(() -> rc.decrement(h, boundary + 1, 1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("covers fixed blocks of allocation group 1");
                assertThatThrownBy(() -> rc.shared(h, 100, 0)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("length (0) must be at least 1");
                assertThatThrownBy(() -> rc.increment(h, v.sb.totalBlocks(), 1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("outside the volume");
                assertThatThrownBy(() -> rc.cowStaging(h, 2)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("allocation group 2 is not in [0, 2)");
            }
        }
    }

    @Test
    void corruptRecordIsReportedWithItsBlock() throws Exception {
        try (var v = new AllocatorTest.Vol(4096, 2, 16L << 20, 0)) {
            Refcounts rc = new Refcounts(v.sb);
            long b = v.sb.agStart(1) + 100;
            long root;
            try (var h = v.begin()) {
                rc.increment(h, b, 10);
                root = h.agHeader(1).refRoot;
                // Rewrite the record's refcount as 1, which a shared record can never hold.
                MetaBlock m = h.read(root, MetaType.REFCOUNT_BTREE, 1);
                BTree<RefcountOps.Rec> t = BTree.open(h, RefcountOps.INSTANCE, 1, root);
                long off = t.seekGE(0).recordOffset();
                RefcountOps.INSTANCE.writeRecord(m.segment(), off, new RefcountOps.Rec(10, 1));
                h.write(m);
                assertThatThrownBy(() -> rc.shared(h, b, 10)).isInstanceOf(CorruptMetadataException.class)
                        .hasMessageContaining("block " + root + " (refcount btree node)")
                        .hasMessageContaining("refcount must be at least 2");
            }
        }
    }
}
