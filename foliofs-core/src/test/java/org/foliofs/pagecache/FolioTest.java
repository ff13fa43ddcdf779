package org.foliofs.pagecache;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Folio state machine and per-block bitmaps across block sizes and folio orders. */
class FolioTest {
    private static PageCache cache;

    @BeforeAll
    static void open() { cache = TestCaches.small(16L << 20); }

    @AfterAll
    static void close() { cache.close(); }

    static Stream<Arguments> geometries() {
        List<Arguments> list = new ArrayList<>();
        for (int bs : new int[] {512, 1024, 4096, 65536}) {
            for (int order : new int[] {0, 2, 4, 9}) list.add(Arguments.of(bs, order));
        }
        return list.stream();
    }

    private static Folio newFolio(int bs, int order) {
        FileCache fc = cache.newFileCache(bs, TestCaches.NO_WRITEBACK);
        return fc.getOrCreate(0, order);
    }

    private static void release(Folio f) {
        if (f.isWriteback()) f.endWriteback();
        f.clearDirty(0, f.size());
        f.owner().remove(f);
        f.unlock();
        f.put();
    }

    @ParameterizedTest(name = "block {0} order {1}")
    @MethodSource("geometries")
    void geometryAndAlignment(int bs, int order) {
        Folio f = newFolio(bs, order);
        try {
            assertThat(f.order()).isEqualTo(order);
            assertThat(f.size()).isEqualTo(4096L << order);
            assertThat(f.data().byteSize()).isEqualTo(f.size());
            assertThat(f.data().address() % f.size()).isZero();   // naturally aligned, so 4096-aligned too
            assertThat(f.blockBytes()).isEqualTo((int) Math.min(bs, f.size()));
            assertThat(f.isLocked()).isTrue();
            assertThat(f.refCount()).isEqualTo(1);
            assertThat(f.isFullyUptodate()).isFalse();
            assertThat(f.isDirty()).isFalse();
            assertThat(f.hasDirtyBlocks()).isFalse();
            assertThat(f.nextDirtyRange(0)).isEqualTo(-1);
        } finally {
            release(f);
        }
    }

    @ParameterizedTest(name = "block {0} order {1}")
    @MethodSource("geometries")
    void uptodateBitmapAndFolioFlag(int bs, int order) {
        Folio f = newFolio(bs, order);
        try {
            int b = f.blockBytes();
            long blocks = f.size() / b;
            f.markUptodate(0, b);
            assertThat(f.isUptodate(0, b)).isTrue();
            assertThat(f.isUptodate(0, 1)).isTrue();
            if (blocks > 1) {
                assertThat(f.isUptodate(0, b + 1)).isFalse();    // touches a second, not-uptodate block
                assertThat(f.isFullyUptodate()).isFalse();
                f.markUptodate(f.size() - b, b);
                assertThat(f.isUptodate(f.size() - 1, 1)).isTrue();
                assertThat(f.isUptodate(b, b)).isEqualTo(blocks == 2);
                assertThatThrownBy(() -> f.markUptodate(1, b)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("markUptodate of " + b + " bytes at 1 is not aligned to the block size " + b);
                f.markUptodate(0, f.size());
            }
            assertThat(f.isFullyUptodate()).isTrue();
            assertThat(f.isUptodate(0, f.size())).isTrue();
            f.clearUptodate(0, 1);
            assertThat(f.isFullyUptodate()).isFalse();
            assertThat(f.isUptodate(0, 1)).isFalse();
            assertThat(f.isUptodate(f.size() - 1, 1)).isEqualTo(blocks > 1);
            assertThatThrownBy(() -> f.isUptodate(f.size(), 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("isUptodate of 1 bytes at " + f.size() + " is outside folio at page 0 order " + order);
        } finally {
            release(f);
        }
    }

    @ParameterizedTest(name = "block {0} order {1}")
    @MethodSource("geometries")
    void dirtyFlagClearedOnlyWhenNoDirtyBlockRemains(int bs, int order) {
        Folio f = newFolio(bs, order);
        FileCache fc = f.owner();
        long before = cache.stats().dirtyBytes();
        try {
            int b = f.blockBytes();
            long blocks = f.size() / b;
            // a partial range dirties every block it touches
            f.markDirty(b / 2, 1);
            assertThat(f.isDirty()).isTrue();
            assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).isEqualTo(0);
            assertThat(fc.dirtyBytes()).isEqualTo(f.size());
            assertThat(cache.stats().dirtyBytes()).isEqualTo(before + f.size());
            assertThat(f.nextDirtyRange(0)).isEqualTo(packed(0, b));
            if (blocks >= 4) {
                f.markDirty(2L * b, 2L * b);               // blocks 2,3
                assertThat(f.nextDirtyRange(0)).isEqualTo(packed(0, b));
                assertThat(f.nextDirtyRange(b)).isEqualTo(packed(2L * b, 2L * b));
                assertThat(f.nextDirtyRange(3L * b + 1)).isEqualTo(packed(3L * b, b));
                f.clearDirty(0, b);
                assertThat(f.isDirty()).as("blocks 2,3 still dirty").isTrue();
                f.clearDirty(2L * b, b);
                assertThat(f.isDirty()).as("block 3 still dirty").isTrue();
                assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).isEqualTo(0);
                f.clearDirty(3L * b + 1, 1);                 // partial range cleans the whole block it touches
            } else {
                f.clearDirty(0, 1);
            }
            assertThat(f.isDirty()).isFalse();
            assertThat(f.hasDirtyBlocks()).isFalse();
            assertThat(f.nextDirtyRange(0)).isEqualTo(-1);
            assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).isEqualTo(-1);
            assertThat(fc.dirtyBytes()).isZero();
            assertThat(cache.stats().dirtyBytes()).isEqualTo(before);
            // the last block of the folio
            f.markDirty(f.size() - 1, 1);
            assertThat(f.nextDirtyRange(0)).isEqualTo(packed(f.size() - b, b));
            assertThat(Folio.rangeStart(f.nextDirtyRange(0))).isEqualTo(f.size() - b);
            assertThat(Folio.rangeLength(f.nextDirtyRange(0))).isEqualTo(b);
            f.markDirty(0, f.size());
            assertThat(f.nextDirtyRange(0)).isEqualTo(packed(0, f.size()));
            f.clearDirty(0, f.size());
            assertThat(f.isDirty()).isFalse();
        } finally {
            release(f);
        }
    }

    private static long packed(long start, long len) { return start << 32 | len; }

    @ParameterizedTest(name = "block {0} order {1}")
    @MethodSource("geometries")
    void writebackStateMachine(int bs, int order) {
        Folio f = newFolio(bs, order);
        FileCache fc = f.owner();
        try {
            f.markUptodate(0, f.size());
            f.markDirty(0, f.size());
            f.clearDirty(0, f.size());                      // what a writeback target does before starting I/O
            f.startWriteback();
            assertThat(f.isWriteback()).isTrue();
            assertThat(fc.nextTagged(FileCache.Tag.WRITEBACK, 0)).isEqualTo(0);
            assertThat(cache.stats().writebackBytes()).isGreaterThanOrEqualTo(f.size());
            assertThatThrownBy(f::startWriteback).isInstanceOf(IllegalStateException.class).hasMessageContaining("already under writeback");
            assertThatThrownBy(() -> fc.remove(f)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("remove needs a locked, clean folio not under writeback");
            f.unlock();
            f.endWriteback();                               // any thread, lock not needed
            assertThat(f.isWriteback()).isFalse();
            assertThat(fc.nextTagged(FileCache.Tag.WRITEBACK, 0)).isEqualTo(-1);
            assertThatThrownBy(f::endWriteback).isInstanceOf(IllegalStateException.class).hasMessageContaining("is not under writeback");
            f.waitWriteback();                              // returns at once
            assertThatThrownBy(f::startWriteback).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("startWriteback needs the folio lock");
            assertThatThrownBy(() -> f.markDirty(0, 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("markDirty needs the folio lock");
            f.lock();
        } finally {
            release(f);
        }
    }

    @Test
    void referencesAndRemoval() {
        FileCache fc = cache.newFileCache(4096, TestCaches.NO_WRITEBACK);
        long cached = cache.stats().bytesCached();
        Folio f = fc.getOrCreate(7, 0);
        f.get();
        assertThat(f.refCount()).isEqualTo(2);
        fc.remove(f);
        assertThat(f.isRemoved()).isTrue();
        assertThat(fc.lookup(7)).isNull();
        f.unlock();
        f.put();
        assertThat(cache.stats().bytesCached()).as("still referenced").isEqualTo(cached + 4096);
        f.put();
        assertThat(cache.stats().bytesCached()).as("last put frees").isEqualTo(cached);
        assertThatThrownBy(f::put).isInstanceOf(IllegalStateException.class).hasMessageContaining("put() without a reference");
        assertThatThrownBy(f::get).isInstanceOf(IllegalStateException.class).hasMessageContaining("get() on a freed");
        assertThatThrownBy(f::unlock).isInstanceOf(IllegalStateException.class).hasMessageContaining("unlock needs the folio lock");
    }

    @Test
    void stateDescription() {
        assertThat(FolioState.describe(FolioState.LOCKED | FolioState.DIRTY | 3 * FolioState.REF_ONE)).isEqualTo("LOCKED|DIRTY|refs=3");
        assertThat(FolioState.evictable(FolioState.REFERENCED | FolioState.UPTODATE)).isTrue();
        assertThat(FolioState.evictable(FolioState.REF_ONE)).isFalse();
        assertThat(FolioState.evictable(FolioState.DIRTY)).isFalse();
    }
}
