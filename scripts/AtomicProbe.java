import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntConsumer;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Mkfs;
import org.foliofs.pagecache.PageCache;

/**
 * The atomic-write probe (run it with scripts/atomic-probe): THREADS threads each write LEN-byte
 * ATOMIC|DSYNC write-through writes (FolioFile.write) at random aligned offsets of one file on a
 * FolioFS image, for a warm-up and then SECONDS measured; prints writes per second, CPU per write
 * and the journal's commits. With -Dtoggle=FIELD -Dtoggle.a=A -Dtoggle.b=B it flips a static int
 * field (class.name.FIELD, or POOL for the end-of-I/O pool's size) between A and B every
 * -Dtoggle.ms (500) ms during the measured part and reports each value's writes per second: an
 * A/B in one run, both sides on the same disk state (an A/A run gives ~0.98-1.02).
 *
 * Arguments: IMAGE (made, filled and aged by one random pass of atomic writes if missing; copy a
 * pristine one over it before each run) THREADS SECONDS LEN; -Dwarm=SECONDS (10: the C2 compiler is still busy for ~12 s after start), -DfileMiB (256),
 * -DvolMiB (1024).
 */
public class AtomicProbe {
    public static void main(String[] a) throws Exception {
        if (a.length != 4) throw new IllegalArgumentException("usage: AtomicProbe IMAGE THREADS SECONDS LEN");
        Path img = Path.of(a[0]);
        int threads = Integer.parseInt(a[1]), len = Integer.parseInt(a[3]);
        double secs = Double.parseDouble(a[2]), warm = Double.parseDouble(System.getProperty("warm", "10"));
        long fileBytes = Long.getLong("fileMiB", 256) << 20;
        int flags = FolioFile.WRITETHROUGH | FolioFile.DSYNC | FolioFile.ATOMIC;
        if (!Files.exists(img)) make(img, fileBytes, len, flags);
        try (FileDevice dev = FileDevice.open(img, FileDevice.Options.defaults()); FolioFs fs = FolioFs.mount(dev)) {
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(512L << 20).build());
            FolioFile f = fs.openFile(fs.lookup(FolioFs.ROOT_INO, "f"));
            MemorySegment[] bufs = new MemorySegment[threads];
            for (int i = 0; i < threads; i++) bufs[i] = Arena.global().allocate(len, 4096).fill((byte) (i + 1));
            long units = fileBytes / len;
            run(f, bufs, threads, units, len, flags, warm, null);
            var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long cpu0 = os.getProcessCpuTime(), c0 = fs.journal().stats().commits(), w0 = fs.journal().stats().logBlocksWritten();
            long t0 = System.nanoTime();
            long n = run(f, bufs, threads, units, len, flags, secs, System.getProperty("toggle"));
            double el = (System.nanoTime() - t0) / 1e9;
            var js = fs.journal().stats();
            System.out.printf("%d threads, %d-byte ATOMIC|DSYNC writes: %.0f writes/s; cpu %.1f us/write; commits/write %.3f; log blocks/commit %.2f%n",
                    threads, len, n / el, (os.getProcessCpuTime() - cpu0) / 1e3 / n, (js.commits() - c0) / (double) n,
                    (js.logBlocksWritten() - w0) / (double) Math.max(1, js.commits() - c0));
            f.close();
        }
    }

    private static void make(Path img, long fileBytes, int len, int flags) throws Exception {
        FileDevice.createImage(img, Long.getLong("volMiB", 1024) << 20);
        try (FileDevice dev = FileDevice.open(img, FileDevice.Options.defaults()); FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults())) {
            long ino = fs.create(FolioFs.ROOT_INO, "f", 0644, 0, 0).ino();
            try (FolioFile f = fs.openFile(ino)) {
                MemorySegment c = Arena.global().allocate(1 << 20, 4096);
                for (long p = 0; p < fileBytes; p += c.byteSize()) f.write(p, c, 0);
                f.fsync(false);
                // age: every unit overwritten once with an atomic write, in random order (as the bench does)
                long units = fileBytes / len;
                long[] perm = new long[(int) units];
                for (int i = 0; i < units; i++) perm[i] = i;
                SplittableRandom r = new SplittableRandom(7);
                for (int i = (int) units - 1; i > 0; i--) { int j = r.nextInt(i + 1); long t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
                MemorySegment b = Arena.global().allocate(len, 4096);
                java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(32);
                for (long u : perm) {
                    inFlight.acquire();
                    f.writeAsync(u * len, b, flags).whenComplete((v, t) -> inFlight.release());
                }
                inFlight.acquire(32);
                f.fsync(false);
            }
        }
        System.out.println("made " + img + " (file aged by one random pass of atomic writes)");
    }

    /** Runs the writers for {@code secs}; returns the writes done. With a toggle, flips it and prints each side's rate. */
    private static long run(FolioFile f, MemorySegment[] bufs, int threads, long units, int len, int flags, double secs, String toggle)
            throws Exception {
        long end = System.nanoTime() + (long) (secs * 1e9);
        LongAdder done = new LongAdder();
        Thread[] ts = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            int k = i;
            ts[i] = Thread.ofPlatform().start(() -> {
                SplittableRandom r = new SplittableRandom(k * 7919L + System.nanoTime());
                try {
                    while (System.nanoTime() < end) {
                        f.write(r.nextLong(units) * len, bufs[k], flags);
                        done.increment();
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
        }
        if (toggle != null) {
            IntConsumer set = setter(toggle);
            int va = Integer.getInteger("toggle.a"), vb = Integer.getInteger("toggle.b"), ms = Integer.getInteger("toggle.ms", 500);
            long[] sum = new long[2], phases = new long[2];
            int side = 0;
            set.accept(va);
            long last = done.sum();
            while (System.nanoTime() < end - (ms + 100) * 1_000_000L) {
                Thread.sleep(ms);
                long now = done.sum();
                sum[side] += now - last;
                phases[side]++;
                last = now;
                side ^= 1;
                set.accept(side == 0 ? va : vb);
            }
            double ra = sum[0] / (phases[0] * ms / 1e3), rb = sum[1] / (phases[1] * ms / 1e3);
            System.out.printf("toggle %s: %d -> %.0f writes/s (%d phases), %d -> %.0f writes/s (%d phases); B/A %.3f%n",
                    toggle, va, ra, phases[0], vb, rb, phases[1], rb / ra);
        }
        for (Thread t : ts) t.join();
        return done.sum();
    }

    /** Sets the toggled value: POOL resizes the end-of-I/O pool; else a static int field, class.name.FIELD. */
    private static IntConsumer setter(String toggle) throws Exception {
        if (toggle.equals("POOL")) {
            for (Class<?> c : org.foliofs.iomap.BufferedIo.class.getDeclaredClasses()) {
                try {
                    var ef = c.getDeclaredField("EXECUTOR");
                    ef.setAccessible(true);
                    var pool = (java.util.concurrent.ThreadPoolExecutor) ef.get(null);
                    return v -> {
                        if (v > pool.getMaximumPoolSize()) { pool.setMaximumPoolSize(v); pool.setCorePoolSize(v); }
                        else { pool.setCorePoolSize(v); pool.setMaximumPoolSize(v); }
                    };
                } catch (NoSuchFieldException e) {
                    // not this nested class
                }
            }
            throw new IllegalArgumentException("no end-of-I/O pool found in BufferedIo");
        }
        int dot = toggle.lastIndexOf('.');
        if (dot < 0) throw new IllegalArgumentException("toggle " + toggle + ": expected class.name.FIELD or POOL");
        var field = Class.forName(toggle.substring(0, dot)).getDeclaredField(toggle.substring(dot + 1));
        field.setAccessible(true);
        return v -> {
            try {
                field.setInt(null, v);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        };
    }
}
