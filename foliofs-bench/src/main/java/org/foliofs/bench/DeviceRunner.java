package org.foliofs.bench;

import org.foliofs.device.BlockDevice;
import org.foliofs.device.BufferPool;
import org.foliofs.device.DeviceException;
import org.foliofs.device.FileDevice;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link Workload} against our device layer as a closed loop: io_uring keeps {@code depth}
 * requests in flight, each completion submitting the next from the ring thread; the sync
 * engine runs {@code depth} threads, each doing one pwritev2 after another. A warm-up second
 * (JIT) precedes the measured interval. Buffers come from a registered {@link BufferPool}.
 */
final class DeviceRunner {
    private DeviceRunner() {}

    static Result run(Path image, FileDevice.Engine engine, Workload w, double warmupSeconds, double seconds)
            throws IOException, InterruptedException {
        return measure(image, engine, w, warmupSeconds, seconds, null);
    }

    /**
     * Like {@link #run} but also per-request latency (submission to completion): p50 and p99 in
     * the returned {@link Runners.Measured}.
     */
    static Runners.Measured measured(Path image, FileDevice.Engine engine, Workload w, double warmupSeconds, double seconds)
            throws IOException, InterruptedException {
        Runners.Samples lat = new Runners.Samples();
        Result r = measure(image, engine, w, warmupSeconds, seconds, lat);
        double[] p = lat.p50p99Micros();
        return new Runners.Measured(r.ops(), r.bytes(), (long) (r.seconds() * 1e9), p[0], p[1], null);
    }

    private static Result measure(Path image, FileDevice.Engine engine, Workload w, double warmupSeconds, double seconds,
                                  Runners.Samples lat) throws IOException, InterruptedException {
        try (BufferPool pool = new BufferPool(w.blockSize(), w.depth());
             FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(engine)
                     .withQueueDepth(Math.max(w.depth(), 1))
                     .withRegisteredBuffers(engine == FileDevice.Engine.IO_URING ? pool : null))) {
            MemorySegment[] bufs = new MemorySegment[w.depth()];
            SplittableRandom fill = new SplittableRandom(42);
            for (int i = 0; i < bufs.length; i++) {
                bufs[i] = pool.acquire();
                for (long o = 0; o < bufs[i].byteSize(); o += 8) bufs[i].set(java.lang.foreign.ValueLayout.JAVA_LONG, o, fill.nextLong());
            }
            String label = "foliofs " + (engine == FileDevice.Engine.IO_URING ? "io_uring" : "sync");
            if (engine == FileDevice.Engine.IO_URING) {
                if (warmupSeconds > 0) runUring(dev, w, bufs, warmupSeconds, null);
                return runUring(dev, w, bufs, seconds, lat).withTool(label);
            }
            if (warmupSeconds > 0) runSync(dev, w, bufs, warmupSeconds, null);
            return runSync(dev, w, bufs, seconds, lat).withTool(label);
        }
    }

    /** Offsets: random block-aligned, or sequential per stream, all within the device. */
    private static final class Offsets {
        private final long blocks;
        private final int bs;
        private final boolean random;
        private final SplittableRandom rnd;
        private long next;

        Offsets(BlockDevice dev, Workload w, long seed, long start) {
            this.bs = w.blockSize();
            this.blocks = dev.capacity() / bs;
            this.random = w.random();
            this.rnd = new SplittableRandom(seed);
            this.next = start % blocks;
        }

        long next() {
            if (random) return rnd.nextLong(blocks) * bs;
            long o = next * bs;
            next = (next + 1) % blocks;
            return o;
        }
    }

    private static Result runUring(FileDevice dev, Workload w, MemorySegment[] bufs, double seconds, Runners.Samples lat)
            throws InterruptedException {
        long[] t0 = new long[w.depth()];
        AtomicLong ops = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        Offsets offsets = new Offsets(dev, w, 7, 0);
        AtomicLong active = new AtomicLong(w.depth());
        Thread main = Thread.currentThread();
        IoRequest[] reqs = new IoRequest[w.depth()];
        org.foliofs.device.IoCompletion[] cb = new org.foliofs.device.IoCompletion[1];
        cb[0] = (r, res) -> {
            if (res < 0) {
                failure.compareAndSet(null, r.error());
            } else {
                ops.incrementAndGet();
            }
            int i = (Integer) r.attachment();
            long now = System.nanoTime();
            if (lat != null) lat.add(now - t0[i]);
            if (failure.get() == null && now < deadline) {
                r.prepare(IoOp.WRITE, offsets.next(), 0, cb[0]).add(bufs[i]).attach(i);
                t0[i] = System.nanoTime();
                dev.submit(r);
            } else if (active.decrementAndGet() == 0) {
                LockSupport.unpark(main);
            }
        };
        // The first round is prepared here; after that only the ring thread touches `offsets` (the
        // hand-over queue's volatile publication orders these writes before its reads).
        for (int i = 0; i < reqs.length; i++) {
            reqs[i] = new IoRequest().prepare(IoOp.WRITE, offsets.next(), 0, cb[0]).add(bufs[i]).attach(i);
        }
        for (int i = 0; i < reqs.length; i++) {
            t0[i] = System.nanoTime();
            dev.submit(reqs[i]);
        }
        while (active.get() > 0) LockSupport.parkNanos(1_000_000);
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) throw new IllegalStateException("benchmark write failed", failure.get());
        return Result.of("", ops.get(), ops.get() * w.blockSize(), nanos, w.depth());
    }

    private static Result runSync(FileDevice dev, Workload w, MemorySegment[] bufs, double seconds, Runners.Samples lat)
            throws InterruptedException {
        AtomicLong ops = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread[] threads = new Thread[w.depth()];
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long stride = dev.capacity() / w.blockSize() / w.depth();
        for (int t = 0; t < threads.length; t++) {
            final int id = t;
            threads[t] = Thread.ofPlatform().name("bench-sync-" + t).start(() -> {
                Offsets offsets = new Offsets(dev, w, 1000 + id, id * stride);
                IoRequest r = new IoRequest();
                long n = 0;
                try {
                    long now = System.nanoTime();
                    while (now < deadline) {
                        r.prepare(IoOp.WRITE, offsets.next(), 0, null).add(bufs[id]);
                        dev.submit(r);
                        r.await();
                        long t1 = System.nanoTime();
                        if (lat != null) lat.add(t1 - now);
                        now = t1;
                        n++;
                    }
                } catch (DeviceException | RuntimeException e) {
                    failure.compareAndSet(null, e);
                }
                ops.addAndGet(n);
            });
        }
        for (Thread t : threads) t.join();
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) throw new IllegalStateException("benchmark write failed", failure.get());
        return Result.of("", ops.get(), ops.get() * w.blockSize(), nanos, w.depth());
    }
}
