package org.foliofs.fs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FsckTest {
    static final long MiB = 1 << 20;

    static SimDevice device(long bytes) {
        return SimDevice.builder().capacity(bytes).build();
    }

    static FolioFs format(SimDevice dev) throws IOException {
        return FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(1024).withAgCount(4).withLogBlocks(256));
    }

    /** Maps {@code len} new blocks at {@code fileBlock} of {@code ino} (charging them to the inode). */
    static long[] addData(FolioFs fs, long ino, long fileBlock, long len) throws IOException {
        return fs.op(h -> {
            Inode i = Inodes.get(h, ino);
            long[] x = fs.allocator().allocData(h, Inode.agOf(ino), -1, 1, len);
            ExtentMap.insert(h, i, new Extent(fileBlock, x[0], x[1], false));
            i.blocks += x[1];
            i.size = Math.max(i.size, (fileBlock + x[1]) * fs.blockSize());
            Inodes.put(h, i);
            return x;
        });
    }

    /** Shares every extent of {@code src} into {@code dst} at the same file offsets (a reflink). */
    static void reflink(FolioFs fs, long src, long dst) throws IOException {
        fs.op(h -> {
            Inode s = Inodes.get(h, src), d = Inodes.get(h, dst);
            for (Extent e : ExtentMap.all(h, s)) {
                fs.refcounts().increment(h, e.startBlock(), e.length());
                ExtentMap.insert(h, d, e);
                d.blocks += e.length();
            }
            d.size = s.size;
            Inodes.put(h, d);
            return null;
        });
    }

    /**
     * A populated volume: directories (one big enough for a directory B+tree), files with data (one
     * with an extent B+tree, one sharing another's blocks), hard links, renames, unlinks, rmdir,
     * symlinks (inline and in blocks), xattrs, and one orphan (unlinked while open).
     */
    static void populate(FolioFs fs, Random rnd) throws IOException {
        long root = FolioFs.ROOT_INO;
        long a = fs.mkdir(root, "a", 0755, 0, 0).ino();
        long b = fs.mkdir(root, "b", 0755, 0, 0).ino();
        long c = fs.mkdir(a, "c", 0755, 0, 0).ino();
        for (int k = 0; k < 40; k++) fs.create(a, "file-with-a-long-name-" + k, 0644, k, k);
        long data = fs.create(root, "data", 0644, 0, 0).ino();
        addData(fs, data, 0, 8);
        addData(fs, data, 20, 3);
        long frag = fs.create(b, "frag", 0644, 0, 0).ino();
        for (int k = 0; k < 60; k++) addData(fs, frag, 2L * k, 1);
        long clone = fs.create(b, "clone", 0644, 0, 0).ino();
        reflink(fs, data, clone);
        long f1 = fs.lookup(a, "file-with-a-long-name-1");
        fs.link(f1, b, "hard");
        fs.link(f1, c, "hard2");
        fs.rename(a, "file-with-a-long-name-2", b, "moved", 0);
        fs.unlink(a, "file-with-a-long-name-3");
        fs.unlink(b, "hard");
        fs.symlink(root, "short", "a/c", 0, 0);
        fs.symlink(b, "long", "x/".repeat(300), 0, 0);
        fs.setxattr(data, "user.one", "1".getBytes(StandardCharsets.UTF_8), 0);
        fs.setxattr(a, "user.big", new byte[300], 0);
        fs.setxattr(f1, "trusted.t", new byte[] {1, 2, 3}, 0);
        long d = fs.mkdir(b, "gone", 0700, 0, 0).ino();
        fs.rmdir(b, "gone");
        long e = fs.mkdir(b, "e", 0700, 0, 0).ino();
        fs.rename(b, "e", a, "e2", 0);
        fs.rename(a, "c", b, "frag", FolioFs.RENAME_EXCHANGE);
        for (int k = 0; k < 20; k++) {
            int n = rnd.nextInt(40);
            try {
                fs.unlink(a, "file-with-a-long-name-" + n);
            } catch (java.nio.file.NoSuchFileException ignored) {
                // already gone
            }
        }
        long tmp = fs.create(root, "tmp", 0600, 0, 0).ino();
        addData(fs, tmp, 0, 2);
        fs.open(tmp);
        fs.unlink(root, "tmp");     // an orphan until closed: left in the orphanage
        assertThat(d).isNotZero();
        assertThat(e).isNotZero();
    }

    static FsckReport checkClean(SimDevice dev) throws IOException {
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).as(r.describe()).isEmpty();
        return r;
    }

    @Test
    void freshVolumeIsClean() throws Exception {
        SimDevice dev = device(8 * MiB);
        format(dev).close();
        FsckReport r = checkClean(dev);
        assertThat(r.inodes()).isEqualTo(2);
        assertThat(r.notes()).isEmpty();
        assertThat(r.recoveredTransactions()).isZero();
        assertThat(r.metadata()).containsKeys(0L, 1L);
        FsckReport nr = Fsck.check(dev, false);
        assertThat(nr.problems()).isEmpty();
        assertThat(nr.needsRecovery()).isFalse();
    }

    @Test
    void volumeAfterManyOperationsIsClean() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        populate(fs, new Random(1));
        fs.close();
        FsckReport r = checkClean(dev);
        assertThat(r.notes()).anyMatch(n -> n.contains("is an orphan (nlink 0, in the orphanage): the next mount frees it"));
        assertThat(r.metadata().values()).anyMatch(v -> v.contains("directory btree node"))
                .anyMatch(v -> v.contains("extent-map btree node")).anyMatch(v -> v.contains("symlink target block"))
                .anyMatch(v -> v.contains("extended attribute block"));
        // mount frees the orphan; still clean, no note
        FolioFs.mount(dev).close();
        FsckReport after = checkClean(dev);
        assertThat(after.notes()).isEmpty();
    }

    /** A commit with data dependencies (its record carries one more block under its CRC) is seen as needing recovery too. */
    @Test
    void aDataDependencyRecordAtTheTailNeedsRecovery() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long ino = fs.create(FolioFs.ROOT_INO, "a", 0644, 0, 0).ino();
        try (FolioFile f = fs.openFile(ino)) {
            f.write(0, java.lang.foreign.MemorySegment.ofArray(new byte[65536]), FolioFile.WRITETHROUGH | FolioFile.DSYNC);
            fs.journal().checkpoint();   // empty log: the atomic write's commit is the first record after the tail
            long preflushes = dev.stats().preflushWrites();
            byte[] d = new byte[(int) fs.atomicWriteUnitMax()];
            new Random(2).nextBytes(d);
            f.write(d.length, java.lang.foreign.MemorySegment.ofArray(d), FolioFile.WRITETHROUGH | FolioFile.ATOMIC | FolioFile.DSYNC);
            assertThat(dev.stats().preflushWrites()).as("a data-dependency commit").isEqualTo(preflushes);
        }
        fs.abandon();
        FsckReport nr = Fsck.check(dev, false);
        assertThat(nr.needsRecovery()).isTrue();
        FsckReport r = checkClean(dev);
        assertThat(r.recoveredTransactions()).isPositive();
    }

    @Test
    void journalNeedingRecoveryIsReportedWithoutWritingOrReplayed() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        fs.mkdir(FolioFs.ROOT_INO, "x", 0755, 0, 0);
        fs.create(FolioFs.ROOT_INO, "y", 0644, 0, 0);
        fs.sync();
        fs.abandon();
        byte[] before = DiskBytes.read(dev, 0, (int) dev.capacity());
        FsckReport nr = Fsck.check(dev, false);
        assertThat(nr.needsRecovery()).isTrue();
        assertThat(nr.problems()).singleElement().asString().startsWith("journal needs recovery: committed record ")
                .contains("the rest of the volume was not checked");
        assertThat(DiskBytes.read(dev, 0, (int) dev.capacity())).as("no-replay mode writes nothing").isEqualTo(before);
        FsckReport r = checkClean(dev);
        assertThat(r.recoveredTransactions()).isPositive();
        assertThat(r.notes()).anyMatch(n -> n.startsWith("recovered " + r.recoveredTransactions() + " transactions"));
        assertThat(r.inodes()).isEqualTo(4);
        assertThat(Fsck.check(dev, false).problems()).isEmpty();
    }

    @Test
    void leakedBlockIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long[] x = fs.op(h -> fs.allocator().allocData(h, 2, -1, 3, 3));
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).containsExactly("blocks [" + x[0] + ", +3): neither free nor owned by anything (leaked space)");
    }

    @Test
    void doublyOwnedBlockIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long g = fs.create(FolioFs.ROOT_INO, "g", 0644, 0, 0).ino();
        long[] x = addData(fs, f, 0, 1);
        fs.op(h -> {
            Inode i = Inodes.get(h, g);
            ExtentMap.insert(h, i, new Extent(5, x[0], 1, false));
            i.blocks++;
            Inodes.put(h, i);
            return null;
        });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).singleElement().asString().startsWith("block " + x[0] + ": owned 2 times without a refcount record: ")
                .contains("of inode " + f).contains("of inode " + g);
    }

    @Test
    void metadataBlockUsedAsDataIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long hdr = AgHeader.blockOf(fs.superblock(), 1);
        fs.op(h -> {
            Inode i = Inodes.get(h, f);
            ExtentMap.insert(h, i, new Extent(0, hdr, 1, false));
            i.blocks++;
            Inodes.put(h, i);
            return null;
        });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).singleElement().asString().startsWith("block " + hdr + ": owned 2 times: allocation group header of group 1, data extent");
    }

    @Test
    void refcountWithoutSecondOwnerIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long[] x = addData(fs, f, 0, 4);
        fs.op(h -> { fs.refcounts().increment(h, x[0] + 1, 2); return null; });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).singleElement().asString()
                .startsWith("blocks [" + (x[0] + 1) + ", +2): refcount record says 2 owners but only data extent");
    }

    @Test
    void sharedBlocksWithMatchingRefcountsAreClean() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long g = fs.create(FolioFs.ROOT_INO, "g", 0644, 0, 0).ino();
        long k = fs.create(FolioFs.ROOT_INO, "k", 0644, 0, 0).ino();
        addData(fs, f, 0, 4);
        reflink(fs, f, g);
        reflink(fs, g, k);
        fs.close();
        checkClean(dev);
        // one sharer dropped without its refcount: refcount 3, two owners
        FolioFs m = FolioFs.mount(dev);
        m.op(h -> {
            Inode i = Inodes.get(h, k);
            List<Extent> gone = ExtentMap.remove(h, i, 0, 4);
            for (Extent e : gone) i.blocks -= e.length();
            Inodes.put(h, i);
            return null;
        });
        m.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).singleElement().asString().contains("refcount 3 but 2 owners: data extent");
    }

    @Test
    void wrongNlinkIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long d = fs.mkdir(FolioFs.ROOT_INO, "d", 0755, 0, 0).ino();
        fs.op(h -> {
            Inode i = Inodes.get(h, f);
            i.nlink = 5;
            Inodes.put(h, i);
            Inode di = Inodes.get(h, d);
            di.nlink = 3;
            Inodes.put(h, di);
            return null;
        });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).containsExactlyInAnyOrder(
                "inode " + f + " has nlink 5 but 1 directory entries name it: directory inode 1 entry \"f\"",
                "directory inode " + d + " has nlink 3, expected 2 (2 + 0 subdirectories)");
    }

    @Test
    void danglingEntryAndWrongTypeAreFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        fs.op(h -> {
            Inode root = Inodes.get(h, FolioFs.ROOT_INO);
            Directory.add(h, root, "ghost", 777, DirEntry.DT_REG);
            Directory.replace(h, root, "f", f, DirEntry.DT_LNK);
            Inodes.put(h, root);
            return null;
        });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).containsExactlyInAnyOrder(
                "directory inode 1 entry \"ghost\" names inode 777, which does not exist (dangling entry)",
                "directory inode 1 entry \"f\" says type 10 but inode " + f + " has type 8 (mode 0100644)");
    }

    @Test
    void wrongGroupFreeCountIsFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        fs.op(h -> {
            AgHeader g = h.agHeader(1);
            g.freeBlocks += 1;
            h.writeAgHeader(g);
            return null;
        });
        fs.sync();
        fs.abandon();   // the in-memory counters would not match on a clean close
        FsckReport r = Fsck.check(dev);
        long hb = AgHeader.blockOf(r.superblock(), 1);
        assertThat(r.problems()).singleElement().asString()
                .startsWith("block " + hb + " (allocation group header of group 1): counts free ")
                .contains("where the free-space trees hold");
        assertThat(r.recoveredTransactions()).isPositive();
    }

    @Test
    void lostInodeAndDirectoryNamedTwiceAreFound() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long f = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
        long d = fs.mkdir(FolioFs.ROOT_INO, "d", 0755, 0, 0).ino();
        fs.op(h -> {
            Inode root = Inodes.get(h, FolioFs.ROOT_INO);
            Directory.remove(h, root, "f");
            Directory.add(h, root, "d-again", d, DirEntry.DT_DIR);
            Inodes.put(h, root);
            return null;
        });
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).contains(
                "inode " + f + " has nlink 1 but 0 directory entries name it",
                "directory inode " + d + " is named by 2 entries: directory inode 1 entry \"d-again\", directory inode 1 entry \"d\""
                        + " (a directory must be named exactly once)",
                "directory inode 1 has nlink 3, expected 4");
    }

    /** 3,000 files in 3 directories on 1 KiB blocks: three-level inode and directory trees, ~1,900 metadata blocks. */
    static SimDevice bigVolume() throws IOException {
        SimDevice dev = SimDevice.builder().capacity(16 * MiB).asyncCompletions(true).build();
        FolioFs fs = format(dev);
        for (int d = 0; d < 3; d++) {
            long dir = fs.mkdir(FolioFs.ROOT_INO, "d" + d, 0755, 0, 0).ino();
            for (int k = 0; k < 1000; k++) fs.create(dir, "f" + k, 0644, 0, 0);
        }
        fs.close();
        return dev;
    }

    @Test
    void metadataIsReadOnceInBatchesAndASmallCacheFindsTheSame() throws Exception {
        SimDevice dev = bigVolume();
        var before = dev.stats().snapshot();
        FsckReport r = checkClean(dev);
        var io = dev.stats().snapshot().minus(before);
        assertThat(r.inodes()).isEqualTo(3005);
        assertThat(r.metadata().size()).isGreaterThan(1500);   // more than the 1 MiB cache below holds
        // every metadata block (superblocks included) once, plus the journal's headers and tail record
        assertThat(r.reads().syncBlocks() + r.reads().aheadBlocks()).as(r.reads().toString())
                .isLessThanOrEqualTo(r.metadata().size() + 4);
        assertThat(r.reads().syncBlocks() + r.reads().aheadBlocks() + r.reads().gapBlocks()).isEqualTo(io.bytesRead() / 1024);
        // nearly all of it read ahead, many requests submitted together, not one block at a time
        assertThat(r.reads().syncBlocks()).as(r.reads().toString()).isLessThan(r.metadata().size() / 20);
        assertThat(r.reads().aheadRequests()).as(r.reads().toString()).isLessThan(r.reads().aheadBlocks());

        // the smallest cache: the same result; a flipped byte in an inode tree leaf and in a directory
        // tree leaf (both read ahead) are named like any other
        FsckReport small = Fsck.check(dev, true, Fsck.MIN_CACHE_BYTES);
        assertThat(small.problems()).as(small.describe()).isEmpty();
        assertThat(small.metadata()).isEqualTo(r.metadata());
        long inoLeaf = r.metadata().entrySet().stream().filter(e -> e.getValue().startsWith("inode btree node")).skip(200)
                .findFirst().orElseThrow().getKey();
        long dirLeaf = r.metadata().entrySet().stream().filter(e -> e.getValue().startsWith("directory btree node")).skip(100)
                .findFirst().orElseThrow().getKey();
        for (long leaf : new long[] {inoLeaf, dirLeaf}) {
            DiskBytes.flip(dev, leaf * 1024 + 300);
            String type = leaf == inoLeaf ? "inode btree node" : "directory btree node";
            for (long cache : new long[] {Fsck.MIN_CACHE_BYTES, Fsck.DEFAULT_CACHE_BYTES}) {
                FsckReport bad = Fsck.check(dev, true, cache);
                assertThat(bad.problems()).as(bad.describe())
                        .anyMatch(p -> p.startsWith("block " + leaf + " (" + type + "): CRC32C"));
            }
            DiskBytes.flip(dev, leaf * 1024 + 300);   // back
        }
        checkClean(dev);
        assertThatThrownBy(() -> Fsck.check(dev, true, 1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cacheBytes (1000)");
    }

    @Test
    void corruptBlockIsNamedAndTheCheckGoesOn() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        populate(fs, new Random(2));
        fs.close();
        FsckReport clean = checkClean(dev);
        long dirNode = clean.metadata().entrySet().stream().filter(e -> e.getValue().contains("directory btree node"))
                .findFirst().orElseThrow().getKey();
        long backup = clean.superblock().agStart(2);
        DiskBytes.flip(dev, dirNode * 1024 + 700);
        DiskBytes.flip(dev, backup * 1024 + 40);
        // and a wrong nlink elsewhere: found too
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).anyMatch(p -> p.startsWith("block " + dirNode + " (directory btree node): CRC32C"))
                .anyMatch(p -> p.startsWith("block " + backup + " (superblock): CRC32C"))
                .anyMatch(p -> p.startsWith("free-space accounting not checked for leaks"));
    }

    @Test
    void primarySuperblockFallbackIsAProblem() throws Exception {
        SimDevice dev = device(8 * MiB);
        format(dev).close();
        DiskBytes.flip(dev, 100);
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).singleElement().asString().startsWith("block 0 (superblock): primary superblock is unusable (block 0");
        DiskBytes.flip(dev, 100);
        DiskBytes.flip(dev, 900);    // outside the 512-byte record: not checksummed, must be zero
        assertThat(Fsck.check(dev).problems()).containsExactly(
                "block 0 (primary superblock): byte 900 after the 512-byte record is not zero");
    }

    @Test
    void badImagesCannotBeChecked() throws Exception {
        SimDevice zero = device(4 * MiB);
        assertThatThrownBy(() -> Fsck.check(zero)).isInstanceOf(VolumeFormatException.class)
                .hasMessageStartingWith("not a FolioFS volume: bad magic 0x0000000000000000 at block 0 of");
        SimDevice dev = device(8 * MiB);
        format(dev).close();
        SimDevice shortDev = device(4 * MiB);
        DiskBytes.write(shortDev, 0, DiskBytes.read(dev, 0, (int) (4 * MiB)));
        assertThatThrownBy(() -> Fsck.check(shortDev)).isInstanceOf(VolumeFormatException.class)
                .hasMessageStartingWith("truncated image: ");
        byte[] sb = DiskBytes.read(dev, 0, 512);
        sb[12] = 9;   // major version 9
        DiskBytes.write(dev, 0, Arrays.copyOf(sb, 512));
        assertThatThrownBy(() -> Fsck.check(dev)).isInstanceOf(VolumeFormatException.class)
                .hasMessageContaining("FolioFS format version 9.0").hasMessageContaining("is newer than this build supports");
    }

    @Test
    void mkfsWithoutRootDirectoryIsReported() throws Exception {
        SimDevice dev = device(8 * MiB);
        Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(1024).withAgCount(4));
        assertThat(Fsck.check(dev).problems()).containsExactly("inode 1 (root directory) does not exist",
                "inode 2 (orphanage) does not exist");
    }

    @Test
    void cowStagingExtentsOwnTheirBlocksAndAreNotes() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        long[] x = fs.op(h -> {
            long[] a = fs.allocator().allocData(h, 1, -1, 2, 2);
            fs.refcounts().addCowStaging(h, a[0], a[1]);
            return a;
        });
        fs.close();
        FsckReport r = checkClean(dev);
        assertThat(r.notes()).containsExactly("CoW staging extent [" + x[0] + ", +2) in group 1: left by an interrupted"
                + " copy-on-write, to be freed at mount");
    }

    @Test
    void mountFreesCowStagingExtents() throws Exception {
        SimDevice dev = device(8 * MiB);
        FolioFs fs = format(dev);
        fs.op(h -> {
            long[] a = fs.allocator().allocData(h, 1, -1, 2, 2);
            fs.refcounts().addCowStaging(h, a[0], a[1]);
            return a;
        });
        fs.close();
        FolioFs.mount(dev).close();
        assertThat(checkClean(dev).notes()).isEmpty();
    }
}
