package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileSystemException;
import java.util.Arrays;
import java.util.Random;
import org.foliofs.device.SimDevice;
import org.foliofs.iomap.IoMapReport;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

class FolioFileTest {
    static final int BS = 4096;

    static SimDevice device(long capacity) {
        return SimDevice.builder().capacity(capacity).seed(7).build();
    }

    static FolioFs format(SimDevice dev) throws IOException {
        FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(4));
        fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(16L << 20).dirtyExpireMillis(3_600_000).build());
        return fs;
    }

    static byte[] pattern(long seed, int len) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void write(FolioFile f, long pos, byte[] data) throws IOException {
        assertThat(f.write(pos, MemorySegment.ofArray(data))).isEqualTo(data.length);
    }

    static byte[] read(FolioFile f, long pos, int len) throws IOException {
        byte[] a = new byte[len];
        long n = f.read(pos, MemorySegment.ofArray(a));
        return n == len ? a : Arrays.copyOf(a, (int) n);
    }

    static byte[] readDirect(FolioFile f, long pos, int len) throws IOException {
        byte[] a = new byte[len];
        long n = f.readDirect(pos, MemorySegment.ofArray(a), 0);
        return n == len ? a : Arrays.copyOf(a, (int) n);
    }

    static FolioFile create(FolioFs fs, String name) throws IOException {
        return fs.openFile(fs.create(FolioFs.ROOT_INO, name, 0644, 0, 0).ino());
    }

    @Test
    void bufferedRoundTripUnalignedOverwriteAndReopen() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "a");
            byte[] model = new byte[50_000];
            Random r = new Random(1);
            for (int k = 0; k < 40; k++) {
                int pos = r.nextInt(40_000), len = 1 + r.nextInt(10_000);
                byte[] d = pattern(k, len);
                write(f, pos, d);
                System.arraycopy(d, 0, model, pos, len);
                if (k % 10 == 9) f.fsync(k % 20 == 9);
            }
            int size = (int) f.size();
            assertThat(read(f, 0, size)).isEqualTo(Arrays.copyOf(model, size));
            assertThat(f.inode().delallocBlocks()).isZero();   // fsync converted every reservation
            f.close();
            fs.close();
            FolioFs fs2 = FolioFs.mount(dev);
            long ino = fs2.lookup(FolioFs.ROOT_INO, "a");
            assertThat(fs2.getattr(ino).size()).isEqualTo(size);
            try (FolioFile g = fs2.openFile(ino)) {
                assertThat(read(g, 0, size)).isEqualTo(Arrays.copyOf(model, size));
                assertThat(readDirect(g, 0, Math.ceilDiv(size, 512) * 512)).startsWith(Arrays.copyOf(model, size));
            }
            fs2.op(h -> fs2.allocator().verify(h));
            fs2.close();
        }
    }

    /**
     * stat reports the in-memory size of an open file (Linux's i_size), not the on-disk size that
     * writeback moves later, also while its last close is writing back: the FUSE mount answered a
     * stat racing a RELEASE with size 0, and the O_APPEND write after it overwrote the file.
     */
    @Test
    void getattrSeesTheWrittenSizeOfAnOpenFileAndDuringItsLastClose() throws Exception {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "open");
            write(f, 0, pattern(1, 10_000));
            assertThat(fs.getattr(f.ino()).size()).as("buffered, not written back").isEqualTo(10_000);
            f.close();
            assertThat(fs.getattr(f.ino()).size()).isEqualTo(10_000);
            for (int k = 0; k < 200; k++) {
                FolioFile g = create(fs, "f" + k);
                long ino = g.ino();
                write(g, 0, pattern(k, 3_000 + k));
                long[] seen = new long[1];
                Thread closer = Thread.ofPlatform().start(() -> {
                    try { g.close(); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
                });
                while (closer.isAlive()) {
                    long s = fs.getattr(ino).size();
                    if (s != 3_000 + k) seen[0] = s;
                }
                closer.join();
                assertThat(seen[0]).as("a size other than the written one seen while file %d closed", k).isZero();
                assertThat(fs.getattr(ino).size()).isEqualTo(3_000 + k);
            }
            fs.close();
        }
    }

    /**
     * Writeback converts delalloc reservations to allocated blocks without the free-minus-reserved
     * count ever dipping: the allocation and the end of its reservation happen in one handle
     * (buffered writes reserve under the journal lock too). When the reservation ended after the
     * handle, a reader saw the extent counted twice for a moment, and a buffered write near full
     * got a false ENOSPC (ReflinkTest.unshareMeetingEnospcLeavesDataIntact, 2 runs in 3).
     */
    @Test
    void writebackNeverCountsBlocksAsBothAllocatedAndReserved() throws Exception {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "a");
            Allocator alloc = fs.allocator();
            long[] dip = {0};
            for (int round = 0; round < 80; round++) {
                write(f, (long) round * 128 * BS, pattern(round, 128 * BS));   // 128 blocks reserved
                long before = alloc.available();
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                Thread watcher = Thread.ofPlatform().start(() -> {
                    while (!stop.get()) dip[0] = Math.max(dip[0], before - alloc.available());
                });
                f.fsync(true);
                stop.set(true);
                watcher.join();
            }
            // the tree blocks writeback may add are a handful; a double count is the whole extent (128)
            assertThat(dip[0]).as("largest drop of available blocks during a writeback").isLessThan(32);
            f.close();
            fs.close();
        }
    }

    @Test
    void dataPersistsAfterCloseAndUnmountWithoutFsync() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "b");
            byte[] d = pattern(5, 70_000);
            write(f, 100, d);
            f.close();
            fs.close();
            dev.crash();                       // a clean unmount made everything durable
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(fs2.lookup(FolioFs.ROOT_INO, "b"))) {
                assertThat(g.size()).isEqualTo(70_100);
                assertThat(read(g, 100, 70_000)).isEqualTo(d);
                assertThat(read(g, 0, 100)).isEqualTo(new byte[100]);
            }
            fs2.close();
        }
    }

    @Test
    void directWriteReadAndDsyncSurvivesCrash() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "d");
            byte[] d = pattern(9, 3 * BS + 512);
            assertThat(f.writeDirect(BS, MemorySegment.ofArray(d), FolioFile.DSYNC)).isEqualTo(d.length);
            assertThat(f.size()).isEqualTo(BS + d.length);
            assertThat(readDirect(f, BS, d.length)).isEqualTo(d);
            assertThat(read(f, 0, BS)).isEqualTo(new byte[BS]);
            byte[] o = pattern(10, 1024);                    // pure overwrite, unaligned to the fs block
            f.writeDirect(BS + 512, MemorySegment.ofArray(o), FolioFile.DSYNC);
            System.arraycopy(o, 0, d, 512, 1024);
            assertThat(read(f, BS, d.length)).isEqualTo(d);
            fs.abandon();
            dev.crash();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(fs2.lookup(FolioFs.ROOT_INO, "d"))) {
                assertThat(g.size()).isEqualTo(BS + d.length);
                assertThat(read(g, BS, d.length)).isEqualTo(d);
            }
            fs2.close();
        }
    }

    @Test
    void sparseFileAtOneTebibyteAndSeek() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "s");
            long tib = 1L << 40;
            byte[] d = pattern(3, 10_000);
            write(f, tib, d);
            write(f, 8 * BS, pattern(4, BS));
            assertThat(f.size()).isEqualTo(tib + d.length);
            assertThat(read(f, tib - 100, 100)).isEqualTo(new byte[100]);
            assertThat(read(f, tib, d.length)).isEqualTo(d);
            assertThat(f.seekData(0)).isEqualTo(8 * BS);
            assertThat(f.seekHole(8 * BS)).isEqualTo(9 * BS);
            assertThat(f.seekData(9 * BS)).isEqualTo(tib);
            f.fsync(false);
            assertThat(f.seekData(9 * BS)).isEqualTo(tib);
            assertThat(f.seekHole(tib)).isEqualTo(tib + d.length);
            assertThat(f.seekData(tib + d.length)).isEqualTo(IoMapReport.NOT_FOUND);
            long max = fs.maxFileSize();
            assertThatThrownBy(() -> f.write(max, MemorySegment.ofArray(new byte[2])))
                    .isInstanceOf(FileSystemException.class).hasMessageContaining("File too large");
            f.close();
            fs.close();
        }
    }

    @Test
    void truncateDownAndUp() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "t");
            byte[] d = pattern(1, 5 * BS);
            write(f, 0, d);
            f.fsync(false);
            f.truncate(BS + 100);
            assertThat(f.size()).isEqualTo(BS + 100);
            f.truncate(4 * BS);
            byte[] want = new byte[4 * BS];
            System.arraycopy(d, 0, want, 0, BS + 100);
            assertThat(read(f, 0, 4 * BS)).isEqualTo(want);
            f.fsync(false);
            assertThat(fs.getattr(f.ino()).blocks()).isEqualTo(2);
            write(f, 10 * BS, pattern(2, 10));        // unfsynced, then truncated away: reservation released
            f.truncate(3 * BS);
            assertThat(f.inode().delallocBlocks()).isZero();
            f.close();
            fs.close();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(fs2.lookup(FolioFs.ROOT_INO, "t"))) {
                assertThat(read(g, 0, 3 * BS)).isEqualTo(Arrays.copyOf(want, 3 * BS));
            }
            assertThatThrownBy(() -> f.truncate(1)).isInstanceOf(IllegalStateException.class);
            fs2.close();
        }
    }

    @Test
    void fallocateModes() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "f");
            f.fallocate(0, 0, 4 * BS);
            assertThat(f.size()).isEqualTo(4 * BS);
            assertThat(read(f, 0, 4 * BS)).isEqualTo(new byte[4 * BS]);
            assertThat(fs.getattr(f.ino()).blocks()).isEqualTo(4);
            f.fallocate(FolioFile.FALLOC_KEEP_SIZE, 4 * BS, 4 * BS);
            assertThat(f.size()).isEqualTo(4 * BS);
            assertThat(fs.getattr(f.ino()).blocks()).isEqualTo(8);
            byte[] d = pattern(6, 8 * BS);
            write(f, 0, d);
            f.fsync(false);
            // punch [BS + 10, 3 BS + 20): partial edges zeroed, block 2 unmapped
            f.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, BS + 10, 2 * BS + 10);
            Arrays.fill(d, BS + 10, 3 * BS + 20, (byte) 0);
            assertThat(read(f, 0, 8 * BS)).isEqualTo(d);
            assertThat(fs.getattr(f.ino()).blocks()).isEqualTo(7);
            // zero range [4 BS, 5 BS + 1)
            f.fallocate(FolioFile.FALLOC_ZERO_RANGE, 4 * BS, BS + 1);
            Arrays.fill(d, 4 * BS, 5 * BS + 1, (byte) 0);
            assertThat(read(f, 0, 8 * BS)).isEqualTo(d);
            // collapse block 0, insert 2 blocks at block 1
            f.fallocate(FolioFile.FALLOC_COLLAPSE_RANGE, 0, BS);
            d = Arrays.copyOfRange(d, BS, 8 * BS);
            assertThat(f.size()).isEqualTo(7 * BS);
            assertThat(read(f, 0, 7 * BS)).isEqualTo(d);
            f.fallocate(FolioFile.FALLOC_INSERT_RANGE, BS, 2 * BS);
            byte[] e = new byte[9 * BS];
            System.arraycopy(d, 0, e, 0, BS);
            System.arraycopy(d, BS, e, 3 * BS, 6 * BS);
            assertThat(f.size()).isEqualTo(9 * BS);
            assertThat(read(f, 0, 9 * BS)).isEqualTo(e);
            f.fsync(false);
            f.fallocate(FolioFile.FALLOC_UNSHARE_RANGE, 0, BS);          // nothing shared: nothing changes (ReflinkTest)
            assertThat(read(f, 0, 9 * BS)).isEqualTo(e);
            assertThatThrownBy(() -> f.fallocate(0x4, 0, BS))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessage("fallocate mode 0x4 is not supported");
            assertThatThrownBy(() -> f.fallocate(FolioFile.FALLOC_COLLAPSE_RANGE, 100, BS))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be aligned to the block size 4096");
            assertThatThrownBy(() -> f.fallocate(FolioFile.FALLOC_COLLAPSE_RANGE, 0, 9 * BS))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must end before the file size");
            assertThatThrownBy(() -> f.fallocate(0, -1, BS))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[-1, +4096)");
            f.close();
            fs.close();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(fs2.lookup(FolioFs.ROOT_INO, "f"))) {
                assertThat(read(g, 0, 9 * BS)).isEqualTo(e);
            }
            fs2.op(h -> fs2.allocator().verify(h));
            fs2.close();
        }
    }

    @Test
    void enospcIsReportedByWriteNeverAtWritebackAndSpaceReturnsAfterUnlink() throws IOException {
        try (SimDevice dev = device(16L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "big");
            byte[] chunk = pattern(8, 64 * 1024);
            long pos = 0;
            NoSpaceException enospc = null;
            while (true) {
                try {
                    write(f, pos, chunk);
                    pos += chunk.length;
                } catch (NoSpaceException e) {
                    enospc = e;
                    break;
                }
                if (pos > (64L << 20)) throw new AssertionError("never ran out of space");
            }
            assertThat(enospc).hasMessageContaining("cannot reserve");
            f.fsync(false);                                       // writeback of everything accepted succeeds
            assertThat(read(f, pos - chunk.length, chunk.length)).isEqualTo(chunk);
            long freeFull = fs.statfs().freeBlocks();
            f.close();
            fs.unlink(FolioFs.ROOT_INO, "big");
            assertThat(fs.statfs().freeBlocks()).isGreaterThan(freeFull + pos / BS - 10);
            FolioFile g = create(fs, "again");
            write(g, 0, chunk);
            g.fsync(false);
            g.close();
            fs.op(h -> fs.allocator().verify(h));
            fs.close();
        }
    }

    @Test
    void unlinkedOpenFileKeepsDataUntilCloseAndReleasesReservations() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile f = create(fs, "u");
            long reserved0 = fs.allocator().reserved();
            write(f, 0, pattern(1, 3 * BS));
            f.fsync(false);
            write(f, 10 * BS, pattern(2, 2 * BS));     // delalloc, not written back
            assertThat(fs.allocator().reserved()).isEqualTo(reserved0 + 2);
            fs.unlink(FolioFs.ROOT_INO, "u");
            assertThat(read(f, 0, 3 * BS)).isEqualTo(pattern(1, 3 * BS));
            f.close();
            assertThat(fs.allocator().reserved()).isEqualTo(reserved0);
            assertThat(fs.isOpen(f.ino())).isFalse();
            assertThatThrownBy(() -> fs.getattr(f.ino())).isInstanceOf(NoSuchInodeException.class);
            fs.close();
        }
    }

    @Test
    void copyOnWriteOfSharedBlocks() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            FolioFile a = create(fs, "a");
            byte[] d = pattern(11, 4 * BS);
            write(a, 0, d);
            a.fsync(false);
            long b = fs.create(FolioFs.ROOT_INO, "b", 0644, 0, 0).ino();
            fs.op(h -> {                                  // a hand-made reflink of a's blocks into b
                Inode ia = Inodes.get(h, a.ino()), ib = Inodes.get(h, b);
                for (Extent e : ExtentMap.all(h, ia)) {
                    ExtentMap.insert(h, ib, e);
                    fs.refcounts().increment(h, e.startBlock(), e.length());
                    ib.blocks += e.length();
                }
                ib.size = ia.size;
                Inodes.put(h, ib);
                return null;
            });
            byte[] n = pattern(12, 100);
            write(a, BS + 50, n);                          // buffered: CoW at writeback
            a.fsync(false);
            a.writeDirect(3 * BS, MemorySegment.ofArray(pattern(13, BS)), 0);   // direct: CoW at once
            byte[] da = d.clone();
            System.arraycopy(n, 0, da, BS + 50, 100);
            System.arraycopy(pattern(13, BS), 0, da, 3 * BS, BS);
            assertThat(read(a, 0, 4 * BS)).isEqualTo(da);
            try (FolioFile fb = fs.openFile(b)) {
                assertThat(read(fb, 0, 4 * BS)).isEqualTo(d);
            }
            a.close();
            fs.op(h -> {
                fs.allocator().verify(h);
                for (int g = 0; g < fs.superblock().agCount(); g++) assertThat(fs.refcounts().cowStaging(h, g)).isEmpty();
                return null;
            });
            fs.unlink(FolioFs.ROOT_INO, "a");
            fs.unlink(FolioFs.ROOT_INO, "b");
            fs.op(h -> fs.allocator().verify(h));
            fs.close();
        }
    }

    @Test
    void badInput() throws IOException {
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            long dir = fs.mkdir(FolioFs.ROOT_INO, "d", 0755, 0, 0).ino();
            assertThatThrownBy(() -> fs.openFile(dir)).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("not a regular file");
            assertThat(fs.isOpen(dir)).isFalse();
            FolioFile f = create(fs, "x");
            assertThatThrownBy(() -> f.write(-1, MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("write of 1 bytes at -1");
            assertThatThrownBy(() -> f.truncate(-5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("new size (-5) must not be negative");
            assertThatThrownBy(() -> f.writeDirect(100, MemorySegment.ofArray(new byte[512]), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not aligned");
            f.close();
            fs.close();
        }
    }
    /**
     * Punch hole, zero range and collapse range drop the dirty cached data of the range they remove
     * instead of writing it back first (the device would get 1 MiB it never needs): counted through
     * the device's write statistics. Edge blocks and data outside the range keep their semantics.
     */
    @Test
    void punchZeroAndCollapseDiscardDirtyDataInsteadOfWritingItBack() throws IOException {
        final int mib = 1 << 20;
        try (SimDevice dev = device(64L << 20)) {
            FolioFs fs = format(dev);
            // no background writeback of the dirty megabyte: 64 MiB of cache, background at 50%
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(64L << 20).backgroundRatio(50).dirtyRatio(60)
                    .dirtyExpireMillis(3_600_000).build());
            var stats = dev.stats();
            // 1. punch of a dirty 1 MiB overwrite of allocated blocks, unaligned edges
            FolioFile f = create(fs, "punch");
            byte[] d = pattern(1, 4 * mib);
            write(f, 0, d);
            f.fsync(false);
            byte[] n = pattern(2, mib + 3 * BS);
            write(f, mib - BS, n);                             // dirty: [1 MiB - 4 KiB, 2 MiB + 8 KiB)
            System.arraycopy(n, 0, d, mib - BS, n.length);
            long w = stats.bytes(org.foliofs.device.IoOp.WRITE);
            f.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, mib - 1000, mib + 2000);
            long punchWrites = stats.bytes(org.foliofs.device.IoOp.WRITE) - w;
            Arrays.fill(d, mib - 1000, 2 * mib + 1000, (byte) 0);
            assertThat(punchWrites).as("bytes written by the punch of a dirty 1 MiB range").isLessThan(64 * 1024);
            assertThat(read(f, 0, 4 * mib)).isEqualTo(d);
            assertThat(fs.getattr(f.ino()).blocks()).isEqualTo(4 * mib / BS - mib / BS);   // blocks 256..511
            f.fsync(false);
            assertThat(readDirect(f, 0, 4 * mib)).as("the device after fsync").isEqualTo(d);
            long punchIno = f.ino();
            f.close();

            // 2. punch of never-written (delalloc) dirty data: no allocation, no data write, reservation released
            FolioFile g = create(fs, "delalloc");
            g.truncate(2 * mib);                               // the on-disk size covers the range (past it, punch writes back: the size rides on it)
            long free = fs.allocator().freeBlocks(), avail = fs.allocator().available();
            write(g, 0, pattern(3, mib));
            w = stats.bytes(org.foliofs.device.IoOp.WRITE);
            g.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, 0, mib);
            assertThat(stats.bytes(org.foliofs.device.IoOp.WRITE) - w).as("bytes written by the punch of 1 MiB of delalloc data")
                    .isLessThan(64 * 1024);
            assertThat(read(g, 0, mib)).isEqualTo(new byte[mib]);
            assertThat(fs.allocator().available()).isEqualTo(avail);
            g.fsync(false);
            assertThat(fs.allocator().freeBlocks()).isEqualTo(free);
            assertThat(fs.getattr(g.ino()).blocks()).isZero();

            // 3. zero range over dirty data: unwritten blocks, nothing of the old data written
            write(g, 0, pattern(4, 2 * mib));
            g.fsync(false);
            write(g, mib / 2, pattern(5, mib));
            w = stats.bytes(org.foliofs.device.IoOp.WRITE);
            g.fallocate(FolioFile.FALLOC_ZERO_RANGE, mib / 2, mib);
            assertThat(stats.bytes(org.foliofs.device.IoOp.WRITE) - w).as("bytes written by the zero range of a dirty 1 MiB")
                    .isLessThan(64 * 1024);
            byte[] z = pattern(4, 2 * mib);
            Arrays.fill(z, mib / 2, mib / 2 + mib, (byte) 0);
            assertThat(read(g, 0, 2 * mib)).isEqualTo(z);
            g.fsync(false);
            assertThat(readDirect(g, 0, 2 * mib)).isEqualTo(z);
            long zeroIno = g.ino();
            g.close();

            // 4. collapse: the removed range's dirty data is dropped; the shifted data's is written (it moves)
            FolioFile c = create(fs, "collapse");
            byte[] e = pattern(6, 3 * mib);
            write(c, 0, e);
            c.fsync(false);
            byte[] m = pattern(7, mib + BS);
            write(c, mib, m);                                  // dirty: [1 MiB, 2 MiB + 4 KiB)
            System.arraycopy(m, 0, e, mib, m.length);
            w = stats.bytes(org.foliofs.device.IoOp.WRITE);
            c.fallocate(FolioFile.FALLOC_COLLAPSE_RANGE, mib, mib);
            assertThat(stats.bytes(org.foliofs.device.IoOp.WRITE) - w).as("bytes written by the collapse of a dirty 1 MiB")
                    .isLessThan(mib / 2);
            byte[] ec = new byte[2 * mib];
            System.arraycopy(e, 0, ec, 0, mib);
            System.arraycopy(e, 2 * mib, ec, mib, mib);
            assertThat(read(c, 0, 2 * mib)).isEqualTo(ec);
            assertThat(readDirect(c, 0, 2 * mib)).as("the shifted dirty block reached the device").isEqualTo(ec);
            long collapseIno = c.ino();
            c.close();

            fs.close();
            FsckReport r = Fsck.check(dev);
            assertThat(r.problems()).as(r.describe()).isEmpty();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile a = fs2.openFile(punchIno); FolioFile b = fs2.openFile(zeroIno); FolioFile k = fs2.openFile(collapseIno)) {
                assertThat(read(a, 0, 4 * mib)).isEqualTo(d);
                assertThat(read(b, 0, 2 * mib)).isEqualTo(z);
                assertThat(read(k, 0, 2 * mib)).isEqualTo(ec);
            }
            fs2.close();
        }
    }
}
