package org.foliofs.bench;

import org.foliofs.device.BufferPool;
import org.foliofs.device.FileDevice;
import org.foliofs.iomap.BufferedIo;
import org.foliofs.iomap.IoEndHandler;
import org.foliofs.pagecache.PageCache;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The page cache and buffered I/O engine (issue 3): cached 1 MiB reads against a plain off-heap
 * memcpy of the same size, buffered writes into the cache, and sustained buffered writes to a
 * file four times the cache (writeback and throttling engaged) against the device's own
 * sequential write bandwidth, all in one run, on one MAPPED extent over the benchmark image.
 */
final class CacheBench {
    private CacheBench() {}

    private static final int CHUNK = 1 << 20;

    record Line(String what, double value, String unit, String against, double baseline) {
        double ratio() { return value / baseline; }
    }

    static List<Line> run(Path image, double seconds, int trials, PrintStream log) throws IOException, InterruptedException {
        List<Line> out = new ArrayList<>();
        long fileBytes = 64L << 20;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment src = arena.allocate(fileBytes, 4096), a = arena.allocate(CHUNK, 4096), b = arena.allocate(CHUNK, 4096);
            src.fill((byte) 7);
            a.fill((byte) 9);
            // Baseline: memcpy of 1 MiB chunks cycling over a 64 MiB source, the same footprint as the cached file.
            long[] pos = {0};
            double memcpy = gbps(() -> {
                MemorySegment.copy(src, pos[0], b, 0, CHUNK);
                pos[0] = (pos[0] + CHUNK) % fileBytes;
            }, CHUNK, seconds);
            log.printf(Locale.ROOT, "memcpy 1 MiB over 64 MiB (off-heap) %8.2f GB/s%n", memcpy);

            // Cached reads: the 64 MiB file read once into a 512 MiB cache, then 1 MiB reads cycling over it.
            // Buffered writes into the cache: 1 MiB overwrites cycling over 16 MiB of it, below the background
            // writeback threshold (10% of the cache), so no writeback or throttling: the copy-in path alone.
            try (PageCache pc = new PageCache(PageCache.Config.builder().memoryBytes(512L << 20).build());
                 FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults())) {
                BufferedIo io = new BufferedIo(pc, dev, BufferedIo.Options.defaults());
                IdentityFile f = new IdentityFile(dev.capacity(), fileBytes);
                f.file = io.open(f, f, IoEndHandler.NONE);
                for (long p = 0; p < fileBytes; p += CHUNK) io.read(f, f, p, b);
                pos[0] = 0;
                double cached = gbps(() -> {
                    io.read(f, f, pos[0], b);
                    pos[0] = (pos[0] + CHUNK) % fileBytes;
                }, CHUNK, seconds);
                out.add(new Line("cached buffered read, 1 MiB", cached, "GB/s", "memcpy 1 MiB, same footprint", memcpy));
                log.printf(Locale.ROOT, "cached buffered read 1 MiB          %8.2f GB/s (%.2fx memcpy)%n", cached, cached / memcpy);
                long dirtyBytes = 16L << 20;
                pos[0] = 0;
                double written = gbps(() -> {
                    io.write(f, f, pos[0], a);
                    pos[0] = (pos[0] + CHUNK) % dirtyBytes;
                }, CHUNK, seconds);
                out.add(new Line("buffered write into cache, 1 MiB", written, "GB/s", "memcpy 1 MiB, same footprint", memcpy));
                log.printf(Locale.ROOT, "buffered write 1 MiB into cache     %8.2f GB/s (%.2fx memcpy)%n", written, written / memcpy);
                io.fsync(f, 0, Long.MAX_VALUE, true, f.file.errSeq().cursor());
            }

            // Sustained: buffered writes to a file four times the cache (writeback and throttling engaged),
            // against the device's own sequential 1 MiB writes at depth 4; trials alternate, medians compared.
            List<Double> sustained = new ArrayList<>(), device = new ArrayList<>();
            for (int t = 0; t < trials; t++) {
                device.add(DeviceRunner.run(image, FileDevice.Engine.IO_URING, new Workload("write 1m qd4", false, CHUNK, 4), 1, seconds)
                        .mibPerSecond());
                sustained.add(sustained(image, a));
            }
            double s = median(sustained), d = median(device);
            out.add(new Line("sustained buffered write, 4x cache, with fsync", s, "MiB/s", "device sequential write 1 MiB qd4", d));
            log.printf(Locale.ROOT, "sustained buffered write (4x cache) %7.0f MiB/s vs device %7.0f MiB/s (%.2fx)%n", s, d, s / d);
        }
        return out;
    }

    /**
     * Buffered 1 MiB writes over a whole file four times the cache (cache = a quarter of the image,
     * a multiple of 2 MiB), twice, each pass ending with fsync; MiB/s over both passes. One
     * untimed pass of a cache's worth first (JIT, first touch of the cache memory).
     */
    private static double sustained(Path image, MemorySegment data) throws IOException {
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults())) {
            long cacheBytes = Math.max(8L << 20, dev.capacity() / 4 / (2 << 20) * (2 << 20));
            long total = Math.min(dev.capacity(), 4 * cacheBytes) / CHUNK * CHUNK;
            try (PageCache pc = new PageCache(PageCache.Config.builder().memoryBytes(cacheBytes).build())) {
                BufferedIo io = new BufferedIo(pc, dev, BufferedIo.Options.defaults());
                IdentityFile f = new IdentityFile(dev.capacity(), 0);
                f.file = io.open(f, f, IoEndHandler.NONE);
                for (long p = 0; p < cacheBytes; p += CHUNK) io.write(f, f, p, data);
                io.fsync(f, 0, Long.MAX_VALUE, true, f.file.errSeq().cursor());
                long t0 = System.nanoTime();
                for (int pass = 0; pass < 2; pass++) {
                    for (long p = 0; p < total; p += CHUNK) io.write(f, f, p, data);
                    io.fsync(f, 0, Long.MAX_VALUE, true, f.file.errSeq().cursor());
                }
                return 2.0 * total / ((System.nanoTime() - t0) / 1e9) / (1 << 20);
            }
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    interface Op { void run() throws IOException; }

    /** Runs op for about `seconds` after a short warm-up; GB/s (10^9 bytes per second). */
    private static double gbps(Op op, long bytesPerOp, double seconds) throws IOException {
        long warm = System.nanoTime() + 500_000_000L;
        while (System.nanoTime() < warm) op.run();
        long n = 0, t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        long now;
        do {
            op.run();
            n++;
        } while ((now = System.nanoTime()) < end);
        return n * (double) bytesPerOp / (now - t0);
    }

    static String report(List<Line> lines) {
        StringBuilder sb = new StringBuilder("\nPage cache and buffered I/O (a file that is one MAPPED extent over the image; same run):\n\n");
        sb.append("| measurement | value | baseline | baseline value | ratio |\n|---|---:|---|---:|---:|\n");
        for (Line l : lines) {
            sb.append(String.format(Locale.ROOT, "| %s | %.2f %s | %s | %.2f %s | %.2f |\n", l.what(), l.value(), l.unit(),
                    l.against(), l.baseline(), l.unit(), l.ratio()));
        }
        return sb.toString();
    }
}
