package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
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
        fs.setAtomicLogMax(0);   // these tests are about the out-of-place path; LoggedAtomicWriteTest covers logged overwrites
        return fs;
    }

    static MemorySegment data(long seed, int len) { return MemorySegment.ofArray(FolioFileTest.pattern(seed, len)); }

    /** File "a": 1 MiB of pattern 1 written through and durable (every block a written extent to overwrite). */
    static FolioFile writtenFile(FolioFs fs) throws IOException {
        FolioFile f = FolioFileTest.create(fs, "a");
        f.write(0, data(1, 1 << 20), FolioFile.WRITETHROUGH);
        f.fsync(false);
        return f;
    }

    /**
     * Free blocks, counting the staged blocks the atomic-write staging pool holds unused as free
     * (they go back on demand: {@link StagingPool#drain}).
     */
    static long free(FolioFs fs) { return fs.allocator().freeBlocks() + fs.staging().held(); }

    /** CoW staging blocks on the volume other than the pool's unused ones (those of writes in flight or leaked). */
    static long stagedOutsideThePool(FolioFs fs) throws IOException {
        long staged = fs.op(h -> {
            long n = 0;
            for (int g = 0; g < fs.superblock().agCount(); g++) for (long[] r : fs.refcounts().cowStaging(h, g)) n += r[1];
            return n;
        });
        return staged - fs.staging().held();
    }

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
                long before = free(fs);
                assertThat(f.write(0, data(2, 65536), AT | FolioFile.DSYNC)).isEqualTo(65536);
                assertThat(f.write(65536, data(3, 65536), AT)).isEqualTo(65536);
                assertThat(f.write(131072, data(4, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(free(fs)).as("old blocks freed, staging consumed").isEqualTo(before - 4);
                assertThat(stagedOutsideThePool(fs)).isZero();
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
            try (FolioFile f = writtenFile(fs)) {
                long free = free(fs), w = dev.stats().requests(IoOp.WRITE), at = dev.stats().atomicWrites();
                long fua = dev.stats().fuaWrites();
                assertThat(f.write(65536, data(2, 4096), AT | FolioFile.DSYNC)).isEqualTo(4096);
                assertThat(dev.stats().requests(IoOp.WRITE) - w).isEqualTo(1);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(dev.stats().fuaWrites() - fua).as("pure DSYNC overwrite: FUA").isEqualTo(1);
                assertThat(free(fs)).as("in place: nothing allocated").isEqualTo(free);
                assertThat(FolioFileTest.readDirect(f, 65536, 4096)).isEqualTo(FolioFileTest.pattern(2, 4096));
                // larger than the device's unit: the software path, still untorn
                assertThat(f.write(131072, data(3, 65536), AT)).isEqualTo(65536);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(FolioFileTest.readDirect(f, 131072, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
            }
            fs.close();
        }
    }

    /**
     * With the hardware path off, the same block-sized atomic overwrite of a written extent on a
     * device with a 4 KiB atomic unit goes out of place (no ATOMIC request; the pool's blocks, a
     * remap), reads back and survives a remount; turned on again, it is one ATOMIC request.
     */
    @Test
    void theHardwarePathCanBeTurnedOff() throws IOException {
        try (SimDevice dev = device(4096)) {
            FolioFs fs = format(dev);
            assertThat(fs.atomicHardwarePath()).isTrue();
            long ino;
            try (FolioFile f = writtenFile(fs)) {
                ino = f.ino();
                long before = deviceAddressOf(f, 65536), at = dev.stats().atomicWrites();
                fs.setAtomicHardwarePath(false);
                assertThat(f.write(65536, data(2, 4096), AT | FolioFile.DSYNC)).isEqualTo(4096);
                assertThat(dev.stats().atomicWrites() - at).as("no ATOMIC request").isZero();
                assertThat(deviceAddressOf(f, 65536)).as("out of place").isNotEqualTo(before);
                assertThat(FolioFileTest.readDirect(f, 65536, 4096)).isEqualTo(FolioFileTest.pattern(2, 4096));
                fs.setAtomicHardwarePath(true);
                assertThat(f.write(65536, data(3, 4096), AT | FolioFile.DSYNC)).isEqualTo(4096);
                assertThat(dev.stats().atomicWrites() - at).as("on again: one ATOMIC request").isEqualTo(1);
            }
            fs.close();
            FolioFs again = FolioFs.mount(dev);
            try (FolioFile f = again.openFile(ino)) {
                assertThat(FolioFileTest.readDirect(f, 65536, 4096)).isEqualTo(FolioFileTest.pattern(3, 4096));
            }
            again.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /** The mount-time default comes from a system property; a value other than true or false is refused by name. */
    @Test
    void theHardwarePathPropertyIsReadAtMountAndCheckedByName() throws IOException {
        try (SimDevice dev = device(4096)) {
            System.setProperty(FolioFs.ATOMIC_HARDWARE_PROPERTY, "false");
            try {
                FolioFs fs = format(dev);
                assertThat(fs.atomicHardwarePath()).isFalse();
                fs.close();
                System.setProperty(FolioFs.ATOMIC_HARDWARE_PROPERTY, "maybe");
                assertThatThrownBy(() -> FolioFs.mount(dev)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(FolioFs.ATOMIC_HARDWARE_PROPERTY).hasMessageContaining("'maybe'");
            } finally {
                System.clearProperty(FolioFs.ATOMIC_HARDWARE_PROPERTY);
            }
            FolioFs fs = FolioFs.mount(dev);
            assertThat(fs.atomicHardwarePath()).isTrue();
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
                long free = free(fs);
                dev.faultPlan(FaultPlan.builder().failRange(0, dev.capacity(), IoOp.WRITE, Errno.EIO).build());
                assertThatThrownBy(() -> f.write(0, data(2, 65536), AT)).hasMessageContaining("EIO");
                dev.faultPlan(FaultPlan.none());
                assertThat(FolioFileTest.read(f, 0, 65536)).as("the cache forgot the new bytes").isEqualTo(FolioFileTest.pattern(1, 65536));
                fs.pageCache().evict(Long.MAX_VALUE);
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(FolioFileTest.pattern(1, 65536));
                assertThat(free(fs)).as("the out-of-place blocks were freed").isEqualTo(free);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * A synchronous atomic write that finds another one in progress on the volume runs as an
     * asynchronous call and waits for it (its remap on the end-of-I/O threads): a lone writer does
     * not. Either way the caller sees a synchronous call: the bytes written, a device error thrown
     * as itself (the range all old, nothing leaked), and an interrupt while it waits neither stops
     * the write nor is lost. Never from a thread the engines need to finish calls (a future's
     * callback on the end-of-I/O pool).
     */
    @Test
    void aSynchronousAtomicWriteAmongOthersRunsAsAnAsynchronousCallAndReportsLikeASynchronousOne() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(128L << 20).seed(3).asyncCompletions(true).build()) {
            FolioFs fs = format(dev);
            try (FolioFile f = writtenFile(fs)) {
                long handed = fs.atomicHandedOff.sum();
                assertThat(f.write(0, data(2, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(fs.atomicHandedOff.sum()).as("a lone writer runs on its own thread").isEqualTo(handed);
                // two writers at once: the second one in is handed off
                dev.faultPlan(FaultPlan.builder().slowAll(150).build());
                CompletableFuture<Long> first = CompletableFuture.supplyAsync(() -> {
                    try {
                        return f.write(65536, data(3, 16384), AT | FolioFile.DSYNC);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                long until = System.nanoTime() + 10_000_000_000L;
                while (fs.atomicCallers.get() == 0 && System.nanoTime() < until) Thread.onSpinWait();
                assertThat(f.write(131072, data(4, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(16384);
                assertThat(fs.atomicHandedOff.sum() - handed).as("the second writer was handed off").isEqualTo(1);
                dev.faultPlan(FaultPlan.none());
                // another writer in progress (held here): a device error is thrown as itself
                fs.atomicCallers.incrementAndGet();
                try {
                    long free = free(fs);
                    dev.faultPlan(FaultPlan.builder().failRange(0, dev.capacity(), IoOp.WRITE, Errno.EIO).build());
                    assertThatThrownBy(() -> f.write(196608, data(5, 16384), AT | FolioFile.DSYNC))
                            .isInstanceOf(IOException.class).hasMessageContaining("EIO");
                    dev.faultPlan(FaultPlan.none());
                    assertThat(FolioFileTest.read(f, 196608, 16384)).as("all old").isEqualTo(java.util.Arrays.copyOfRange(FolioFileTest.pattern(1, 1 << 20), 196608, 196608 + 16384));
                    assertThat(free(fs)).as("the out-of-place blocks were freed").isEqualTo(free);
                    // interrupted before it waits: it still writes, and the interrupt stays set
                    Thread.currentThread().interrupt();
                    assertThat(f.write(262144, data(6, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                    assertThat(Thread.interrupted()).as("the interrupt kept for the caller").isTrue();
                    assertThat(fs.atomicHandedOff.sum() - handed).isEqualTo(3);
                    // from a callback of another call's future, on an end-of-I/O thread: never handed
                    // off (waiting there for a call's end could wait for that very thread)
                    dev.faultPlan(FaultPlan.builder().slowAll(50).build());   // pending when the callback is attached
                    Thread[] ranOn = new Thread[1];
                    CompletableFuture<Long> chained = f.writeAsync(327680, data(7, 16384), AT).thenApply(v -> {
                        ranOn[0] = Thread.currentThread();
                        try {
                            return f.write(393216, data(8, 16384), AT | FolioFile.DSYNC);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    assertThat(chained.get(10, TimeUnit.SECONDS)).isEqualTo(16384);
                    dev.faultPlan(FaultPlan.none());
                    assertThat(ranOn[0].getName()).as("the callback ran on an end-of-I/O thread").startsWith("foliofs-");
                    assertThat(fs.atomicHandedOff.sum() - handed).as("not handed off from there").isEqualTo(3);
                    assertThat(FolioFileTest.read(f, 393216, 16384)).isEqualTo(FolioFileTest.pattern(8, 16384));
                } finally {
                    fs.atomicCallers.decrementAndGet();
                }
                assertThat(fs.atomicCallers.get()).isZero();
                fs.pageCache().evict(Long.MAX_VALUE);
                assertThat(FolioFileTest.read(f, 0, 16384)).isEqualTo(FolioFileTest.pattern(2, 16384));
                assertThat(FolioFileTest.read(f, 65536, 16384)).isEqualTo(FolioFileTest.pattern(3, 16384));
                assertThat(FolioFileTest.read(f, 131072, 16384)).isEqualTo(FolioFileTest.pattern(4, 16384));
                assertThat(FolioFileTest.read(f, 262144, 16384)).isEqualTo(FolioFileTest.pattern(6, 16384));
                assertThat(stagedOutsideThePool(fs)).isZero();
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

    // ---- direct atomic writes (DIRECT | ATOMIC) -------------------------------------------------

    static final int DA = FolioFile.DIRECT | FolioFile.ATOMIC;

    @Test
    void directLimitsEveryViolationIsRefusedWithItsMessageAndNothingWritten() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long max = fs.atomicWriteUnitMax();
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), FolioFile.DIRECT);
                long writes = dev.stats().requests(IoOp.WRITE), free = free(fs);
                String[][] bad = {
                        {"12288", "0", "power of two"}, {"2048", "0", "power of two"}, {"512", "0", "power of two"},
                        {String.valueOf(2 * max), "0", "power of two"},
                        {"16384", "4096", "naturally aligned"}, {"8192", "12288", "naturally aligned"},
                        {"65536", "32768", "naturally aligned"}};
                for (String[] b : bad) {
                    int len = Integer.parseInt(b[0]);
                    long off = Long.parseLong(b[1]);
                    for (int flags : new int[] {DA, DA | FolioFile.DSYNC}) {
                        assertThatThrownBy(() -> f.write(off, data(9, len), flags)).isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining(len + " bytes at offset " + off).hasMessageContaining(b[2])
                                .hasMessageContaining("unit min " + BS).hasMessageContaining("unit max " + max);
                        assertThatThrownBy(() -> f.writeAsync(off, data(9, len), flags)).isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining(len + " bytes at offset " + off).hasMessageContaining(b[2]);
                    }
                }
                assertThatThrownBy(() -> f.write(0, data(9, 8192), DA | FolioFile.WRITETHROUGH)).hasMessageContaining("exclude");
                assertThat(dev.stats().requests(IoOp.WRITE)).as("nothing written").isEqualTo(writes);
                assertThat(free(fs)).as("nothing allocated").isEqualTo(free);
                assertThat(FolioFileTest.readDirect(f, 0, 1 << 20)).isEqualTo(FolioFileTest.pattern(1, 1 << 20));
            }
            fs.close();
        }
    }

    /** Direct atomic, software path: over a hole, unwritten, written and shared extents; remap in one transaction, blocks accounted. */
    @Test
    void directSoftwarePathOverHoleUnwrittenWrittenAndSharedExtents() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long ino, inoB;
            byte[] bData = FolioFileTest.pattern(7, 65536);
            try (FolioFile f = FolioFileTest.create(fs, "a"); FolioFile b = FolioFileTest.create(fs, "b")) {
                ino = f.ino();
                inoB = b.ino();
                f.write(0, data(1, 65536), FolioFile.DIRECT);                 // written [0, 64K)
                f.fallocate(FolioFile.FALLOC_KEEP_SIZE, 65536, 65536);       // unwritten [64K, 128K)
                b.write(0, MemorySegment.ofArray(bData), FolioFile.DIRECT);
                f.truncate(262144);
                f.cloneRange(b, 0, 196608, 65536);                            // shared [192K, 256K); hole [128K, 192K)
                fs.sync();
                long before = free(fs);
                assertThat(f.write(0, data(2, 65536), DA | FolioFile.DSYNC)).isEqualTo(65536);   // written
                assertThat(f.write(65536, data(3, 65536), DA)).isEqualTo(65536);                  // unwritten
                assertThat(f.write(131072, data(4, 16384), DA | FolioFile.DSYNC)).isEqualTo(16384); // hole
                assertThat(f.write(196608, data(5, 65536), DA)).isEqualTo(65536);                 // shared
                assertThat(free(fs)).as("old written blocks freed, unwritten freed, shared kept by b, staging consumed")
                        .isEqualTo(before - 4 - 16);
                assertThat(stagedOutsideThePool(fs)).isZero();
                assertThat(FolioFileTest.read(f, 196608, 65536)).as("buffered read sees the direct write").isEqualTo(FolioFileTest.pattern(5, 65536));
                assertThat(FolioFileTest.readDirect(b, 0, 65536)).as("the other file of the shared pair").isEqualTo(bData);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(ino); FolioFile b = fs2.openFile(inoB)) {
                assertThat(FolioFileTest.readDirect(g, 0, 65536)).isEqualTo(FolioFileTest.pattern(2, 65536));
                assertThat(FolioFileTest.readDirect(g, 65536, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
                assertThat(FolioFileTest.readDirect(g, 131072, 16384)).isEqualTo(FolioFileTest.pattern(4, 16384));
                assertThat(FolioFileTest.readDirect(g, 196608, 65536)).isEqualTo(FolioFileTest.pattern(5, 65536));
                assertThat(FolioFileTest.readDirect(b, 0, 65536)).isEqualTo(bData);
                assertThat(g.size()).isEqualTo(262144);
            }
            fs2.close();
        }
    }

    /** Cached (dirty and clean) folios over the range are written back and invalidated, as for direct writes; an extending write moves the size. */
    @Test
    void directAtomicWritesBackAndInvalidatesTheCacheAndExtends() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                byte[] want = FolioFileTest.pattern(1, 131072);
                f.write(0, MemorySegment.ofArray(want));                      // dirty in the cache (delalloc)
                assertThat(FolioFileTest.read(f, 0, 131072)).isEqualTo(want);
                byte[] neu = FolioFileTest.pattern(2, 32768);
                assertThat(f.write(32768, MemorySegment.ofArray(neu), DA)).isEqualTo(32768);
                System.arraycopy(neu, 0, want, 32768, 32768);
                assertThat(FolioFileTest.read(f, 0, 131072)).as("buffered, no stale cached data").isEqualTo(want);
                assertThat(FolioFileTest.readDirect(f, 0, 131072)).as("the rest was written back").isEqualTo(want);
                assertThat(f.write(262144, data(3, 65536), DA | FolioFile.DSYNC)).isEqualTo(65536);
                assertThat(f.size()).isEqualTo(262144 + 65536);
                assertThat(FolioFileTest.read(f, 131072, 131072)).isEqualTo(new byte[131072]);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    @Test
    void directHardwarePathIsOneAtomicRequestInPlace() throws IOException {
        try (SimDevice dev = device(4096)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), FolioFile.DIRECT);
                f.fsync(false);
                long free = free(fs), w = dev.stats().requests(IoOp.WRITE), at = dev.stats().atomicWrites();
                long fua = dev.stats().fuaWrites(), fl = dev.stats().requests(IoOp.FLUSH);
                assertThat(f.write(65536, data(2, 4096), DA | FolioFile.DSYNC)).isEqualTo(4096);
                assertThat(dev.stats().requests(IoOp.WRITE) - w).isEqualTo(1);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(dev.stats().fuaWrites() - fua).as("pure DSYNC overwrite: FUA").isEqualTo(1);
                assertThat(dev.stats().requests(IoOp.FLUSH) - fl).as("and no flush").isZero();
                assertThat(free(fs)).as("in place: nothing allocated").isEqualTo(free);
                assertThat(FolioFileTest.readDirect(f, 65536, 4096)).isEqualTo(FolioFileTest.pattern(2, 4096));
                // larger than the device's unit: the software path
                assertThat(f.write(131072, data(3, 65536), DA)).isEqualTo(65536);
                assertThat(dev.stats().atomicWrites() - at).isEqualTo(1);
                assertThat(FolioFileTest.read(f, 131072, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /** Error injection: the one request fails; the range stays all old (cache and device), the out-of-place blocks are freed, fsck clean. */
    @Test
    void aFailedDirectAtomicWriteLeavesTheRangeAllOldAndLeaksNothing() throws Exception {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long ino;
            try (FolioFile f = FolioFileTest.create(fs, "a"); FolioFile b = FolioFileTest.create(fs, "b")) {
                ino = f.ino();
                f.write(0, data(1, 131072), FolioFile.WRITETHROUGH);
                b.truncate(65536);
                b.cloneRange(f, 65536, 0, 65536);                            // [64K, 128K) shared
                f.fsync(false);
                fs.sync();
                long free = free(fs);
                dev.faultPlan(FaultPlan.builder().failRange(0, dev.capacity(), IoOp.WRITE, Errno.EIO).build());
                assertThatThrownBy(() -> f.write(0, data(2, 65536), DA)).hasMessageContaining("EIO");
                assertThatThrownBy(() -> f.write(65536, data(2, 65536), DA | FolioFile.DSYNC)).hasMessageContaining("EIO");
                CompletableFuture<Long> r = f.writeAsync(0, data(3, 16384), DA);
                assertThatThrownBy(() -> r.get(10, TimeUnit.SECONDS)).hasMessageContaining("EIO");
                dev.faultPlan(FaultPlan.none());
                assertThat(FolioFileTest.read(f, 0, 131072)).isEqualTo(FolioFileTest.pattern(1, 131072));
                assertThat(FolioFileTest.readDirect(f, 0, 131072)).isEqualTo(FolioFileTest.pattern(1, 131072));
                assertThat(f.size()).isEqualTo(131072);
                assertThat(free(fs)).as("the out-of-place blocks were freed").isEqualTo(free);
                assertThat(stagedOutsideThePool(fs)).isZero();
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).as("no leaked blocks").isEmpty();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(ino)) {
                assertThat(FolioFileTest.readDirect(g, 0, 131072)).isEqualTo(FolioFileTest.pattern(1, 131072));
            }
            fs2.close();
        }
    }

    @Test
    void asyncDirectAtomicWriteCompletesOffTheCaller() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(128L << 20).seed(3).asyncCompletions(true).build()) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 65536), FolioFile.DIRECT);
                // Slow requests: each future is still pending when its callback is attached (a
                // callback attached to a completed future runs on the attaching thread).
                dev.faultPlan(org.foliofs.device.FaultPlan.builder().slowAll(200).build());
                Thread caller = Thread.currentThread();
                Thread[] ranOn = new Thread[2];
                // Wait on the dependents, never on r/r2 themselves: a thread blocked in r.get() may
                // run r's pending callbacks itself (CompletableFuture's helping), which would record it.
                CompletableFuture<Long> r = f.writeAsync(16384, data(2, 16384), DA | FolioFile.DSYNC)
                        .whenComplete((v, t) -> ranOn[0] = Thread.currentThread());
                CompletableFuture<Long> r2 = f.writeAsync(131072, data(3, 65536), DA)   // extending, waits for the first
                        .whenComplete((v, t) -> ranOn[1] = Thread.currentThread());
                assertThat(r.get(10, TimeUnit.SECONDS)).isEqualTo(16384);
                assertThat(r2.get(10, TimeUnit.SECONDS)).isEqualTo(65536);
                assertThat(ranOn).doesNotContain(caller);
                dev.faultPlan(org.foliofs.device.FaultPlan.none());
                byte[] want = FolioFileTest.pattern(1, 65536);
                System.arraycopy(FolioFileTest.pattern(2, 16384), 0, want, 16384, 16384);
                assertThat(FolioFileTest.readDirect(f, 0, 65536)).isEqualTo(want);
                assertThat(FolioFileTest.read(f, 131072, 65536)).isEqualTo(FolioFileTest.pattern(3, 65536));
                assertThat(f.size()).isEqualTo(196608);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * Overlapping atomic writes (direct and write-through, sync and async) from several threads
     * serialise: buffered readers see every 64 KiB range all one writer's data, and so does the
     * device at the end.
     */
    @Test
    void overlappingAtomicWritesSerialise() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(128L << 20).seed(4).asyncCompletions(true).build()) {
            FolioFs fs = format(dev);
            int writers = 3, rounds = 40, len = 65536;
            byte[][] pats = new byte[writers + 1][];
            for (int k = 0; k <= writers; k++) pats[k] = FolioFileTest.pattern(100 + k, len);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, MemorySegment.ofArray(pats[writers]), FolioFile.DIRECT);
                java.util.concurrent.atomic.AtomicReference<Throwable> fail = new java.util.concurrent.atomic.AtomicReference<>();
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                List<Thread> ts = new java.util.ArrayList<>();
                for (int k = 0; k < writers; k++) {
                    int w = k;
                    ts.add(new Thread(() -> {
                        try {
                            for (int i = 0; i < rounds; i++) {
                                int flags = (i % 3 == 0 ? AT : DA) | (i % 4 == 0 ? FolioFile.DSYNC : 0);
                                MemorySegment src = MemorySegment.ofArray(pats[w]);
                                long n = i % 2 == 0 ? f.write(0, src, flags) : f.writeAsync(0, src, flags).get(10, TimeUnit.SECONDS);
                                if (n != len) throw new AssertionError("wrote " + n);
                            }
                        } catch (Throwable t) { fail.compareAndSet(null, t); }
                    }, "atomic-writer-" + k));
                }
                Thread reader = new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            byte[] got = FolioFileTest.read(f, 0, len);
                            boolean one = false;
                            for (byte[] p : pats) one |= java.util.Arrays.equals(got, p);
                            if (!one) throw new AssertionError("a reader saw a torn range");
                        }
                    } catch (Throwable t) { fail.compareAndSet(null, t); }
                }, "atomic-reader");
                ts.forEach(Thread::start);
                reader.start();
                for (Thread t : ts) t.join(60_000);
                stop.set(true);
                reader.join(60_000);
                if (fail.get() != null) throw new AssertionError(fail.get());
                byte[] dev1 = FolioFileTest.readDirect(f, 0, len), cached = FolioFileTest.read(f, 0, len);
                assertThat(dev1).isEqualTo(cached);
                boolean one = false;
                for (byte[] p : pats) one |= java.util.Arrays.equals(dev1, p);
                assertThat(one).as("the range is one writer's data").isTrue();
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * Atomic writes to disjoint ranges of one file run together: the second is submitted while the
     * first is still on the (slow) device, for asynchronous and synchronous calls alike (they used
     * to take the inode lock exclusively for the whole I/O and wait for every call in flight).
     */
    @Test
    void atomicWritesToDisjointRangesOfOneFileOverlap() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(128L << 20).seed(5).asyncCompletions(true).build()) {
            FolioFs fs = format(dev);
            int len = 16384;
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                // One folio per range (stable pages are per folio: writes into one folio take turns)
                for (int k = 0; k < 4; k++) f.write((long) k * len, data(1, len), FolioFile.WRITETHROUGH | FolioFile.DSYNC);
                dev.faultPlan(FaultPlan.builder().slowAll(150).build());
                long base = dev.stats().requests(IoOp.WRITE);
                CompletableFuture<Long> a = f.writeAsync(0, data(2, len), AT | FolioFile.DSYNC);
                CompletableFuture<Long> b = f.writeAsync(len, data(3, len), AT | FolioFile.DSYNC);
                assertThat(a).as("the first is still in flight when the second was submitted").isNotDone();
                CompletableFuture<Long> c = new CompletableFuture<>();
                Thread sync = Thread.ofPlatform().start(() -> {
                    try { c.complete(f.write(2L * len, data(4, len), AT | FolioFile.DSYNC)); } catch (Throwable t) { c.completeExceptionally(t); }
                });
                long t0 = System.nanoTime();
                while (dev.stats().requests(IoOp.WRITE) < base + 3 && System.nanoTime() - t0 < 5_000_000_000L) Thread.sleep(1);
                assertThat(a).as("a synchronous atomic write to a third range is submitted meanwhile").isNotDone();
                CompletableFuture.allOf(a.thenApply(x -> x), b.thenApply(x -> x), c).get(30, TimeUnit.SECONDS);
                sync.join();
                dev.faultPlan(FaultPlan.none());
                assertThat(a.join() + b.join() + c.join()).isEqualTo(3L * len);
                for (int k = 0; k < 3; k++)
                    assertThat(FolioFileTest.readDirect(f, (long) k * len, len)).isEqualTo(FolioFileTest.pattern(2 + k, len));
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * An atomic DSYNC write's remap commits without PREFLUSH (its data is checksummed in the
     * record instead: one cache flush per commit, not two), and an in-place overwrite of those
     * blocks right after it first puts a barrier in the log, so that recovery does not take the new
     * bytes for a torn atomic write and drop its remap (which would bring back the data from before
     * the atomic write).
     */
    @Test
    void atomicRemapCommitsWithoutPreflushAndAnInPlaceOverwriteAfterItSurvivesACrash() throws Exception {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            int len = 16384;
            long ino;
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                ino = f.ino();
                f.write(0, data(1, 4 * len), FolioFile.WRITETHROUGH | FolioFile.DSYNC);
                long preflushes = dev.stats().preflushWrites();
                assertThat(f.write(len, data(2, len), AT | FolioFile.DSYNC)).isEqualTo(len);
                assertThat(dev.stats().preflushWrites()).as("the remap's commit has no PREFLUSH").isEqualTo(preflushes);
                // the same blocks, now the file's, overwritten in place (a pure DSYNC overwrite: FUA, no commit of its own)
                assertThat(f.write(len, data(3, len), FolioFile.WRITETHROUGH | FolioFile.DSYNC)).isEqualTo(len);
            }
            fs.abandon();
            dev.crash();
            FolioFs again = FolioFs.mount(dev);
            try (FolioFile f = again.openFile(ino)) {
                assertThat(FolioFileTest.read(f, len, len)).as("the in-place overwrite, over the atomic write's blocks")
                        .isEqualTo(FolioFileTest.pattern(3, len));
                assertThat(FolioFileTest.read(f, 0, len)).isEqualTo(java.util.Arrays.copyOfRange(FolioFileTest.pattern(1, 4 * len), 0, len));
            }
            again.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    // ---- the staging pool ------------------------------------------------------------------------

    /**
     * Small atomic writes take their staging blocks from a pool: one handle stages a chunk for
     * many writes (each write then runs only its remap handle), and a DSYNC one issues no FLUSH of
     * its own (its remap's commit ends with the flush). A clean unmount gives the unused rest back:
     * the mount after it frees nothing and fsck finds no staging.
     */
    @Test
    void smallAtomicWritesShareOneStagingChunkAndTheRestGoesBackAtUnmount() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long ino;
            int n = 32;
            try (FolioFile f = writtenFile(fs)) {
                ino = f.ino();
                long handles = fs.journal().stats().handles(), flushes = dev.stats().requests(IoOp.FLUSH);
                long[] c0 = fs.staging().counts();
                for (int i = 0; i < n; i++) assertThat(f.write(i * 16384L, data(10 + i, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                long[] c1 = fs.staging().counts();
                assertThat(c1[1] - c0[1]).as("writes served by the pool").isEqualTo(n);
                assertThat(c1[0] - c0[0]).as("chunks staged for them").isEqualTo(1);
                assertThat(fs.journal().stats().handles() - handles).as("one remap handle per write, one for the chunk").isEqualTo(n + 1);
                assertThat(dev.stats().requests(IoOp.FLUSH) - flushes).as("no FLUSH besides the commits' post-flushes").isZero();
                // the first write's blocks came from the chunk; each remap (DSYNC: committed)
                // recycled the range's old blocks, which the next write took
                assertThat(fs.staging().recycledCounts()).as("writes served recycled, blocks waiting").containsExactly(n - 1, 4);
                assertThat(fs.staging().held()).isEqualTo(StagingPool.CHUNK_BLOCKS - 4 + 4);
                assertThat(stagedOutsideThePool(fs)).isZero();
            }
            fs.close();
            FolioFs again = FolioFs.mount(dev);
            assertThat(again.mountLog()).noneMatch(l -> l.contains("copy-on-write"));
            try (FolioFile f = again.openFile(ino)) {
                for (int i = 0; i < n; i++) assertThat(FolioFileTest.read(f, i * 16384L, 16384)).isEqualTo(FolioFileTest.pattern(10 + i, 16384));
            }
            again.close();
            FsckReport r = Fsck.check(dev);
            assertThat(r.problems()).isEmpty();
            assertThat(r.notes()).noneMatch(x -> x.contains("CoW staging"));
        }
    }

    /** A crash while the pool holds staged blocks: mount frees them like any interrupted copy-on-write. */
    @Test
    void aCrashWithThePoolHoldingBlocksLeaksNothing() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            long ino;
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                ino = f.ino();
                f.write(0, data(1, 65536), FolioFile.WRITETHROUGH | FolioFile.DSYNC);
                assertThat(f.write(16384, data(2, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(fs.staging().held()).as("the chunk's rest and the 4 recycled old blocks").isEqualTo(StagingPool.CHUNK_BLOCKS);
            }
            fs.abandon();
            dev.crash();
            FolioFs again = FolioFs.mount(dev);
            assertThat(again.mountLog()).anyMatch(l -> l.contains("freed " + StagingPool.CHUNK_BLOCKS + " blocks of interrupted copy-on-write"));
            try (FolioFile f = again.openFile(ino)) {
                assertThat(FolioFileTest.read(f, 16384, 16384)).as("acknowledged DSYNC atomic write").isEqualTo(FolioFileTest.pattern(2, 16384));
            }
            again.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * An atomic remap stages the range's old blocks again instead of freeing them, and they serve
     * the next atomic write of their length only once that remap is committed (before, a crash
     * would map them back into the file). A stream of such overwrites frees no data block: the
     * volume's free count moves only by the extent tree's new nodes.
     */
    @Test
    void anAtomicRemapRecyclesTheOldBlocksOnceItsCommitIsDurable() throws IOException {
        try (SimDevice dev = device(0)) {
            FolioFs fs = format(dev);
            try (FolioFile f = writtenFile(fs)) {
                long oldA = deviceAddressOf(f, 0), oldB = deviceAddressOf(f, 65536);
                assertThat(f.write(0, data(2, 16384), AT)).isEqualTo(16384);   // no DSYNC: its remap is not committed yet
                assertThat(fs.staging().recycledCounts()).as("recycled only once committed").containsExactly(0, 0);
                assertThat(f.write(65536, data(3, 16384), AT)).isEqualTo(16384);
                assertThat(deviceAddressOf(f, 65536)).as("not the uncommitted remap's old blocks").isNotEqualTo(oldA);
                assertThat(fs.commit()).isTrue();
                assertThat(fs.staging().recycledCounts()).containsExactly(0, 8);
                long free = fs.allocator().freeBlocks();
                assertThat(f.write(131072, data(4, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                assertThat(deviceAddressOf(f, 131072)).as("one of the recycled extents").isIn(oldA, oldB);
                for (int i = 0; i < 64; i++)
                    assertThat(f.write((i % 16) * 65536L + 16384, data(10 + i, 16384), AT | FolioFile.DSYNC)).isEqualTo(16384);
                // without recycling, each remap would free its 4 old blocks (the count would grow
                // by 4 a write); with it, only the extent tree's growth takes a block or two
                assertThat(fs.allocator().freeBlocks()).as("no data freed, nothing allocated but extent-tree nodes")
                        .isBetween(free - 4, free);
                assertThat(fs.staging().recycledCounts()[0]).as("writes served recycled").isEqualTo(65);
                assertThat(FolioFileTest.read(f, 0, 16384)).isEqualTo(FolioFileTest.pattern(2, 16384));
                assertThat(FolioFileTest.read(f, 65536, 16384)).isEqualTo(FolioFileTest.pattern(3, 16384));
                assertThat(FolioFileTest.read(f, 131072, 16384)).isEqualTo(FolioFileTest.pattern(4, 16384));
                for (int i = 0; i < 16; i++)
                    assertThat(FolioFileTest.read(f, i * 65536L + 16384, 16384)).isEqualTo(FolioFileTest.pattern(10 + 48 + i, 16384));
                assertThat(stagedOutsideThePool(fs)).isZero();
            }
            fs.close();
            FsckReport r = Fsck.check(dev);
            assertThat(r.problems()).isEmpty();
            assertThat(r.notes()).as("unmount drained the recycled extents too").noneMatch(x -> x.contains("CoW staging"));
        }
    }

    /** The pool's staged blocks are free space on demand: an allocation that needs them drains the pool instead of failing with ENOSPC. */
    @Test
    void theStagingPoolGivesItsBlocksBackBeforeEnospc() throws IOException {
        try (SimDevice dev = SimDevice.builder().capacity(64L << 20).seed(3).build()) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a"); FolioFile g = FolioFileTest.create(fs, "b")) {
                f.write(0, data(1, 16384), FolioFile.WRITETHROUGH);
                assertThat(f.write(0, data(2, 16384), AT)).isEqualTo(16384);
                long held = fs.staging().held();
                assertThat(held).as("the pool holds the rest of its chunk").isEqualTo(StagingPool.CHUNK_BLOCKS - 4);
                long free = fs.allocator().freeBlocks();
                long bytes = (free + held / 2) * BS;   // more than is free outside the pool
                g.fallocate(0, 0, bytes);
                assertThat(g.size()).isEqualTo(bytes);
                assertThat(fs.staging().held()).as("drained").isZero();
                assertThat(FolioFileTest.read(f, 0, 16384)).isEqualTo(FolioFileTest.pattern(2, 16384));
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    // ---- allocation aligned to the device's atomic unit ----------------------------------------

    /** Device address of the extent holding {@code pos} (its first block's address plus the offset). */
    static long deviceAddressOf(FolioFile f, long pos) throws IOException {
        List<org.foliofs.iomap.IoMap> ms = f.extents(pos, BS);
        assertThat(ms).isNotEmpty();
        return ms.getFirst().deviceAddressOf(pos);
    }

    /**
     * On a device with a 64 KiB atomic unit, the software path's new extent, delalloc conversion
     * and fallocate allocate unit-aligned (device block ≡ file block modulo 16 blocks), so the
     * next atomic overwrite of such a range is one ATOMIC request in place. Without atomic units
     * the same sequence leaves the extents misaligned (the check can fail).
     */
    @Test
    void allocationsAlignToTheAtomicUnitSoOverwritesTakeTheHardwarePath() throws IOException {
        int unit = 65536;
        for (int devUnit : new int[] {unit, 0}) {
            try (SimDevice dev = device(devUnit)) {
                FolioFs fs = format(dev);
                try (FolioFile pad = FolioFileTest.create(fs, "pad"); FolioFile a = FolioFileTest.create(fs, "a");
                     FolioFile c = FolioFileTest.create(fs, "c"); FolioFile d = FolioFileTest.create(fs, "d")) {
                    pad.write(0, data(1, 3 * BS), FolioFile.DIRECT);            // the next free block is not aligned now
                    pad.fsync(false);
                    // software path (hole), then the overwrite
                    assertThat(a.write(unit, data(2, unit), DA | FolioFile.DSYNC)).isEqualTo(unit);
                    c.write(0, data(3, 4 * unit));                              // delalloc, converted by fsync
                    c.fsync(false);
                    pad.write(3 * BS, data(4, BS), FolioFile.DIRECT);           // misalign again
                    d.fallocate(0, 0, 2 * unit);
                    d.write(0, data(5, 2 * unit), FolioFile.DIRECT);
                    fs.sync();
                    List<Long> addrs = List.of(deviceAddressOf(a, unit), deviceAddressOf(c, unit), deviceAddressOf(d, unit));
                    if (devUnit == 0) {
                        assertThat(addrs).as("no atomic unit: no alignment, the extents stay misaligned")
                                .anyMatch(x -> x % unit != 0);
                        continue;
                    }
                    assertThat(addrs).as("unit-aligned: atomic software path, delalloc conversion, fallocate").allMatch(x -> x % unit == 0);
                    long at = dev.stats().atomicWrites(), w = dev.stats().requests(IoOp.WRITE), free = free(fs);
                    assertThat(a.write(unit, data(6, unit), DA)).isEqualTo(unit);
                    assertThat(c.write(unit, data(7, unit), AT)).isEqualTo(unit);
                    assertThat(d.write(unit + 16384, data(8, 16384), DA | FolioFile.DSYNC)).isEqualTo(16384);
                    assertThat(dev.stats().atomicWrites() - at).as("each overwrite: one ATOMIC request in place").isEqualTo(3);
                    assertThat(dev.stats().requests(IoOp.WRITE) - w).isEqualTo(3);
                    assertThat(free(fs)).as("nothing allocated").isEqualTo(free);
                    assertThat(FolioFileTest.readDirect(a, unit, unit)).isEqualTo(FolioFileTest.pattern(6, unit));
                    assertThat(FolioFileTest.readDirect(c, unit, unit)).isEqualTo(FolioFileTest.pattern(7, unit));
                    assertThat(FolioFileTest.read(d, unit + 16384, 16384)).isEqualTo(FolioFileTest.pattern(8, 16384));
                }
                fs.close();
                assertThat(Fsck.check(dev).problems()).isEmpty();
            }
        }
    }
}
