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
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The measurement core shared by {@link WriteThroughBench} and {@link StandardBench}: closed loops
 * of synchronous calls on platform threads or of asynchronous calls from one submitting thread
 * (per-call latency, submission to completion), a mounted FolioFS volume with named files, the
 * host-file-system ({@link FileChannel}) and fio cases, and groups of cases run trial after trial
 * with the median trial reported.
 */
final class Runners {
    private Runners() {}

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

    /**
     * What one phase measured ({@code dev}: the device's request counts, null when not on a FolioFS
     * volume; {@code cpuNanos}: the process's CPU time, user and system, or -1; {@code journal}: the
     * volume's journal commits, blocks logged and metadata block writes, or null).
     */
    record Measured(long ops, long bytes, long nanos, double p50, double p99, DeviceStats.Snapshot dev, long cpuNanos, long[] journal) {
        Measured(long ops, long bytes, long nanos, double p50, double p99, DeviceStats.Snapshot dev) {
            this(ops, bytes, nanos, p50, p99, dev, -1, null);
        }

        double iops() { return ops / (nanos / 1e9); }
        double mibps() { return bytes / (nanos / 1e9) / (1 << 20); }
        double writesPerOp() { return dev == null ? Double.NaN : dev.writes() / (double) Math.max(1, ops); }
        double flushesPerOp() { return dev == null ? Double.NaN : dev.flushes() / (double) Math.max(1, ops); }

        /** The progress line's tail: CPU per call, and the journal's work per call and per commit. */
        String extras() {
            StringBuilder sb = new StringBuilder();
            if (cpuNanos >= 0) sb.append(String.format(Locale.ROOT, "  cpu %.0f us/op", cpuNanos / 1e3 / Math.max(1, ops)));
            if (journal != null && journal[0] > 0)
                sb.append(String.format(Locale.ROOT, "  commits/op %.2f blocks/commit %.1f (log blocks written %.1f) meta writes/op %.1f",
                        journal[0] / (double) Math.max(1, ops), journal[1] / (double) journal[0], journal[3] / (double) journal[0],
                        journal[2] / (double) Math.max(1, ops)));
            if (journal != null && journal[0] > 0 && journal.length > 4 && journal[4] > 0)
                sb.append(String.format(Locale.ROOT, " logged data blocks/op %.1f", journal[4] / (double) Math.max(1, ops)));
            return sb.toString();
        }
    }

    /** The process's CPU time (user and system) so far, in nanoseconds, or -1 where the JVM cannot tell. */
    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getProcessCpuTime();
        return -1;
    }

    /** {commits, blocks logged, metadata block writes, log blocks written} of {@code j} so far, or null. */
    static long[] journalCounts(org.foliofs.fs.Journal j) {
        if (j == null) return null;
        var s = j.stats();
        return new long[] {s.commits(), s.blocksLogged() + s.dataBlocksLogged(), s.handleWrites(), s.logBlocksWritten(), s.dataBlocksLogged()};
    }

    private static long[] minus(long[] a, long[] b) {
        if (a == null || b == null) return null;
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i] - b[i];
        return r;
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

    /** A case with its label, depth (threads or asynchronous calls in flight) and a note for the report. */
    record Named(String name, int depth, Case c, String note) {}

    /** {@code threads} platform threads, each running op in a loop for {@code seconds}. */
    static Measured threads(int threads, MemorySegment[] bufs, SyncOp op, double seconds, DeviceStats stats) throws Exception {
        return threads(threads, bufs, op, seconds, stats, null);
    }

    /** {@link #threads(int, MemorySegment[], SyncOp, double, DeviceStats)}, counting {@code journal}'s work too (null: none). */
    static Measured threads(int threads, MemorySegment[] bufs, SyncOp op, double seconds, DeviceStats stats,
                            org.foliofs.fs.Journal journal) throws Exception {
        Samples lat = new Samples();
        long[] ops = new long[threads], bytes = new long[threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        long[] deadline = new long[1];
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int w = t;
            ts.add(Thread.ofPlatform().name("bench-" + t).start(() -> {
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
        long[] j0 = journalCounts(journal);
        long cpu0 = processCpuNanos();
        long start = System.nanoTime();
        deadline[0] = start + (long) (seconds * 1e9);
        go.countDown();
        for (Thread t : ts) t.join();
        long nanos = System.nanoTime() - start;
        long cpu = cpu0 < 0 ? -1 : processCpuNanos() - cpu0;
        if (failure.get() != null) throw new IllegalStateException("benchmark operation failed", failure.get());
        double[] p = lat.p50p99Micros();
        return new Measured(Arrays.stream(ops).sum(), Arrays.stream(bytes).sum(), nanos, p[0], p[1],
                stats == null ? null : stats.snapshot().minus(before), cpu, minus(journalCounts(journal), j0));
    }

    /**
     * A closed loop of {@code depth} asynchronous operations issued from this thread: each
     * completion hands its slot back, and this thread issues the next from it.
     */
    static Measured async(int depth, MemorySegment[] bufs, AsyncOp op, double seconds, DeviceStats stats) throws Exception {
        return async(depth, bufs, op, seconds, stats, null);
    }

    /** {@link #async(int, MemorySegment[], AsyncOp, double, DeviceStats)}, counting {@code journal}'s work too (null: none). */
    static Measured async(int depth, MemorySegment[] bufs, AsyncOp op, double seconds, DeviceStats stats,
                          org.foliofs.fs.Journal journal) throws Exception {
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
        long[] j0 = journalCounts(journal);
        long cpu0 = processCpuNanos();
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
        long cpu = cpu0 < 0 ? -1 : processCpuNanos() - cpu0;
        if (failure.get() != null) throw new IllegalStateException("benchmark operation failed", failure.get());
        double[] p = lat.p50p99Micros();
        return new Measured(Arrays.stream(ops).sum(), Arrays.stream(bytes).sum(), nanos, p[0], p[1],
                stats == null ? null : stats.snapshot().minus(before), cpu, minus(journalCounts(journal), j0));
    }

    // ------------------------------------------------------------------ the volume

    /** A mounted FolioFS volume with the named files open (the first is {@link #file}), mounted with the given cache and engine options. */
    static final class Vol implements AutoCloseable {
        final FileDevice dev;
        final FolioFs fs;
        final FolioFile file;
        final FolioFile[] files;

        Vol(Path image, long cacheBytes, BufferedIo.Options options, String... names) throws IOException {
            FileDevice d = FileDevice.open(image, FileDevice.Options.defaults());
            FolioFs f = null;
            FolioFile[] opened = new FolioFile[names.length];
            try {
                f = FolioFs.mount(d);
                f.setPageCacheConfig(PageCache.Config.builder().memoryBytes(cacheBytes).build());
                f.setBufferedIoOptions(options);
                for (int i = 0; i < names.length; i++) opened[i] = f.openFile(f.lookup(FolioFs.ROOT_INO, names[i]));
            } catch (IOException | RuntimeException e) {
                for (FolioFile o : opened) if (o != null) o.close();
                if (f != null) f.close();
                d.close();
                throw e;
            }
            this.dev = d;
            this.fs = f;
            this.files = opened;
            this.file = opened[0];
        }

        @Override
        public void close() throws IOException {
            try {
                for (FolioFile f : files) f.close();
                fs.close();
            } finally {
                dev.close();
            }
        }
    }

    /**
     * Formats the image and creates each named file, writing it full (1 MiB buffered writes, then
     * fsync): every later write is an overwrite of written blocks. Returns the device description.
     */
    static String prepareVolume(Path image, long imageBytes, Map<String, Long> files, MemorySegment chunk) throws IOException {
        FileDevice.createImage(image, imageBytes);
        backImage(image, imageBytes);
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults())) {
            try (FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults())) {
                for (Map.Entry<String, Long> e : files.entrySet()) {
                    long ino = fs.create(FolioFs.ROOT_INO, e.getKey(), 0644, 0, 0).ino();
                    try (FolioFile f = fs.openFile(ino)) {
                        for (long p = 0; p < e.getValue(); p += chunk.byteSize()) {
                            f.write(p, chunk.asSlice(0, Math.min(chunk.byteSize(), e.getValue() - p)), 0);
                        }
                        f.fsync(false);
                    }
                }
            }
            return dev.describe();
        }
    }

    /**
     * Writes the whole (new, sparse) image with zeros, O_DIRECT, then fsyncs it: every block is then
     * backed by the host file system, as every block of a disk is. A sparse image makes the host
     * allocate (and journal, at the next fsync) on the first write of each block, a cost a block
     * device does not have and that out-of-place writes (atomic writes, copy-on-write, new
     * allocations) would pay on every write while the volume's free space is still new.
     */
    static void backImage(Path image, long imageBytes) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
            ByteBuffer b = ByteBuffer.allocateDirect((8 << 20) + 4096).alignedSlice(4096).limit(8 << 20);
            for (long pos = 0; pos < imageBytes; ) {
                b.clear();
                b.limit((int) Math.min(8 << 20, imageBytes - pos));
                while (b.hasRemaining()) pos += ch.write(b, pos);
            }
            ch.force(true);
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

    // ------------------------------------------------------------------ cases

    /** One call of worker w on the mounted volume, with its random source and buffer; returns the bytes written. */
    interface SyncFsOp {
        long run(Vol v, int w, SplittableRandom rnd, MemorySegment buf) throws IOException;
    }

    /** Makes the asynchronous operation for a freshly mounted volume. */
    interface AsyncFsOp {
        AsyncOp make(Vol v);
    }

    /** {@code threads} threads of synchronous calls on a fresh mount of {@code image} (files {@code names}, default: the first file). */
    static Case fsThreads(Path image, String[] names, long cache, BufferedIo.Options opts, int threads, MemorySegment[] bufs, SyncFsOp op) {
        return (warmup, seconds) -> {
            try (Vol v = new Vol(image, cache, opts, names)) {
                SyncOp o = (w, r, b) -> op.run(v, w, r, b);
                if (warmup > 0) threads(threads, bufs, o, warmup, null);
                return threads(threads, bufs, o, seconds, v.dev.stats(), v.fs.journal());
            }
        };
    }

    /** {@code depth} asynchronous calls in flight on a fresh mount of {@code image}. */
    static Case fsAsync(Path image, String[] names, long cache, BufferedIo.Options opts, int depth, MemorySegment[] bufs, AsyncFsOp op) {
        return (warmup, seconds) -> {
            try (Vol v = new Vol(image, cache, opts, names)) {
                AsyncOp o = op.make(v);
                if (warmup > 0) async(depth, bufs, o, warmup, null);
                return async(depth, bufs, o, seconds, v.dev.stats(), v.fs.journal());
            }
        };
    }

    /**
     * {@code threads} threads of 4 KiB random {@link FileChannel} writes to {@code host} opened WRITE
     * plus {@code options} ({@link StandardOpenOption#DSYNC}, {@link ExtendedOpenOption#DIRECT});
     * {@code force}: {@code force(false)} (fdatasync) after each write.
     */
    static Case hostCase(Path host, List<OpenOption> options, boolean force, int threads, ByteBuffer[] bufs, long blocks, int bs) {
        return (warmup, seconds) -> {
            List<OpenOption> o = new ArrayList<>(List.of(StandardOpenOption.WRITE));
            o.addAll(options);
            try (FileChannel ch = FileChannel.open(host, o.toArray(OpenOption[]::new))) {
                SyncOp op = (w, r, seg) -> {
                    ByteBuffer b = bufs[w];
                    b.clear();
                    long pos = r.nextLong(blocks) * bs;
                    while (b.hasRemaining()) ch.write(b, pos + b.position());
                    if (force) ch.force(false);
                    return bs;
                };
                MemorySegment[] none = new MemorySegment[threads];
                if (warmup > 0) threads(threads, none, op, warmup, null);
                return threads(threads, none, op, seconds, null);
            }
        };
    }

    /** {@code count} direct buffers of {@code bs} bytes aligned to 4096 (usable with DIRECT), filled with distinct bytes. */
    static ByteBuffer[] hostBuffers(int count, int bs) {
        ByteBuffer[] bufs = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            bufs[i] = ByteBuffer.allocateDirect(bs + 4096).alignedSlice(4096).slice(0, bs);
            for (int j = 0; j < bs; j++) bufs[i].put(j, (byte) (i + 1));
        }
        return bufs;
    }

    /** fio 4 KiB random writes on {@code host} (time based, JSON output; {@code sync}: --sync=dsync). */
    static Case fioCase(Path host, long fileBytes, boolean direct, boolean sync, String engine, int depth) {
        return (warmup, seconds) -> {
            List<String> cmd = new ArrayList<>(List.of("fio", "--name=foliofs-bench", "--filename=" + host, "--size=" + fileBytes,
                    "--rw=randwrite", "--bs=4k", "--direct=" + (direct ? 1 : 0), "--ioengine=" + engine,
                    "--time_based", "--runtime=" + Math.max(1, Math.round(seconds)), "--ramp_time=" + Math.max(1, Math.round(warmup)),
                    "--norandommap", "--randrepeat=0", "--group_reporting", "--output-format=json"));
            if (sync) cmd.add("--sync=dsync");
            if (depth > 1) {
                cmd.add("--iodepth=" + depth);
                cmd.add("--iodepth_batch_submit=1");
                cmd.add("--iodepth_batch_complete_max=" + depth);
            }
            FioRunner.Detailed d = FioRunner.runDetailed(cmd);
            double s = Math.max(1, Math.round(seconds));
            long ops = Math.round(d.iops() * s);
            return new Measured(ops, ops * 4096, (long) (s * 1e9), d.p50Micros(), d.p99Micros(), null);
        };
    }

    // ------------------------------------------------------------------ groups

    /**
     * Runs the cases of a group in turn, trial after trial (drift of a shared disk hits all alike),
     * printing each trial to {@code log}; returns each case's median trial by throughput, in order.
     */
    static Map<Named, Measured> runGroup(String title, List<Named> cases, int trials, double warmup, double seconds, PrintStream log)
            throws Exception {
        return medians(runTrials(title, cases, trials, warmup, seconds, log));
    }

    /** Like {@link #runGroup}, but returns every trial of each case, in the order they ran. */
    static Map<Named, List<Measured>> runTrials(String title, List<Named> cases, int trials, double warmup, double seconds,
                                                PrintStream log) throws Exception {
        log.println(title);
        Map<Named, List<Measured>> res = new LinkedHashMap<>();
        for (int t = 0; t < trials; t++) {
            for (Named n : cases) {
                Measured m = n.c().run(warmup, seconds);
                res.computeIfAbsent(n, k -> new ArrayList<>()).add(m);
                log.printf(Locale.ROOT, "  [trial %d] %-62s qd%-3d %9.0f IOPS %8.1f MiB/s  p50 %8.1f us  p99 %8.1f us%s%n", t + 1,
                        n.name(), n.depth(), m.iops(), m.mibps(), m.p50(), m.p99(),
                        (m.dev() == null ? "" : String.format(Locale.ROOT, "  dev writes/op %.2f flushes/op %.2f",
                                m.writesPerOp(), m.flushesPerOp())) + m.extras());
            }
        }
        return res;
    }

    /** Each case's median trial by throughput. */
    static Map<Named, Measured> medians(Map<Named, List<Measured>> trials) {
        Map<Named, Measured> medians = new LinkedHashMap<>();
        for (Map.Entry<Named, List<Measured>> e : trials.entrySet()) {
            List<Measured> l = new ArrayList<>(e.getValue());
            l.sort(Comparator.comparingDouble(Measured::iops));
            medians.put(e.getKey(), l.get(l.size() / 2));
        }
        return medians;
    }

    /**
     * The throughput ratio {@code b / a} of two cases run in the same trials, paired trial by trial
     * (trial t of b ran right after trial t of a, so both saw the disk in the same state): the
     * median of the per-trial ratios (the lower middle one for an even count), and the list.
     */
    static PairedRatio pairedRatio(List<Measured> a, List<Measured> b) {
        if (a.size() != b.size() || a.isEmpty())
            throw new IllegalArgumentException("paired ratio needs the same number of trials, not " + a.size() + " and " + b.size());
        double[] r = new double[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = b.get(i).iops() / a.get(i).iops();
        double[] sorted = r.clone();
        java.util.Arrays.sort(sorted);
        return new PairedRatio(sorted[(sorted.length - 1) / 2], r);
    }

    /** A median of per-trial ratios and the ratios, in trial order. */
    record PairedRatio(double median, double[] perTrial) {
        /** E.g. "1.74x doublewrite (target >= 1.5x; trials 1.15, 1.74, 1.68)"; one trial: no list. */
        String note(String what, String target) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%.2fx %s (target %s", median, what, target));
            if (perTrial.length > 1) {
                sb.append("; trials");
                for (int i = 0; i < perTrial.length; i++) sb.append(i == 0 ? " " : ", ").append(String.format(Locale.ROOT, "%.2f", perTrial[i]));
            }
            return sb.append(')').toString();
        }
    }

    /** The type of the file system holding {@code dir} (e.g. ext4), or "unknown fs". */
    static String fsType(Path dir) {
        try {
            return Files.getFileStore(dir).type();
        } catch (IOException e) {
            return "unknown fs";
        }
    }
}
