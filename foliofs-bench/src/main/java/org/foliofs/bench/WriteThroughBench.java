package org.foliofs.bench;

import com.sun.nio.file.ExtendedOpenOption;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFile;
import org.foliofs.iomap.BufferedIo;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.foliofs.bench.Runners.*;

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

    // ------------------------------------------------------------------ the run

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
            ByteBuffer[] hostBufs = hostBuffers(32, BS);

            log.printf("writing the image %s (%d MiB) full of zeros (so the host backs every block, as a disk does), formatting it and writing a %d MiB file full...%n", image, cfg.size() >> 20, fileBytes >> 20);
            device = prepareVolume(image, cfg.size(), Map.of(FILE, fileBytes), chunk);
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

    private static final String[] NAMES = {FILE};

    private static Case fsThreads(Path image, long cache, BufferedIo.Options opts, int threads, MemorySegment[] bufs, SyncFsOp op) {
        return Runners.fsThreads(image, NAMES, cache, opts, threads, bufs, op);
    }

    private static Case fsAsync(Path image, long cache, BufferedIo.Options opts, int depth, MemorySegment[] bufs, AsyncFsOp op) {
        return Runners.fsAsync(image, NAMES, cache, opts, depth, bufs, op);
    }

    private static Case hostCase(Path host, boolean direct, int threads, ByteBuffer[] bufs, long blocks) {
        return Runners.hostCase(host, direct ? List.of(StandardOpenOption.DSYNC, ExtendedOpenOption.DIRECT) : List.of(StandardOpenOption.DSYNC),
                false, threads, bufs, blocks, BS);
    }

    private static Case fioCase(Path host, long fileBytes, boolean direct, String engine, int depth) {
        return Runners.fioCase(host, fileBytes, direct, true, engine, depth);
    }

    private static void runGroup(String title, List<Named> cases, Config cfg, List<Row> rows, PrintStream log, boolean longWarmup)
            throws Exception {
        double warm = longWarmup ? Math.max(2, cfg.warmupSeconds()) : cfg.warmupSeconds();
        for (Map.Entry<Named, Measured> e : Runners.runGroup(title, cases, cfg.trials(), warm, cfg.seconds(), log).entrySet()) {
            Named n = e.getKey();
            Measured m = e.getValue();
            rows.add(new Row(title, n.name(), n.depth(), m.iops(), m.mibps(), m.p50(), m.p99(), m.writesPerOp(), m.flushesPerOp(), n.note()));
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
