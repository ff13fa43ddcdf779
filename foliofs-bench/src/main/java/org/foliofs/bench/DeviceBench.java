package org.foliofs.bench;

import org.foliofs.device.BufferPool;
import org.foliofs.device.FileDevice;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The device-layer benchmark behind {@code foliofs bench}: creates a temporary image, writes it
 * full once (so every later write is a pure overwrite of allocated blocks, for us and fio
 * alike), then runs each {@link Workload} with each engine and, when fio is installed, fio with
 * the same parameters on the same file, one right after the other. Prints a Markdown report.
 */
public final class DeviceBench {

    /** What to run. */
    public record Config(Path dir, long size, double seconds, double warmupSeconds, int trials, boolean fio,
                         List<FileDevice.Engine> engines) {
        public Config {
            if (trials < 1 || trials > 99) throw new IllegalArgumentException("trials (" + trials + ") must be between 1 and 99");
            if (size < (64L << 20) || size % (1 << 20) != 0) {
                throw new IllegalArgumentException("size (" + size + ") must be a multiple of 1 MiB and at least 64 MiB");
            }
            if (seconds <= 0) throw new IllegalArgumentException("seconds (" + seconds + ") must be positive");
            if (warmupSeconds < 0) throw new IllegalArgumentException("warmupSeconds (" + warmupSeconds + ") must not be negative");
            if (engines.isEmpty()) throw new IllegalArgumentException("engines must name at least one engine");
            engines = List.copyOf(engines);
        }
    }

    /** One comparison line: ours against fio's counterpart (null when fio did not run). */
    public record Row(Workload workload, Result ours, Result fio) {}

    /** The iomap direct-I/O engine against the raw io_uring device layer, same workload, same run. */
    public record EngineRow(Workload workload, Result dio, Result raw) {}

    static final Workload DIO_WORKLOAD = new Workload("randwrite 4k qd32", true, 4096, 32);

    static final List<Workload> WORKLOADS = List.of(
            new Workload("randwrite 4k qd1", true, 4096, 1),
            new Workload("randwrite 4k qd32", true, 4096, 32),
            new Workload("write 1m qd1", false, 1 << 20, 1),
            new Workload("write 1m qd4", false, 1 << 20, 4));

    private DeviceBench() {}

    /** Runs the whole benchmark, printing progress to {@code log}; returns the Markdown report. */
    public static String run(Config cfg, PrintStream log) throws IOException, InterruptedException {
        Files.createDirectories(cfg.dir());
        Path image = Files.createTempFile(cfg.dir(), "foliofs-bench-", ".img");
        Files.delete(image);
        String fioVersion = cfg.fio() ? FioRunner.version() : null;
        if (cfg.fio() && fioVersion == null) log.println("fio not found: running without the fio comparison");
        List<Row> rows = new ArrayList<>();
        List<EngineRow> engineRows = new ArrayList<>();
        List<CacheBench.Line> cacheLines = List.of();
        String deviceDescription;
        try {
            FileDevice.createImage(image, cfg.size());
            log.printf("filling %s (%d MiB) so every benchmark write is an overwrite...%n", image, cfg.size() >> 20);
            deviceDescription = fill(image);
            for (Workload w : WORKLOADS) {
                for (FileDevice.Engine e : cfg.engines()) {
                    log.printf("%-18s %-9s ", w.name(), e == FileDevice.Engine.IO_URING ? "io_uring" : "sync");
                    // Trials alternate ours and fio, so drift of the (shared, virtual) disk hits both alike;
                    // each side reports its median trial.
                    List<Result> ours = new ArrayList<>(), fio = new ArrayList<>();
                    for (int t = 0; t < cfg.trials(); t++) {
                        ours.add(DeviceRunner.run(image, e, w, cfg.warmupSeconds(), cfg.seconds()));
                        if (fioVersion != null) {
                            fio.add(FioRunner.run(image, cfg.size(), w, e == FileDevice.Engine.IO_URING ? "io_uring" : "psync",
                                    cfg.warmupSeconds(), cfg.seconds()));
                        }
                    }
                    Row row = new Row(w, median(ours), fio.isEmpty() ? null : median(fio));
                    rows.add(row);
                    log.println(summary(row));
                }
            }
            if (cfg.engines().contains(FileDevice.Engine.IO_URING)) {
                Workload w = DIO_WORKLOAD;
                log.printf("%-18s %-9s ", w.name(), "iomap dio");
                List<Result> dio = new ArrayList<>(), raw = new ArrayList<>();
                for (int t = 0; t < cfg.trials(); t++) {
                    dio.add(DioRunner.run(image, w, cfg.warmupSeconds(), cfg.seconds()));
                    raw.add(DeviceRunner.run(image, FileDevice.Engine.IO_URING, w, cfg.warmupSeconds(), cfg.seconds()));
                }
                EngineRow er = new EngineRow(w, median(dio), median(raw));
                engineRows.add(er);
                log.printf(Locale.ROOT, "%10.0f IOPS | raw io_uring device %10.0f IOPS | ratio %.2f%n", er.dio().iops(),
                        er.raw().iops(), er.dio().iops() / er.raw().iops());
                cacheLines = CacheBench.run(image, cfg.seconds(), cfg.trials(), log);
            }
        } finally {
            Files.deleteIfExists(image);
        }
        return report(cfg, rows, fioVersion, deviceDescription) + engineReport(engineRows)
                + (cacheLines.isEmpty() ? "" : CacheBench.report(cacheLines));
    }

    private static Result median(List<Result> results) {
        List<Result> sorted = new ArrayList<>(results);
        sorted.sort(java.util.Comparator.comparingDouble(Result::iops));
        return sorted.get(sorted.size() / 2);
    }

    /** Writes the image full with 1 MiB writes and flushes; returns the device description. */
    private static String fill(Path image) throws IOException {
        try (BufferPool pool = new BufferPool(1 << 20, 1);
             FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            MemorySegment buf = pool.acquire();
            for (long o = 0; o < buf.byteSize(); o += 8) buf.set(java.lang.foreign.ValueLayout.JAVA_LONG, o, o * 0x9E3779B97F4A7C15L);
            IoRequest r = new IoRequest();
            for (long off = 0; off < dev.capacity(); off += buf.byteSize()) {
                r.prepare(IoOp.WRITE, off, 0, null).add(buf);
                dev.submit(r);
                r.await();
            }
            dev.flush();
            return dev.describe().replace("[sync, ", "["); // the geometry; each row names its engine
        }
    }

    private static String summary(Row r) {
        String s = String.format(Locale.ROOT, "%10.0f IOPS %8.1f MiB/s %8.1f us", r.ours().iops(), r.ours().mibPerSecond(),
                r.ours().meanLatencyMicros());
        if (r.fio() != null) {
            s += String.format(Locale.ROOT, " | %s %10.0f IOPS %8.1f MiB/s %8.1f us | ratio %.2f", r.fio().tool(),
                    r.fio().iops(), r.fio().mibPerSecond(), r.fio().meanLatencyMicros(), ratio(r));
        }
        return s;
    }

    /** Ours / fio: throughput for depth > 1 and sequential, inverse latency ratio for random qd1. */
    static double ratio(Row r) {
        if (r.fio() == null) return Double.NaN;
        return r.ours().iops() / r.fio().iops();
    }

    static String report(Config cfg, List<Row> rows, String fioVersion, String device) {
        StringBuilder sb = new StringBuilder();
        sb.append("Device layer, ").append(LocalDate.now()).append(", ").append(Machine.describe()).append('\n');
        sb.append("Device: ").append(device).append('\n');
        sb.append("Each case: ").append(cfg.trials()).append(" trials (median shown), each ").append(fmt(cfg.warmupSeconds()))
                .append(" s warm-up and ").append(fmt(cfg.seconds())).append(" s measured; O_DIRECT overwrites of a ").append(cfg.size() >> 20).append(" MiB image written full first")
                .append(fioVersion == null ? "; fio not run" : "; compared with " + fioVersion + " on the same file, trials alternating")
                .append(".\n\n");
        sb.append("| workload | engine | foliofs IOPS | foliofs MiB/s | foliofs mean lat (us) | fio engine | fio IOPS | fio MiB/s | fio mean lat (us) | foliofs/fio (IOPS) | fio/foliofs (latency) |\n");
        sb.append("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            Result o = r.ours(), f = r.fio();
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.1f | %.1f | ", r.workload().name(),
                    o.tool().replace("foliofs ", ""), o.iops(), o.mibPerSecond(), o.meanLatencyMicros()));
            if (f == null) {
                sb.append("- | - | - | - | - | - |\n");
            } else {
                sb.append(String.format(Locale.ROOT, "%s | %.0f | %.1f | %.1f | %.2f | %.2f |\n", f.tool().replace("fio ", ""),
                        f.iops(), f.mibPerSecond(), f.meanLatencyMicros(), ratio(r), f.meanLatencyMicros() / o.meanLatencyMicros()));
            }
        }
        return sb.toString();
    }

    static String engineReport(List<EngineRow> rows) {
        if (rows.isEmpty()) return "";
        StringBuilder sb = new StringBuilder("\nEngine overhead: the iomap direct-I/O engine (async writes over a one-extent file) against\n"
                + "the raw io_uring device layer, trials alternating in the same run.\n\n");
        sb.append("| workload | iomap dio IOPS | raw device IOPS | dio/raw |\n|---|---:|---:|---:|\n");
        for (EngineRow r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.2f |\n", r.workload().name(), r.dio().iops(),
                    r.raw().iops(), r.dio().iops() / r.raw().iops()));
        }
        return sb.toString();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
