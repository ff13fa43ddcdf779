package org.foliofs.pagecache;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The global page cache of one stack: folio memory (a buddy allocator over 2 MiB chunks of one
 * anonymous mapping), CLOCK eviction within a fixed budget, dirty accounting and throttling, and
 * background writeback workers. Files get a {@link FileCache} from {@link #newFileCache}.
 *
 * <p>Budget: folio bytes never exceed {@link Config#memoryBytes()} (the allocator owns exactly
 * that much). An allocation that finds no free block evicts first; short of evictable folios it
 * falls back to smaller orders, then kicks writeback and waits for progress, and after
 * {@link Config#stallTimeoutMillis()} without room throws {@link CacheFullException}.
 *
 * <p>Lock order (outermost first): inode/iomap locks, folio lock, FileCache structure lock,
 * clock lock, then leaves (tag lock, buddy monitor, writeback list lock, wait-table buckets).
 * Eviction never waits for a folio lock (it freezes with a CAS) and takes structure locks only
 * after dropping the clock lock. Device completions only call {@link Folio#endWriteback()}.
 */
public final class PageCache implements AutoCloseable {
    private final Config config;
    private final FolioMemory memory;
    private final BuddyAllocator buddy;
    private final Reclaimer reclaimer = new Reclaimer();
    private final Writeback writeback;
    private final long reclaimBatch;
    private final AtomicInteger hashes = new AtomicInteger();
    private final LongAdder folios = new LongAdder(), hits = new LongAdder(), misses = new LongAdder(), evictions = new LongAdder();
    private volatile boolean closed;

    public PageCache(Config config) {
        this.config = config;
        int chunks = (int) (config.memoryBytes() / FolioMemory.CHUNK);
        this.memory = new FolioMemory(chunks);
        this.buddy = new BuddyAllocator(chunks);
        this.writeback = new Writeback(config);
        this.reclaimBatch = Math.min(config.memoryBytes() >>> 7, 1L << 20);
        writeback.start();
    }

    public Config config() { return config; }

    /** A cache for one file with the filesystem's block size (512..65536) and its writeback hook. */
    public FileCache newFileCache(int blockSize, WritebackTarget target) {
        return newFileCache(blockSize, 0, target);
    }

    /**
     * As {@link #newFileCache(int, WritebackTarget)}, with folios never smaller than order
     * {@code minOrder} (not even under fragmentation): iomap uses the order of the file system
     * block, so a block never spans two folios (Linux's mapping_min_folio_order).
     */
    public FileCache newFileCache(int blockSize, int minOrder, WritebackTarget target) {
        if (closed) throw new IllegalStateException("page cache is closed");
        return new FileCache(this, blockSize, minOrder, target);
    }

    /**
     * Dirty throttling; writers call it after dirtying, holding no folio lock. Below the midpoint
     * between the background threshold and the dirty limit it returns at once (kicking background
     * writeback above the threshold); between midpoint and limit it parks for a time proportional
     * to the excess (up to maxPause); at the limit it waits for writeback progress until below the
     * limit. A file with no dirty bytes is never throttled, and a call gives up after stallTimeout
     * without any writeback progress, so a writer is never blocked forever.
     */
    public void balanceDirty(FileCache cache) {
        writeback.balanceDirty(cache);
    }

    /** Evicts clean, unreferenced folios worth at least {@code bytes} if it can; returns the bytes freed. */
    public long evict(long bytes) {
        long freed = 0;
        while (freed < bytes) {
            long n = reclaimer.evict(this, bytes - freed);
            if (n == 0) break;
            freed += n;
        }
        return freed;
    }

    public record Stats(long memoryBytes, long folios, long bytesCached, long dirtyBytes, long writebackBytes,
                        long evictions, long hits, long misses, long throttledNanos) {}

    public Stats stats() {
        return new Stats(config.memoryBytes(), folios.sum(), (long) (buddy.pages() - buddy.freePages()) << Folio.PAGE_SHIFT,
                writeback.dirty.get(), writeback.writeback.get(), evictions.sum(), hits.sum(), misses.sum(),
                writeback.throttledNanos());
    }

    /** Stops the writeback workers (waiting for a running target call) and unmaps the folio memory. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        writeback.close();
        memory.close();
    }

    // ---- package-private machinery -------------------------------------------------------------

    Reclaimer reclaimer() { return reclaimer; }
    Writeback writeback() { return writeback; }
    BuddyAllocator buddy() { return buddy; }
    boolean hugePages() { return memory.hugePages(); }
    void countHit() { hits.increment(); }
    void countMiss() { misses.increment(); }
    void countEviction() { evictions.increment(); }

    /** A new locked, referenced folio containing {@code index}, of {@code order} or smaller. */
    Folio allocateFolio(FileCache owner, long index, int order) {
        long deadline = 0;
        int o = order, rounds = 0;
        while (true) {
            if (closed) throw new IllegalStateException("page cache is closed");
            int page = buddy.allocate(o);
            if (page >= 0) {
                folios.increment();
                // Spread wait-table keys: golden-ratio multiples of a counter.
                return new Folio(owner, FileCache.alignDown(index, o), o, page, memory.slice(page, o), hashes.getAndIncrement() * 0x9E3779B9 >>> 8);
            }
            long freed = reclaimer.evict(this, Math.max((long) Folio.PAGE_SIZE << o, reclaimBatch));
            if (freed > 0 && ++rounds <= 2) continue;       // freed memory may coalesce to order o
            rounds = 0;
            if (o > owner.minOrder()) {                      // fragmented or all pinned: smaller folio
                o--;
                continue;
            }
            long now = System.nanoTime();
            if (deadline == 0) deadline = now + TimeUnit.MILLISECONDS.toNanos(config.stallTimeoutMillis());
            else if (now - deadline > 0) throw cacheFull();
            long seen = writeback.progress();
            writeback.kick();
            if (freed == 0) writeback.awaitProgress(seen, 10_000_000);
        }
    }

    private CacheFullException cacheFull() {
        Stats s = stats();
        return new CacheFullException("page cache full: no evictable folio within " + config.stallTimeoutMillis()
                + " ms (memoryBytes " + config.memoryBytes() + ": " + s.bytesCached() + " bytes in " + s.folios() + " folios, "
                + s.dirtyBytes() + " dirty, " + s.writebackBytes() + " under writeback, the rest locked or referenced)");
    }

    /** Returns a dead folio's memory (its last reference was dropped, or eviction froze it). */
    void freeFolio(Folio f) {
        buddy.free(f.page, f.order());
        folios.decrement();
        writeback.signalProgress();
    }

    /** Returns a folio that was never inserted (lost a creation race). */
    void freeUnused(Folio f) {
        freeFolio(f);
    }

    /**
     * Immutable configuration; {@link #builder()} setters check their argument at once and name it.
     */
    public static final class Config {
        private final long memoryBytes;
        private final int backgroundRatio, dirtyRatio, writebackThreads;
        private final long dirtyExpireMillis, writebackIntervalMillis, maxPauseMillis, stallTimeoutMillis;

        private Config(Builder b) {
            this.memoryBytes = b.memoryBytes;
            this.backgroundRatio = b.backgroundRatio;
            this.dirtyRatio = b.dirtyRatio;
            this.writebackThreads = b.writebackThreads;
            this.dirtyExpireMillis = b.dirtyExpireMillis;
            this.writebackIntervalMillis = b.writebackIntervalMillis;
            this.maxPauseMillis = b.maxPauseMillis;
            this.stallTimeoutMillis = b.stallTimeoutMillis;
        }

        public static Builder builder() { return new Builder(); }
        public static Config defaults() { return builder().build(); }

        /** Folio memory budget: a multiple of 2 MiB from 8 MiB to 64 GiB (default 256 MiB). */
        public long memoryBytes() { return memoryBytes; }
        /** Percent of memory dirty above which background writeback starts (default 10). */
        public int backgroundRatio() { return backgroundRatio; }
        /** Percent of memory dirty or under writeback at which writers wait (default 20). */
        public int dirtyRatio() { return dirtyRatio; }
        /** Background writeback worker threads (default 1). */
        public int writebackThreads() { return writebackThreads; }
        /** Age after which a dirty file's data is written in the background (default 30 000). */
        public long dirtyExpireMillis() { return dirtyExpireMillis; }
        /** Longest sleep of an idle writeback worker (default 5 000). */
        public long writebackIntervalMillis() { return writebackIntervalMillis; }
        /** Longest single throttling pause of a writer (default 200). */
        public long maxPauseMillis() { return maxPauseMillis; }
        /** How long a writer or allocator waits without writeback progress before giving up (default 10 000). */
        public long stallTimeoutMillis() { return stallTimeoutMillis; }

        @Override
        public String toString() {
            return "PageCache.Config[memoryBytes=" + memoryBytes + ", backgroundRatio=" + backgroundRatio + ", dirtyRatio=" + dirtyRatio
                    + ", writebackThreads=" + writebackThreads + ", dirtyExpireMillis=" + dirtyExpireMillis + ", writebackIntervalMillis="
                    + writebackIntervalMillis + ", maxPauseMillis=" + maxPauseMillis + ", stallTimeoutMillis=" + stallTimeoutMillis + "]";
        }

        public static final class Builder {
            private long memoryBytes = 256L << 20;
            private int backgroundRatio = 10, dirtyRatio = 20, writebackThreads = 1;
            private long dirtyExpireMillis = 30_000, writebackIntervalMillis = 5_000, maxPauseMillis = 200, stallTimeoutMillis = 10_000;

            private Builder() {}

            public Builder memoryBytes(long v) {
                if (v < (8L << 20)) throw new IllegalArgumentException("memoryBytes (" + v + ") must be at least 8 MiB");
                if (v > (64L << 30)) throw new IllegalArgumentException("memoryBytes (" + v + ") must be at most 64 GiB");
                if (v % FolioMemory.CHUNK != 0) throw new IllegalArgumentException("memoryBytes (" + v + ") must be a multiple of 2 MiB");
                memoryBytes = v;
                return this;
            }

            public Builder backgroundRatio(int v) {
                backgroundRatio = percent("backgroundRatio", v);
                return this;
            }

            public Builder dirtyRatio(int v) {
                dirtyRatio = percent("dirtyRatio", v);
                return this;
            }

            public Builder writebackThreads(int v) {
                if (v < 1 || v > 64) throw new IllegalArgumentException("writebackThreads (" + v + ") must be from 1 to 64");
                writebackThreads = v;
                return this;
            }

            public Builder dirtyExpireMillis(long v) {
                dirtyExpireMillis = positive("dirtyExpireMillis", v);
                return this;
            }

            public Builder writebackIntervalMillis(long v) {
                writebackIntervalMillis = positive("writebackIntervalMillis", v);
                return this;
            }

            public Builder maxPauseMillis(long v) {
                maxPauseMillis = positive("maxPauseMillis", v);
                return this;
            }

            public Builder stallTimeoutMillis(long v) {
                stallTimeoutMillis = positive("stallTimeoutMillis", v);
                return this;
            }

            public Config build() {
                if (backgroundRatio >= dirtyRatio) {
                    throw new IllegalArgumentException("backgroundRatio (" + backgroundRatio + ") must be below dirtyRatio (" + dirtyRatio + ")");
                }
                return new Config(this);
            }

            private static int percent(String name, int v) {
                if (v < 1 || v > 100) throw new IllegalArgumentException(name + " (" + v + ") must be a percentage from 1 to 100");
                return v;
            }

            private static long positive(String name, long v) {
                if (v < 1 || v > TimeUnit.DAYS.toMillis(365)) throw new IllegalArgumentException(name + " (" + v + ") must be from 1 ms to 365 days");
                return v;
            }
        }
    }
}
