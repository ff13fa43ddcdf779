package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ExtentMapTest {
    static final long NOW = 1_700_000_000_000_000_000L;
    static final long MAXF = ExtentMap.MAX_FILE_BLOCKS;

    static MemTxn volume(int blockSize) throws IOException {
        return MemTxn.format(256L << 20, Mkfs.Options.defaults().withBlockSize(blockSize).withAgCount(2));
    }

    static Extent x(long fb, long dev, long len) { return new Extent(fb, dev, len, false); }
    static Extent u(long fb, long dev, long len) { return new Extent(fb, dev, len, true); }

    static Inode file(MemTxn tx) throws IOException { return Inodes.allocate(tx, 1, Inode.S_IFREG | 0644, NOW); }

    static byte[] bytes(Inode i) { return i.encoded(); }

    // ---- unit tests ------------------------------------------------------------------------------

    @Test
    void insertMergesWithNeighboursThatContinueIt() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(10, 1000, 5));
        ExtentMap.insert(tx, f, x(20, 1010, 5));
        ExtentMap.insert(tx, f, x(15, 1005, 5)); // joins both
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(10, 1000, 15));
        ExtentMap.insert(tx, f, u(25, 1015, 3)); // contiguous but unwritten: no merge
        ExtentMap.insert(tx, f, x(5, 900, 5));    // file-contiguous, not device-contiguous
        ExtentMap.insert(tx, f, u(28, 1018, 2)); // joins the unwritten one
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(5, 900, 5), x(10, 1000, 15), u(25, 1015, 5));
        assertThat(f.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(f.nrecs).isEqualTo(3);
        assertThat(ExtentMap.blockCount(tx, f)).isEqualTo(25);
        assertThat(ExtentMap.find(tx, f, 9)).isEqualTo(x(5, 900, 5));
        assertThat(ExtentMap.find(tx, f, 10)).isEqualTo(x(10, 1000, 15));
        assertThat(ExtentMap.find(tx, f, 4)).isNull();
        assertThat(ExtentMap.find(tx, f, 30)).isNull();
        assertThat(ExtentMap.next(tx, f, 11)).isEqualTo(u(25, 1015, 5));
        assertThat(ExtentMap.next(tx, f, 30)).isNull();
        assertThat(ExtentMap.next(tx, f, 0)).isEqualTo(x(5, 900, 5));
        assertThat(ExtentMap.range(tx, f, 9, 17)).containsExactly(x(5, 900, 5), x(10, 1000, 15), u(25, 1015, 5));
        assertThat(ExtentMap.range(tx, f, 9, 16)).containsExactly(x(5, 900, 5), x(10, 1000, 15));
        assertThat(ExtentMap.range(tx, f, 0, 5)).isEmpty();
        assertThat(ExtentMap.range(tx, f, 0, 0)).isEmpty();
        ExtentMap.verify(tx, f);
    }

    @Test
    void insertOverAMappedRangeIsRefusedNamingTheOverlap() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(10, 1000, 5));
        byte[] before = bytes(f);
        assertThatThrownBy(() -> ExtentMap.insert(tx, f, x(14, 2000, 3))).isInstanceOf(IllegalStateException.class)
                .hasMessage("cannot map [file 14+3 -> dev 2000] in inode " + f.ino + ": it overlaps mapped extent [file 10+5 -> dev 1000]");
        assertThatThrownBy(() -> ExtentMap.insert(tx, f, u(5, 2000, 6))).isInstanceOf(IllegalStateException.class)
                .hasMessageEndingWith("it overlaps mapped extent [file 10+5 -> dev 1000]");
        assertThatThrownBy(() -> ExtentMap.insert(tx, f, x(10, 1000, 5))).isInstanceOf(IllegalStateException.class);
        assertThat(bytes(f)).isEqualTo(before);
    }

    @Test
    void mergesStopAtTheMaximumExtentLength() throws IOException {
        // extents this long need a volume of more than 2^32 blocks: the same volume, claiming to be larger
        MemTxn small = volume(4096);
        Superblock sb = small.superblock();
        MemTxn tx = new MemTxn(small.device(), new Superblock(sb.major(), sb.minor(), sb.uuid(), sb.blockSize(), sb.agCount(),
                sb.agBlocks(), 1L << 40, sb.rootIno(), sb.logStart(), sb.logBlocks(), 0, 0, 0, ""));
        Inode f = file(tx);
        long max = Extent.MAX_LENGTH;
        ExtentMap.insert(tx, f, x(0, 0, max - 1));
        ExtentMap.insert(tx, f, x(max - 1, max - 1, 1));
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 0, max));
        ExtentMap.insert(tx, f, x(max, max, 1));
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 0, max), x(max, max, 1));
        ExtentMap.verify(tx, f);
    }

    @Test
    void extentAndRangeLimitsAreNamed() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        assertThatThrownBy(() -> x(MAXF - 1, 0, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("extent at fileBlock 1099511627775 of length 2 ends beyond the maximum file size of 1099511627776 blocks (MAX_FILE_BLOCKS)");
        assertThatThrownBy(() -> x(0, 0, 0)).isInstanceOf(IllegalArgumentException.class).hasMessage("length (0) must be in [1, 2147483647]");
        assertThatThrownBy(() -> x(0, 0, 1L << 31)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("length (2147483648) must be in [1, 2147483647]");
        assertThatThrownBy(() -> x(-1, 0, 1)).isInstanceOf(IllegalArgumentException.class).hasMessage("fileBlock (-1) must not be negative");
        assertThatThrownBy(() -> x(0, -5, 1)).isInstanceOf(IllegalArgumentException.class).hasMessage("startBlock (-5) must not be negative");
        assertThatThrownBy(() -> ExtentMap.find(tx, f, MAXF)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fileBlock (1099511627776) must be in [0, MAX_FILE_BLOCKS (1099511627776))");
        assertThatThrownBy(() -> ExtentMap.range(tx, f, MAXF - 1, 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("range [1099511627775, +2) must lie in [0, MAX_FILE_BLOCKS (1099511627776))");
        assertThatThrownBy(() -> ExtentMap.remove(tx, f, 0, 1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxExtents (0) must be at least 1");
        // the last block is usable, and its byte offset fits a long at the largest block size
        ExtentMap.insert(tx, f, x(MAXF - 1, 7, 1));
        assertThat(ExtentMap.find(tx, f, MAXF - 1)).isEqualTo(x(MAXF - 1, 7, 1));
        assertThat(Math.multiplyExact(MAXF, (long) MetaBlockLayout.MAX_BLOCK_SIZE)).isPositive();
        assertThatThrownBy(() -> ExtentMap.shift(tx, f, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shifting [file 1099511627775+1 -> dev 7] by 1 moves it beyond the maximum file size of 1099511627776 blocks (MAX_FILE_BLOCKS)");
    }

    @Test
    void removeSplitsAtTheEdgesAndReturnsThePieces() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(0, 100, 10));
        ExtentMap.insert(tx, f, u(20, 300, 10));
        assertThat(ExtentMap.remove(tx, f, 3, 4)).containsExactly(x(3, 103, 4));
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 3), x(7, 107, 3), u(20, 300, 10));
        assertThat(ExtentMap.remove(tx, f, 8, 15)).containsExactly(x(8, 108, 2), u(20, 300, 3));
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 3), x(7, 107, 1), u(23, 303, 7));
        assertThat(ExtentMap.remove(tx, f, 40, 100)).isEmpty();
        // bounded: pieces come from the end backwards
        assertThat(ExtentMap.remove(tx, f, 0, 100, 2)).containsExactly(x(7, 107, 1), u(23, 303, 7));
        assertThat(ExtentMap.remove(tx, f, 0, 100, 2)).containsExactly(x(0, 100, 3));
        assertThat(ExtentMap.all(tx, f)).isEmpty();
        assertThat(f.nrecs).isZero();
        ExtentMap.verify(tx, f);
    }

    @Test
    void markWrittenSplitsAndMerges() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(0, 100, 5));
        ExtentMap.insert(tx, f, u(5, 105, 10));
        ExtentMap.insert(tx, f, x(15, 115, 5));
        assertThat(ExtentMap.all(tx, f)).hasSize(3);
        ExtentMap.markWritten(tx, f, 8, 3);
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 5), u(5, 105, 3), x(8, 108, 3), u(11, 111, 4), x(15, 115, 5));
        assertThat(f.format).isEqualTo(Inode.FORMAT_BTREE);
        ExtentMap.markWritten(tx, f, 0, 100);
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 20));
        assertThat(f.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(f.blocks).isZero();
        ExtentMap.markWritten(tx, f, 50, 10); // a hole: nothing
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 20));
    }

    @Test
    void shiftCollapsesAndInsertsRanges() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(0, 100, 10));
        ExtentMap.insert(tx, f, x(20, 110, 10)); // device-contiguous with the first
        ExtentMap.insert(tx, f, u(40, 500, 5));
        assertThatThrownBy(() -> ExtentMap.shift(tx, f, 20, -11)).isInstanceOf(IllegalStateException.class)
                .hasMessage("cannot shift extents at 20 of inode " + f.ino + " by -11: [9, 20) is not a hole, [file 0+10 -> dev 100] is mapped there");
        assertThatThrownBy(() -> ExtentMap.shift(tx, f, 5, -6)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shifting extents at 5 by -6 moves them before file block 0");
        ExtentMap.shift(tx, f, 20, -10); // collapse: merges
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 20), u(30, 500, 5));
        ExtentMap.shift(tx, f, 5, 7); // insert range: splits at 5
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 5), x(12, 105, 15), u(37, 500, 5));
        ExtentMap.shift(tx, f, 12, -7); // and back
        assertThat(ExtentMap.all(tx, f)).containsExactly(x(0, 100, 20), u(30, 500, 5));
        assertThat(ExtentMap.shift(tx, f, 0, MAXF, 0, 1)).isEqualTo(MAXF);
        assertThatThrownBy(() -> ExtentMap.shift(tx, f, 0, 10, 25, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessage("cannot shift extents in [0, 10) of inode " + f.ino + " by 25: [file 0+20 -> dev 100] would overlap [file 30+5 -> dev 500 unwritten]");
        assertThatThrownBy(() -> ExtentMap.shift(tx, f, 10, 5, 1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("end (5) must be in [from (10), MAX_FILE_BLOCKS (1099511627776)]");
    }

    @Test
    void stepwiseShiftLeavesAConsistentMapBetweenSteps() throws IOException {
        MemTxn tx = volume(1024);
        Inode f = file(tx);
        for (int i = 0; i < 50; i++) ExtentMap.insert(tx, f, x(10 + 3L * i, 1000 + 10L * i, 2));
        List<Extent> before = ExtentMap.all(tx, f);
        long end = MAXF, steps = 0;
        while (end > 10) {
            end = ExtentMap.shift(tx, f, 10, end, 1000, 7);
            ExtentMap.verify(tx, f);
            steps++;
        }
        assertThat(steps).isEqualTo(8);
        assertThat(ExtentMap.all(tx, f)).containsExactlyElementsOf(before.stream().map(e -> e.at(e.fileBlock() + 1000)).toList());
        long from = 1010;
        steps = 0;
        while (from < MAXF) {
            from = ExtentMap.shift(tx, f, from, MAXF, -1000, 7);
            ExtentMap.verify(tx, f);
            steps++;
        }
        assertThat(steps).isEqualTo(8);
        assertThat(ExtentMap.all(tx, f)).containsExactlyElementsOf(before);
    }

    @Test
    void formatConvertsToATreeAtFiveAndBackAtTwo() throws IOException {
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        for (int i = 0; i < 4; i++) ExtentMap.insert(tx, f, x(i * 10L, i * 100L, 1));
        assertThat(f.format).isEqualTo(Inode.FORMAT_INLINE);
        ExtentMap.insert(tx, f, x(40, 400, 1));
        assertThat(f.format).isEqualTo(Inode.FORMAT_BTREE);
        assertThat(f.forkLevels).isEqualTo(1);
        assertThat(f.blocks).isEqualTo(1);
        assertThat(f.nrecs).isEqualTo(5);
        Inodes.put(tx, f);
        Inode g = Inodes.get(tx, f.ino);
        ExtentMap.verify(tx, g);
        assertThat(ExtentMap.all(tx, g)).hasSize(5);
        ExtentMap.remove(tx, g, 0, 15);
        assertThat(g.format).isEqualTo(Inode.FORMAT_BTREE); // 3 left: still a tree
        ExtentMap.remove(tx, g, 20, 1);
        assertThat(g.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(g.blocks).isZero();
        assertThat(g.forkRoot).isZero();
        assertThat(ExtentMap.all(tx, g)).containsExactly(x(30, 300, 1), x(40, 400, 1));
    }

    @Test
    void destroyFreesTheTreeNodes() throws IOException {
        MemTxn tx = volume(1024);
        List<Long> freed = new ArrayList<>();
        long[] bump = {tx.superblock().totalBlocks() - 1};
        tx.space(new MetaSpace() {
            @Override public long allocMeta(Txn t, MetaType type, long owner) { return bump[0]--; }
            @Override public void freeMeta(Txn t, long blkno, MetaType type) { freed.add(blkno); }
        });
        Inode f = file(tx);
        freed.clear();
        for (int i = 0; i < 200; i++) ExtentMap.insert(tx, f, x(2L * i, 5L * i, 1));
        long nodes = BTree.open(tx, ExtentOps.INSTANCE, f.ino, f.forkRoot).verify().nodes();
        assertThat(f.forkLevels).isEqualTo(2);
        assertThat(f.blocks).isEqualTo(nodes);
        ExtentMap.destroy(tx, f);
        assertThat(freed).hasSize((int) nodes);
        assertThat(f.blocks).isZero();
        assertThat(f.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(f.nrecs).isZero();
        assertThat(ExtentMap.all(tx, f)).isEmpty();
    }

    @Test
    void corruptInlineAndTreeRecordsNameTheBlock() throws IOException {
        MemTxn tx = volume(1024);
        Inode f = file(tx);
        ExtentMap.insert(tx, f, x(0, 100, 4));
        ExtentMap.insert(tx, f, x(10, 200, 4));
        Inodes.put(tx, f);
        long leaf = Inodes.tree(tx, 1).seekGE(Inode.localOf(f.ino)).leaf().blkno();
        Inode g = Inodes.get(tx, f.ino);
        g.inlineSegment().set(MetaBlockLayout.U32, 24 + 16, 0); // second extent's length = 0
        assertThatThrownBy(() -> ExtentMap.find(tx, g, 0)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + leaf + " (inode btree node): inode " + f.ino + ": inline extent 1 of inode " + f.ino
                        + " (file 10): length 0 is outside [1, 2147483647]");
        Inode h = Inodes.get(tx, f.ino);
        h.inlineSegment().set(MetaBlockLayout.U64, 24, 2); // second starts inside the first
        assertThatThrownBy(() -> ExtentMap.all(tx, h)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("inline extent 1 [file 2+4 -> dev 200] overlaps or precedes [file 0+4 -> dev 100]");
        Inode k = Inodes.get(tx, f.ino);
        k.inline[100] = 1;
        assertThatThrownBy(() -> ExtentMap.verify(tx, k)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("unused inline byte 100 is not zero");
        Inode m = Inodes.get(tx, f.ino);
        m.nrecs = 5;
        assertThatThrownBy(() -> ExtentMap.all(tx, m)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("5 inline extents, more than the 4 that fit");

        // a tree record pointing beyond the volume
        Inode t = Inodes.get(tx, f.ino);
        for (int i = 2; i < 60; i++) ExtentMap.insert(tx, t, x(10L * i, 100L * i, 1));
        assertThat(t.forkLevels).isEqualTo(2);
        BTree<ExtentOps.Rec>.Cursor c = BTree.open(tx, ExtentOps.INSTANCE, t.ino, t.forkRoot).seekGE(300);
        long blk = c.leaf().blkno();
        MemorySegment s = MemorySegment.ofArray(tx.raw(blk));
        s.set(MetaBlockLayout.U64, c.recordOffset(), 1L << 40);
        MetaBlockLayout.stampCrc(s);
        long total = tx.superblock().totalBlocks();
        assertThatThrownBy(() -> ExtentMap.find(tx, t, 300)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + blk + " (extent-map btree node): extent record of inode " + t.ino
                        + " (file 300): device blocks 1099511627776+1 lie beyond the volume (" + total + " blocks)")
                .satisfies(e -> assertThat(((CorruptMetadataException) e).blkno()).isEqualTo(blk));
        assertThatThrownBy(() -> ExtentMap.verify(tx, t)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + blk + " (extent-map btree node)");
        s.set(MetaBlockLayout.U64, c.recordOffset(), 3000);
        s.set(MetaBlockLayout.U32, c.recordOffset() + 12, 6);
        MetaBlockLayout.stampCrc(s);
        assertThatThrownBy(() -> ExtentMap.range(tx, t, 0, 1000)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("(file 300): unknown flags 0x6");
        s.set(MetaBlockLayout.U32, c.recordOffset() + 12, 0);
        MetaBlockLayout.stampCrc(s);
        ExtentMap.verify(tx, t);
        Inode wrong = t.copy();
        wrong.nrecs = 7;
        assertThatThrownBy(() -> ExtentMap.verify(tx, wrong)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + t.forkRoot + " (extent-map btree node): inode " + t.ino + " says 7 extents but its tree holds 60");
        Inode lv = t.copy();
        lv.forkLevels = 1;
        assertThatThrownBy(() -> ExtentMap.all(tx, lv)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("root is at level 1 but inode " + t.ino + " says the tree has 1 levels");
    }

    /**
     * The real journal: every call runs in its own handle whose reservation is the documented bound
     * (a handle changing more blocks than it reserved fails), while the map grows to a 2-level tree
     * and is truncated again; an aborted handle leaves no trace.
     */
    @Test
    void documentedReservationsHoldInJournalHandles() throws IOException {
        long seed = seed();
        Random rnd = new Random(seed);
        var dev = org.foliofs.device.SimDevice.builder().capacity(64L << 20).build();
        Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(1024).withAgCount(2).withLogBlocks(8192));
        long[] bump = {sb.totalBlocks() - 1};
        MetaSpace space = new MetaSpace() {
            @Override public long allocMeta(Txn t, MetaType type, long owner) { return bump[0]--; }
            @Override public void freeMeta(Txn t, long blkno, MetaType type) {}
        };
        try (Journal j = Journal.open(dev, sb, space, 1 << 16)) {
            long ino;
            try (var h = j.begin(Inodes.ALLOCATE_BLOCKS)) {
                ino = Inodes.allocate(h, 1, Inode.S_IFREG | 0644, NOW).ino;
                h.commit();
            }
            TreeMap<Long, Extent> model = new TreeMap<>();
            int maxLevels = 0;
            for (int i = 0; i < 900; i++) {
                long fb = 3L * i;
                try (var h = j.begin(reserve(j, ino, ExtentMap.INSERT_CHANGES))) {
                    Inode f = Inodes.get(h, ino);
                    Extent e = new Extent(fb, 10_000 + 7L * i, 2, rnd.nextBoolean());
                    ExtentMap.insert(h, f, e);
                    Inodes.put(h, f);
                    h.commit();
                    model.put(fb, e);
                    maxLevels = Math.max(maxLevels, f.forkLevels);
                }
                if (i % 50 == 0) {
                    long from = rnd.nextInt(3 * (i + 1)), count = 1 + rnd.nextInt(12);
                    int unwritten = 0;
                    try (var h = j.begin(1)) {
                        for (Extent e : ExtentMap.range(h, Inodes.get(h, ino), from, count)) if (e.unwritten()) unwritten++;
                    }
                    try (var h = j.begin(reserve(j, ino, 5 * unwritten))) {
                        Inode f = Inodes.get(h, ino);
                        ExtentMap.markWritten(h, f, from, count);
                        Inodes.put(h, f);
                        h.commit();
                    }
                }
            }
            assertThat(maxLevels).as("seed " + seed).isEqualTo(2);
            // an aborted handle: the insert and the inode update are undone
            try (var h = j.begin(reserve(j, ino, ExtentMap.INSERT_CHANGES))) {
                Inode f = Inodes.get(h, ino);
                ExtentMap.insert(h, f, x(5000, 1, 1));
                Inodes.put(h, f);
            }
            long end;
            try (var h = j.begin(reserve(j, ino, 4 * 5 + 2))) {
                Inode f = Inodes.get(h, ino);
                assertThat(ExtentMap.find(h, f, 5000)).isNull();
                assertThat(ExtentMap.blockCount(h, f)).isEqualTo(1800);
                end = ExtentMap.shift(h, f, 600, MAXF, 1000, 5); // insert range, 5 extents a step
                assertThat(end).isBetween(3L * 890, 3L * 899);
                assertThat(ExtentMap.find(h, f, 3L * 899 + 1000)).isNotNull();
                Inodes.put(h, f);
                h.commit();
            }
            while (end > 600) {
                try (var h = j.begin(reserve(j, ino, 4 * 5 + 2))) {
                    Inode f = Inodes.get(h, ino);
                    end = ExtentMap.shift(h, f, 600, end, 1000, 5);
                    Inodes.put(h, f);
                    h.commit();
                }
            }
            // truncate in bounded steps
            int rounds = 0;
            while (true) {
                try (var h = j.begin(reserve(j, ino, 16 + 1))) {
                    Inode f = Inodes.get(h, ino);
                    List<Extent> p = ExtentMap.remove(h, f, 0, MAXF, 16);
                    Inodes.put(h, f);
                    h.commit();
                    rounds++;
                    if (p.size() < 16) break;
                }
            }
            assertThat(rounds).isGreaterThan(50);
            try (var h = j.begin(1)) {
                assertThat(ExtentMap.find(h, Inodes.get(h, ino), 600 + 1000)).isNull();
            }
            try (var h = j.begin(Inodes.REMOVE_BLOCKS)) {
                Inode f = Inodes.get(h, ino);
                assertThat(f.format).isEqualTo(Inode.FORMAT_INLINE);
                assertThat(f.blocks).isZero();
                ExtentMap.destroy(h, f);
                Inodes.remove(h, ino);
                h.commit();
            }
            j.force();
        }
    }

    /** The documented reservation of a call with {@code changes} record changes, plus the inode's own leaf; commits first. */
    static int reserve(Journal j, long ino, int changes) throws IOException {
        j.force(); // blocks already in the running transaction do not count against a reservation: start empty
        int levels;
        try (var h = j.begin(1)) {
            levels = ExtentMap.maxBlocksChanged(Inodes.get(h, ino), changes);
        }
        return levels + Inodes.PUT_BLOCKS;
    }

    // ---- random model test -----------------------------------------------------------------------

    /** Model: file block -> device block << 1 | unwritten. */
    static final class Model {
        final TreeMap<Long, Long> m = new TreeMap<>();
    }

    static final class Run {
        final long seed;
        final Random rnd;
        final MemTxn tx;
        final long ino;
        final TreeMap<Long, Long> model = new TreeMap<>();
        final long range, limit, devLo, devHi;
        int step, toTree, toInline, maxLevels, lastFormat, bigRemoveOdds = 10;
        final int maxLen;
        String op = "";

        Run(long seed, long range, int maxLen) throws IOException {
            this.seed = seed;
            this.rnd = new Random(seed);
            this.tx = volume(1024);
            this.ino = file(tx).ino;
            this.range = range;
            this.limit = range * 3 / 2 + 16;
            this.maxLen = maxLen;
            this.devLo = 1000;
            this.devHi = tx.superblock().totalBlocks() / 2;
        }

        String where() { return "seed " + seed + " step " + step + " op " + op; }

        void step(int wInsert, int wRemove, int wMark, int wShift) throws IOException {
            step++;
            Inode inode = Inodes.get(tx, ino);
            int r = rnd.nextInt(wInsert + wRemove + wMark + wShift);
            if (r < wInsert) insert(inode);
            else if (r < wInsert + wRemove) remove(inode);
            else if (r < wInsert + wRemove + wMark) markWritten(inode);
            else shift(inode);
            Inodes.put(tx, inode);
            check();
        }

        void insert(Inode inode) throws IOException {
            long fb = rnd.nextLong(range);
            if (model.containsKey(fb)) {
                op = "insert over mapped " + fb;
                byte[] before = bytes(inode);
                assertThatThrownBy(() -> ExtentMap.insert(tx, inode, new Extent(fb, devLo, 1, false))).as(where())
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("overlaps mapped extent");
                assertThat(bytes(inode)).as(where()).isEqualTo(before);
                return;
            }
            Long nextMapped = model.ceilingKey(fb);
            long room = nextMapped == null ? maxLen : Math.min(maxLen, nextMapped - fb);
            long len = 1 + rnd.nextLong(room);
            Long left = model.get(fb - 1);
            long dev;
            boolean unw;
            if (left != null && rnd.nextInt(5) == 0) {
                dev = (left >> 1) + 1;
                unw = rnd.nextInt(4) == 0 ? !((left & 1) != 0) : (left & 1) != 0;
            } else {
                dev = devLo + rnd.nextLong(devHi - devLo);
                unw = rnd.nextBoolean();
            }
            Extent e = new Extent(fb, dev, len, unw);
            op = "insert " + e;
            ExtentMap.insert(tx, inode, e);
            for (long k = 0; k < len; k++) model.put(fb + k, (dev + k) << 1 | (unw ? 1 : 0));
        }

        void remove(Inode inode) throws IOException {
            long from = rnd.nextLong(limit);
            long count = rnd.nextInt(bigRemoveOdds) == 0 ? rnd.nextLong(limit) : 1 + rnd.nextInt(maxLen * 4);
            int max = rnd.nextBoolean() ? Integer.MAX_VALUE : 1 + rnd.nextInt(3);
            op = "remove " + from + "+" + count + " max " + max;
            TreeMap<Long, Long> removed = new TreeMap<>(model.subMap(from, from + count));
            List<Extent> pieces = new ArrayList<>();
            while (true) {
                List<Extent> p = ExtentMap.remove(tx, inode, from, count, max);
                assertThat(p.size()).as(where()).isLessThanOrEqualTo(max);
                for (int i = 1; i < p.size(); i++) assertThat(p.get(i - 1).fileEnd()).as(where()).isLessThanOrEqualTo(p.get(i).fileBlock());
                pieces.addAll(p);
                ExtentMap.verify(tx, inode);
                if (p.size() < max) break;
            }
            pieces.sort((a, b) -> Long.compare(a.fileBlock(), b.fileBlock()));
            compare(pieces, removed, false);
            model.keySet().removeAll(removed.keySet());
        }

        void markWritten(Inode inode) throws IOException {
            long from = rnd.nextLong(limit);
            long count = 1 + rnd.nextInt(maxLen * 4);
            op = "markWritten " + from + "+" + count;
            ExtentMap.markWritten(tx, inode, from, count);
            for (var e : model.subMap(from, from + count).entrySet()) e.setValue(e.getValue() & ~1L);
        }

        void shift(Inode inode) throws IOException {
            List<Extent> now = ExtentMap.all(tx, inode);
            long from = rnd.nextLong(limit);
            boolean bounded = rnd.nextInt(4) == 0;
            long end = bounded ? from + 1 + rnd.nextLong(limit) : MAXF;
            int max = rnd.nextBoolean() ? Integer.MAX_VALUE : 1 + rnd.nextInt(4);
            Long lastMapped = model.isEmpty() ? null : model.lastKey();
            boolean down = rnd.nextBoolean() || (lastMapped != null && lastMapped + maxLen * 4L >= limit);
            // blocks that move: those of extents starting in [from, end), an extent straddling from split there when up
            TreeMap<Long, Long> moving = new TreeMap<>();
            for (Extent e : now) {
                boolean moves = e.fileBlock() >= from && e.fileBlock() < end || !down && e.fileBlock() < from && e.fileEnd() > from && from < end;
                if (!moves) continue;
                for (long b = Math.max(e.fileBlock(), down ? 0 : from); b < e.fileEnd(); b++) moving.put(b, model.get(b));
            }
            byte[] before = bytes(inode);
            long delta;
            if (down) {
                Long below = model.lowerKey(from);
                long hole = from - (below == null ? 0 : below + 1);
                if (hole == 0) {
                    if (from == 0) return;
                    op = "shift down over mapped at " + from;
                    assertThatThrownBy(() -> ExtentMap.shift(tx, inode, from, end, -1, max)).as(where())
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("is not a hole");
                    assertThat(bytes(inode)).as(where()).isEqualTo(before);
                    return;
                }
                delta = -(1 + rnd.nextLong(hole));
            } else {
                delta = 1 + rnd.nextInt(maxLen * 4);
                if (!moving.isEmpty()) {
                    long movedEnd = moving.lastKey() + 1;
                    Long z = model.ceilingKey(Math.max(end, movedEnd));
                    if (z != null && z < movedEnd + delta) {
                        op = "shift up into " + z + " from " + from + " end " + end + " by " + delta;
                        long d = delta;
                        assertThatThrownBy(() -> ExtentMap.shift(tx, inode, from, end, d, max)).as(where())
                                .isInstanceOf(IllegalStateException.class).hasMessageContaining("would overlap");
                        assertThat(bytes(inode)).as(where()).isEqualTo(before);
                        return;
                    }
                }
            }
            op = "shift " + from + ".." + end + " by " + delta + " max " + max;
            if (down) {
                long f = from, guard = 0;
                while (f < end) {
                    long nf = ExtentMap.shift(tx, inode, f, end, delta, max);
                    assertThat(nf).as(where()).isGreaterThan(f);
                    f = nf;
                    ExtentMap.verify(tx, inode);
                    assertThat(++guard).as(where()).isLessThan(100_000);
                }
            } else {
                long e = end, guard = 0;
                while (e > from) {
                    long ne = ExtentMap.shift(tx, inode, from, e, delta, max);
                    assertThat(ne).as(where()).isLessThan(e);
                    e = ne;
                    ExtentMap.verify(tx, inode);
                    assertThat(++guard).as(where()).isLessThan(100_000);
                }
            }
            model.keySet().removeAll(moving.keySet());
            for (var en : moving.entrySet()) model.put(en.getKey() + delta, en.getValue());
        }

        /** The extents cover exactly the blocks of {@code expected}, with the same device blocks and states. */
        void compare(List<Extent> extents, TreeMap<Long, Long> expected, boolean canonical) {
            Iterator<Map.Entry<Long, Long>> it = expected.entrySet().iterator();
            Extent prev = null;
            for (Extent e : extents) {
                if (prev != null) {
                    if (prev.fileEnd() > e.fileBlock()) throw new AssertionError(where() + ": out of order " + prev + " " + e);
                    if (canonical && prev.joins(e) && prev.length() + e.length() <= Extent.MAX_LENGTH)
                        throw new AssertionError(where() + ": joinable neighbours " + prev + " " + e);
                }
                for (long k = 0; k < e.length(); k++) {
                    if (!it.hasNext()) throw new AssertionError(where() + ": " + e + " maps block " + (e.fileBlock() + k) + " the model lacks");
                    var m = it.next();
                    long want = (e.startBlock() + k) << 1 | (e.unwritten() ? 1 : 0);
                    if (m.getKey() != e.fileBlock() + k || m.getValue() != want)
                        throw new AssertionError(where() + ": " + e + " at block " + (e.fileBlock() + k) + " but the model has block "
                                + m.getKey() + " -> dev " + (m.getValue() >> 1) + ((m.getValue() & 1) != 0 ? " unwritten" : ""));
                }
                prev = e;
            }
            if (it.hasNext()) throw new AssertionError(where() + ": model block " + it.next() + " is not mapped");
        }

        void check() throws IOException {
            Inode inode = Inodes.get(tx, ino);
            ExtentMap.verify(tx, inode);
            List<Extent> all = ExtentMap.all(tx, inode);
            compare(all, model, true);
            assertThat(inode.nrecs).as(where()).isEqualTo(all.size());
            boolean full = step % 10 == 0;
            if (inode.format == Inode.FORMAT_BTREE) {
                maxLevels = Math.max(maxLevels, inode.forkLevels);
                assertThat(all.size()).as(where()).isGreaterThan(ExtentMap.TO_INLINE);
            }
            if (full && inode.format == Inode.FORMAT_BTREE) {
                BTree.Shape shape = BTree.open(tx, ExtentOps.INSTANCE, ino, inode.forkRoot).verify();
                assertThat(inode.blocks).as(where() + " blocks").isEqualTo(shape.nodes());
                assertThat(shape.levels()).isEqualTo(inode.forkLevels);
            } else if (inode.format == Inode.FORMAT_INLINE) {
                assertThat(inode.blocks).as(where() + " blocks").isZero();
                assertThat(all.size()).as(where()).isLessThanOrEqualTo(ExtentMap.INLINE_MAX);
            }
            if (inode.format != lastFormat) {
                if (inode.format == Inode.FORMAT_BTREE) toTree++;
                else toInline++;
                lastFormat = inode.format;
            }
            if (full) assertThat(ExtentMap.blockCount(tx, inode)).as(where()).isEqualTo(model.size());
            // point queries
            for (int i = 0; i < 3; i++) {
                long fb = rnd.nextLong(limit);
                Extent got = ExtentMap.find(tx, inode, fb);
                Long m = model.get(fb);
                if (m == null) assertThat(got).as(where() + " find " + fb).isNull();
                else {
                    assertThat(got).as(where() + " find " + fb).isNotNull();
                    assertThat(got.deviceBlockOf(fb)).as(where()).isEqualTo(m >> 1);
                    assertThat(got.unwritten()).as(where()).isEqualTo((m & 1) != 0);
                }
                Extent nx = ExtentMap.next(tx, inode, fb);
                Extent want = null;
                for (Extent e : all) if (e.fileBlock() >= fb) { want = e; break; }
                assertThat(nx).as(where() + " next " + fb).isEqualTo(want);
                long cnt = rnd.nextInt(200);
                List<Extent> rg = ExtentMap.range(tx, inode, fb, cnt);
                assertThat(rg).as(where() + " range " + fb + "+" + cnt)
                        .containsExactlyElementsOf(all.stream().filter(e -> cnt > 0 && e.fileBlock() < fb + cnt && e.fileEnd() > fb).toList());
            }
        }
    }

    /**
     * remap = remove, then insert of the new written extent: same pieces returned, same map, for
     * ranges that are one extent, part of one, several, holes, and new blocks that merge with a
     * neighbour; inline and in a tree. A range that is exactly one extent no neighbour merges with
     * is one record update (one block written; remove then insert write it twice).
     */
    @Test
    void remapIsRemoveThenInsertAndOneRecordUpdateForOneWholeExtent() throws IOException {
        long seed = seed();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        for (int extents : new int[] {3, 400}) {   // inline, then a tree
            MemTxn a = volume(4096), b = volume(4096);
            Inode fa = file(a), fb = file(b);
            for (int k = 0; k < extents; k++) {   // 4-block extents with 1-block holes, not device-contiguous
                ExtentMap.insert(a, fa, x(5L * k, 10_000 + 7L * k, 4));
                ExtentMap.insert(b, fb, x(5L * k, 10_000 + 7L * k, 4));
            }
            long next = 30_000;
            for (int i = 0; i < 300; i++) {
                long from = rnd.nextLong(5L * extents), count = 1 + rnd.nextLong(rnd.nextBoolean() ? 4 : 12);
                if (rnd.nextInt(3) == 0) { from = from / 5 * 5; count = 4; }   // exactly one extent
                long dev = rnd.nextInt(8) == 0 ? -1 : next;                     // -1: continue the previous extent's blocks
                if (dev < 0) {
                    Extent p = from > 0 ? ExtentMap.find(a, fa, from - 1) : null;
                    dev = p != null && p.fileEnd() == from ? p.deviceEnd() : next;
                }
                next += count + 3;
                String what = "seed " + seed + " step " + i + ": remap " + from + "+" + count + " -> " + dev;
                List<Extent> pa = ExtentMap.remap(a, fa, from, count, dev);
                List<Extent> pb = ExtentMap.remove(b, fb, from, count);
                ExtentMap.insert(b, fb, x(from, dev, count));
                assertThat(pa).as(what).isEqualTo(pb);
                assertThat(ExtentMap.all(a, fa)).as(what).isEqualTo(ExtentMap.all(b, fb));
                assertThat(new long[] {fa.format, fa.nrecs, fa.forkLevels}).as(what).containsExactly(fb.format, fb.nrecs, fb.forkLevels);
            }
            ExtentMap.verify(a, fa);
        }
        MemTxn tx = volume(4096);
        Inode f = file(tx);
        for (int k = 0; k < 400; k++) ExtentMap.insert(tx, f, x(5L * k, 10_000 + 7L * k, 4));
        assertThat(f.format).isEqualTo(Inode.FORMAT_BTREE);
        long w = tx.writes;
        assertThat(ExtentMap.remap(tx, f, 50, 4, 60_000)).containsExactly(x(50, 10_070, 4));
        assertThat(tx.writes - w).as("one leaf written").isEqualTo(1);
        assertThat(ExtentMap.find(tx, f, 52)).isEqualTo(x(50, 60_000, 4));
    }

    static long seed() {
        long seed = Long.getLong("foliofs.seed", System.nanoTime());
        System.out.println("seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    @Test
    void randomOpsAroundTheInlineLimit() throws IOException {
        Run run = new Run(seed(), 24, 3);
        for (int i = 0; i < 6000; i++) run.step(3, 3, 2, 2);
        System.out.println("small: toTree " + run.toTree + " toInline " + run.toInline + " maxLevels " + run.maxLevels);
        assertThat(run.toTree).as("conversions to a tree, seed " + run.seed).isGreaterThan(15);
        assertThat(run.toInline).as("conversions back inline, seed " + run.seed).isGreaterThan(15);
    }

    @Test
    void randomOpsGrowingTheTreeToThreeLevelsAndBack() throws IOException {
        Run run = new Run(seed(), 12_000, 3);
        run.bigRemoveOdds = 200;
        int grow = 0;
        while (run.maxLevels < 3 || grow < 3000) {
            run.step(12, 1, 2, 1);
            assertThat(++grow).as("seed " + run.seed + ": the tree did not reach 3 levels").isLessThan(20_000);
        }
        int levelsAtTop = run.maxLevels;
        for (int i = 0; i < 1500; i++) run.step(2, 2, 2, 2);
        // then truncate to zero as a file system would: bounded removes, one handle each, from the end
        Inode top = Inodes.get(run.tx, run.ino);
        int rounds = 0, levelsBeforeTruncate = top.forkLevels, extentsBeforeTruncate = top.nrecs;
        while (true) {
            run.op = "truncate round " + rounds;
            Inode inode = Inodes.get(run.tx, run.ino);
            long before = run.model.size();
            List<Extent> p = ExtentMap.remove(run.tx, inode, 0, MAXF, 16);
            Inodes.put(run.tx, inode);
            TreeMap<Long, Long> removed = new TreeMap<>();
            for (Extent e : p) for (long b = e.fileBlock(); b < e.fileEnd(); b++) removed.put(b, run.model.remove(b));
            assertThat(removed.size()).as(run.where()).isEqualTo(before - run.model.size());
            if (!run.model.isEmpty() && !p.isEmpty())
                assertThat(run.model.lastKey()).as(run.where() + ": the head stays mapped").isLessThan(p.getFirst().fileBlock());
            run.check();
            rounds++;
            if (p.size() < 16) break;
        }
        assertThat(run.model).as("seed " + run.seed).isEmpty();
        Inode end = Inodes.get(run.tx, run.ino);
        System.out.println("big: grow " + grow + " truncate rounds " + rounds + " levels " + levelsAtTop + " toTree " + run.toTree
                + " toInline " + run.toInline);
        assertThat(levelsAtTop).isGreaterThanOrEqualTo(3);
        assertThat(levelsBeforeTruncate).as("seed " + run.seed).isGreaterThanOrEqualTo(2);
        // every round but the last removes 16 extents (the range is the whole file: no splits)
        assertThat(extentsBeforeTruncate).as("seed " + run.seed).isGreaterThan(32);
        assertThat(rounds).as("seed " + run.seed + ", " + extentsBeforeTruncate + " extents").isEqualTo(extentsBeforeTruncate / 16 + 1);
        assertThat(end.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(end.blocks).isZero();
        assertThat(end.nrecs).isZero();
    }
}
