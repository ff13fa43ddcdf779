package org.foliofs.pagecache;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PageCache: config, budget and eviction, streaming, dirty throttling, background writeback, close. */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PageCacheTest {
    private static final long MIB = 1L << 20;

    private static PageCache.Config.Builder config() {
        return PageCache.Config.builder().memoryBytes(16 * MIB).stallTimeoutMillis(2_000);
    }

    @Test
    void configChecksAndNamesValues() {
        assertThatThrownBy(() -> PageCache.Config.builder().memoryBytes(1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("memoryBytes (1000) must be at least 8 MiB");
        assertThatThrownBy(() -> PageCache.Config.builder().memoryBytes(9 * MIB)).hasMessage("memoryBytes (9437184) must be a multiple of 2 MiB");
        assertThatThrownBy(() -> PageCache.Config.builder().dirtyRatio(0)).hasMessage("dirtyRatio (0) must be a percentage from 1 to 100");
        assertThatThrownBy(() -> PageCache.Config.builder().writebackThreads(0)).hasMessage("writebackThreads (0) must be from 1 to 64");
        assertThatThrownBy(() -> PageCache.Config.builder().dirtyExpireMillis(0)).hasMessage("dirtyExpireMillis (0) must be from 1 ms to 365 days");
        assertThatThrownBy(() -> PageCache.Config.builder().backgroundRatio(30).build())
                .hasMessage("backgroundRatio (30) must be below dirtyRatio (20)");
        PageCache.Config d = PageCache.Config.defaults();
        assertThat(d.memoryBytes()).isEqualTo(256 * MIB);
        assertThat(d.backgroundRatio()).isEqualTo(10);
        assertThat(d.dirtyRatio()).isEqualTo(20);
        assertThat(d.writebackThreads()).isEqualTo(1);
        assertThat(d.dirtyExpireMillis()).isEqualTo(30_000);
    }

    @Test
    void orderZeroFillThenOrderNineAllocationEvictsAndCoalesces() {
        try (PageCache pc = new PageCache(config().build())) {
            FileCache fc = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
            int pages = (int) (16 * MIB / 4096);
            for (int i = 0; i < pages; i++) {
                Folio f = fc.getOrCreate(i, 0);
                f.unlock();
                f.put();
            }
            assertThat(pc.stats().bytesCached()).isEqualTo(16 * MIB);
            assertThat(pc.buddy().freePages()).isZero();
            Folio big = fc.getOrCreate(1 << 20, 9);
            assertThat(big.order()).isEqualTo(9);
            assertThat(pc.stats().evictions()).isGreaterThanOrEqualTo(512);
            assertThat(pc.stats().bytesCached()).isLessThanOrEqualTo(16 * MIB);
            big.unlock();
            big.put();
        }
    }

    @Test
    void budgetHoldsAndEvictionNeverTakesPinnedFolios() {
        long seed = TestCaches.seed("PageCacheTest", "budgetHoldsAndEvictionNeverTakesPinnedFolios", 0x5EED0003L);
        Random r = new Random(seed);
        try (PageCache pc = new PageCache(config().build())) {
            List<FileCache> files = new ArrayList<>();
            for (int i = 0; i < 4; i++) files.add(pc.newFileCache(new int[] {512, 1024, 4096, 65536}[i], TestCaches.NO_WRITEBACK));
            // Locked-only folios live in their own file at indexes never revisited: this thread holds
            // their locks, and a getOrCreate of an overlapping index would wait for itself.
            FileCache lockedFile = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
            long lockedNext = 0;
            List<Folio> pinned = new ArrayList<>();   // each holds a reference; some also locked, dirty or under writeback
            long pinnedBytes = 0;
            for (int step = 0; step < 20_000; step++) {
                FileCache fc = files.get(r.nextInt(files.size()));
                int order = r.nextInt(5);
                int kind = r.nextInt(10);
                if (kind == 2 && pinnedBytes + (4096L << order) < 6 * MIB) {
                    Folio f = lockedFile.getOrCreate(lockedNext, order);   // stays locked
                    lockedNext += 1 << Folio.MAX_ORDER;
                    pinned.add(f);
                    pinnedBytes += f.size();
                    continue;
                }
                Folio f = fc.getOrCreate(r.nextInt(1 << 14), order);
                if (kind < 2 && pinnedBytes + f.size() < 6 * MIB && !f.isDirty() && !f.isWriteback()) {
                    if (kind == 0) f.markDirty(0, 1);   // dirty: must never be evicted
                    else f.startWriteback();             // under writeback
                    f.unlock();
                    pinned.add(f);
                    pinnedBytes += f.size();
                } else {
                    f.unlock();
                    if (r.nextInt(4) == 0 && pinnedBytes + f.size() < 6 * MIB) {    // referenced only
                        pinned.add(f);
                        pinnedBytes += f.size();
                    } else {
                        f.put();
                    }
                }
                if (r.nextInt(50) == 0 && !pinned.isEmpty()) {
                    Folio g = pinned.remove(r.nextInt(pinned.size()));
                    pinnedBytes -= g.size();
                    if (!g.isLocked()) g.lock();
                    if (g.isWriteback()) g.endWriteback();
                    g.clearDirty(0, g.size());
                    g.unlock();
                    g.put();
                }
                assertThat(pc.stats().bytesCached()).as("budget (seed %d)", seed).isLessThanOrEqualTo(16 * MIB);
                if (step % 500 == 0) {
                    pc.evict(16 * MIB);
                    for (Folio p : pinned) {
                        assertThat(p.isRemoved()).as("pinned %s evicted (seed %d)", p, seed).isFalse();
                        Folio again = p.owner().lookup(p.index());
                        assertThat(again).isSameAs(p);
                        again.put();
                    }
                }
            }
            assertThat(pc.stats().evictions()).isPositive();
        }
    }

    @Test
    void streamingFiftyTimesTheBudgetKeepsPace() throws Exception {
        try (PageCache pc = new PageCache(config().build())) {
            long total = 800 * MIB;
            int threads = 2;
            long t0 = System.nanoTime();
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                FileCache fc = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
                ts[t] = Thread.ofPlatform().start(() -> {
                    long folios = total / threads / (64 * 1024);
                    for (long i = 0; i < folios; i++) {
                        Folio f = fc.getOrCreate(i * 16, 4);
                        MemorySegment d = f.data();
                        d.fill((byte) i);                      // stream the bytes through the cache
                        f.markUptodate(0, f.size());
                        f.unlock();
                        f.put();
                    }
                });
            }
            for (Thread t : ts) t.join();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            PageCache.Stats s = pc.stats();
            System.out.println("streamed 800 MiB through a 16 MiB cache in " + ms + " ms: " + s);
            assertThat(s.bytesCached()).isLessThanOrEqualTo(16 * MIB);
            assertThat(s.evictions()).isGreaterThan(800 * MIB / (64 * 1024) - 16 * MIB / 4096);
            assertThat(ms).isLessThan(15_000);
        }
    }

    @Test
    void cacheFullOfDirtyDataFailsWithABudgetMessageInsteadOfHanging() {
        try (PageCache pc = new PageCache(config().stallTimeoutMillis(200).build())) {
            FileCache fc = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
            assertThatThrownBy(() -> {
                for (int i = 0; ; i += 16) {
                    Folio f = fc.getOrCreate(i, 4);
                    f.markDirty(0, f.size());
                    f.unlock();
                    f.put();
                }
            }).isInstanceOf(CacheFullException.class).hasMessageContaining("no evictable folio within 200 ms (memoryBytes 16777216: 16777216 bytes")
                    .hasMessageContaining("16777216 dirty");
            fc.truncate(0);
            assertThat(pc.stats().dirtyBytes()).isZero();
        }
    }

    @Test
    void writersAboveTheLimitAreThrottledAndProceedOnceWritebackCleans() throws Exception {
        try (CleaningTarget target = new CleaningTarget(1);
             PageCache pc = new PageCache(config().maxPauseMillis(20).stallTimeoutMillis(20_000).build())) {
            target.enabled = false;
            FileCache fc = pc.newFileCache(4096, target);
            long limit = 16 * MIB * 20 / 100;
            long[] written = new long[1];
            Thread writer = Thread.ofPlatform().start(() -> {
                for (long i = 0; i < 24 * MIB / (64 * 1024); i++) {      // 1.5x the whole cache
                    Folio f = fc.getOrCreate(i * 16, 4);
                    f.markUptodate(0, f.size());
                    f.markDirty(0, f.size());
                    f.unlock();
                    f.put();
                    synchronized (written) { written[0] += 64 * 1024; }
                    pc.balanceDirty(fc);
                }
            });
            // Without writeback the writer stops at the limit, parked (not spinning).
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (pc.stats().dirtyBytes() < limit) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(5);
            }
            Thread.sleep(200);
            long stuckAt;
            synchronized (written) { stuckAt = written[0]; }
            Thread.sleep(200);
            synchronized (written) { assertThat(written[0]).as("throttled writer made no progress").isEqualTo(stuckAt); }
            // Parked, not spinning: a paused writer wakes every max pause to re-check, so look a few
            // times rather than once (one look can land in that instant).
            boolean parked = false;
            for (int k = 0; k < 50 && !parked; k++) {
                parked = writer.getState() == Thread.State.WAITING || writer.getState() == Thread.State.TIMED_WAITING;
                if (!parked) Thread.sleep(2);
            }
            assertThat(parked).as("the throttled writer is parked (state " + writer.getState() + ")").isTrue();
            assertThat(pc.stats().dirtyBytes()).isLessThanOrEqualTo(limit + 64 * 1024);
            // A writer without dirty data of its own is not held even above the limit.
            FileCache clean = pc.newFileCache(4096, target);
            long t0 = System.nanoTime();
            pc.balanceDirty(clean);
            assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(100);
            // Writeback cleans: the writer finishes.
            target.enabled = true;
            writer.join(20_000);
            assertThat(writer.isAlive()).isFalse();
            assertThat(written[0]).isEqualTo(24 * MIB);
            assertThat(pc.stats().throttledNanos()).isPositive();
            assertThat(target.started.get()).isPositive();
            assertThat(pc.stats().bytesCached()).isLessThanOrEqualTo(16 * MIB);
        }
    }

    @Test
    void slowWritebackSlowsButNeverDeadlocksAWriter() throws Exception {
        // maxPause: at the limit, a writer that sees no writeback progress for that long goes on
        // (never a deadlock), a folio past it; 50 ms, so that only a real stall does, not a loaded
        // machine's scheduling (the writeback thread is one of many here).
        try (CleaningTarget target = new CleaningTarget(3);
             PageCache pc = new PageCache(config().maxPauseMillis(50).build())) {
            FileCache fc = pc.newFileCache(1024, target);
            long t0 = System.nanoTime();
            for (long i = 0; i < 32 * MIB / (16 * 1024); i++) {          // 2x the cache in 16 KiB folios
                Folio f = fc.getOrCreate(i * 4, 2);
                f.markUptodate(0, f.size());
                f.markDirty(0, f.size());
                f.unlock();
                f.put();
                pc.balanceDirty(fc);
                // The throttle holds the dirty bytes at the limit (20% of 16 MiB): the writer's next
                // folio, and one counted twice while the writeback thread moves it from dirty to
                // writeback (writeback first: Folio.startWriteback), may pass it. Dirty plus under
                // writeback is NOT held there: a writer whose file has no dirty bytes left is never
                // held (Writeback.balanceDirty), and once the writeback thread has moved all of them
                // to writeback (3 ms to complete here) the writer goes on. Alone that passed the
                // limit by 0.2 folios at most; in a loaded full run by 6.2 (twice in 8 runs on
                // 2026-11-21), so only the cache's budget bounds the sum.
                long writeback = pc.stats().writebackBytes();
                long dirty = pc.stats().dirtyBytes();
                assertThat(dirty).isLessThanOrEqualTo(16 * MIB * 20 / 100 + 2 * 16 * 1024);
                assertThat(dirty + writeback).isLessThanOrEqualTo(16 * MIB);
            }
            assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(20_000);
        }
    }

    /**
     * Between the midpoint and the dirty limit a writer is paced by writeback progress, not put
     * to sleep for a fixed share of the maximum pause: one folio cleaned 50 ms later releases it,
     * although the pause bound is 10 s. (The fixed sleep this replaces slept 5 s here, and capped
     * buffered writes at 170 MiB/s on a 5 GB/s disk: docs/BENCHMARKS.md.)
     */
    @Test
    @Timeout(60)
    void aWriterBetweenMidAndLimitWakesOnWritebackProgress() throws Exception {
        try (PageCache pc = new PageCache(config().maxPauseMillis(10_000).stallTimeoutMillis(30_000).build())) {
            FileCache fc = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
            long bg = 16 * MIB * 10 / 100, limit = 16 * MIB * 20 / 100, mid = (bg + limit) / 2;
            long target = mid + (limit - mid) / 2;                       // halfway between mid and limit
            List<Folio> dirty = new ArrayList<>();
            for (long i = 0; pc.stats().dirtyBytes() < target; i++) {
                Folio f = fc.getOrCreate(i, 0);
                f.markUptodate(0, 4096);
                f.markDirty(0, 4096);
                f.unlock();
                dirty.add(f);                                            // keep the reference for cleaning below
            }
            Thread cleaner = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
                Folio f = dirty.getFirst();
                f.lock();
                f.clearDirty(0, 4096);                                   // progress: one folio cleaned
                f.unlock();
            });
            long t0 = System.nanoTime();
            pc.balanceDirty(fc);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            cleaner.join();
            System.out.println("writer between mid and limit released after " + ms + " ms (max pause 10000 ms)");
            assertThat(ms).isLessThan(2_000);
            for (Folio f : dirty) f.put();
        }
    }

    @Test
    void throttlingGivesUpAfterTheStallTimeoutWhenWritebackIsStuck() {
        try (PageCache pc = new PageCache(config().maxPauseMillis(10).stallTimeoutMillis(150).build())) {
            FileCache fc = pc.newFileCache(4096, TestCaches.NO_WRITEBACK);
            for (long i = 0; i < 4 * MIB / 4096; i++) {                  // above the 3.2 MiB limit
                Folio f = fc.getOrCreate(i, 0);
                f.markDirty(0, 4096);
                f.unlock();
                f.put();
            }
            long t0 = System.nanoTime();
            pc.balanceDirty(fc);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(ms).isBetween(140L, 2_000L);
            fc.truncate(0);
        }
    }

    @Test
    void backgroundWritebackFlushesExpiredDirtyDataAndCloseStopsTheWorkers() throws Exception {
        CleaningTarget target = new CleaningTarget(0);
        PageCache pc = new PageCache(config().dirtyExpireMillis(50).writebackIntervalMillis(20).writebackThreads(2).build());
        FileCache fc = pc.newFileCache(4096, target);
        Folio f = fc.getOrCreate(0, 0);
        long t0 = System.nanoTime();                 // before the dirtying: expiry counts from it, so ms >= 50 whatever the scheduling
        f.markDirty(0, 4096);                        // far below the background threshold: only expiry writes it
        f.unlock();
        long deadline = t0 + 5_000_000_000L;
        while (f.isDirty() || f.isWriteback()) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(2);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).isGreaterThanOrEqualTo(40);
        assertThat(target.unlimitedCalls.get()).isPositive();
        assertThat(target.callers).allMatch(t -> t.getName().startsWith("foliofs-writeback-"));
        f.put();
        pc.close();
        for (Thread t : target.callers) {
            t.join(5_000);
            assertThat(t.isAlive()).as(t.getName() + " stopped").isFalse();
        }
        assertThatThrownBy(() -> f.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> pc.newFileCache(4096, target)).isInstanceOf(IllegalStateException.class).hasMessage("page cache is closed");
        target.close();
    }
}
