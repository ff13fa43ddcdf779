package org.foliofs.pagecache;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** FileCache: creation alignment and clamping, lookup, tags, remove, truncate. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FileCacheTest {
    private static PageCache cache;

    @BeforeAll
    static void open() {
        // 512 MiB of address space; folios here are never written, so almost nothing is committed
        cache = TestCaches.small(512L << 20);
    }

    @AfterAll
    static void close() { cache.close(); }

    private static FileCache newFile() { return cache.newFileCache(4096, TestCaches.NO_WRITEBACK); }

    private static Folio create(FileCache fc, long index, int order) {
        Folio f = fc.getOrCreate(index, order);
        f.unlock();
        f.put();
        return f;
    }

    @Test
    void getOrCreateAlignsToTheOrderAndClampsAroundExistingFolios() {
        FileCache fc = newFile();
        Folio a = create(fc, 5, 2);
        assertThat(a.index()).isEqualTo(4);
        assertThat(a.order()).isEqualTo(2);
        Folio b = create(fc, 1, 4);                 // [0,16) would overlap [4,8): clamped to [0,4)
        assertThat(b.index()).isEqualTo(0);
        assertThat(b.order()).isEqualTo(2);
        Folio c = create(fc, 9, 3);                 // [8,16) is free
        assertThat(c.index()).isEqualTo(8);
        assertThat(c.order()).isEqualTo(3);
        Folio d = create(fc, 17, 9);                // [0,512) overlaps the folios above: clamped to the free [16,32)
        assertThat(d.index()).isLessThanOrEqualTo(17);
        assertThat(d.index() + d.pages()).isGreaterThan(17);
        assertThat(d.index()).isGreaterThanOrEqualTo(16);
        for (long i = 0; i < 40; i++) {
            Folio f = fc.lookup(i);
            if (i < d.index() + d.pages()) {
                assertThat(f).as("page " + i).isNotNull();
                assertThat(f.index()).isLessThanOrEqualTo(i);
                assertThat(f.index() + f.pages()).isGreaterThan(i);
                f.put();
            } else {
                assertThat(f).as("page " + i).isNull();
            }
        }
        assertThat(fc.folioCount()).isEqualTo(4);
        fc.truncate(0);
        assertThat(fc.folioCount()).isZero();
    }

    @Test
    void getOrCreateReturnsTheExistingFolioLockedAndReferenced() {
        FileCache fc = newFile();
        Folio a = create(fc, 64, 6);
        long hits = cache.stats().hits();
        Folio again = fc.getOrCreate(100, 0);
        assertThat(again).isSameAs(a);
        assertThat(again.isLocked()).isTrue();
        assertThat(again.refCount()).isEqualTo(1);
        assertThat(cache.stats().hits()).isEqualTo(hits + 1);
        again.unlock();
        again.put();
        assertThatThrownBy(() -> fc.getOrCreate(0, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("order (10) must be from 0 to 9");
        assertThatThrownBy(() -> fc.lookup(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("page index (-1) is outside 0..");
        assertThatThrownBy(() -> cache.newFileCache(768, TestCaches.NO_WRITEBACK)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("blockSize (768) must be a power of two from 512 to 65536");
        fc.truncate(0);
    }

    @Test
    void concurrentCreatorsOfOnePageGetOneFolio() throws Exception {
        FileCache fc = newFile();
        int threads = 8;
        Set<Folio> seen = ConcurrentHashMap.newKeySet();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int order = t % 4;
            ts.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 200; i++) {
                    Folio f = fc.getOrCreate(1000 + i * 16, order);
                    seen.add(f);
                    f.unlock();
                    f.put();
                }
            }));
        }
        go.countDown();
        for (Thread t : ts) t.join();
        for (int i = 0; i < 200; i++) {
            Folio f = fc.lookup(1000 + i * 16);
            assertThat(seen).contains(f);
            f.put();
        }
        fc.truncate(0);
    }

    @Test
    void tagsFindTheFewTaggedAmongManyFoliosWithoutScanning() {
        FileCache fc = newFile();
        int n = 100_000;
        for (int i = 0; i < n; i++) create(fc, i, 0);
        assertThat(fc.folioCount()).isEqualTo(n);
        long[] dirty = {17, 4_095, 4_096, 50_000, 99_999};
        for (long i : dirty) {
            Folio f = fc.getOrCreate(i, 0);
            f.markDirty(0, 1);
            f.unlock();
            f.put();
        }
        Folio wb = fc.getOrCreate(42_000, 0);
        wb.startWriteback();
        wb.unlock();

        long t0 = System.nanoTime();
        for (int round = 0; round < 1_000; round++) {
            List<Long> found = new ArrayList<>();
            for (long i = fc.nextTagged(FileCache.Tag.DIRTY, 0); i >= 0; i = fc.nextTagged(FileCache.Tag.DIRTY, i + 1)) found.add(i);
            assertThat(found).containsExactly(17L, 4_095L, 4_096L, 50_000L, 99_999L);
            assertThat(fc.nextTagged(FileCache.Tag.WRITEBACK, 0)).isEqualTo(42_000);
            assertThat(fc.nextTagged(FileCache.Tag.WRITEBACK, 42_001)).isEqualTo(-1);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // 7000 searches; scanning 100k folios each would be 700M visits (seconds), tags make it microseconds
        assertThat(ms).as("tag searches took %d ms", ms).isLessThan(2_000);

        wb.endWriteback();
        wb.put();
        assertThat(fc.nextTagged(FileCache.Tag.WRITEBACK, 0)).isEqualTo(-1);
        fc.truncate(0);                        // discards the dirty ones
        assertThat(fc.folioCount()).isZero();
        assertThat(fc.dirtyBytes()).isZero();
        assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).isEqualTo(-1);
    }

    @Test
    void nextTaggedReportsAFolioContainingTheStartIndex() {
        FileCache fc = newFile();
        Folio f = fc.getOrCreate(512, 9);
        f.markDirty(100, 1);
        f.unlock();
        assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 700)).isEqualTo(512);
        assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).isEqualTo(512);
        assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 1024)).isEqualTo(-1);
        f.put();
        fc.truncate(0);
    }

    @Test
    void truncateRemovesFromIndexKeepsStraddlerDiscardsDirtyAndWaitsForWriteback() throws Exception {
        FileCache fc = newFile();
        create(fc, 0, 2);                              // [0,4)
        create(fc, 4, 2);                              // [4,8) straddles index 6
        Folio dirty = fc.getOrCreate(8, 3);            // [8,16)
        dirty.markDirty(0, 4096);
        dirty.unlock();
        dirty.put();
        Folio wb = fc.getOrCreate(32, 0);
        wb.startWriteback();
        wb.unlock();
        long cachedBefore = cache.stats().bytesCached();
        Thread truncator = Thread.ofPlatform().start(() -> fc.truncate(6));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (truncator.getState() != Thread.State.WAITING) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(1);
        }
        assertThat(fc.lookup(8)).as("dirty folio already truncated").isNull();
        assertThat(wb.isRemoved()).as("waits for writeback first").isFalse();
        wb.endWriteback();
        truncator.join(5_000);
        assertThat(truncator.isAlive()).isFalse();
        assertThat(wb.isRemoved()).isTrue();
        wb.put();
        assertThat(fc.folioCount()).isEqualTo(2);
        Folio kept = fc.lookup(6);
        assertThat(kept.index()).isEqualTo(4);
        kept.put();
        assertThat(fc.dirtyBytes()).isZero();
        assertThat(cache.stats().bytesCached()).isEqualTo(cachedBefore - 8 * 4096 - 4096);
        fc.truncate(0);
        assertThat(fc.folioCount()).isZero();
        assertThat(fc.lookup(0)).isNull();
    }

    @Test
    void removeChecksItsPreconditions() {
        FileCache fc = newFile(), other = newFile();
        Folio f = fc.getOrCreate(3, 0);
        f.markDirty(0, 1);
        assertThatThrownBy(() -> other.remove(f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not belong");
        assertThatThrownBy(() -> fc.remove(f)).isInstanceOf(IllegalStateException.class).hasMessageContaining("DIRTY");
        f.clearDirty(0, 4096);
        f.unlock();
        assertThatThrownBy(() -> fc.remove(f)).isInstanceOf(IllegalStateException.class).hasMessageContaining("locked, clean");
        f.lock();
        fc.remove(f);
        assertThatThrownBy(() -> fc.remove(f)).isInstanceOf(IllegalStateException.class).hasMessageContaining("DEAD");
        f.unlock();
        f.put();
        assertThat(fc.folioCount()).isZero();
    }
}
