package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.foliofs.fs.FolioFileTest.create;
import static org.foliofs.fs.FolioFileTest.pattern;
import static org.foliofs.fs.FolioFileTest.read;
import static org.foliofs.fs.FolioFileTest.write;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.foliofs.device.SimDevice;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/** Reflink (FICLONERANGE / FICLONE) and fallocate UNSHARE_RANGE. */
class ReflinkTest {
    static final int BS = FolioFileTest.BS;

    static SimDevice device(long capacity) { return FolioFileTest.device(capacity); }

    static FolioFs format(SimDevice dev) throws IOException { return FolioFileTest.format(dev); }

    static FolioFs remount(FolioFs fs, SimDevice dev) throws IOException {
        fs.close();
        FsckReport r = Fsck.check(dev);
        assertThat(r.problems()).as(r.describe()).isEmpty();
        FolioFs m = FolioFs.mount(dev);
        m.setPageCacheConfig(PageCache.Config.builder().memoryBytes(16L << 20).dirtyExpireMillis(3_600_000).build());
        return m;
    }

    static List<Extent> extents(FolioFs fs, long ino) throws IOException {
        return fs.op(h -> ExtentMap.all(h, Inodes.get(h, ino)));
    }

    /** Blocks of {@code ino}'s extents that have refcount >= 2. */
    static long sharedBlocks(FolioFs fs, long ino) throws IOException {
        long n = 0;
        for (Extent e : extents(fs, ino)) {
            List<long[]> s = fs.op(h -> fs.refcounts().shared(h, e.startBlock(), e.length()));
            for (long[] r : s) n += r[1];
        }
        return n;
    }

    static byte[] content(FolioFile f) throws IOException { return read(f, 0, (int) f.size()); }

    @Test
    void wholeFileCloneSharesBlocksAndCopiesOnWriteToEitherSide() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src");
            byte[] a = pattern(1, 200_000);                  // unaligned size: the tail block is cloned whole
            write(src, 0, a);
            src.fsync(false);
            FolioFile dst = create(fs, "dst");
            dst.cloneFrom(src);
            assertThat(dst.size()).isEqualTo(a.length);
            assertThat(content(dst)).isEqualTo(a);
            long blocks = Math.ceilDiv(a.length, BS);
            assertThat(sharedBlocks(fs, src.ino())).isEqualTo(blocks);
            assertThat(sharedBlocks(fs, dst.ino())).isEqualTo(blocks);
            assertThat(extents(fs, dst.ino())).isEqualTo(extents(fs, src.ino()).stream()
                    .map(e -> new Extent(e.fileBlock(), e.startBlock(), e.length(), false)).toList());
            long freeBefore = fs.allocator().freeBlocks();

            byte[] d1 = pattern(2, 10_000);                  // buffered write to the destination: CoW
            write(dst, 8192, d1);
            dst.fsync(false);
            byte[] b = a.clone();
            System.arraycopy(d1, 0, b, 8192, d1.length);
            assertThat(content(dst)).isEqualTo(b);
            assertThat(content(src)).isEqualTo(a);
            assertThat(fs.allocator().freeBlocks()).isEqualTo(freeBefore - 3);   // blocks 2..4 copied
            assertThat(sharedBlocks(fs, src.ino())).isEqualTo(blocks - 3);

            byte[] d2 = pattern(3, 2 * BS);                  // direct write to the source: CoW
            src.writeDirect(16 * BS, MemorySegment.ofArray(d2), FolioFile.DSYNC);
            byte[] a2 = a.clone();
            System.arraycopy(d2, 0, a2, 16 * BS, d2.length);
            assertThat(content(src)).isEqualTo(a2);
            assertThat(content(dst)).isEqualTo(b);
            long sIno = src.ino(), dIno = dst.ino();
            src.close();
            dst.close();

            fs = remount(fs, dev);
            try (FolioFile s = fs.openFile(sIno); FolioFile d = fs.openFile(dIno)) {
                assertThat(content(s)).isEqualTo(a2);
                assertThat(content(d)).isEqualTo(b);
                assertThat(sharedBlocks(fs, sIno)).isEqualTo(blocks - 5);
            }
            fs.unlink(FolioFs.ROOT_INO, "src");               // dropping one owner keeps the other's data
            try (FolioFile d = fs.openFile(dIno)) {
                assertThat(content(d)).isEqualTo(b);
                assertThat(sharedBlocks(fs, dIno)).isZero();
            }
            fs = remount(fs, dev);
            fs.close();
        }
    }

    @Test
    void rangeCloneReplacesDestinationBlocksAndGrowsTheSize() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst");
            byte[] a = pattern(1, 40 * BS), old = pattern(2, 10 * BS + 100);
            write(src, 0, a);                                  // left dirty: clone writes it back first
            write(dst, 0, old);
            dst.fsync(false);
            long freeBefore = fs.allocator().freeBlocks();
            dst.cloneRange(src, 4 * BS, 6 * BS, 8 * BS);       // replaces blocks 6..9, grows to 14 blocks
            byte[] want = Arrays.copyOf(old, 14 * BS);
            System.arraycopy(a, 4 * BS, want, 6 * BS, 8 * BS);
            assertThat(dst.size()).isEqualTo(14 * BS);
            assertThat(content(dst)).isEqualTo(want);
            assertThat(src.inode().delallocBlocks()).isZero();
            // 40 source blocks allocated by writeback, destination blocks 6..10 freed
            assertThat(fs.allocator().freeBlocks()).isEqualTo(freeBefore - 40 + 5);
            assertThat(sharedBlocks(fs, dst.ino())).isEqualTo(8);

            // a clone past the size leaves a hole between and zeroes the old last block's tail
            dst.truncate(14 * BS + 10);
            dst.cloneRange(src, 0, 20 * BS, 2 * BS);
            byte[] want2 = Arrays.copyOf(want, 22 * BS);
            Arrays.fill(want2, 14 * BS, 22 * BS, (byte) 0);
            System.arraycopy(a, 0, want2, 20 * BS, 2 * BS);
            assertThat(content(dst)).isEqualTo(want2);
            long dIno = dst.ino();
            src.close();
            dst.close();
            fs = remount(fs, dev);
            try (FolioFile d = fs.openFile(dIno)) {
                assertThat(content(d)).isEqualTo(want2);
            }
            fs.close();
        }
    }

    @Test
    void cloneWithinOneFileAndOfUnwrittenAndHoles() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "f");
            byte[] a = pattern(5, 8 * BS);
            write(f, 0, a);
            f.fallocate(0, 8 * BS, 4 * BS);                    // blocks 8..11 unwritten
            write(f, 14 * BS, a);                              // 12..13 hole, 14..21 data
            f.fsync(false);
            f.cloneRange(f, 0, 30 * BS, 22 * BS);
            byte[] all = content(f);
            assertThat(all.length).isEqualTo(52 * BS);
            assertThat(Arrays.copyOfRange(all, 30 * BS, 52 * BS)).isEqualTo(Arrays.copyOfRange(all, 0, 22 * BS));
            // the unwritten range was cloned as a hole (XFS would share it; both read zeros)
            Extent at38 = fs.op(h -> ExtentMap.find(h, Inodes.get(h, f.ino()), 38));
            assertThat(at38).isNull();
            assertThat(sharedBlocks(fs, f.ino())).isEqualTo(2 * 16);
            byte[] x = pattern(6, BS);
            write(f, 31 * BS, x);
            f.fsync(false);
            assertThat(read(f, BS, BS)).isEqualTo(Arrays.copyOfRange(a, BS, 2 * BS));
            assertThat(read(f, 31 * BS, BS)).isEqualTo(x);
            long ino = f.ino();
            f.close();
            fs = remount(fs, dev);
            try (FolioFile g = fs.openFile(ino)) {
                assertThat(read(g, 31 * BS, BS)).isEqualTo(x);
                assertThat(read(g, 0, 8 * BS)).isEqualTo(a);
            }
            fs.close();
        }
    }

    @Test
    void fragmentedCloneSpansManyHandles() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), other = create(fs, "other"), dst = create(fs, "dst");
            int n = 400;
            byte[] model = new byte[2 * n * BS];
            for (int i = 0; i < n; i++) {                     // interleaved: every source block its own extent
                byte[] d = pattern(100 + i, BS);
                write(src, 2L * i * BS, d);
                System.arraycopy(d, 0, model, 2 * i * BS, BS);
                write(other, (long) i * BS, d);
                if (i % 50 == 49) { src.fsync(true); other.fsync(true); }
            }
            src.fsync(false);
            assertThat(extents(fs, src.ino()).size()).isGreaterThan(100);
            write(dst, 0, pattern(9, 3 * n * BS));            // old destination data is replaced
            dst.fsync(false);
            long commits = fs.journal().stats().commits();
            Reflink.testMaxStepsPerHandle = 3;
            try {
                dst.cloneRange(src, 0, 0, (2L * n - 1) * BS);
            } finally {
                Reflink.testMaxStepsPerHandle = 0;
            }
            assertThat(fs.journal().stats().commits() - commits).as("a clone of 400 extents is several handles").isGreaterThan(2);
            assertThat(read(dst, 0, (2 * n - 1) * BS)).isEqualTo(Arrays.copyOf(model, (2 * n - 1) * BS));
            assertThat(dst.size()).isEqualTo(3L * n * BS);
            long sIno = src.ino(), dIno = dst.ino();
            src.close();
            other.close();
            dst.close();
            fs = remount(fs, dev);
            try (FolioFile d = fs.openFile(dIno)) {
                assertThat(read(d, 0, (2 * n - 1) * BS)).isEqualTo(Arrays.copyOf(model, (2 * n - 1) * BS));
            }
            assertThat(sharedBlocks(fs, sIno)).isEqualTo(n);
            fs.close();
        }
    }

    /**
     * A CoW remap of the destination drops the old blocks to one owner (the source) in a handle not
     * yet committed; the source then overwrites them. In place, a crash before the commit would bring
     * the destination's old mapping back with the source's new data: the source must copy on write.
     */
    @Test
    void blocksUnsharedByAHandleNotYetCommittedAreStillCopiedOnWrite() throws IOException {
        try (SimDevice dev = device(32L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst");
            byte[] a = pattern(1, 4 * BS);
            write(src, 0, a);
            src.fsync(false);
            dst.cloneFrom(src);
            fs.sync();                                          // the clone is durable
            long sIno = src.ino(), dIno = dst.ino();
            byte[] b = pattern(2, BS), c = pattern(3, BS);
            write(dst, 0, b);
            // Writeback without a journal force (a last close no longer writes back: c225492).
            dst.inode().file.writeAndWait(0, Long.MAX_VALUE);   // CoW remap of the destination
            write(src, 0, c);
            src.inode().file.writeAndWait(0, Long.MAX_VALUE);   // must not overwrite in place
            org.foliofs.device.IoRequest flush = org.foliofs.device.IoRequest.flush(null);
            dev.submit(flush);                                  // the data is durable, the journal is not
            flush.await();
            fs.abandon();
            dev.crash();
            fs = FolioFs.mount(dev);
            try (FolioFile s = fs.openFile(sIno); FolioFile d = fs.openFile(dIno)) {
                assertThat(content(d)).as("the destination after the crash").isEqualTo(a);
                assertThat(read(s, 0, BS)).isIn(Arrays.copyOf(a, BS), c);
            }
            remount(fs, dev).close();
        }
    }

    @Test
    void badInputsAreRefusedNamingTheValues() throws IOException {
        try (SimDevice dev = device(32L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst");
            write(src, 0, pattern(1, 10 * BS + 5));
            write(dst, 0, pattern(2, 20 * BS));
            assertThatThrownBy(() -> dst.cloneRange(src, 100, 0, BS)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("clone offsets 100").hasMessageContaining("block size 4096");
            assertThatThrownBy(() -> dst.cloneRange(src, 0, 0, 100)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("clone length 100 must be aligned").hasMessageContaining("EOF (40965)");
            assertThatThrownBy(() -> dst.cloneRange(src, -BS, 0, BS)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("from -4096").hasMessageContaining("must not be negative");
            assertThatThrownBy(() -> dst.cloneRange(src, 0, 0, -1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("clone of -1 bytes");
            assertThatThrownBy(() -> dst.cloneRange(src, 0, 0, 12 * BS)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("clone of 49152 bytes from 0 goes beyond the size 40965");
            assertThatThrownBy(() -> dst.cloneRange(src, 12 * BS, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("source offset 49152 is beyond the size 40965");
            assertThatThrownBy(() -> dst.cloneRange(src, 8 * BS, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("would end at 8197, inside the destination").hasMessageContaining("size 81920");
            assertThatThrownBy(() -> src.cloneRange(src, 0, 4 * BS, 8 * BS)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[0, +32768) to 16384").hasMessageContaining("overlap");
            long max = fs.maxFileSize() + 1;
            assertThatThrownBy(() -> dst.cloneRange(src, 0, max - BS, 2 * BS)).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("File too large").hasMessageContaining("beyond the maximum file size " + fs.maxFileSize());
            assertThatThrownBy(() -> dst.cloneRange(null, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("source must not be null");
            long dir = fs.mkdir(FolioFs.ROOT_INO, "d", 0755, 0, 0).ino();
            assertThatThrownBy(() -> fs.openFile(dir)).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("inode " + dir).hasMessageContaining("not a regular file");
            try (SimDevice dev2 = device(32L << 20)) {
                FolioFs fs2 = format(dev2);
                FolioFile o = create(fs2, "o");
                assertThatThrownBy(() -> o.cloneRange(src, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("another volume");
                o.close();
                fs2.close();
            }
            FolioFile closed = create(fs, "c");
            closed.close();
            assertThatThrownBy(() -> dst.cloneRange(closed, 0, 0, 0)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is closed");
            // nothing changed
            assertThat(dst.size()).isEqualTo(20 * BS);
            assertThat(sharedBlocks(fs, dst.ino())).isZero();
            src.close();
            dst.close();
            remount(fs, dev).close();
        }
    }

    @Test
    void unshareGivesPrivateCopiesAndDropsRefcounts() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst");
            byte[] a = pattern(1, 600 * BS);                  // more than one 1 MiB copy chunk
            write(src, 0, a);
            src.fsync(false);
            dst.cloneFrom(src);
            long free = fs.allocator().freeBlocks();
            dst.fallocate(FolioFile.FALLOC_UNSHARE_RANGE | FolioFile.FALLOC_KEEP_SIZE, 10 * BS, 500 * BS);
            assertThat(fs.allocator().freeBlocks()).isEqualTo(free - 500);
            assertThat(sharedBlocks(fs, dst.ino())).isEqualTo(100);
            assertThat(sharedBlocks(fs, src.ino())).isEqualTo(100);
            assertThat(content(dst)).isEqualTo(a);
            for (Extent e : extents(fs, dst.ino())) assertThat(e.unwritten()).isFalse();
            // unshare of everything (and past EOF: mode 0 preallocates and grows the size)
            dst.fallocate(FolioFile.FALLOC_UNSHARE_RANGE, 0, 700 * BS);
            assertThat(sharedBlocks(fs, dst.ino())).isZero();
            assertThat(sharedBlocks(fs, src.ino())).isZero();
            assertThat(dst.size()).isEqualTo(700 * BS);
            assertThat(content(dst)).isEqualTo(Arrays.copyOf(a, 700 * BS));
            // writes to the source no longer touch the destination (no CoW needed: not shared)
            src.writeDirect(0, MemorySegment.ofArray(pattern(7, BS)), 0);
            assertThat(read(dst, 0, BS)).isEqualTo(Arrays.copyOf(a, BS));
            // unsharing unshared blocks is nothing
            long free2 = fs.allocator().freeBlocks();
            src.fallocate(FolioFile.FALLOC_UNSHARE_RANGE | FolioFile.FALLOC_KEEP_SIZE, 0, 600 * BS);
            assertThat(fs.allocator().freeBlocks()).isEqualTo(free2);
            long dIno = dst.ino();
            src.close();
            dst.close();
            fs = remount(fs, dev);
            try (FolioFile d = fs.openFile(dIno)) {
                assertThat(content(d)).isEqualTo(Arrays.copyOf(a, 700 * BS));
            }
            fs.close();
        }
    }

    @Test
    void unshareMeetingEnospcLeavesDataIntact() throws IOException {
        try (SimDevice dev = device(16L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst"), fill = create(fs, "fill");
            byte[] a = pattern(1, 400 * BS);
            write(src, 0, a);
            src.fsync(false);
            dst.cloneFrom(src);
            byte[] chunk = pattern(2, 64 * BS);
            List<Long> filled = new ArrayList<>();
            long pos = 0;
            try {
                while (true) { write(fill, pos, chunk); filled.add(pos); pos += chunk.length; }
            } catch (NoSpaceException expected) {
                // the volume is full (buffered writes reserve, so nobody else can take the rest)
            }
            for (int i = 0; i < 64; i++) {
                try { write(fill, pos, Arrays.copyOf(chunk, BS)); pos += BS; } catch (NoSpaceException e) { break; }
            }
            fill.fsync(false);
            long free = fs.allocator().available();
            assertThat(free).isLessThan(400);
            assertThatThrownBy(() -> dst.fallocate(FolioFile.FALLOC_UNSHARE_RANGE | FolioFile.FALLOC_KEEP_SIZE, 0, 400 * BS))
                    .isInstanceOf(NoSpaceException.class);
            assertThat(content(dst)).isEqualTo(a);
            assertThat(content(src)).isEqualTo(a);
            long dIno = dst.ino(), sIno = src.ino();
            src.close();
            dst.close();
            fill.close();
            fs = remount(fs, dev);
            try (FolioFile d = fs.openFile(dIno); FolioFile s = fs.openFile(sIno)) {
                assertThat(content(d)).isEqualTo(a);
                assertThat(content(s)).isEqualTo(a);
                assertThat(sharedBlocks(fs, sIno)).isEqualTo(400);
                assertThat(sharedBlocks(fs, dIno)).isEqualTo(400);
            }
            fs.close();
        }
    }

    /**
     * A direct write aligned to the device's logical block (512) but not to the file system block,
     * into shared blocks: copy-on-write of a partial block cannot be done by direct I/O, so it falls
     * back to a write-through of the range (XFS: -ENOTBLK, then a buffered write). The clone gets the
     * new bytes, the source keeps its own, the cache stays coherent, and with DSYNC the data
     * survives a crash.
     */
    @Test
    void unalignedDirectWriteIntoSharedBlocksFallsBackToWriteThrough() throws Exception {
        for (boolean async : new boolean[] {false, true}) {
            try (SimDevice dev = device(32L << 20)) {
                FolioFs fs = format(dev);
                FolioFile src = create(fs, "src"), dst = create(fs, "dst");
                byte[] a = pattern(1, 8 * BS);
                write(src, 0, a);
                src.fsync(false);
                dst.cloneFrom(src);
                fs.sync();
                byte[] want = a.clone();
                // inside block 0: head and tail partial
                byte[] d1 = pattern(2, 1024);
                assertThat(directWrite(dst, 512, d1, FolioFile.DSYNC, async)).isEqualTo(d1.length);
                System.arraycopy(d1, 0, want, 512, d1.length);
                // across blocks 2..4: partial head, whole middle block, partial tail
                byte[] d2 = pattern(3, 2 * BS);
                assertThat(directWrite(dst, 2 * BS + 512, d2, 0, async)).isEqualTo(d2.length);
                System.arraycopy(d2, 0, want, 2 * BS + 512, d2.length);
                // an unshared block (block 6 copied by an aligned direct write) followed by a shared one
                byte[] d3 = pattern(4, BS);
                dst.writeDirect(6 * BS, MemorySegment.ofArray(d3), 0);
                System.arraycopy(d3, 0, want, 6 * BS, d3.length);
                byte[] d4 = pattern(5, BS);
                assertThat(directWrite(dst, 6 * BS + 3584, d4, FolioFile.DSYNC, async)).isEqualTo(d4.length);
                System.arraycopy(d4, 0, want, 6 * BS + 3584, d4.length);

                assertThat(FolioFileTest.readDirect(dst, 0, 8 * BS)).as("direct read of the clone").isEqualTo(want);
                assertThat(content(dst)).as("buffered read of the clone").isEqualTo(want);
                assertThat(FolioFileTest.readDirect(src, 0, 8 * BS)).as("direct read of the source").isEqualTo(a);
                assertThat(content(src)).as("buffered read of the source").isEqualTo(a);
                assertThat(sharedBlocks(fs, dst.ino())).as("blocks 0, 2, 3, 4, 6, 7 copied").isEqualTo(2);
                long sIno = src.ino(), dIno = dst.ino();

                // the last write was DSYNC: everything up to it is durable (the earlier ones by its
                // flush and journal force); crash without closing
                fs.abandon();
                dev.crash();
                fs = FolioFs.mount(dev);
                try (FolioFile s = fs.openFile(sIno); FolioFile d = fs.openFile(dIno)) {
                    assertThat(content(d)).as("the clone after the crash (async=" + async + ")").isEqualTo(want);
                    assertThat(content(s)).as("the source after the crash").isEqualTo(a);
                    assertThat(FolioFileTest.readDirect(d, 0, 8 * BS)).isEqualTo(want);
                }
                remount(fs, dev).close();
            }
        }
    }

    /** An unaligned direct write into shared blocks still checks the logical block alignment (O_DIRECT's EINVAL). */
    @Test
    void unalignedDirectWriteIntoSharedBlocksStillNeedsLogicalBlockAlignment() throws IOException {
        try (SimDevice dev = device(32L << 20)) {
            FolioFs fs = format(dev);
            FolioFile src = create(fs, "src"), dst = create(fs, "dst");
            byte[] a = pattern(1, 4 * BS);
            write(src, 0, a);
            src.fsync(false);
            dst.cloneFrom(src);
            assertThatThrownBy(() -> dst.writeDirect(100, MemorySegment.ofArray(new byte[512]), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100");
            assertThatThrownBy(() -> dst.writeAsync(512, MemorySegment.ofArray(new byte[100]), FolioFile.DIRECT).join())
                    .hasMessageContaining("100");
            assertThat(content(dst)).isEqualTo(a);
            src.close();
            dst.close();
            remount(fs, dev).close();
        }
    }

    static long directWrite(FolioFile f, long pos, byte[] data, int flags, boolean async) throws Exception {
        MemorySegment seg = MemorySegment.ofArray(data);
        if (!async) return f.writeDirect(pos, seg, flags);
        return f.writeAsync(pos, seg, flags | FolioFile.DIRECT).get();
    }

    @Test
    void copyPlanClonesWholeBlocksOfCongruentRangesOnly() {
        int bs = 4096;
        // aligned: all cloned; the partial tail too when it ends at the source's EOF and reaches the destination's size
        assertThat(FolioFile.copyPlan(0, 8192, 3 * bs, 10 * bs, 0, bs)).containsExactly(0, 3 * bs);
        assertThat(FolioFile.copyPlan(0, 0, 3 * bs + 5, 3 * bs + 5, 0, bs)).containsExactly(0, 3 * bs + 5);
        assertThat(FolioFile.copyPlan(0, 0, 3 * bs + 5, 3 * bs + 5, 4 * bs, bs)).as("tail inside the destination").containsExactly(0, 3 * bs);
        assertThat(FolioFile.copyPlan(0, 0, 3 * bs + 5, 9 * bs, 0, bs)).as("tail not at the source's EOF").containsExactly(0, 3 * bs);
        // congruent: head up to the boundary
        assertThat(FolioFile.copyPlan(1000, 5096, 10 * bs, 20 * bs, 0, bs)).containsExactly(bs - 1000, 9 * bs);
        // not congruent, or no whole block: copied
        assertThat(FolioFile.copyPlan(1000, 0, 10 * bs, 20 * bs, 0, bs)).containsExactly(10 * bs, 0);
        assertThat(FolioFile.copyPlan(0, 0, bs - 1, 20 * bs, 0, bs)).containsExactly(bs - 1, 0);
        assertThat(FolioFile.copyPlan(100, 100, bs, 20 * bs, 0, bs)).containsExactly(bs, 0);
    }
}

