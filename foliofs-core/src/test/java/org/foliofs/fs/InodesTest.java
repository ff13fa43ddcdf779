package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class InodesTest {
    static final long NOW = 1_700_000_000_000_000_000L;

    static MemTxn volume(int blockSize, int ags) throws IOException {
        return MemTxn.format(256L << 20, Mkfs.Options.defaults().withBlockSize(blockSize).withAgCount(ags));
    }

    static long seed() {
        long seed = Long.getLong("foliofs.seed", System.nanoTime());
        System.out.println("seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    static byte[] bytes(Inode i) {
        byte[] b = new byte[Inode.SIZE];
        i.encode(MemorySegment.ofArray(b), 0);
        return b;
    }

    @Test
    void allocateReturnsAFreshInodeAndGetReadsItBack() throws IOException {
        MemTxn tx = volume(4096, 4);
        Inode a = Inodes.allocate(tx, 2, Inode.S_IFREG | 0644, NOW);
        assertThat(a.ino).isEqualTo(Inode.make(2, 1));
        assertThat(a.nlink).isZero();
        assertThat(a.atime).isEqualTo(NOW);
        assertThat(a.mtime).isEqualTo(NOW);
        assertThat(a.ctime).isEqualTo(NOW);
        assertThat(a.btime).isEqualTo(NOW);
        assertThat(a.generation).isNotZero();
        assertThat(a.format).isEqualTo(Inode.FORMAT_INLINE);
        Inode b = Inodes.allocate(tx, 2, Inode.S_IFDIR | 0755, NOW + 1);
        assertThat(b.ino).isEqualTo(Inode.make(2, 2));
        assertThat(b.generation).isNotEqualTo(a.generation);
        assertThat(bytes(Inodes.get(tx, a.ino))).isEqualTo(bytes(a));
        assertThat(Inodes.get(tx, a.ino).ino).isEqualTo(a.ino);
        AgHeader h = tx.agHeader(2);
        assertThat(h.nextIno).isEqualTo(3);
        assertThat(h.inoCount).isEqualTo(2);
        assertThat(tx.agHeader(0).inoCount).isZero();
    }

    @Test
    void rootDirectoryAtAFixedNumber() throws IOException {
        MemTxn tx = volume(4096, 2);
        Inode root = Inodes.allocateAt(tx, Mkfs.ROOT_INO, Inode.S_IFDIR | 0755, NOW);
        assertThat(root.ino).isEqualTo(1);
        assertThat(Inodes.allocate(tx, 0, Inode.S_IFREG | 0600, NOW).ino).isEqualTo(2);
        assertThatThrownBy(() -> Inodes.allocateAt(tx, 1, Inode.S_IFDIR | 0755, NOW))
                .isInstanceOf(IllegalStateException.class).hasMessage("inode 1 already exists");
        Inode far = Inodes.allocateAt(tx, Inode.make(1, 100), Inode.S_IFREG, NOW);
        assertThat(Inodes.allocate(tx, 1, Inode.S_IFREG, NOW).ino).isEqualTo(Inode.make(1, 101));
        assertThat(tx.agHeader(1).inoCount).isEqualTo(2);
        assertThat(far.ino).isEqualTo(Inode.make(1, 100));
        assertThatThrownBy(() -> Inodes.allocateAt(tx, Inode.make(0, 0), Inode.S_IFREG, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inode number 0 (group 0, local 0) is not valid");
        assertThatThrownBy(() -> Inodes.allocateAt(tx, Inode.make(5, 1), Inode.S_IFREG, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("group must be below 2");
    }

    @Test
    void badArgumentsAreNamed() throws IOException {
        MemTxn tx = volume(4096, 2);
        assertThatThrownBy(() -> Inodes.allocate(tx, 2, Inode.S_IFREG, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("agHint (2) must be in [0, 2)");
        assertThatThrownBy(() -> Inodes.allocate(tx, -1, Inode.S_IFREG, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("agHint (-1) must be in [0, 2)");
        assertThatThrownBy(() -> Inodes.allocate(tx, 0, 0644, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("mode (0644) must be a file type");
        assertThatThrownBy(() -> Inodes.allocate(tx, 0, 0770000, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("mode (0770000)");
        assertThatThrownBy(() -> Inodes.forEach(tx, 3, i -> {}))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("agno (3) must be in [0, 2)");
        assertThat(tx.agHeader(0).inoCount).isZero();
    }

    @Test
    void missingInodesAreNamed() throws IOException {
        MemTxn tx = volume(4096, 2);
        Inode a = Inodes.allocate(tx, 1, Inode.S_IFREG, NOW);
        long missing = Inode.make(1, 7);
        assertThatThrownBy(() -> Inodes.get(tx, missing)).isInstanceOf(NoSuchInodeException.class)
                .hasMessage("inode " + missing + " (group 1, local 7) does not exist")
                .satisfies(e -> assertThat(((NoSuchInodeException) e).ino()).isEqualTo(missing));
        assertThatThrownBy(() -> Inodes.get(tx, Inode.make(9, 1))).isInstanceOf(NoSuchInodeException.class)
                .hasMessage("inode " + Inode.make(9, 1) + " (group 9, local 1) does not exist: the volume has 2 groups");
        Inode ghost = new Inode(missing);
        ghost.mode = Inode.S_IFREG;
        assertThatThrownBy(() -> Inodes.put(tx, ghost)).isInstanceOf(NoSuchInodeException.class)
                .hasMessage("inode " + missing + " (group 1, local 7) does not exist");
        assertThatThrownBy(() -> Inodes.remove(tx, missing)).isInstanceOf(NoSuchInodeException.class)
                .hasMessage("inode " + missing + " (group 1, local 7) does not exist");
        Inodes.remove(tx, a.ino);
        assertThatThrownBy(() -> Inodes.get(tx, a.ino)).isInstanceOf(NoSuchInodeException.class)
                .hasMessage("inode " + a.ino + " (group 1, local 1) does not exist");
        assertThat(tx.agHeader(1).inoCount).isZero();
        // numbers are never reused
        assertThat(Inodes.allocate(tx, 1, Inode.S_IFREG, NOW).ino).isEqualTo(Inode.make(1, 2));
    }

    @Test
    void groupOutOfInodeNumbersMovesOnThenNoSpace() throws IOException {
        MemTxn tx = volume(4096, 2);
        for (int ag = 0; ag < 2; ag++) {
            AgHeader h = tx.agHeader(ag);
            h.nextIno = Inodes.MAX_LOCAL;
            tx.writeAgHeader(h);
        }
        Inode last = Inodes.allocate(tx, 1, Inode.S_IFREG, NOW);
        assertThat(last.ino).isEqualTo(Inode.make(1, Inodes.MAX_LOCAL));
        assertThat(tx.agHeader(1).nextIno).isEqualTo(Inodes.LOCAL_LIMIT);
        assertThat(Inodes.get(tx, last.ino).ino).isEqualTo(last.ino);
        Inode moved = Inodes.allocate(tx, 1, Inode.S_IFREG, NOW);
        assertThat(moved.ino).isEqualTo(Inode.make(0, Inodes.MAX_LOCAL));
        assertThatThrownBy(() -> Inodes.allocate(tx, 0, Inode.S_IFREG, NOW)).isInstanceOf(NoSpaceException.class)
                .hasMessage("no inode numbers left: all 2 allocation groups have used 4294967294 inode numbers");
        assertThatThrownBy(() -> Inodes.allocateAt(tx, Inode.make(0, 0xFFFF_FFFFL), Inode.S_IFREG, NOW))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("local 4294967295");
    }

    @Test
    void corruptNextInoInTheHeaderIsReported() throws IOException {
        MemTxn tx = volume(4096, 2);
        AgHeader h = tx.agHeader(1);
        h.nextIno = 0;
        tx.writeAgHeader(h);
        long hdr = AgHeader.blockOf(tx.superblock(), 1);
        assertThatThrownBy(() -> Inodes.allocate(tx, 1, Inode.S_IFREG, NOW)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + hdr + " (allocation group header): next inode number 0 outside [1, 4294967295]");
    }

    /** Flips bytes of one inode record in its leaf (restamping the CRC, as a bad write of valid blocks would). */
    static long corruptRecord(MemTxn tx, long ino, int field, int value) throws IOException {
        BTree<Inode>.Cursor c = Inodes.tree(tx, Inode.agOf(ino)).seekGE(Inode.localOf(ino));
        long blk = c.leaf().blkno();
        MemorySegment s = MemorySegment.ofArray(tx.raw(blk));
        s.set(MetaBlockLayout.U32, c.recordOffset() + field, value);
        MetaBlockLayout.stampCrc(s);
        return blk;
    }

    @Test
    void implausibleRecordsAreCorruptMetadataNamingTheBlock() throws IOException {
        MemTxn tx = volume(1024, 2);
        List<Inode> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) all.add(Inodes.allocate(tx, 0, Inode.S_IFREG | 0644, NOW));
        Inode victim = all.get(17);
        long blk = corruptRecord(tx, victim.ino, 0, 0644); // no type bits
        assertThatThrownBy(() -> Inodes.get(tx, victim.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + blk + " (inode btree node): inode " + victim.ino + ": mode 0644 has unknown type bits")
                .satisfies(e -> assertThat(((CorruptMetadataException) e).blkno()).isEqualTo(blk));
        assertThatThrownBy(() -> Inodes.forEach(tx, 0, i -> {})).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("inode " + victim.ino + ": mode 0644");
        corruptRecord(tx, victim.ino, 0, Inode.S_IFREG | 0644);
        assertThat(Inodes.get(tx, victim.ino).mode).isEqualTo(Inode.S_IFREG | 0644);

        Inode v2 = all.get(3);
        long blk2 = corruptRecord(tx, v2.ino, 76, 7 << 8); // format byte at 77 = 7
        assertThatThrownBy(() -> Inodes.get(tx, v2.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + blk2 + " (inode btree node): inode " + v2.ino + ": fork format 7 is unknown");
        corruptRecord(tx, v2.ino, 76, Inode.FORMAT_BTREE << 8); // btree with 0 levels
        assertThatThrownBy(() -> Inodes.get(tx, v2.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("fork levels 0 outside [1, 32]");
        corruptRecord(tx, v2.ino, 76, Inode.FORMAT_BLOCKS << 8);
        assertThatThrownBy(() -> Inodes.get(tx, v2.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("fork format BLOCKS on a non-symlink");
        corruptRecord(tx, v2.ino, 76, 0);
        corruptRecord(tx, v2.ino, 84, 1);
        assertThatThrownBy(() -> Inodes.get(tx, v2.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("reserved field is not zero");
        corruptRecord(tx, v2.ino, 84, 0);
        corruptRecord(tx, v2.ino, 80, -1);
        assertThatThrownBy(() -> Inodes.get(tx, v2.ino)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageEndingWith("record count 4294967295 is impossible");
    }

    @Test
    void twentyThousandInodesAcrossGroupsRoundTrip() throws IOException {
        long seed = seed();
        Random rnd = new Random(seed);
        int ags = 4;
        MemTxn tx = volume(1024, ags);
        Map<Long, byte[]> model = new HashMap<>();
        List<Long> live = new ArrayList<>();
        long[] next = new long[ags];
        Arrays.fill(next, 1);
        int[] types = {Inode.S_IFREG, Inode.S_IFDIR, Inode.S_IFLNK, Inode.S_IFIFO, Inode.S_IFCHR, Inode.S_IFBLK, Inode.S_IFSOCK};
        for (int n = 0; n < 20_000; n++) {
            int hint = rnd.nextInt(ags);
            Inode i = Inodes.allocate(tx, hint, types[rnd.nextInt(types.length)] | rnd.nextInt(07777), NOW + n);
            assertThat(i.ino).as("seed %d step %d", seed, n).isEqualTo(Inode.make(hint, next[hint]++));
            i.nlink = 1 + rnd.nextInt(3);
            i.size = rnd.nextLong() >>> 1;
            i.uid = rnd.nextInt();
            i.parent = rnd.nextLong();
            rnd.nextBytes(i.inline);
            Inodes.put(tx, i);
            model.put(i.ino, bytes(i));
            live.add(i.ino);
            if (rnd.nextInt(5) == 0) { // remove a random live one
                long victim = live.remove(rnd.nextInt(live.size()));
                Inodes.remove(tx, victim);
                model.remove(victim);
                long v = victim;
                assertThatThrownBy(() -> Inodes.get(tx, v)).isInstanceOf(NoSuchInodeException.class)
                        .hasMessage("inode " + v + " (group " + Inode.agOf(v) + ", local " + Inode.localOf(v) + ") does not exist");
            }
        }
        for (var e : model.entrySet()) {
            Inode got = Inodes.get(tx, e.getKey());
            assertThat(got.ino).isEqualTo(e.getKey());
            assertThat(bytes(got)).as("seed %d inode %d", seed, e.getKey()).isEqualTo(e.getValue());
        }
        long total = 0;
        int maxLevels = 0;
        for (int ag = 0; ag < ags; ag++) {
            AgHeader h = tx.agHeader(ag);
            BTree.Shape shape = Inodes.tree(tx, ag).verify();
            assertThat(shape.records()).isEqualTo(h.inoCount);
            assertThat(shape.levels()).isEqualTo(h.inoLevels);
            assertThat(h.nextIno).isEqualTo(next[ag]);
            maxLevels = Math.max(maxLevels, shape.levels());
            TreeMap<Long, byte[]> expected = new TreeMap<>(Long::compareUnsigned);
            final int agno = ag;
            model.forEach((k, v) -> { if (Inode.agOf(k) == agno) expected.put(k, v); });
            List<Inode> seen = new ArrayList<>();
            Inodes.forEach(tx, ag, seen::add);
            assertThat(seen).extracting(i -> i.ino).containsExactlyElementsOf(expected.keySet());
            for (Inode i : seen) assertThat(bytes(i)).isEqualTo(expected.get(i.ino));
            total += h.inoCount;
        }
        assertThat(total).isEqualTo(model.size());
        assertThat(maxLevels).isGreaterThanOrEqualTo(3);
        // remove everything: the trees shrink back to one empty leaf
        for (long ino : live) Inodes.remove(tx, ino);
        for (int ag = 0; ag < ags; ag++) {
            assertThat(tx.agHeader(ag).inoCount).isZero();
            assertThat(tx.agHeader(ag).inoLevels).isEqualTo(1);
            assertThat(Inodes.tree(tx, ag).verify().records()).isZero();
        }
    }
}
