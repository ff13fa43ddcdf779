package org.foliofs.bench;

import com.sun.nio.file.ExtendedOpenOption;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFile;
import org.foliofs.iomap.BufferedIo;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.foliofs.bench.Runners.*;

/**
 * The standard comparison of {@code foliofs bench}: on a temporary FolioFS volume (an image file
 * in a temporary directory, removed afterwards, also on Ctrl-C), 4 KiB random overwrites through
 * every write mode of FolioFS against the device limit (our device layer, O_DIRECT, on a file
 * of the same file system; fio too when installed) and the JDK's {@code FileChannel} on the host
 * file system; and the atomic-write rows of issue 8: 16 KiB random DSYNC overwrites with and
 * without ATOMIC, and 8 KiB database pages made crash-safe by a doublewrite journal or by one
 * ATOMIC write. Every case reuses the measurement core of {@link Runners} (the same loops as
 * {@link WriteThroughBench}); the result is one table ({@link StandardReport}) plus a PNG chart and
 * a CSV.
 */
public final class StandardBench {

    /**
     * What to run.
     *
     * @param size      the temporary volume; the benchmark file is a quarter of it, at most 256 MiB
     * @param quick     fewer rows (the key ones), for a sub-minute run
     * @param fourK     the 4 KiB random-write rows
     * @param atomic    the atomic-write rows (issue 8)
     */
    public record Config(Path dir, long size, double seconds, double warmupSeconds, int trials, boolean fio, boolean quick,
                         boolean fourK, boolean atomic) {
        public Config {
            if (trials < 1 || trials > 99) throw new IllegalArgumentException("trials (" + trials + ") must be between 1 and 99");
            if (size < MIN_SIZE || size % (8L << 20) != 0) {
                throw new IllegalArgumentException("size (" + size + ") must be a multiple of 8 MiB and at least 256 MiB");
            }
            if (!(seconds > 0)) throw new IllegalArgumentException("seconds (" + seconds + ") must be positive");
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("warmupSeconds (" + warmupSeconds + ") must not be negative");
            if (!fourK && !atomic) throw new IllegalArgumentException("nothing to run: neither the 4 KiB rows nor the atomic rows");
        }

        /** The benchmark file: a quarter of the volume, at most 256 MiB, a multiple of 8 MiB. */
        long fileBytes() { return Math.min(size / 4, 256L << 20) & -(8L << 20); }
        /** Write-through, direct and atomic rows: the whole file fits (twice over). */
        long bigCacheBytes() { return 2 * fileBytes(); }
        /** Writeback rows: the file is 4x the cache, so writeback is sustained, not absorbed. */
        long smallCacheBytes() { return Math.max(8L << 20, (fileBytes() / 4) & -(2L << 20)); }
    }

    public static final long MIN_SIZE = 256L << 20;
    static final String K4 = "4 KiB random writes", AT = "Atomic writes (issue 8): 16 KiB random overwrites, 8 KiB database pages";
    static final int BS = 4096, AT_BS = 16384, PAGE = 8192, DW_PAGES = 64;
    private static final String FILE = "bench", DOUBLEWRITE = "doublewrite", ATOMIC16 = "bench-atomic16", ATOMIC_PAGES = "bench-atomic-pages";
    private static final String[] NAMES = {FILE, DOUBLEWRITE};
    /**
     * The ATOMIC rows write files of their own: an out-of-place write leaves the file in extents of
     * its size, and the rows without ATOMIC (what a program not using atomic writes has: a file
     * written once, contiguous) must not be measured on a file the atomic rows cut up (a 16 KiB
     * write over two 8 KiB extents is two device writes).
     */
    private static final String[] ATOMIC16_NAMES = {ATOMIC16}, ATOMIC_PAGE_NAMES = {ATOMIC_PAGES};

    /** What a run produced: the lines (table, chart, CSV) and the Markdown report with its header. */
    public record Outcome(List<StandardReport.Line> lines, String title, String markdown) {}

    private StandardBench() {}

    /** Runs the comparison, printing progress to {@code log}. */
    public static Outcome run(Config cfg, PrintStream log) throws Exception {
        Files.createDirectories(cfg.dir());
        Path tmp = Files.createTempDirectory(cfg.dir(), "foliofs-bench-");
        Thread cleanup = Thread.ofPlatform().unstarted(() -> deleteTree(tmp));
        Runtime.getRuntime().addShutdownHook(cleanup);   // Ctrl-C or kill: the volume does not stay behind
        try {
            return run(cfg, tmp, log);
        } finally {
            deleteTree(tmp);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("foliofs bench: could not remove " + dir + ": " + e.getMessage());
        }
    }

    private static Outcome run(Config cfg, Path tmp, PrintStream log) throws Exception {
        Path image = tmp.resolve("volume.img"), host = tmp.resolve("host-file.dat");
        String fioVersion = cfg.fio() && cfg.fourK() && !cfg.quick() ? FioRunner.version() : null;
        if (cfg.fio() && cfg.fourK() && !cfg.quick() && fioVersion == null) log.println("fio not found: running without fio");
        String fsType = fsType(tmp);
        long fileBytes = cfg.fileBytes(), blocks = fileBytes / BS;
        long bigCache = cfg.bigCacheBytes(), smallCache = cfg.smallCacheBytes();
        boolean full = !cfg.quick();
        BufferedIo.Options def = BufferedIo.Options.defaults();
        List<StandardReport.Line> lines = new ArrayList<>();
        String device;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment chunk = arena.allocate(1 << 20, 4096);
            for (long o = 0; o < chunk.byteSize(); o += 8) chunk.set(ValueLayout.JAVA_LONG, o, o * 0x9E3779B97F4A7C15L);
            MemorySegment[] small = buffers(arena, 32, BS), atBufs = buffers(arena, 32, AT_BS), pages = buffers(arena, 32, PAGE);
            log.printf("writing the image %s (%d MiB) full of zeros (so the host backs every block, as a disk does), formatting it and writing a %d MiB file full...%n", image, cfg.size() >> 20, fileBytes >> 20);
            Map<String, Long> files = new LinkedHashMap<>();
            files.put(FILE, fileBytes);
            files.put(DOUBLEWRITE, (long) DW_PAGES * PAGE * 32);
            if (cfg.atomic()) {
                files.put(ATOMIC16, fileBytes);
                files.put(ATOMIC_PAGES, fileBytes);
            }
            device = prepareVolume(image, cfg.size(), files, chunk);
            if (cfg.atomic()) {
                log.printf("overwriting the ATOMIC rows' files once with atomic writes (their steady state: extents of the write size)...%n");
                ageAtomic(image, bigCache, def, ATOMIC16, AT_BS, atBufs);
                ageAtomic(image, bigCache, def, ATOMIC_PAGES, PAGE, pages);
            }

            if (cfg.fourK()) {
                log.printf("writing the host-file-system file %s (%d MiB)...%n", host, fileBytes >> 20);
                prepareHostFile(host, fileBytes);
                ByteBuffer[] hostBufs = hostBuffers(32, BS);
                List<Named> g = new ArrayList<>();
                Workload qd1 = new Workload("randwrite 4k qd1", true, BS, 1), qd32 = new Workload("randwrite 4k qd32", true, BS, 32);
                // depth 1: the sync engine (one pwritev2 per write, no ring-thread hand-off) is the faster of our engines
                Named dev1 = new Named("device limit (O_DIRECT)", 1,
                        (w, s) -> DeviceRunner.measured(host, FileDevice.Engine.SYNC, qd1, w, s), "our device layer, pwritev2, file on " + fsType);
                Named dev32 = new Named("device limit (O_DIRECT)", 32,
                        (w, s) -> DeviceRunner.measured(host, FileDevice.Engine.IO_URING, qd32, w, s), "our device layer, io_uring, file on " + fsType);
                List<Named> devs = new ArrayList<>(List.of(dev1, dev32));
                if (fioVersion != null) {
                    devs.add(new Named("fio direct=1", 1, fioCase(host, fileBytes, true, false, "psync", 1), fioVersion + " psync"));
                    devs.add(new Named("fio direct=1", 32, fioCase(host, fileBytes, true, false, "io_uring", 32), fioVersion + " io_uring"));
                }
                // the denominator of every ratio: at least 3 trials (median), so one disturbed interval does not skew the column
                Map<Named, Measured> res = new LinkedHashMap<>(runGroup(K4 + ", device limit", devs, Math.max(3, cfg.trials()),
                        cfg.warmupSeconds(), cfg.seconds(), log));
                SyncFsOp fsync = (v, w, r, b) -> {
                    long n = v.file.write(r.nextLong(blocks) * BS, b, 0);
                    v.file.fsync(true);
                    return n;
                };
                g.add(new Named("FolioFS writeback + fdatasync", 1, fsThreads(image, NAMES, bigCache, def, 1, small, fsync), "fsync(dataOnly) per write"));
                if (full) g.add(new Named("FolioFS writeback + fdatasync", 32, fsThreads(image, NAMES, bigCache, def, 32, small, fsync), "32 threads"));
                int wt = FolioFile.WRITETHROUGH, wtd = wt | FolioFile.DSYNC, dio = FolioFile.DIRECT, dd = dio | FolioFile.DSYNC;
                for (int[] mode : new int[][] {{wt, 0}, {wtd, 0}, {dio, 0}, {dd, 0}}) {
                    int f = mode[0];
                    String name = "FolioFS " + ((f & wt) != 0 ? "write-through" : "direct") + ((f & FolioFile.DSYNC) != 0 ? " + DSYNC" : "");
                    if (full || f == wtd) {
                        g.add(new Named(name, 1, fsThreads(image, NAMES, bigCache, def, 1, small,
                                (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, f)), ""));
                    }
                    if (full || f != dio) {
                        g.add(new Named(name, 32, fsAsync(image, NAMES, bigCache, def, 32, small,
                                v -> (s, r, b) -> v.file.writeAsync(r.nextLong(blocks) * BS, b, f)), "writeAsync"));
                    }
                }
                List<OpenOption> dsync = List.of(StandardOpenOption.DSYNC), direct = List.of(StandardOpenOption.DSYNC, ExtendedOpenOption.DIRECT);
                String jdk = "JDK FileChannel ";
                if (full) {
                    g.add(new Named(jdk + "buffered + force", 1, hostCase(host, List.of(), true, 1, hostBufs, blocks, BS), "force(false) per write"));
                    g.add(new Named(jdk + "buffered + force", 32, hostCase(host, List.of(), true, 32, hostBufs, blocks, BS), "32 threads"));
                }
                g.add(new Named(jdk + "DSYNC", 1, hostCase(host, dsync, false, 1, hostBufs, blocks, BS), ""));
                if (full) g.add(new Named(jdk + "DSYNC", 32, hostCase(host, dsync, false, 32, hostBufs, blocks, BS), "32 threads"));
                if (full) g.add(new Named(jdk + "DIRECT + DSYNC", 1, hostCase(host, direct, false, 1, hostBufs, blocks, BS), ""));
                g.add(new Named(jdk + "DIRECT + DSYNC", 32, hostCase(host, direct, false, 32, hostBufs, blocks, BS), "32 threads"));
                res.putAll(runGroup(K4, g, cfg.trials(), cfg.warmupSeconds(), cfg.seconds(), log));

                // writeback alone: a longer warm-up, so the measured phase is the sustained (throttled) rate
                Named wb = new Named("FolioFS buffered writeback", 1, fsThreads(image, NAMES, smallCache, def, 1, small,
                        (v, w, r, b) -> v.file.write(r.nextLong(blocks) * BS, b, 0)),
                        "file 4x the cache (" + (smallCache >> 20) + " MiB)");
                double wbWarm = full ? Math.max(2, cfg.warmupSeconds()) : cfg.warmupSeconds();
                Map<Named, Measured> wbRes = runGroup(K4 + ", writeback", List.of(wb), cfg.trials(), wbWarm, cfg.seconds(), log);
                Map<Named, Measured> all = new LinkedHashMap<>();
                for (Map.Entry<Named, Measured> e : res.entrySet()) {
                    if (e.getKey().name().startsWith("FolioFS writeback + fdatasync") && !all.containsKey(wb)) all.put(wb, wbRes.get(wb));
                    all.put(e.getKey(), e.getValue());
                }
                if (!all.containsKey(wb)) all.put(wb, wbRes.get(wb));
                double d1 = res.get(dev1).iops(), d32 = res.get(dev32).iops();
                for (Map.Entry<Named, Measured> e : all.entrySet()) {
                    Named n = e.getKey();
                    Measured m = e.getValue();
                    lines.add(line(K4, n, BS, "IOPS", m, m.iops() / (n.depth() == 1 ? d1 : d32), n.note()));
                }
            }

            if (cfg.atomic()) {
                long units = fileBytes / AT_BS, pageSlots = fileBytes / PAGE;
                int at = FolioFile.WRITETHROUGH | FolioFile.DSYNC, atomic = at | FolioFile.ATOMIC;
                List<Named> g = new ArrayList<>();
                Named[][] pairs = new Named[2][2];   // [depth 1, 32][non-atomic, atomic]
                int k = 0;
                for (int depth : full ? new int[] {1, 32} : new int[] {1}) {
                    int j = 0;
                    for (int f : new int[] {at, atomic}) {
                        String name = "16 KiB write-through + DSYNC" + ((f & FolioFile.ATOMIC) != 0 ? " + ATOMIC" : "");
                        String[] names = (f & FolioFile.ATOMIC) != 0 ? ATOMIC16_NAMES : NAMES;
                        Named n = depth == 1
                                ? new Named(name, 1, fsThreads(image, names, bigCache, def, 1, atBufs,
                                        (v, w, r, b) -> v.file.write(r.nextLong(units) * AT_BS, b, f)), "")
                                : new Named(name, depth, fsAsync(image, names, bigCache, def, depth, atBufs,
                                        v -> (s, r, b) -> v.file.writeAsync(r.nextLong(units) * AT_BS, b, f)), "writeAsync");
                        pairs[k][j++] = n;
                        g.add(n);
                    }
                    k++;
                }
                Named[][] pagePairs = new Named[2][2];
                k = 0;
                for (int threads : full ? new int[] {1, 32} : new int[] {1}) {
                    AtomicLong[] next = new AtomicLong[threads];
                    for (int i = 0; i < threads; i++) next[i] = new AtomicLong();
                    // doublewrite: the page goes to this thread's slots of the journal file (DSYNC), then in place (DSYNC)
                    SyncFsOp dw = (v, w, r, b) -> {
                        long slot = w * (long) DW_PAGES + Math.floorMod(next[w].getAndIncrement(), DW_PAGES);
                        v.files[1].write(slot * PAGE, b, at);
                        v.file.write(r.nextLong(pageSlots) * PAGE, b, at);
                        return PAGE;
                    };
                    SyncFsOp one = (v, w, r, b) -> v.file.write(r.nextLong(pageSlots) * PAGE, b, atomic);
                    String note = threads == 1 ? "" : threads + " threads";
                    pagePairs[k][0] = new Named("8 KiB page: doublewrite + in place", threads,
                            fsThreads(image, NAMES, bigCache, def, threads, pages, dw), note);
                    pagePairs[k][1] = new Named("8 KiB page: one ATOMIC write", threads,
                            fsThreads(image, ATOMIC_PAGE_NAMES, bigCache, def, threads, pages, one), note);
                    g.add(pagePairs[k][0]);
                    g.add(pagePairs[k][1]);
                    k++;
                }
                Map<Named, List<Measured>> trials = runTrials(AT, g, cfg.trials(), cfg.warmupSeconds(), cfg.seconds(), log);
                Map<Named, Measured> res = medians(trials);
                for (Named[] p : pairs) {
                    if (p[0] == null) continue;
                    Measured plain = res.get(p[0]), atm = res.get(p[1]);
                    lines.add(line(AT, p[0], AT_BS, "IOPS", plain, Double.NaN, p[0].note()));
                    lines.add(line(AT, p[1], AT_BS, "IOPS", atm, Double.NaN,
                            join(p[1].note(), pairedRatio(trials.get(p[0]), trials.get(p[1])).note("non-atomic", ">= 0.6x"))));
                }
                for (Named[] p : pagePairs) {
                    if (p[0] == null) continue;
                    Measured dw = res.get(p[0]), atm = res.get(p[1]);
                    lines.add(line(AT, p[0], PAGE, "pages/s", dw, Double.NaN, join(p[0].note(), "2 DSYNC writes per page")));
                    lines.add(line(AT, p[1], PAGE, "pages/s", atm, Double.NaN,
                            join(p[1].note(), pairedRatio(trials.get(p[0]), trials.get(p[1])).note("doublewrite", ">= 1.5x"))));
                }
            }
        }
        String title = "foliofs bench, " + LocalDate.now() + ": " + Machine.describe();
        StringBuilder md = new StringBuilder();
        md.append("Standard comparison, ").append(LocalDate.now()).append(", ").append(Machine.describe()).append('\n');
        md.append("Volume: FolioFS on ").append(device).append(" (written full of zeros before mkfs: every block backed by the host file system)")
                .append("false".equals(System.getProperty(org.foliofs.fs.FolioFs.ATOMIC_HARDWARE_PROPERTY))
                        ? "; atomic writes: hardware path off (--atomic-software), every one out of place" : "")
                .append(logMaxNote())
                .append("; temp dir on ").append(fsType)
                .append(" (the device-limit, fio and JDK rows use a file of the same size there)").append('\n');
        md.append(String.format(Locale.ROOT, "File: %d MiB written full first (every write an overwrite; the ATOMIC rows write files of their own, the same size, first overwritten once with atomic writes in random order); page cache %d MiB (writeback: %d MiB). "
                        + "Each row: %d trial(s) (device limit: at least 3; median shown), %s s warm-up and %s s measured, on a fresh mount; the rows of a group alternate trial by trial, and an ATOMIC row's ratio is the median of its per-trial ratios to the row before it (each pair ran back to back).%s%n%n",
                fileBytes >> 20, bigCache >> 20, smallCache >> 20, cfg.trials(), fmt(cfg.warmupSeconds()), fmt(cfg.seconds()),
                fioVersion == null ? "" : " fio: " + fioVersion + "."));
        md.append(StandardReport.table(lines));
        return new Outcome(List.copyOf(lines), title, md.toString());
    }

    /** How atomic overwrites without a device unit are done: logged in the journal up to the volume's limit, else remapped. */
    static String logMaxNote() {
        String v = System.getProperty(org.foliofs.fs.FolioFs.ATOMIC_LOG_PROPERTY, Long.toString(org.foliofs.fs.FolioFs.ATOMIC_LOG_DEFAULT)).trim();
        return "0".equals(v) ? "; atomic overwrites: never logged (" + org.foliofs.fs.FolioFs.ATOMIC_LOG_PROPERTY + "=0), out of place"
                : "; atomic overwrites of up to " + v + " bytes: logged in the journal (the others out of place)";
    }

    /**
     * Writes every {@code unit} of file {@code name} once, in random order, with ATOMIC
     * write-through (32 in flight), then fsyncs: the file of an atomic-write user is in that state
     * after a while (each atomic write moves its range out of place), as the file of a plain
     * overwriter is contiguous after its first write (the state the other rows start from). The
     * first trial would otherwise measure the file being cut up (extent splits, tree growth) on top
     * of the writes.
     */
    private static void ageAtomic(Path image, long cache, BufferedIo.Options opts, String name, int unit, MemorySegment[] bufs)
            throws Exception {
        try (Runners.Vol v = new Runners.Vol(image, cache, opts, name)) {
            int units = (int) (v.file.size() / unit);
            int[] order = new int[units];
            for (int i = 0; i < units; i++) order[i] = i;
            java.util.SplittableRandom r = new java.util.SplittableRandom(42);
            for (int i = units - 1; i > 0; i--) {
                int j = r.nextInt(i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(32);
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            int flags = FolioFile.WRITETHROUGH | FolioFile.ATOMIC;
            for (int i = 0; i < units && failed.get() == null; i++) {
                inFlight.acquire();
                v.file.writeAsync((long) order[i] * unit, bufs[i % bufs.length], flags).whenComplete((n, t) -> {
                    if (t != null) failed.compareAndSet(null, t);
                    inFlight.release();
                });
            }
            inFlight.acquire(32);
            if (failed.get() != null) throw new IOException("ageing " + name + " with atomic writes failed: " + failed.get(), failed.get());
            v.file.fsync(false);
        }
    }

    private static StandardReport.Line line(String section, Named n, int bs, String unit, Measured m, double vsDevice, String note) {
        return new StandardReport.Line(section, n.name(), n.depth(), bs, unit, m.iops(), m.mibps(), m.p50(), m.p99(), vsDevice, note);
    }

    private static String join(String a, String b) {
        return a.isEmpty() ? b : a + "; " + b;
    }

    private static MemorySegment[] buffers(Arena arena, int n, int size) {
        MemorySegment[] b = new MemorySegment[n];
        for (int i = 0; i < n; i++) b[i] = arena.allocate(size, 4096).fill((byte) (i + 1));
        return b;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
