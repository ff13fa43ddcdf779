package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several threads writing and reading one file through the cache, with background writeback and
 * eviction running (small cache, low dirty thresholds). Every write fills whole blocks with one
 * value (thread id and sequence); readers check every block they see is uniform (no torn block).
 * Writers of private regions check at the end that their last value of every block survived
 * (no lost update), in the cache and, after fsync and eviction, on the device.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BufferedConcurrencyTest {
    static final int BS = 1024, BLOCKS = 2048;   // 2 MiB file
    static final int WRITERS = 3, READERS = 2, OPS = 1500;

    @Test
    void overlappingAndPrivateWritersNeverTearOrLoseBlocks() throws Exception {
        PageCache.Config cfg = PageCache.Config.builder().memoryBytes(8L << 20).backgroundRatio(5).dirtyRatio(10)
                .dirtyExpireMillis(50).writebackIntervalMillis(20).maxPauseMillis(5).build();
        try (BufferedFixture x = new BufferedFixture(DirectIoTest.sim(512).capacity(16L << 20).asyncCompletions(true), cfg,
                BufferedIo.Options.defaults().withMaxRequestBytes(64 << 10), BS, BLOCKS)) {
            x.write(0, new byte[BS * BLOCKS]);          // pre-size: all later writes are inside the size
            x.fsync();
            // Blocks [0, 1024): shared by all writers; [1024 + w * 256, +256): private to writer w.
            int[][] last = new int[WRITERS][BLOCKS];
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                int id = w;
                threads.add(Thread.ofPlatform().name("writer-" + w).start(() -> run(failure, start, () -> {
                    Random r = new Random(100 + id);
                    for (int i = 1; i <= OPS; i++) {
                        boolean shared = r.nextBoolean();
                        int first = shared ? r.nextInt(1024 - 16) : 1024 + id * 256 + r.nextInt(256 - 16);
                        int n = 1 + r.nextInt(16);
                        byte v = value(id, i);
                        byte[] d = new byte[n * BS];
                        Arrays.fill(d, v);
                        x.write((long) first * BS, d);
                        if (!shared) Arrays.fill(last[id], first, first + n, v);
                        if (i % 500 == 0) x.evictAll();
                    }
                })));
            }
            for (int rd = 0; rd < READERS; rd++) {
                int id = rd;
                threads.add(Thread.ofPlatform().name("reader-" + rd).start(() -> run(failure, start, () -> {
                    Random r = new Random(200 + id);
                    byte[] buf = new byte[32 * BS];
                    for (int i = 0; i < OPS; i++) {
                        int first = r.nextInt(BLOCKS - 32), n = 1 + r.nextInt(32);
                        long got = x.bio.read(x.f, x.f, (long) first * BS, MemorySegment.ofArray(buf).asSlice(0, (long) n * BS));
                        assertThat(got).isEqualTo((long) n * BS);
                        for (int b = 0; b < n; b++) {
                            byte v = buf[b * BS];
                            for (int k = 1; k < BS; k++) {
                                if (buf[b * BS + k] != v) {
                                    throw new AssertionError("torn block " + (first + b) + ": byte 0 is " + v + ", byte " + k + " is "
                                            + buf[b * BS + k]);
                                }
                            }
                        }
                    }
                })));
            }
            start.countDown();
            for (Thread t : threads) t.join(100_000);
            if (failure.get() != null) throw new AssertionError("a thread failed", failure.get());
            for (int pass = 0; pass < 2; pass++) {
                byte[] all = x.read(0, BS * BLOCKS);
                for (int w = 0; w < WRITERS; w++) {
                    for (int b = 1024 + w * 256; b < 1024 + (w + 1) * 256; b++) {
                        if (last[w][b] == 0) continue;   // never written by its owner
                        assertThat(all[b * BS]).as("pass %d block %d of writer %d", pass, b, w).isEqualTo((byte) last[w][b]);
                    }
                }
                x.fsync();
                x.evictAll();
            }
            x.assertQuiescent();
        }
    }

    /**
     * Mixed engines under a test inode lock (shared: buffered writes inside the size, buffered and
     * direct reads, block-aligned direct writes; exclusive: extending writes and zero range), with
     * fsync threads and background writeback: each worker owns a region and keeps its oracle; at the
     * end every region matches through the cache, after fsync and eviction, and through direct I/O.
     */
    @Test
    void buffersDirectIoFsyncAndWritebackAgreeOnEveryRegion() throws Exception {
        PageCache.Config cfg = PageCache.Config.builder().memoryBytes(8L << 20).backgroundRatio(5).dirtyRatio(10)
                .dirtyExpireMillis(20).writebackIntervalMillis(10).maxPauseMillis(2).build();
        int region = 256 << 10, workers = 3, bs = 4096;
        try (BufferedFixture x = new BufferedFixture(DirectIoTest.sim(512).capacity(32L << 20).asyncCompletions(true), cfg,
                BufferedIo.Options.defaults().withMaxRequestBytes(128 << 10), bs, (4 << 20) / bs)) {
            x.write(0, new byte[region * workers]);
            java.util.concurrent.locks.ReentrantReadWriteLock inode = new java.util.concurrent.locks.ReentrantReadWriteLock();
            byte[][] oracle = new byte[workers][region];
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch start = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int id = w;
                long base = (long) id * region;
                threads.add(Thread.ofPlatform().name("worker-" + w).start(() -> run(failure, start, () -> {
                    Random r = new Random(300 + id);
                    byte[] o = oracle[id];
                    for (int i = 0; i < 600; i++) {
                        int kind = r.nextInt(10);
                        if (kind < 5) {                       // buffered write, any alignment
                            int len = 1 + r.nextInt(20_000), pos = r.nextInt(region - len);
                            byte[] d = new byte[len];
                            r.nextBytes(d);
                            inode.readLock().lock();
                            try {
                                x.bio.write(x.f, x.f, base + pos, MemorySegment.ofArray(d));
                            } finally {
                                inode.readLock().unlock();
                            }
                            System.arraycopy(d, 0, o, pos, len);
                        } else if (kind < 7) {                // direct write, block aligned
                            int len = bs * (1 + r.nextInt(8)), pos = bs * r.nextInt((region - len) / bs);
                            byte[] d = new byte[len];
                            r.nextBytes(d);
                            inode.readLock().lock();
                            try {
                                x.dio.write(x.f, x.f, x.f, base + pos, MemorySegment.ofArray(d), r.nextBoolean() ? DirectIo.DSYNC : 0);
                            } finally {
                                inode.readLock().unlock();
                            }
                            System.arraycopy(d, 0, o, pos, len);
                        } else if (kind < 8) {                // zero range (exclusive)
                            int len = 1 + r.nextInt(10_000), pos = r.nextInt(region - len);
                            inode.writeLock().lock();
                            try {
                                x.bio.zeroRange(x.f, x.f, base + pos, len);
                            } finally {
                                inode.writeLock().unlock();
                            }
                            java.util.Arrays.fill(o, pos, pos + len, (byte) 0);
                        } else {                              // read back through either engine
                            int len = bs * (1 + r.nextInt(16)), pos = bs * r.nextInt((region - len) / bs);
                            byte[] got = new byte[len];
                            inode.readLock().lock();
                            try {
                                if (kind == 8) x.bio.read(x.f, x.f, base + pos, MemorySegment.ofArray(got));
                                else x.dio.read(x.f, x.f, base + pos, MemorySegment.ofArray(got));
                            } finally {
                                inode.readLock().unlock();
                            }
                            for (int k = 0; k < len; k++) {
                                if (got[k] != o[pos + k]) {
                                    throw new AssertionError((kind == 8 ? "buffered" : "direct") + " read: byte " + (base + pos + k)
                                            + " is " + got[k] + ", expected " + o[pos + k]);
                                }
                            }
                        }
                    }
                })));
            }
            Thread syncer = Thread.ofPlatform().name("fsync").start(() -> run(failure, start, () -> {
                ErrSeq.Cursor c = x.file.errSeq().cursor();
                while (!stop.get()) {
                    x.bio.fsync(x.f, 0, Long.MAX_VALUE, true, c);
                    x.evictAll();
                }
            }));
            start.countDown();
            for (Thread t : threads) t.join(100_000);
            stop.set(true);
            syncer.join(100_000);
            if (failure.get() != null) throw new AssertionError("a thread failed", failure.get());
            for (int pass = 0; pass < 2; pass++) {
                for (int w = 0; w < workers; w++) {
                    assertThat(x.read((long) w * region, region)).as("pass %d region %d", pass, w).isEqualTo(oracle[w]);
                }
                x.fsync();
                x.evictAll();
            }
            byte[] all = new byte[region * workers];
            x.dio.read(x.f, x.f, 0, MemorySegment.ofArray(all));
            for (int w = 0; w < workers; w++) {
                assertThat(java.util.Arrays.copyOfRange(all, w * region, (w + 1) * region)).as("direct, region %d", w).isEqualTo(oracle[w]);
            }
            x.assertQuiescent();
        }
    }

    static byte value(int writer, int i) {
        return (byte) (1 + writer + WRITERS * (i % (250 / WRITERS)));   // never 0, writer recoverable
    }

    interface Body {
        void run() throws Exception;
    }

    static void run(AtomicReference<Throwable> failure, CountDownLatch start, Body body) {
        try {
            start.await();
            body.run();
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }
}
