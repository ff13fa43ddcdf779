package org.foliofs.bench;

import com.sun.nio.file.ExtendedOpenOption;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Mkfs;
import org.foliofs.iomap.BufferedIo;
import org.foliofs.pagecache.PageCache;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Buffered write-through (issue 5) on a real FolioFS volume over an O_DIRECT io_uring
 * {@link FileDevice} image in a temporary directory, against FolioFS's own buffered and direct
 * paths, the JDK's {@link FileChannel} on the host file system, and fio:
 * <ol>
 *   <li>4 KiB random DSYNC overwrites of a written file, depth 1 and 32;</li>
 *   <li>random 4 KiB writes over a working set four times the page cache (writeback throttled);</li>
 *   <li>per-mapping vs per-folio requests and per-folio vs whole-file stable writes;</li>
 *   <li>1, 2 and 4 writers on disjoint aligned ranges of one file.</li>
 * </ol>
 * Each FolioFS case mounts the volume afresh with its own page cache and engine options. Cases of
 * one group run in turn, trial after trial (drift of the shared disk hits all alike); each case
 * reports its median trial by throughput. Depth-32 FolioFS asynchronous cases keep 32
 * {@code writeAsync} futures in flight from one submitting thread (completions hand their slot
 * back to it); threaded cases run one platform thread per unit of depth. Latency is per call, from
 * submission to completion.
 */
public final class WriteThroughBench {

    /** What to run: {@code size} is the temporary volume (the file is a quarter of it, the small cache a quarter of the file). */
    public record Config(Path dir, long size, double seconds, double warmupSeconds, int trials, boolean fio) {
        public Config {
            if (trials < 1 || trials > 99) throw new IllegalArgumentException("trials (" + trials + ") must be between 1 and 99");
            if (size < (256L << 20) || size % (8L << 20) != 0) {
                throw new IllegalArgumentException("size (" + size + ") must be a multiple of 8 MiB and at least 256 MiB");
            }
            if (seconds <= 0) throw new IllegalArgumentException("seconds (" + seconds + ") must be positive");
            if (warmupSeconds < 0) throw new IllegalArgumentException("warmupSeconds (" + warmupSeconds + ") must not be negative");
        }

        long fileBytes() { return size / 4; }
        long smallCacheBytes() { return Math.max(8L << 20, fileBytes() / 4); }
        long bigCacheBytes() { return fileBytes() * 2; }
    }

    /** One measured case (the median trial). */
    public record Row(String group, String name, int depth, double iops, double mibPerSecond, double p50Micros, double p99Micros,
                      double writesPerOp, double flushesPerOp, String note) {}

    static final int BS = 4096;
    private static final String FILE = "bench";

    private WriteThroughBench() {}

    // ------------------------------------------------------------------ measurement core

    /** Latency samples of one phase (the first {@code CAP}; later ones are counted, not kept). */
    static final class Samples {
        private static final int CAP = 1 << 21;
        final long[] v = new long[CAP];
        final AtomicInteger n = new AtomicInteger();

        void add(long nanos) {
            int i = n.getAndIncrement();
            if (i < CAP) v[i] = nanos;
        }

        double[] p50p99Micros() {
            int k = Math.min(n.get(), CAP);
            if (k == 0) return new double[] {0, 0};
            long[] s = Arrays.copyOf(v, k);
            Arrays.sort(s);
            return new double[] {s[(int) Math.min(k - 1, (long) (k * 0.50))] / 1e3, s[(int) Math.min(k - 1, (long) (k * 0.99))] / 1e3};
        }
    }

    /** What one phase measured. */
    record Measured(long ops, long bytes, long nanos, double p50, double p99, DeviceStats.Snapshot dev) {
        double iops() { return ops / (nanos / 1e9); }
        double mibps() { return bytes / (nanos / 1e9) / (1 << 20); }
    }

    /** A synchronous operation of worker {@code w}: returns the bytes it wrote. */
    interface SyncOp {
        long run(int w, SplittableRandom rnd, MemorySegment buf) throws IOException;
    }

    /** An asynchronous operation from slot {@code s}. */
    interface AsyncOp {
        CompletableFuture<Long> submit(int s, SplittableRandom rnd, MemorySegment buf);
    }

    /** One case: run warm-up then measured phase, return the measured one. */
    interface Case {
        Measured run(double warmup, double seconds) throws Exception;
    }

    /** {@code threads} platform threads, each running op in a loop for {@code seconds}. */
    static Measured threads(int threads, MemorySegment[] bufs, SyncOp op, double seconds, DeviceStats stats) throws Exception {
        Samples lat = new Samples();
        long[] ops = new long[threads], bytes = new long[threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        long[] deadline = new long[1];
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int w = t;
            ts.add(Thread.ofPlatform().name("wtbench-" + t).start(() -> {
                SplittableRandom rnd = new SplittableRandom(0x5eed + w * 7919L + System.nanoTime());
                try {
                    go.await();
                    long end = deadline[0];
                    long now = System.nanoTime();
                    while (now < end && failure.get() == null) {
                        long b = op.run(w, rnd, bufs[w]);
                        long t1 = System.nanoTime();
                        lat.add(t1 - now);
                        now = t1;
                        ops[w]++;
                        bytes[w] += b;
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        DeviceStats.Snapshot before = stats == null ? null : stats.snapshot();
        long start = System.nanoTime();
        deadline[0] = start + (long) (seconds * 1e9);
        go.countDown();
        for (Thread t : ts) t.join();
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) throw new IllegalStateException("benchmark operation failed", failure.get());
        double[] p = lat.p50p99Micros();
        return new Measured(Arrays.stream(ops).sum(), Arrays.stream(bytes).sum(), nanos, p[0], p[1],
                stats == null ? null : stats.snapshot().minus(before));
    }

    /**
     * A closed loop of {@code depth} asynchronous operations issued from this thread: each
     * completion hands its slot back, and this thread issues the next from it.
     */
    static Measured async(int depth, MemorySegment[] bufs, AsyncOp op, double seconds, DeviceStats stats) throws Exception {
        Samples lat = new Samples();
        ArrayBlockingQueue<Integer> ready = new ArrayBlockingQueue<>(depth);
        for (int i = 0; i < depth; i++) ready.add(i);
        long[] t0 = new long[depth];
        long[] bytes = new long[depth];
        long[] ops = new long[depth];
        SplittableRandom[] rnd = new SplittableRandom[depth];
        for (int i = 0; i < depth; i++) rnd[i] = new SplittableRandom(0xa51c + i * 104729L + System.nanoTime());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        DeviceStats.Snapshot before = stats == null ? null : stats.snapshot();
        long start = System.nanoTime(), end = start + (long) (seconds * 1e9);
        while (failure.get() == null) {
            Integer s = ready.poll(100, TimeUnit.MILLISECONDS);
            if (System.nanoTime() >= end) {
                if (s != null) ready.add(s);
                break;
            }
            if (s == null) continue;
            int slot = s;
            t0[slot] = System.nanoTime();
            CompletableFuture<Long> f;
            try {
                f = op.submit(slot, rnd[slot], bufs[slot]);
            } catch (RuntimeException e) {
                failure.compareAndSet(null, e);
                ready.add(slot);
                break;
            }
            f.whenComplete((n, err) -> {
                if (err != null) failure.compareAndSet(null, err);
                else {
                    lat.add(System.nanoTime() - t0[slot]);
                    ops[slot]++;
                    bytes[slot] += n;
                }
                ready.add(slot);
            });
        }
        long drainLimit = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (ready.size() < depth) {
            if (System.nanoTime() > drainLimit) throw new IllegalStateException("asynchronous writes did not complete within 60 s");
            Thread.sleep(0, 200_000);
        }
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) throw new IllegalStateException("benchmark operation failed", failure.get());
        double[] p = lat.p50p99Micros();
        return new Measured(Arrays.stream(ops).sum(), Arrays.stream(bytes).sum(), nanos, p[0], p[1],
                stats == null ? null : stats.snapshot().minus(before));
    }

    // ------------------------------------------------------------------ the volume

    /** A mounted FolioFS volume with the benchmark file open, mounted with the given cache and engine options. */
    static final class Vol implements AutoCloseable {
        final FileDevice dev;
        final FolioFs fs;
        final FolioFile file;

        Vol(Path image, long cacheBytes, BufferedIo.Options options) throws IOException {
            FileDevice d = FileDevice.open(image, FileDevice.Options.defaults());
            FolioFs f = null;
            try {
                f = FolioFs.mount(d);
                f.setPageCacheConfig(PageCache.Config.builder().memoryBytes(cacheBytes).build());
                f.setBufferedIoOptions(options);
                this.file = f.openFile(f.lookup(FolioFs.ROOT_INO, FILE));
            } catch (IOException | RuntimeException e) {
                if (f != null) f.close();
                d.close();
                throw e;
            }
            this.dev = d;
            this.fs = f;
        }

        @Override
        public void close() throws IOException {
            try {
                file.close();
                fs.close();
            } finally {
                dev.close();
            }
        }
    }

    /** Formats the image, creates the benchmark file and writes it full (1 MiB buffered writes, fsync): every later write is an overwrite. */
    static String prepareVolume(Path image, long imageBytes, long fileBytes, MemorySegment chunk) throws IOException {
        FileDevice.createImage(image, imageBytes);
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults())) {
            try (FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults())) {
                long ino = fs.create(FolioFs.ROOT_INO, FILE, 0644, 0, 0).ino();
                try (FolioFile f = fs.openFile(ino)) {
                    for (long p = 0; p < fileBytes; p += chunk.byteSize()) f.write(p, chunk, 0);
                    f.fsync(false);
                }
            }
            return dev.describe();
        }
    }

    /** Creates the host-file-system file and writes it full, then fsyncs it. */
    static void prepareHostFile(Path p, long fileBytes) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            for (int i = 0; i < b.capacity(); i += 8) b.putLong(i, i * 0x9E3779B97F4A7C15L);
            for (long pos = 0; pos < fileBytes; pos += b.capacity()) {
                b.clear();
                while (b.hasRemaining()) ch.write(b, pos + b.position());
            }
            ch.force(true);
        }
    }

    // ------------------------------------------------------------------ the run

    private record Named(String name, int depth, Case c, String note) {}

    /** Runs all four groups, printing progress to {@code log}; returns the Markdown report. */
    public static String run(Config cfg, PrintStream log) throws Exception {
        Files.createDirectories(cfg.dir());
        Path image = Files.createTempFile(cfg.dir(), "foliofs-wt-", ".img");
        Path host = Files.createTempFile(cfg.dir(), "foliofs-wt-host-", ".dat");
        Files.delete(image);
        Files.delete(host);
        String fioVersion = cfg.fio() ? FioRunner.version() : null;
        if (cfg.fio() && fioVersion == null) log.println("fio not found: running without the fio comparison");
        long fileBytes = cfg.fileBytes();
        long blocks = fileBytes / BS;
        List<Row> rows = new ArrayList<>();
        String device;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment chunk = arena.allocate(1 << 20, 4096);
            for (long o = 0; o < chunk.byteSize(); o += 8) chunk.set(java.lang.foreign.ValueLayout.JAVA_LONG, o, o * 0x9E3779B97F4A7C15L);
            MemorySegment[] small = new MemorySegment[32], big = new MemorySegment[4];
            for (int i = 0; i < small.length; i++) small[i] = arena.allocate(BS, 4096).fill((byte) (i + 1));
            for (int i = 0; i < big.length; i++) big[i] = arena.allocate(1 << 20, 4096).fill((byte) (i + 101));
            ByteBuffer[] hostBufs = new ByteBuffer[32];
            for (int i = 0; i < hostBufs.length; i++) {
                hostBufs[i] = ByteBuffer.allocateDirect(2 * BS).alignedSlice(BS).slice(0, BS);
                for (int j = 0; j < BS; j++) hostBufs[i].put(j, (byte) (i + 1));
            }

            log.printf("formatting %s (%d MiB) and writing a %d MiB file full...%n", image, cfg.size() >> 20, fileBytes >> 20);
            device = prepareVolume(image, cfg.size(), fileBytes, chunk);
            log.printf("writing the host-file-system file %s (%d MiB)...%n", host, fileBytes >> 20);
            prepareHostFile(host, fileBytes);

            long bigCache = cfg.bigCacheBytes(), smallCache = cfg.smallCacheBytes();
            BufferedIo.Options def = BufferedIo.Options.defaults();

            // ---- 1. 4 KiB random DSYNC overwrites
            List<Named> g1 = new ArrayList<>();
            int wtd = FolioFile.WRITETHROUGH | FolioFile.DSYNC, dd = FolioFile.DIRECT | FolioFile.DSYNC;
            g1.add(new Named("FolioFS write-through + DSYNC", 1, fsThreads(image, bigCache, def, 1, small,
                    (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, wtd)), ""));
            g1.add(new Named("FolioFS write-through + DSYNC", 32, fsAsync(image, bigCache, def, 32, small,
                    v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, wtd)), "writeAsync"));
            g1.add(new Named("FolioFS write-through + DSYNC, 32-thread end-of-I/O executor", 32, (warmup, seconds) -> {
                // Diagnostic: the default end-of-I/O pool has max(2, min(4, cores)) threads and each DSYNC call
                // flushes synchronously there; with 32 threads, 32 flushes can be in flight.
                java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(32,
                        r -> Thread.ofPlatform().daemon().name("wtbench-ioend").unstarted(r));
                try {
                    return fsAsync(image, bigCache, def.withExecutor(pool), 32, small,
                            v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, wtd)).run(warmup, seconds);
                } finally {
                    pool.shutdown();
                }
            }, "writeAsync; diagnostic"));
            g1.add(new Named("FolioFS buffered write + fsync(dataOnly)", 1, fsThreads(image, bigCache, def, 1, small,
                    (v, w, r, b) -> { long n = v.file.write(r.nextLong(blocks) * BS, b, 0); v.file.fsync(true); return n; }), ""));
            g1.add(new Named("FolioFS buffered write + fsync(dataOnly)", 32, fsThreads(image, bigCache, def, 32, small,
                    (v, w, r, b) -> { long n = v.file.write(r.nextLong(blocks) * BS, b, 0); v.file.fsync(true); return n; }), "32 threads"));
            g1.add(new Named("FolioFS direct + DSYNC", 1, fsThreads(image, bigCache, def, 1, small,
                    (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, dd)), ""));
            g1.add(new Named("FolioFS direct + DSYNC", 32, fsAsync(image, bigCache, def, 32, small,
                    v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, dd)), "writeAsync"));
            String fsType = fsType(cfg.dir());
            g1.add(new Named("JDK FileChannel DSYNC (" + fsType + ")", 1, hostCase(host, false, 1, hostBufs, blocks), ""));
            g1.add(new Named("JDK FileChannel DSYNC (" + fsType + ")", 32, hostCase(host, false, 32, hostBufs, blocks), "32 threads"));
            g1.add(new Named("JDK FileChannel DIRECT + DSYNC (" + fsType + ")", 1, hostCase(host, true, 1, hostBufs, blocks), ""));
            g1.add(new Named("JDK FileChannel DIRECT + DSYNC (" + fsType + ")", 32, hostCase(host, true, 32, hostBufs, blocks), "32 threads"));
            if (fioVersion != null) {
                for (boolean direct : new boolean[] {false, true}) {
                    String what = "fio " + (direct ? "direct=1 " : "buffered ") + "sync=dsync (" + fsType + ")";
                    g1.add(new Named(what + " psync", 1, fioCase(host, fileBytes, direct, "psync", 1), ""));
                    g1.add(new Named(what + " io_uring", 32, fioCase(host, fileBytes, direct, "io_uring", 32), "iodepth=32"));
                }
            }
            runGroup("1. 4 KiB random overwrite, DSYNC", g1, cfg, rows, log, false);

            // ---- 2. random 4 KiB writes over 4x the cache, throttled
            List<Named> g2 = new ArrayList<>();
            g2.add(new Named("FolioFS write-through", 1, fsThreads(image, smallCache, def, 1, small,
                    (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, FolioFile.WRITETHROUGH)), ""));
            g2.add(new Named("FolioFS write-through", 32, fsAsync(image, smallCache, def, 32, small,
                    v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, FolioFile.WRITETHROUGH)), "writeAsync"));
            g2.add(new Named("FolioFS direct (reference)", 32, fsAsync(image, smallCache, def, 32, small,
                    v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, FolioFile.DIRECT)), "writeAsync; no cache"));
            g2.add(new Named("iomap direct I/O engine, no file system (reference)", 32, (warmup, seconds) -> {
                // DioRunner on the host file as a one-extent image: the engine without FolioFS's mapping and locking.
                Result r = DioRunner.run(host, new Workload("randwrite 4k qd32", true, BS, 32), warmup, seconds);
                return new Measured(r.ops(), r.bytes(), (long) (r.seconds() * 1e9), Double.NaN, Double.NaN, null);
            }, "DioRunner on the host file; callbacks resubmit"));
            g2.add(new Named("FolioFS buffered (writeback)", 1, fsThreads(image, smallCache, def, 1, small,
                    (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, 0)), ""));
            g2.add(new Named("FolioFS buffered (writeback)", 4, fsThreads(image, smallCache, def, 4, small,
                    (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, 0)), "4 threads"));
            runGroup("2. random 4 KiB writes, file 4x the cache (" + (smallCache >> 20) + " MiB cache, " + (fileBytes >> 20)
                    + " MiB file)", g2, cfg, rows, log, true);

            // ---- 3. per-mapping vs per-folio requests, per-folio vs whole-file stable
            long mibs = fileBytes >> 20;
            BufferedIo.Options perFolio = def.withPerFolioRequests(true).withMaxFolioOrder(0);
            BufferedIo.Options wholeFile = def.withWholeFileStable(true);
            List<Named> g3 = new ArrayList<>();
            SyncFsOp oneMiB = (v, w, r, b) -> v.file.write(r.nextLong(mibs) << 20, b, FolioFile.WRITETHROUGH);
            g3.add(new Named("1 MiB write-through: per mapping (default)", 1, fsThreads(image, bigCache, def, 1, big, oneMiB), ""));
            g3.add(new Named("1 MiB write-through: per folio (order-0 folios)", 1, fsThreads(image, bigCache, perFolio, 1, big, oneMiB), ""));
            g3.add(new Named("1 MiB write-through: whole-file stable", 1, fsThreads(image, bigCache, wholeFile, 1, big, oneMiB), ""));
            SyncFsOp fourK = (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, FolioFile.WRITETHROUGH);
            g3.add(new Named("4 KiB write-through, 4 threads: per-folio stable (default)", 4, fsThreads(image, bigCache, def, 4, small, fourK), ""));
            g3.add(new Named("4 KiB write-through, 4 threads: whole-file stable", 4, fsThreads(image, bigCache, wholeFile, 4, small, fourK), ""));
            g3.add(new Named("4 KiB write-through, 4 threads: per folio (order-0 folios)", 4, fsThreads(image, bigCache, perFolio, 4, small, fourK), ""));
            runGroup("3. request shape and stable-page granularity (write-through, no DSYNC)", g3, cfg, rows, log, false);

            // ---- 4. several writers, one file, disjoint aligned ranges
            List<Named> g4 = new ArrayList<>();
            for (int n : new int[] {1, 2, 4}) {
                long region = blocks / n;
                g4.add(new Named("4 KiB random write-through, " + n + " writer" + (n > 1 ? "s" : ""), n, fsThreads(image, bigCache, def, n, small,
                        (v, w, r, b) -> v.file.write((w * region + r.nextLong(region)) * BS, b, FolioFile.WRITETHROUGH)), "disjoint ranges"));
            }
            g4.add(new Named("4 KiB random write-through, 4 writers, whole-file stable", 4, fsThreads(image, bigCache, wholeFile, 4, small,
                    (v, w, r, b) -> v.file.write((w * (blocks / 4) + r.nextLong(blocks / 4)) * BS, b, FolioFile.WRITETHROUGH)), "disjoint ranges"));
            for (int n : new int[] {1, 2, 4}) {
                long regionMiB = mibs / n;
                long[] next = new long[n];
                g4.add(new Named("1 MiB sequential write-through, " + n + " writer" + (n > 1 ? "s" : ""), n, fsThreads(image, bigCache, def, n, big,
                        (v, w, r, b) -> {
                            long p = (w * regionMiB + next[w]) << 20;
                            next[w] = (next[w] + 1) % regionMiB;
                            return v.file.write(p, b, FolioFile.WRITETHROUGH);
                        }), "disjoint ranges"));
            }
            runGroup("4. writers on one file, disjoint aligned ranges (write-through, no DSYNC)", g4, cfg, rows, log, false);
        } finally {
            Files.deleteIfExists(image);
            Files.deleteIfExists(host);
        }
        return report(cfg, rows, fioVersion, device, fsType(cfg.dir()));
    }

    /** One call of worker w on the mounted volume, with its random source and buffer; returns the bytes written. */
    interface SyncFsOp {
        long run(Vol v, int w, SplittableRandom rnd, MemorySegment buf) throws IOException;
    }

    interface AsyncFsOp {
        AsyncOp make(Vol v);
    }

    private static Case fsThreads(Path image, long cache, BufferedIo.Options opts, int threads, MemorySegment[] bufs, SyncFsOp op) {
        return (warmup, seconds) -> {
            try (Vol v = new Vol(image, cache, opts)) {
                SyncOp o = (w, r, b) -> op.run(v, w, r, b);
                if (warmup > 0) threads(threads, bufs, o, warmup, null);
                return threads(threads, bufs, o, seconds, v.dev.stats());
            }
        };
    }

    private static Case fsAsync(Path image, long cache, BufferedIo.Options opts, int depth, MemorySegment[] bufs, AsyncFsOp op) {
        return (warmup, seconds) -> {
            try (Vol v = new Vol(image, cache, opts)) {
                AsyncOp o = op.make(v);
                if (warmup > 0) async(depth, bufs, o, warmup, null);
                return async(depth, bufs, o, seconds, v.dev.stats());
            }
        };
    }

    private static Case hostCase(Path host, boolean direct, int threads, ByteBuffer[] bufs, long blocks) {
        return (warmup, seconds) -> {
            List<OpenOption> o = new ArrayList<>(List.of(StandardOpenOption.WRITE, StandardOpenOption.DSYNC));
            if (direct) o.add(ExtendedOpenOption.DIRECT);
            try (FileChannel ch = FileChannel.open(host, o.toArray(OpenOption[]::new))) {
                SyncOp op = (w, r, seg) -> {
                    ByteBuffer b = bufs[w];
                    b.clear();
                    long pos = r.nextLong(blocks) * BS;
                    while (b.hasRemaining()) ch.write(b, pos + b.position());
                    return BS;
                };
                MemorySegment[] none = new MemorySegment[threads];
                if (warmup > 0) threads(threads, none, op, warmup, null);
                return threads(threads, none, op, seconds, null);
            }
        };
    }

    private static Case fioCase(Path host, long fileBytes, boolean direct, String engine, int depth) {
        return (warmup, seconds) -> {
            List<String> cmd = new ArrayList<>(List.of("fio", "--name=foliofs-wt", "--filename=" + host, "--size=" + fileBytes,
                    "--rw=randwrite", "--bs=4k", "--direct=" + (direct ? 1 : 0), "--sync=dsync", "--ioengine=" + engine,
                    "--time_based", "--runtime=" + Math.max(1, Math.round(seconds)), "--ramp_time=" + Math.max(1, Math.round(warmup)),
                    "--norandommap", "--randrepeat=0", "--group_reporting", "--output-format=json"));
            if (depth > 1) {
                cmd.add("--iodepth=" + depth);
                cmd.add("--iodepth_batch_submit=1");
                cmd.add("--iodepth_batch_complete_max=" + depth);
            }
            FioRunner.Detailed d = FioRunner.runDetailed(cmd);
            double s = Math.max(1, Math.round(seconds));
            long ops = Math.round(d.iops() * s);
            return new Measured(ops, ops * BS, (long) (s * 1e9), d.p50Micros(), d.p99Micros(), null);
        };
    }

    private static void runGroup(String title, List<Named> cases, Config cfg, List<Row> rows, PrintStream log, boolean longWarmup)
            throws Exception {
        log.println(title);
        Map<Named, List<Measured>> res = new LinkedHashMap<>();
        double warm = longWarmup ? Math.max(2, cfg.warmupSeconds()) : cfg.warmupSeconds();
        for (int t = 0; t < cfg.trials(); t++) {
            for (Named n : cases) {
                Measured m = n.c().run(warm, cfg.seconds());
                res.computeIfAbsent(n, k -> new ArrayList<>()).add(m);
                log.printf(Locale.ROOT, "  [trial %d] %-62s qd%-3d %9.0f IOPS %8.1f MiB/s  p50 %8.1f us  p99 %8.1f us%s%n", t + 1,
                        n.name(), n.depth(), m.iops(), m.mibps(), m.p50(), m.p99(),
                        m.dev() == null ? "" : String.format(Locale.ROOT, "  dev writes/op %.2f flushes/op %.2f",
                                m.dev().writes() / (double) Math.max(1, m.ops()), m.dev().flushes() / (double) Math.max(1, m.ops())));
            }
        }
        for (Named n : cases) {
            List<Measured> l = new ArrayList<>(res.get(n));
            l.sort(java.util.Comparator.comparingDouble(Measured::iops));
            Measured m = l.get(l.size() / 2);
            double wpo = m.dev() == null ? Double.NaN : m.dev().writes() / (double) Math.max(1, m.ops());
            double fpo = m.dev() == null ? Double.NaN : m.dev().flushes() / (double) Math.max(1, m.ops());
            rows.add(new Row(title, n.name(), n.depth(), m.iops(), m.mibps(), m.p50(), m.p99(), wpo, fpo, n.note()));
        }
    }

    static String fsType(Path dir) {
        try {
            return Files.getFileStore(dir).type();
        } catch (IOException e) {
            return "unknown fs";
        }
    }

    // ------------------------------------------------------------------ report

    static Row find(List<Row> rows, String prefix, String namePart, int depth) {
        for (Row r : rows) if (r.group().startsWith(prefix) && r.name().equals(namePart) && r.depth() == depth) return r;
        for (Row r : rows) if (r.group().startsWith(prefix) && r.name().startsWith(namePart) && r.depth() == depth) return r;
        return null;
    }

    static String report(Config cfg, List<Row> rows, String fioVersion, String device, String fsType) {
        StringBuilder sb = new StringBuilder();
        sb.append("Buffered write-through, ").append(LocalDate.now()).append(", ").append(Machine.describe()).append('\n');
        sb.append("Volume: FolioFS on ").append(device).append("; temp dir ").append(cfg.dir()).append(" on ").append(fsType).append('\n');
        sb.append(String.format(Locale.ROOT, "File: %d MiB written full first (every write an overwrite); page cache %d MiB (groups 1, 3, 4) and %d MiB (group 2). ",
                cfg.fileBytes() >> 20, cfg.bigCacheBytes() >> 20, cfg.smallCacheBytes() >> 20));
        sb.append(String.format(Locale.ROOT, "Each case: %d trial(s) (median by IOPS shown), each %s s warm-up (group 2: at least 2 s) and %s s measured, on a fresh mount; cases alternate within a group.",
                cfg.trials(), fmt(cfg.warmupSeconds()), fmt(cfg.seconds())));
        sb.append(fioVersion == null ? " fio not run.\n" : " Compared with " + fioVersion + " on a file of the same size in the same directory.\n");
        String group = null;
        for (Row r : rows) {
            if (!r.group().equals(group)) {
                group = r.group();
                sb.append("\n").append(group).append("\n\n");
                sb.append("| case | depth | IOPS | MiB/s | p50 lat (us) | p99 lat (us) | dev writes/op | dev flushes/op | note |\n");
                sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
            }
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.0f | %.1f | %s | %s | %s | %s | %s |\n", r.name(), r.depth(), r.iops(),
                    r.mibPerSecond(), num1(r.p50Micros()), num1(r.p99Micros()), num(r.writesPerOp()), num(r.flushesPerOp()), r.note()));
        }
        sb.append("\nTargets (ratios within this run):\n\n| target | measured | |\n|---|---|---|\n");
        Row wt32 = find(rows, "1.", "FolioFS write-through + DSYNC", 32), d32 = find(rows, "1.", "FolioFS direct + DSYNC", 32),
                b32 = find(rows, "1.", "FolioFS buffered write + fsync(dataOnly)", 32);
        if (wt32 != null && d32 != null) target(sb, "WT+DSYNC qd32 >= 0.8x FolioFS direct+DSYNC qd32", wt32.iops() / d32.iops(), 0.8);
        if (wt32 != null && b32 != null) target(sb, "WT+DSYNC qd32 >= 5x FolioFS buffered+fdatasync qd32", wt32.iops() / b32.iops(), 5);
        Row w1 = find(rows, "2.", "FolioFS write-through", 1), w32 = find(rows, "2.", "FolioFS write-through", 32),
                bb1 = find(rows, "2.", "FolioFS buffered (writeback)", 1), bb4 = find(rows, "2.", "FolioFS buffered (writeback)", 4);
        if (w1 != null && w32 != null && bb1 != null && bb4 != null) {
            double bestWt = Math.max(w1.iops(), w32.iops()), bestB = Math.max(bb1.iops(), bb4.iops());
            target(sb, "write-through >= 1.5x buffered writeback, file 4x cache (best of each)", bestWt / bestB, 1.5);
        }
        for (String kind : new String[] {"4 KiB random write-through, ", "1 MiB sequential write-through, "}) {
            Row one = find(rows, "4.", kind + "1 writer", 1);
            if (one == null) continue;
            for (int n : new int[] {2, 4}) {
                Row r = find(rows, "4.", kind + n + " writers", n);
                if (r != null) target(sb, kind + n + " writers >= 1 writer (throughput)", r.iops() / one.iops(), 1.0);
            }
        }
        return sb.toString();
    }

    private static void target(StringBuilder sb, String what, double ratio, double goal) {
        sb.append(String.format(Locale.ROOT, "| %s | %.2fx | %s |\n", what, ratio,
                ratio >= goal ? "met" : String.format(Locale.ROOT, "missed (%.0f%% short)", 100 * (1 - ratio / goal))));
    }

    private static String num(double d) {
        return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%.2f", d);
    }

    private static String num1(double d) {
        return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%.1f", d);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
