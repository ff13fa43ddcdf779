package org.foliofs.bench;

import org.foliofs.device.DeviceStats;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.DirEntry;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Fsck;
import org.foliofs.fs.FsckReport;
import org.foliofs.fs.Journal;
import org.foliofs.fs.Mkfs;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * File-system metadata benchmark (issue 4), in process through the {@link FolioFs} API on an
 * O_DIRECT io_uring {@link FileDevice} image in a temporary directory:
 * <ol>
 *   <li>create + write 4 KiB + close, then unlink, per second: one thread; two threads in
 *       separate directories; two threads in one directory. Each case runs on a freshly formatted
 *       volume, and each phase ends with {@link FolioFs#sync()} inside the timing.</li>
 *   <li>a volume populated with {@code files} empty files ({@value #FILES_PER_DIR} per directory,
 *       created by {@link FolioFs#create} alone: the fast path), then unmount, host page cache
 *       dropped (when allowed), mount (a new {@link FileDevice} and {@link FolioFs}: nothing of ours
 *       cached), a full walk (readdir of every directory plus getattr of every file), and
 *       {@link Fsck#check} of the unmounted volume.</li>
 * </ol>
 * The kernel reference (XFS on a loop device, same counts) is {@code scripts/fs-bench-xfs}.
 */
public final class FsBench {

    /** Files per directory of the populated volume. */
    public static final int FILES_PER_DIR = 1000;
    static final int DATA = 4096;

    /**
     * What to run.
     *
     * @param dir        directory for the temporary images
     * @param files      files of the populated volume (mount and fsck times)
     * @param rateFiles  files created (then unlinked) per rate case, shared by the threads of the case
     * @param dropCaches whether to try {@code echo 3 > /proc/sys/vm/drop_caches} before the cold mount
     */
    public record Config(Path dir, long files, int rateFiles, boolean dropCaches) {
        public Config {
            if (dir == null) throw new IllegalArgumentException("dir must not be null");
            if (files < 1 || files > 100_000_000L)
                throw new IllegalArgumentException("files (" + files + ") must be between 1 and 100,000,000");
            if (rateFiles < 2 || rateFiles > 10_000_000)
                throw new IllegalArgumentException("rateFiles (" + rateFiles + ") must be between 2 and 10,000,000");
        }
    }

    /** One timed phase: seconds, what the device did, and the journal's commits and checkpoints. */
    public record Phase(double seconds, DeviceStats.Snapshot dev, long commits, long checkpoints) {}

    /** One rate case: {@code files} created by {@code threads} threads, then unlinked by them. */
    public record Rate(String name, int threads, long files, Phase create, Phase unlink) {
        public double createSeconds() { return create.seconds(); }
        public double unlinkSeconds() { return unlink.seconds(); }
        public double createsPerSecond() { return files / create.seconds(); }
        public double unlinksPerSecond() { return files / unlink.seconds(); }
    }

    /** The populated volume's timings, in seconds (walk: readdir of every directory and getattr of every entry). */
    public record Population(long files, long dirs, long imageBytes, double createSeconds, double syncSeconds,
                             double unmountSeconds, String hostCache, double mountSeconds, double walkSeconds,
                             long walked, long walkReads, double remountSeconds, double fsckSeconds, long fsckReads,
                             long fsckInodes, long fsckMetaBlocks,
                             boolean fsckClean, String fsckProblems, String fsckBlockReads, long usedBlocks, int blockSize) {}

    /** Everything measured. */
    public record Results(Config config, String machine, String device, List<Rate> rates, Population population) {}

    private FsBench() {}

    // ------------------------------------------------------------------ run

    public static String run(Config cfg, PrintStream log) throws Exception {
        return report(measure(cfg, log));
    }

    public static Results measure(Config cfg, PrintStream log) throws Exception {
        Files.createDirectories(cfg.dir());
        String[] device = {""};
        List<Rate> rates = new ArrayList<>();
        rates.add(rate(cfg, log, "1 thread", 1, false, true, device));
        rates.add(rate(cfg, log, "2 threads, separate directories", 2, false, true, device));
        rates.add(rate(cfg, log, "2 threads, same directory", 2, true, true, device));
        rates.add(rate(cfg, log, "1 thread, create only (no open, write, close)", 1, false, false, device));
        Population p = populate(cfg, log);
        return new Results(cfg, Machine.describe(), device[0], rates, p);
    }

    private static Path newImage(Config cfg, long bytes) throws IOException {
        Path image = Files.createTempFile(cfg.dir(), "foliofs-fsbench-", ".img");
        Files.delete(image);
        FileDevice.createImage(image, bytes);
        return image;
    }

    private static long roundMiB(long bytes) {
        return (bytes + (1 << 20) - 1) >>> 20 << 20;
    }

    // ------------------------------------------------------------------ rates

    /** One rate case on a fresh volume; without {@code data} the files are created only (empty, never opened). */
    static Rate rate(Config cfg, PrintStream log, String name, int threads, boolean sameDir, boolean data, String[] device)
            throws Exception {
        long bytes = roundMiB(Math.max(512L << 20, (long) cfg.rateFiles() * DATA * 2 + (256L << 20)));
        Path image = newImage(cfg, bytes);
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults());
             FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults())) {
            device[0] = dev.describe();
            long[] dirs = new long[threads];
            for (int t = 0; t < threads; t++) {
                dirs[t] = sameDir && t > 0 ? dirs[0] : fs.mkdir(FolioFs.ROOT_INO, "d" + t, 0755, 0, 0).ino();
            }
            fs.sync();
            int per = cfg.rateFiles() / threads;
            long total = (long) per * threads;
            Phase create = parallel(threads, t -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment buf = arena.allocate(DATA, 4096);
                    buf.fill((byte) ('a' + t));
                    for (int i = 0; i < per; i++) {
                        long ino = fs.create(dirs[t], fileName(t, i), 0644, 0, 0).ino();
                        if (!data) continue;
                        try (FolioFile f = fs.openFile(ino)) {
                            long n = f.write(0, buf);
                            if (n != DATA) throw new IOException("short write to inode " + ino + ": " + n + " of " + DATA);
                        }
                    }
                }
            }, fs);
            checkCount(fs, dirs, sameDir, total, name + " after create");
            Phase unlink = parallel(threads, t -> {
                for (int i = 0; i < per; i++) fs.unlink(dirs[t], fileName(t, i));
            }, fs);
            checkCount(fs, dirs, sameDir, 0, name + " after unlink");
            Rate r = new Rate(name, threads, total, create, unlink);
            log.printf(Locale.ROOT, "fs bench: %s: %d files, %s %.0f/s, unlink %.0f/s%n",
                    name, total, data ? "create+write 4 KiB+close" : "create", r.createsPerSecond(), r.unlinksPerSecond());
            return r;
        } finally {
            Files.deleteIfExists(image);
        }
    }

    private static String fileName(int thread, long i) {
        return "t" + thread + "-" + i;
    }

    private static void checkCount(FolioFs fs, long[] dirs, boolean sameDir, long expected, String what) throws IOException {
        long n = 0;
        for (int t = 0; t < dirs.length; t++) {
            if (sameDir && t > 0) break;
            n += fs.list(dirs[t]).size();
        }
        if (n != expected) throw new IllegalStateException(what + ": " + n + " directory entries, expected " + expected);
    }

    interface Worker {
        void run(int thread) throws Exception;
    }

    /** Runs {@code threads} platform threads of {@code w} from one start signal, then {@code fs.sync()}; returns the phase's figures. */
    static Phase parallel(int threads, Worker w, FolioFs fs) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            ts.add(Thread.ofPlatform().name("fsbench-" + t).start(() -> {
                try {
                    go.await();
                    w.run(id);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        DeviceStats.Snapshot before = fs.device().stats().snapshot();
        Journal.Stats j0 = fs.journal().stats();
        long t0 = System.nanoTime();
        go.countDown();
        for (Thread t : ts) t.join();
        if (failure.get() != null) throw new IllegalStateException("benchmark operation failed: " + failure.get(), failure.get());
        fs.sync();
        double s = (System.nanoTime() - t0) / 1e9;
        Journal.Stats j1 = fs.journal().stats();
        return new Phase(s, fs.device().stats().snapshot().minus(before), j1.commits() - j0.commits(),
                j1.checkpoints() - j0.checkpoints());
    }

    // ------------------------------------------------------------------ populated volume

    static Population populate(Config cfg, PrintStream log) throws Exception {
        long files = cfg.files();
        long dirCount = (files + FILES_PER_DIR - 1) / FILES_PER_DIR;
        long bytes = roundMiB(Math.max(512L << 20, files * 2048 + dirCount * 65536 + (512L << 20)));
        Path image = newImage(cfg, bytes);
        try {
            double createS, syncS, unmountS;
            long used;
            int bs;
            FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults());
            FolioFs fs;
            try {
                fs = FolioFs.format(dev, Mkfs.Options.defaults());
            } catch (IOException | RuntimeException e) {
                dev.close();
                throw e;
            }
            try {
                // two threads, each its own directories: the fast path (no data, no open/close)
                AtomicLong made = new AtomicLong();
                long t0 = System.nanoTime();
                List<Thread> ts = new ArrayList<>();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                int threads = 2;
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    ts.add(Thread.ofPlatform().name("fsbench-pop-" + t).start(() -> {
                        try {
                            for (long d = id; d < dirCount && failure.get() == null; d += threads) {
                                long dir = fs.mkdir(FolioFs.ROOT_INO, dirName(d), 0755, 0, 0).ino();
                                long end = Math.min(files, (d + 1) * FILES_PER_DIR);
                                for (long i = d * FILES_PER_DIR; i < end; i++) {
                                    fs.create(dir, "f" + i, 0644, 0, 0);
                                    long m = made.incrementAndGet();
                                    if (m % 100_000 == 0) {
                                        log.printf(Locale.ROOT, "fs bench: created %d of %d files (%.0f s)%n", m, files,
                                                (System.nanoTime() - t0) / 1e9);
                                    }
                                }
                            }
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    }));
                }
                for (Thread t : ts) t.join();
                if (failure.get() != null) throw new IllegalStateException("populating failed: " + failure.get(), failure.get());
                createS = (System.nanoTime() - t0) / 1e9;
                long t1 = System.nanoTime();
                fs.sync();
                syncS = (System.nanoTime() - t1) / 1e9;
                FolioFs.StatFs st = fs.statfs();
                used = st.totalBlocks() - st.freeBlocks();
                bs = st.blockSize();
                log.printf(Locale.ROOT, "fs bench: %d files in %d directories created in %.1f s, sync %.2f s%n",
                        files, dirCount, createS, syncS);
                long t2 = System.nanoTime();
                fs.close();
                unmountS = (System.nanoTime() - t2) / 1e9;
            } catch (Exception e) {
                fs.abandon();
                throw e;
            } finally {
                dev.close();
            }

            String hostCache = cfg.dropCaches() ? dropHostCaches() : "host page cache not dropped";
            double mountS, walkS, remountS;
            long walked, walkReads, fsckReads;
            long t3 = System.nanoTime();
            try (FileDevice d2 = FileDevice.open(image, FileDevice.Options.defaults()); FolioFs fs2 = FolioFs.mount(d2)) {
                mountS = (System.nanoTime() - t3) / 1e9;
                long t4 = System.nanoTime();
                long r0 = d2.stats().snapshot().reads();
                walked = walk(fs2, dirCount, files);
                walkS = (System.nanoTime() - t4) / 1e9;
                walkReads = d2.stats().snapshot().reads() - r0;
            }
            long t5 = System.nanoTime();
            try (FileDevice d3 = FileDevice.open(image, FileDevice.Options.defaults()); FolioFs fs3 = FolioFs.mount(d3)) {
                remountS = (System.nanoTime() - t5) / 1e9;
            }
            log.printf(Locale.ROOT, "fs bench: mount %.3f s (%s), walk %.1f s, second mount %.3f s%n", mountS, hostCache, walkS, remountS);
            long t6 = System.nanoTime();
            FsckReport r;
            try (FileDevice d4 = FileDevice.open(image, FileDevice.Options.defaults())) {
                r = Fsck.check(d4);
                fsckReads = d4.stats().snapshot().reads();
            }
            double fsckS = (System.nanoTime() - t6) / 1e9;
            log.printf(Locale.ROOT, "fs bench: fsck %.1f s, %s, %d inodes%n", fsckS, r.clean() ? "clean" : "PROBLEMS", r.inodes());
            String problems = r.clean() ? "" : String.join("; ", r.problems().subList(0, Math.min(5, r.problems().size())));
            return new Population(files, dirCount, bytes, createS, syncS, unmountS, hostCache, mountS, walkS, walked, walkReads, remountS,
                    fsckS, fsckReads, r.inodes(), r.metadata().size(), r.clean(), problems, r.reads().toString(), used, bs);
        } finally {
            Files.deleteIfExists(image);
        }
    }

    private static String dirName(long d) {
        return "d" + d;
    }

    /** readdir of every directory, getattr of every entry; checks the counts. */
    private static long walk(FolioFs fs, long dirCount, long files) throws IOException {
        List<DirEntry> top = fs.list(FolioFs.ROOT_INO);
        if (top.size() != dirCount)
            throw new IllegalStateException("root directory has " + top.size() + " entries after mount, expected " + dirCount);
        long n = 0;
        for (DirEntry d : top) {
            for (DirEntry e : fs.list(d.ino())) {
                FolioFs.Attr a = fs.getattr(e.ino());
                if (!a.isRegular() || a.size() != 0)
                    throw new IllegalStateException("entry " + d.nameString() + "/" + e.nameString() + " is not an empty file: " + a);
                n++;
            }
        }
        if (n != files) throw new IllegalStateException("walked " + n + " files after mount, expected " + files);
        return n;
    }

    /** Tries {@code echo 3 > /proc/sys/vm/drop_caches} (needs root); says what happened. */
    static String dropHostCaches() {
        try {
            new ProcessBuilder("sync").inheritIO().start().waitFor();
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3", StandardCharsets.US_ASCII);
            return "host page cache dropped (drop_caches=3)";
        } catch (IOException e) {
            return "host page cache not dropped (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "host page cache not dropped (interrupted)";
        }
    }

    // ------------------------------------------------------------------ report

    private static String perFile(Phase p, long files) {
        DeviceStats.Snapshot d = p.dev();
        return String.format(Locale.ROOT, "%.2f, %.2f, %.3f; %d, %d", d.reads() / (double) files, d.writes() / (double) files,
                d.flushes() / (double) files, p.commits(), p.checkpoints());
    }

    public static String report(Results res) {
        Config c = res.config();
        Population p = res.population();
        StringBuilder sb = new StringBuilder();
        sb.append("File system metadata, ").append(LocalDate.now()).append(", ").append(res.machine()).append('\n');
        sb.append("Volumes: FolioFS (mkfs defaults: 4 KiB blocks, derived groups and journal), each on a fresh image in ")
                .append(c.dir()).append("; the last rate case's: ").append(res.device()).append('\n');
        sb.append(String.format(Locale.ROOT,
                "Rates: %d files per case on a fresh volume; each file: create, open, write 4 KiB, close (the data stays in the page "
                        + "cache for background writeback); unlink of the same files; each phase ends with sync (syncfs: the files' data, "
                        + "then the journal) inside the timing.%n%n", c.rateFiles()));
        sb.append("| case | files | create (+ write 4 KiB + close) /s | unlink /s | create: dev reads, writes, flushes per file; "
                + "commits, checkpoints | unlink: dev reads, writes, flushes per file; commits, checkpoints |\n"
                + "|---|---:|---:|---:|---|---|\n");
        for (Rate r : res.rates()) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.0f | %.0f | %s | %s |%n", r.name(), r.files(), r.createsPerSecond(),
                    r.unlinksPerSecond(), perFile(r.create(), r.files()), perFile(r.unlink(), r.files())));
        }
        sb.append(String.format(Locale.ROOT,
                "%nPopulated volume: %d empty files in %d directories of up to %d (image %d MiB, %.1f MiB used), created by 2 "
                        + "threads with create alone.%n%n", p.files(), p.dirs(), FILES_PER_DIR, p.imageBytes() >> 20,
                p.usedBlocks() * (double) p.blockSize() / (1 << 20)));
        sb.append("| step | seconds | note |\n|---|---:|---|\n");
        sb.append(String.format(Locale.ROOT, "| create %d files | %.1f | %.0f files/s |%n", p.files(), p.createSeconds(),
                p.files() / p.createSeconds()));
        sb.append(String.format(Locale.ROOT, "| sync | %.2f | |%n", p.syncSeconds()));
        sb.append(String.format(Locale.ROOT, "| unmount | %.2f | checkpoint |%n", p.unmountSeconds()));
        sb.append(String.format(Locale.ROOT, "| mount (cold) | %.3f | new device and FolioFs instance; %s; image opened O_DIRECT |%n",
                p.mountSeconds(), p.hostCache()));
        sb.append(String.format(Locale.ROOT, "| walk after mount | %.1f | readdir of %d directories + getattr of %d files; %d device reads |%n",
                p.walkSeconds(), p.dirs(), p.walked(), p.walkReads()));
        sb.append(String.format(Locale.ROOT, "| mount again | %.3f | |%n", p.remountSeconds()));
        sb.append(String.format(Locale.ROOT, "| fsck | %.1f | %s, %d inodes, %d metadata blocks; %d device reads (%s) |%n",
                p.fsckSeconds(), p.fsckClean() ? "clean" : "PROBLEMS: " + p.fsckProblems(), p.fsckInodes(), p.fsckMetaBlocks(),
                p.fsckReads(), p.fsckBlockReads()));
        return sb.toString();
    }
}
