package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.device.IoOp;
import org.foliofs.device.SimDevice;
import org.foliofs.iomap.BufferedIo;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/**
 * Buffered write-through on FolioFS (WRITETHROUGH.md sections 1-9): request counts, cache state,
 * per-block dirty bits, FUA vs flush, errors at each request, EOF trimming, stable folios, truncate
 * racing an asynchronous call, write modes.
 */
class WriteThroughTest {
    static final int BS = 4096;
    static final int WT = FolioFile.WRITETHROUGH, DSYNC = FolioFile.DSYNC;

    static SimDevice device(boolean async) {
        return SimDevice.builder().capacity(128L << 20).seed(11).asyncCompletions(async).build();
    }

    static FolioFs format(SimDevice dev, int bs, BufferedIo.Options opts) throws IOException {
        FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(bs).withAgCount(2));
        fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(32L << 20).dirtyExpireMillis(3_600_000).build());
        if (opts != null) fs.setBufferedIoOptions(opts);
        return fs;
    }

    static FolioFs format(SimDevice dev) throws IOException { return format(dev, BS, null); }

    static long writes(SimDevice dev) { return dev.stats().requests(IoOp.WRITE); }

    static MemorySegment data(long seed, int len) { return MemorySegment.ofArray(FolioFileTest.pattern(seed, len)); }

    /** The file's extents as {fileBlock, deviceBlock, length}. */
    static List<Extent> extents(FolioFs fs, long ino) throws IOException {
        return fs.op(h -> ExtentMap.all(h, Inodes.get(h, ino)));
    }

    /** A file whose [0, k * 64 KiB) lies in k extents that are not contiguous on the device (another file's blocks between). */
    static FolioFile fragmented(FolioFs fs, String name, int k) throws IOException {
        FolioFile f = FolioFileTest.create(fs, name);
        try (FolioFile other = FolioFileTest.create(fs, name + ".gap")) {
            for (int i = 0; i < k; i++) {
                assertThat(f.writeDirect(i * 65536L, data(i, 65536), 0)).isEqualTo(65536);
                assertThat(other.writeDirect(i * 4096L, data(100 + i, 4096), 0)).isEqualTo(4096);
            }
        }
        assertThat(extents(fs, f.ino())).hasSize(k);
        return f;
    }

    @Test
    void oneRequestPerMappingNotPerFolio() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                long w = writes(dev);
                assertThat(f.write(0, data(1, 1 << 20), WT)).isEqualTo(1 << 20);   // a hole: one new extent
                assertThat(extents(fs, f.ino())).hasSize(1);
                assertThat(writes(dev) - w).as("1 MiB write-through into one new extent").isEqualTo(1);
                w = writes(dev);
                assertThat(f.write(0, data(2, 1 << 20), WT)).isEqualTo(1 << 20);   // overwrite of written blocks
                assertThat(writes(dev) - w).as("1 MiB write-through overwrite").isEqualTo(1);
            }
            try (FolioFile f = fragmented(fs, "b", 4)) {
                long w = writes(dev);
                assertThat(f.write(0, data(3, 4 * 65536), WT)).isEqualTo(4 * 65536);
                assertThat(writes(dev) - w).as("write-through over 4 extents").isEqualTo(4);
                assertThat(FolioFileTest.read(f, 0, 4 * 65536)).isEqualTo(FolioFileTest.pattern(3, 4 * 65536));
            }
            fs.close();
        }
    }

    @Test
    void perFolioModeIssuesOneRequestPerFolio() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev, BS, BufferedIo.Options.defaults().withMaxFolioOrder(0).withPerFolioRequests(true));
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), WT);
                long w = writes(dev);
                f.write(0, data(2, 1 << 20), WT);
                assertThat(writes(dev) - w).as("per-folio submission, 4 KiB folios").isEqualTo(256);
            }
            fs.close();
        }
    }

    @Test
    void foliosStayCachedCleanAndUpToDateAndSurviveRemount() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            long ino;
            byte[] d = FolioFileTest.pattern(5, 300_000);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                ino = f.ino();
                assertThat(f.write(1000, MemorySegment.ofArray(d), WT)).isEqualTo(d.length);
                assertThat(fs.pageCache().stats().dirtyBytes()).as("write-through leaves no dirty backlog").isZero();
                assertThat(fs.pageCache().stats().writebackBytes()).isZero();
                long r = dev.stats().requests(IoOp.READ);
                assertThat(FolioFileTest.read(f, 1000, d.length)).isEqualTo(d);
                assertThat(dev.stats().requests(IoOp.READ) - r).as("reads after write-through hit the cache").isZero();
                assertThat(f.inode().delallocBlocks()).isZero();
                assertThat(fs.getattr(ino).size()).as("on-disk size moved at end of I/O").isEqualTo(1000 + d.length);
            }
            fs.close();
            FolioFs fs2 = FolioFs.mount(dev);
            try (FolioFile g = fs2.openFile(ino)) {
                assertThat(FolioFileTest.read(g, 0, 1000)).isEqualTo(new byte[1000]);
                assertThat(FolioFileTest.read(g, 1000, d.length)).isEqualTo(d);
            }
            fs2.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    @Test
    void writeThroughCleansOnlyItsBlocksOfAFolio() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev, 1024, BufferedIo.Options.defaults().withMaxFolioOrder(0));
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 4096), WT);                 // one 4 KiB folio of four 1 KiB blocks, on the device
                f.write(0, data(2, 1024), 0);                  // block 0 dirty (buffered)
                assertThat(fs.pageCache().stats().dirtyBytes()).isEqualTo(4096);
                long w = writes(dev), bytes = dev.stats().bytes(IoOp.WRITE);
                f.write(2048, data(3, 1024), WT);               // block 2 through
                assertThat(writes(dev) - w).isEqualTo(1);
                assertThat(dev.stats().bytes(IoOp.WRITE) - bytes).as("only the written block goes down").isEqualTo(1024);
                assertThat(fs.pageCache().stats().dirtyBytes()).as("block 0 is still dirty: the folio stays dirty").isEqualTo(4096);
                w = writes(dev);
                f.fsync(false);
                assertThat(fs.pageCache().stats().dirtyBytes()).isZero();
                byte[] want = FolioFileTest.pattern(1, 4096);
                System.arraycopy(FolioFileTest.pattern(2, 1024), 0, want, 0, 1024);
                System.arraycopy(FolioFileTest.pattern(3, 1024), 0, want, 2048, 1024);
                assertThat(FolioFileTest.readDirect(f, 0, 4096)).isEqualTo(want);
            }
            fs.close();
        }
    }

    /**
     * Writeback never writes a folio while write-through is writing it: a folio with a dirty block
     * (buffered) and another block under asynchronous write-through; an fsync meanwhile waits for
     * the write-through's writeback before it writes the folio, so the device never has two writes
     * of one folio in flight, and both blocks end up on the device.
     */
    @Test
    void writebackWaitsForAFolioUnderWriteThrough() throws Exception {
        try (SimDevice dev = device(true)) {
            FolioFs fs = format(dev, 1024, BufferedIo.Options.defaults().withMaxFolioOrder(0));
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 4096), WT);
                f.write(0, data(2, 1024), 0);                                   // block 0 dirty
                // 800 ms per request: the checks below run within 100 ms of the call, so only a stall
                // of the test thread of ~700 ms could let the write-through end before them
                dev.faultPlan(FaultPlan.builder().slowAll(800).build());
                CompletableFuture<Long> wt = f.writeAsync(2048, data(3, 1024), WT);   // block 2 through, in flight
                assertThat(wt).isNotDone();
                long w = writes(dev);
                CompletableFuture<Long> sync = CompletableFuture.supplyAsync(() -> call(() -> { f.fsync(true); return 0; }), OWN_THREAD);
                assertThat(catchDone(sync, 100)).as("fsync waits for the folio's write-through").isFalse();
                assertThat(writes(dev) - w).as("no write of the folio was issued while it is under write-through").isZero();
                assertThat(wt.get(10, TimeUnit.SECONDS)).isEqualTo(1024);
                sync.get(10, TimeUnit.SECONDS);
                dev.faultPlan(FaultPlan.none());
                byte[] want = FolioFileTest.pattern(1, 4096);
                System.arraycopy(FolioFileTest.pattern(2, 1024), 0, want, 0, 1024);
                System.arraycopy(FolioFileTest.pattern(3, 1024), 0, want, 2048, 1024);
                assertThat(FolioFileTest.readDirect(f, 0, 4096)).isEqualTo(want);
                assertThat(fs.pageCache().stats().dirtyBytes()).isZero();
            }
            fs.close();
        }
    }

    @Test
    void dsyncOverwriteIsOneFuaWriteAndNewBlocksNeedAFlush() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                DeviceStats.Snapshot s0 = dev.stats().snapshot();
                f.write(0, data(1, 65536), WT | DSYNC);                  // new blocks: end of I/O, journal commit, flush
                DeviceStats.Snapshot s1 = dev.stats().snapshot();
                assertThat(s1.minus(s0).preflushWrites()).as("new blocks: the journal commit's PREFLUSH").isEqualTo(1);
                assertThat(s1.minus(s0).flushes()).as("which drained the cache after the data: no FLUSH after it").isZero();
                f.write(0, data(2, 65536), WT | DSYNC);                  // written blocks, metadata durable now
                DeviceStats.Snapshot s2 = dev.stats().snapshot();
                DeviceStats.Snapshot d = s2.minus(s1);
                assertThat(d.writes()).as("pure DSYNC overwrite: one request").isEqualTo(1);
                assertThat(d.fuaWrites()).isEqualTo(1);
                assertThat(d.flushes()).as("and no flush").isZero();
                f.write(0, data(3, 65536), WT);                            // plain write-through: no FUA, no flush
                DeviceStats.Snapshot d3 = dev.stats().snapshot().minus(s2);
                assertThat(d3.writes()).isEqualTo(1);
                assertThat(d3.fuaWrites()).isZero();
                assertThat(d3.flushes()).isZero();
            }
            fs.close();
        }
    }

    /** Fails the k-th (0-based) of the three requests of a write-through over three extents. */
    private void errorAt(int k, boolean async) throws Exception {
        try (SimDevice dev = device(async)) {
            FolioFs fs = format(dev);
            try (FolioFile f = fragmented(fs, "a", 3)) {
                f.fsync(false);
                Extent e = extents(fs, f.ino()).get(k);
                dev.faultPlan(FaultPlan.builder().failRange(e.startBlock() * BS, e.length() * BS, IoOp.WRITE, Errno.EIO).build());
                long w = writes(dev);
                MemorySegment src = data(9, 3 * 65536);
                Throwable thrown;
                if (async) {
                    CompletableFuture<Long> fut = f.writeAsync(0, src, WT);
                    thrown = catchCause(fut);
                } else {
                    thrown = catchThrowable(() -> f.write(0, src, WT));
                }
                assertThat(thrown).as("request %d failed", k).isNotNull();
                assertThat(thrown.toString()).contains("EIO");
                if (!async) assertThat(writes(dev) - w).as("no request after the error (sync completions)").isEqualTo(k + 1);
                dev.faultPlan(FaultPlan.none());
                assertThat(fs.pageCache().stats().writebackBytes()).as("nothing stays under writeback").isZero();
                // The data that may not have reached the device stays dirty; writeback puts it there.
                f.fsync(false);
                byte[] got = FolioFileTest.readDirect(f, 0, 3 * 65536), want = FolioFileTest.pattern(9, 3 * 65536);
                // Up to the failed request the data was copied (and what failed stayed dirty, written
                // back by fsync); past it nothing was copied when completions are synchronous (the
                // error stops the call), and with asynchronous ones each extent is all old or all new.
                for (int x = 0; x < 3; x++) {
                    byte[] ext = Arrays.copyOfRange(got, x * 65536, x * 65536 + 65536);
                    byte[] fresh = Arrays.copyOfRange(want, x * 65536, x * 65536 + 65536), old = FolioFileTest.pattern(x, 65536);
                    if (x <= k) assertThat(ext).as("extent %d", x).isEqualTo(fresh);
                    else if (!async) assertThat(ext).as("extent %d (never copied)", x).isEqualTo(old);
                    else assertThat(Arrays.equals(ext, fresh) || Arrays.equals(ext, old)).as("extent %d all old or all new", x).isTrue();
                }
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    @Test void errorAtFirstRequest() throws Exception { errorAt(0, false); }
    @Test void errorAtMiddleRequest() throws Exception { errorAt(1, false); }
    @Test void errorAtLastRequest() throws Exception { errorAt(2, false); }
    @Test void errorAtFirstRequestAsync() throws Exception { errorAt(0, true); }
    @Test void errorAtMiddleRequestAsync() throws Exception { errorAt(1, true); }
    @Test void errorAtLastRequestAsync() throws Exception { errorAt(2, true); }

    @Test
    void shortCompletionTrimsTheOnDiskSize() throws Exception {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.fallocate(FolioFile.FALLOC_KEEP_SIZE, 0, 65536);   // mapped now: the next request is the data write
                long base = dev.requestsSubmitted();
                dev.faultPlan(FaultPlan.builder().shortCompletion(base + 1, 8192).build());
                long n = f.write(0, data(4, 65536), WT);
                dev.faultPlan(FaultPlan.none());
                assertThat(n).isEqualTo(8192);
                // stat reports the in-memory size (the whole write is cached); the inode on disk only what completed
                assertThat(fs.getattr(f.ino()).size()).isEqualTo(65536);
                long onDisk = fs.op(h -> Inodes.get(h, f.ino()).size);
                assertThat(onDisk).as("persistent size only to the end of what completed").isEqualTo(8192);
                f.fsync(false);   // the rest stayed dirty and is written back now
                assertThat(FolioFileTest.readDirect(f, 0, 65536)).isEqualTo(FolioFileTest.pattern(4, 65536));
            }
            fs.close();
        }
    }

    @Test
    void asyncWriteThroughReturnsBeforeTheDeviceCompletes() throws Exception {
        try (SimDevice dev = device(true)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 65536), WT);
                dev.faultPlan(FaultPlan.builder().slowAll(300).build());
                Thread caller = Thread.currentThread();
                CompletableFuture<Long> fut = f.writeAsync(0, data(2, 65536), WT | DSYNC);
                assertThat(fut).as("returned while the request is in flight").isNotDone();
                AtomicReference<Thread> completer = new AtomicReference<>();
                CompletableFuture<Long> seen = fut.whenComplete((v, t) -> completer.set(Thread.currentThread()));
                assertThat(seen.get(10, TimeUnit.SECONDS)).isEqualTo(65536);
                dev.faultPlan(FaultPlan.none());
                assertThat(completer.get()).isNotSameAs(caller);
                assertThat(FolioFileTest.readDirect(f, 0, 65536)).isEqualTo(FolioFileTest.pattern(2, 65536));
            }
            fs.close();
        }
    }

    @Test
    void aWriterToAFolioUnderWriteThroughWaitsAndADisjointOneDoesNot() throws Exception {
        stableWriters(false);
    }

    @Test
    void wholeFileStableModeMakesEvenDisjointWritersWait() throws Exception {
        stableWriters(true);
    }

    private void stableWriters(boolean wholeFile) throws Exception {
        try (SimDevice dev = device(true)) {
            // 64 KiB folios: writes 512 KiB apart are in different folios (per-folio stable pages
            // make writers to one folio wait for each other, large or not)
            FolioFs fs = format(dev, BS, BufferedIo.Options.defaults().withMaxFolioOrder(4).withWholeFileStable(wholeFile));
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 1 << 20), WT);
                dev.faultPlan(FaultPlan.builder().slowAll(600).build());
                CompletableFuture<Long> wt = f.writeAsync(0, data(2, 65536), WT);
                assertThat(wt).isNotDone();
                CompletableFuture<Long> same = CompletableFuture.supplyAsync(() -> call(() -> f.write(4096, data(3, 100), 0)), OWN_THREAD);
                CompletableFuture<Long> disjoint = CompletableFuture.supplyAsync(() -> call(() -> f.write(512 << 10, data(4, 100), 0)), OWN_THREAD);
                if (wholeFile) {
                    assertThat(catchDone(disjoint, 250)).as("whole-file stable: a disjoint writer waits").isFalse();
                } else {
                    assertThat(disjoint.get(5, TimeUnit.SECONDS)).as("per-folio: a disjoint writer does not wait").isEqualTo(100);
                    assertThat(wt).as("it finished while the write-through was in flight").isNotDone();
                }
                assertThat(catchDone(same, 100)).as("a writer to the folio under write-through waits").isFalse();
                assertThat(wt.get(10, TimeUnit.SECONDS)).isEqualTo(65536);
                dev.faultPlan(FaultPlan.none());
                assertThat(same.get(10, TimeUnit.SECONDS)).isEqualTo(100);
                assertThat(disjoint.get(10, TimeUnit.SECONDS)).isEqualTo(100);
                byte[] want = FolioFileTest.pattern(2, 65536);
                System.arraycopy(FolioFileTest.pattern(3, 100), 0, want, 4096, 100);
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(want);
                f.fsync(false);
                assertThat(FolioFileTest.readDirect(f, 0, 65536)).isEqualTo(want);
            }
            fs.close();
        }
    }

    /**
     * A callback on an asynchronous call's future may truncate (or close) the file: the call no
     * longer counts as in flight once its future completes. The DIRECT calls used to end their
     * in-flight record in a callback of their own, registered first and so run after the user's
     * (CompletableFuture runs the last registered first): a truncate there waited for itself.
     */
    @Test
    void callbacksOfAsyncCallsMayTruncateTheFile() throws Exception {
        try (SimDevice dev = device(true)) {
            FolioFs fs = format(dev);
            // Not try-with-resources: were a callback stuck, closing the file would wait for it
            // forever; the test fails instead, leaving the file open.
            FolioFile f = FolioFileTest.create(fs, "a");
            f.write(0, data(1, 256 << 10), WT);
            f.fsync(false);
            dev.faultPlan(FaultPlan.builder().slowAll(100).build());
            MemorySegment buf = java.lang.foreign.Arena.ofAuto().allocate(8192, 4096);
            long[] sizes = {192 << 10, 128 << 10, 64 << 10};
            for (int i = 0; i < sizes.length; i++) {   // one call at a time: each callback waits for no other call
                CompletableFuture<Long> call = switch (i) {
                    case 0 -> f.writeAsync(0, data(2, 8192), FolioFile.DIRECT);
                    case 1 -> f.readAsync(8192, buf, FolioFile.DIRECT);
                    default -> f.writeAsync(16384, data(3, 8192), WT);
                };
                long size = sizes[i];
                assertThat(call).isNotDone();
                CompletableFuture<Void> callback = call.thenRun(() -> {
                    try {
                        f.truncate(size);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                assertThat(callback).as("call " + i + "'s callback, which truncates").succeedsWithin(java.time.Duration.ofSeconds(10));
            }
            dev.faultPlan(FaultPlan.none());
            assertThat(f.size()).isEqualTo(64 << 10);
            byte[] want = FolioFileTest.pattern(1, 64 << 10);
            System.arraycopy(FolioFileTest.pattern(2, 8192), 0, want, 0, 8192);
            System.arraycopy(FolioFileTest.pattern(3, 8192), 0, want, 16384, 8192);
            assertThat(FolioFileTest.read(f, 0, 64 << 10)).isEqualTo(want);
            f.close();
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    @Test
    void truncateWaitsForAsyncWriteThroughInFlight() throws Exception {
        try (SimDevice dev = device(true)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                dev.faultPlan(FaultPlan.builder().slowAll(300).build());
                CompletableFuture<Long> wt = f.writeAsync(0, data(1, 256 << 10), WT);   // extending, new blocks
                assertThat(wt).isNotDone();
                f.truncate(4096);
                // The call stops counting as in flight (what truncate waits for) just before its
                // future completes, on the end-of-I/O thread: allow that instant, not the 300 ms
                // a truncate that did not wait would leave (as directWriteAndPunchHole... does).
                assertThat(wt).as("truncate returned only after the write-through completed").succeedsWithin(java.time.Duration.ofMillis(200));
                dev.faultPlan(FaultPlan.none());
                assertThat(wt.get()).isEqualTo(256 << 10);
                assertThat(f.size()).isEqualTo(4096);
                assertThat(FolioFileTest.read(f, 0, 8192)).isEqualTo(FolioFileTest.pattern(1, 4096));
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * Direct I/O and punch hole on a range under asynchronous write-through wait for it (FsInode's
     * in-flight count): neither returns before the write-through completed, and the later
     * operation's result is what stays (direct data; the hole).
     */
    @Test
    void directWriteAndPunchHoleWaitForAsyncWriteThroughInFlight() throws Exception {
        try (SimDevice dev = device(true)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                f.write(0, data(1, 256 << 10), WT);
                dev.faultPlan(FaultPlan.builder().slowAll(300).build());
                CompletableFuture<Long> wt = f.writeAsync(0, data(2, 128 << 10), WT);
                assertThat(wt).isNotDone();
                assertThat(f.write(0, data(3, 4096), FolioFile.DIRECT)).isEqualTo(4096);
                // The call's future completes just after its in-flight record is released (what the
                // waiter waits for), on another thread: "within 200 ms" where each request takes 300.
                assertThat(wt).as("the direct write returned only after the write-through completed")
                        .succeedsWithin(java.time.Duration.ofMillis(200));
                CompletableFuture<Long> wt2 = f.writeAsync(64 << 10, data(4, 64 << 10), WT);
                assertThat(wt2).isNotDone();
                f.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, 64 << 10, 16 << 10);
                assertThat(wt2).as("punch hole returned only after the write-through completed")
                        .succeedsWithin(java.time.Duration.ofMillis(200));
                dev.faultPlan(FaultPlan.none());
                assertThat(wt.get()).isEqualTo(128 << 10);
                assertThat(wt2.get()).isEqualTo(64 << 10);
                byte[] want = FolioFileTest.pattern(1, 256 << 10);
                System.arraycopy(FolioFileTest.pattern(2, 128 << 10), 0, want, 0, 128 << 10);
                System.arraycopy(FolioFileTest.pattern(3, 4096), 0, want, 0, 4096);
                System.arraycopy(FolioFileTest.pattern(4, 64 << 10), 0, want, 64 << 10, 64 << 10);
                Arrays.fill(want, 64 << 10, 80 << 10, (byte) 0);
                assertThat(FolioFileTest.read(f, 0, 256 << 10)).isEqualTo(want);
                assertThat(FolioFileTest.readDirect(f, 0, 256 << 10)).isEqualTo(want);
            }
            fs.close();
            assertThat(Fsck.check(dev).problems()).isEmpty();
        }
    }

    /**
     * The old EOF's tail block beyond the old size is zeroed before the new size is visible: an
     * unaligned file whose last block holds stale bytes past its size on the device is extended by
     * a write-through + DSYNC further on; a power cut at every write/flush of that call, then
     * recovery: whenever the recovered size passes the old EOF, the bytes between the old EOF and
     * the end of its block read zero (never the stale bytes). Without a cut the call is
     * acknowledged and its data and size survive.
     */
    @Test
    void oldEofTailIsZeroedBeforeTheNewSizeIsVisible() throws Exception {
        int oldSize = 1000;
        byte[] stale = FolioFileTest.pattern(9, BS);
        int cuts = 0, grown = 0;
        for (int at = 1; ; at++) {
            try (SimDevice dev = device(false)) {
                FolioFs fs = format(dev);
                long ino;
                try (FolioFile f = FolioFileTest.create(fs, "a")) {
                    ino = f.ino();
                    f.write(0, data(1, oldSize), 0);
                    f.fsync(false);
                }
                // Stale bytes past the size in the last block, as a device may hold after a shrink.
                long devBlock = extents(fs, ino).getFirst().startBlock();
                fs.close();
                byte[] block = stale.clone();
                System.arraycopy(FolioFileTest.pattern(1, oldSize), 0, block, 0, oldSize);
                org.foliofs.device.IoRequest r = org.foliofs.device.IoRequest.write(devBlock * BS, MemorySegment.ofArray(block), 0, null);
                dev.submit(r);
                r.await();
                dev.flush();
                fs = FolioFs.mount(dev);
                boolean acked = false;
                try (FolioFile f = fs.openFile(ino)) {
                    assertThat(FolioFileTest.read(f, 0, BS)).as("reads stop at the size").hasSize(oldSize);
                    dev.powerCutAt(at);
                    try {
                        assertThat(f.write(3 * BS, data(5, BS), WT | DSYNC)).isEqualTo(BS);
                        acked = !dev.powerOff();
                    } catch (IOException e) {
                        assertThat(dev.powerOff()).as("failed without a power cut: " + e).isTrue();
                    }
                    if (acked) {
                        byte[] tail = FolioFileTest.read(f, oldSize, BS - oldSize);
                        assertThat(tail).as("cached tail past the old EOF").containsOnly((byte) 0);
                    }
                } catch (IOException e) {
                    assertThat(dev.powerOff()).as("close failed without a power cut: " + e).isTrue();
                }
                boolean cut = dev.powerOff();
                fs.abandon();
                dev.crash();
                fs = FolioFs.mount(dev);
                try (FolioFile f = fs.openFile(ino)) {
                    long size = f.size();
                    if (acked) assertThat(size).as("acknowledged DSYNC write-through, cut at %d", at).isEqualTo(4L * BS);
                    if (size > oldSize) {
                        grown++;
                        byte[] tail = FolioFileTest.read(f, oldSize, (int) Math.min(size, BS) - oldSize);   // cold cache: from the device
                        assertThat(tail).as("bytes past the old EOF after recovery (cut at the %dth write/flush, size %d)", at, size)
                                .containsOnly((byte) 0);
                    }
                    assertThat(FolioFileTest.read(f, 0, oldSize)).isEqualTo(FolioFileTest.pattern(1, oldSize));
                }
                fs.close();
                assertThat(Fsck.check(dev).problems()).isEmpty();
                if (!cut) break;   // the call ran to the end before the cut point: every point was tried
                cuts++;
            }
        }
        System.out.println("old-EOF tail: " + cuts + " power cuts, " + grown + " recoveries past the old size");
        assertThat(cuts).isPositive();
        assertThat(grown).as("some recovered size passed the old EOF").isPositive();
    }

    @Test
    void fileAndVolumeWriteModesMakePlainWritesWriteThrough() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                long w = writes(dev);
                f.write(0, data(1, 8192));
                assertThat(writes(dev) - w).as("writeback mode: nothing written yet").isZero();
                fs.setattr(f.ino(), new FolioFs.SetAttr(null, null, null, null, null, null, null, Inode.WMODE_WRITETHROUGH_DSYNC));
                w = writes(dev);
                f.write(8192, data(2, 8192));
                assertThat(writes(dev) - w).as("file mode write-through+DSYNC").isPositive();
                assertThat(fs.getattr(f.ino()).size()).isEqualTo(16384);
            }
            fs.setDefaultWriteMode(Inode.WMODE_WRITETHROUGH);
            try (FolioFile g = FolioFileTest.create(fs, "b")) {
                long w = writes(dev);
                g.write(0, data(3, 8192));
                assertThat(writes(dev) - w).as("volume default write-through").isEqualTo(1);
                assertThat(g.inode().file.cache().dirtyBytes()).isZero();   // (a's data, closed, may still be dirty)
            }
            assertThatThrownBy(() -> fs.setDefaultWriteMode(7)).hasMessageContaining("(7)");
            fs.close();
        }
    }

    @Test
    void badFlagsAreRefusedWithTheirValue() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                assertThatThrownBy(() -> f.write(0, data(1, 10), 0x8)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0x8");
                assertThatThrownBy(() -> f.write(0, data(1, 4096), WT | FolioFile.DIRECT)).hasMessageContaining("exclude");
                assertThatThrownBy(() -> f.write(0, data(1, 12288), FolioFile.DIRECT | FolioFile.ATOMIC))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("12288 bytes at offset 0");
                assertThat(f.size()).isZero();
            }
            fs.close();
        }
    }

    @Test
    void unalignedWriteThroughKeepsNeighbouringBytes() throws IOException {
        try (SimDevice dev = device(false)) {
            FolioFs fs = format(dev);
            try (FolioFile f = FolioFileTest.create(fs, "a")) {
                byte[] model = FolioFileTest.pattern(1, 65536);
                f.write(0, MemorySegment.ofArray(model), WT);
                fs.pageCache().evict(Long.MAX_VALUE);
                byte[] d = FolioFileTest.pattern(2, 5000);
                f.write(3000, MemorySegment.ofArray(d), WT);
                System.arraycopy(d, 0, model, 3000, d.length);
                fs.pageCache().evict(Long.MAX_VALUE);
                assertThat(FolioFileTest.read(f, 0, 65536)).isEqualTo(model);
            }
            fs.close();
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------

    interface IoCall { long run() throws IOException; }

    /** A thread per task (the common pool may have one worker on a 2-core machine). */
    static final java.util.concurrent.Executor OWN_THREAD = r -> Thread.ofPlatform().daemon().start(r);

    static long call(IoCall c) {
        try {
            return c.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static boolean catchDone(CompletableFuture<?> f, long millis) throws InterruptedException {
        Thread.sleep(millis);
        return f.isDone();
    }

    interface Thrower { void run() throws Exception; }

    static Throwable catchThrowable(Thrower t) {
        try {
            t.run();
            return null;
        } catch (Throwable e) {
            return e;
        }
    }

    static Throwable catchCause(CompletableFuture<?> f) throws InterruptedException {
        try {
            f.get(10, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("future did not complete", e);
        }
    }
}
