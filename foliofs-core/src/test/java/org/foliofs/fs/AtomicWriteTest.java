package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.device.IoOp;
import org.foliofs.device.SimDevice;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/** Atomic (untorn) write-through (WRITETHROUGH.md section 10): limits, both paths, errors, async. */
class AtomicWriteTest {
    static final int BS = 4096;
    static final int AT = FolioFile.WRITETHROUGH | FolioFile.ATOMIC;

    static SimDevice device(int atomicMax) {
        var b = SimDevice.builder().capacity(128L << 20).seed(3);
        if (atomicMax > 0) b = b.atomicWriteUnits(4096, atomicMax);
        return b.build();
    }

    static FolioFs format(SimDevice dev) throws IOException {
        FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(2));
        fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(32L << 20).dirtyExpireMillis(3_600_000).build());
        return fs;
    }

    static MemorySegment data(long seed, int len) { return MemorySegment.ofArray(FolioFileTest.pattern(seed, len)); }

    @Test
    void limitsAreReportedAndEveryViolationIsRefusedBeforeAnythingIsWritten() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            assertThat(fs.atomicWriteUnitMin()).isEqualTo(BS);
            assertThat(fs.atomicWriteUnitMax()).isGreaterThanOrEqualTo(64 << 10).isLessThanOrEqualTo(1 << 20);
            assertThat(fs.atomicWriteSegmentsMax()).isEqualTo(1);
            long max = fs.atomicWriteUnitMax();
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), FolioFile.WRITETHROUGH);
                long writes = dev.stats().requests(IoOp.WRITE);
                String[][] bad = {
                        {"12288", "0", "power of two"}, {"2048", "0", "power of two"}, {String.valueOf(2 * max), "0", "power of two"},
                        {"16384", "4096", "naturally aligned"}, {"8192", "12288", "naturally aligned"}};
                for (String[] b : bad) {
                    int len = Integer.parseInt(b[0]);
                    long off = Long.parseLong(b[1]);
                    assertThatThrownBy(() -> f.write(off, data(9, len), AT)).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining(len + " bytes at offset " + off).hasMessageContaining(b[2])
                            .hasMessageContaining("unit max " + max);
                }
                assertThatThrownBy(() -> f.write(0, data(9, 16384), FolioFile.ATOMIC)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("needs WRITETHROUGH");
                assertThat(dev.stats().requests(IoOp.WRITE)).as("nothing written").isEqualTo(writes);
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(java.util.Arrays.copyOf(FolioFileTest.pattern(1, 1 << 20), 65536));
            }
            assertThatThrownBy(() -> fs.setAtomicWriteUnitMax(3 * 4096)).hasMessageContaining("(12288)");
            fs.close();
        }
    }

    @Test
    void softwarePathOverHoleUnwrittenAndWrittenRemapsInOneTransaction() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long ino;
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                ino = f.ino();
                f.write(0, data(1, 65536), FolioFile.WRITETHROUGH);        // written [0, 64K)
                f.fallocate(FolioFile.FALLOC_KEEP_SIZE, 65536, 65536);       // unwritten [64K, 128K); hole beyond
                long before = fs.allocator().freeBlocks();
                assertThat(f.write(0, data(2, 65536), AT | FolioFile.DSYNC)).isEqualTo(65536);
                assertThat(f.write(65536, data(3, 65536), AT)).isEqualTo(65536);
                assertThat(f.write(131072, data(4, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(fs.allocator().freeBlocks()).as("old blocks freed, staging consumed").isEqualTo(before - 4);
                int staging = fs.op(h -> fs.refcounts().cowStaging(h, 0).size() + fs.refcounts().cowStaging(h, 1).size());
                assertThat(staging).isZero();
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(FolioFileTest.pattern(2, 65536));
                assertThat(f.size()).isEqualTo(131072 + 16384);
            }
            fs.close();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(ino)) {
                assertThat(FolioFileTest.read(g, 0, 65536)).isEqualTo(FolioFileTest.pattern(2, 65536));
                assertThat(FolioFileTest.read(g, 65536, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
                assertThat(FolioFileTest.read(g, 131072, 16384)).isEqualTo(FolioFileTest.pattern(4, 16384));
            }
            fs2.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * The device writes 4 KiB (one block) atomically: a block-sized atomic write to a written extent
     * is one ATOMIC request in place. (Larger hardware units also need the extent's device address
     * aligned to the length; the allocator does not align extents yet, so those mostly take the
     * software path.)
     */
    @Test
    void hardwarePathIsOneAtomicRequestInPlace() throws IOException {
        try (SimDevice dev = device(4096)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), FolioFile.WRITETHROUGH);
                f.fsync(false);
                long free = fs.allocator().freeBlocks(), w = dev.stats().requests(IoOp.WRITE), at = dev.stats().atomicWrites();
                long fua = dev.stats().fuaWrites();
                assertThat(f.write(65536, data(2, 4096), AT | FolioFile.DSYNC)).isEqualTo(4096);
                assertThat(dev.stats().requests(IoOp.WRITE) - w).isEqualTo(1);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(dev.stats().fuaWrites() - fua).as("pure DSYNC overwrite: FUA").isEqualTo(1);
                assertThat(fs.allocator().freeBlocks()).as("in place: nothing allocated").isEqualTo(free);
                assertThat(FolioFileTest.readDirect(f, 65536, 4096)).isEqualTo(FolioFileTest.pattern(2, 4096));
                // larger than the device's unit: the software path, still untorn
                assertThat(f.write(131072, data(3, 65536), AT)).isEqualTo(65536);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(FolioFileTest.readDirect(f, 131072, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
            }
            fs.close();
        }
    }

    @Test
    void aFailedAtomicWriteLeavesTheRangeAllOldAndLeaksNothing() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 65536), FolioFile.WRITETHROUGH);
                f.fsync(false);
                long free = fs.allocator().freeBlocks();
                dev.faultPlan(FaultPlan.builder().failRange(0, dev.capacity(), IoOp.WRITE, Errno.EIO).build());
                assertThatThrownBy(() -> f.write(0, data(2, 65536), AT)).hasMessageContaining("EIO");
                dev.faultPlan(FaultPlan.none());
                assertThat(FolioFileTest.read(f, 0, 65536)).as("the cache forgot the new bytes").isEqualTo(FolioFileTest.pattern(1, 65536));
                fs.pageCache().evict(Long.MAX_VALUE);
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(FolioFileTest.pattern(1, 65536));
                assertThat(fs.allocator().freeBlocks()).as("the out-of-place blocks were freed").isEqualTo(free);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    @Test
    void asyncAtomicWriteCompletesOffTheCaller() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(128L << 20).seed(3).asyncCompletions(true).build()) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 65536), FolioFile.WRITETHROUGH);
                CompletableFuture<Long> r = f.writeAsync(16384, data(2, 16384), AT | FolioFile.DSYNC);
                assertThat(r.get(10, TimeUnit.SECONDS)).isEqualTo(16384);
                byte[] want = FolioFileTest.pattern(1, 65536);
                System.arraycopy(FolioFileTest.pattern(2, 16384), 0, want, 16384, 16384);
                assertThat(FolioFileTest.readDirect(f, 0, 65536)).isEqualTo(want);
            }
            fs.close();
        }
    }
}
