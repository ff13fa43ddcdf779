package org.foliofs.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The small additions the buffered iomap engine needs: a minimum folio order per file, the
 * sparse-cache walk {@code nextCachedIndex}, {@code nextUptodateRange}, and re-dirtying a folio
 * under writeback without its lock.
 */
class IomapHooksTest {
    private static PageCache cache;

    @BeforeAll
    static void open() { cache = TestCaches.small(16L << 20); }

    @AfterAll
    static void close() { cache.close(); }

    @Test
    void minOrderIsNeverUndercut() {
        FileCache fc = cache.newFileCache(65536, 4, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(21, 0);
        assertThat(f.order()).isEqualTo(4);
        assertThat(f.index()).isEqualTo(16);
        assertThat(f.blockBytes()).isEqualTo(65536);
        f.unlock();
        f.put();
        assertThat(fc.nextCachedIndex(0)).isEqualTo(16);
        assertThat(fc.nextCachedIndex(20)).as("the folio containing page 20").isEqualTo(16);
        assertThat(fc.nextCachedIndex(32)).isEqualTo(-1);
        assertThatThrownBy(() -> cache.newFileCache(4096, 10, TestCaches.NO_WRITEBACK))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("minOrder (10) must be from 0 to 9");
        fc.truncate(0);
    }

    @Test
    void uptodateRunsAndRedirtyUnderWriteback() {
        FileCache fc = cache.newFileCache(512, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(0, 0);
        assertThat(f.nextUptodateRange(0)).isEqualTo(-1);
        f.markUptodate(1024, 1024);
        f.markUptodate(3072, 512);
        long r = f.nextUptodateRange(0);
        assertThat(Folio.rangeStart(r)).isEqualTo(1024);
        assertThat(Folio.rangeLength(r)).isEqualTo(1024);
        r = f.nextUptodateRange(2048);
        assertThat(Folio.rangeStart(r)).isEqualTo(3072);
        assertThat(Folio.rangeLength(r)).isEqualTo(512);
        f.markUptodate(0, 4096);
        r = f.nextUptodateRange(600);
        assertThat(Folio.rangeStart(r)).as("block containing 600").isEqualTo(512);
        assertThat(Folio.rangeLength(r)).isEqualTo(4096 - 512);

        f.markDirty(0, 512);
        f.clearDirty(0, 512);
        f.startWriteback();
        f.unlock();
        f.markDirty(512, 512);                       // the failed writeback's owner, no lock
        assertThat(f.isDirty()).isTrue();
        f.endWriteback();
        assertThatThrownBy(() -> f.markDirty(0, 512)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("markDirty needs the folio lock");
        f.lock();
        f.clearDirty(0, 4096);
        fc.remove(f);
        f.unlock();
        f.put();
    }
}
