package org.foliofs.bench;

import org.foliofs.device.BufferPool;
import org.foliofs.device.FileDevice;
import org.foliofs.iomap.DirectIo;
import org.foliofs.iomap.IoEndHandler;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The iomap direct-I/O engine over the io_uring device, on a file that is one MAPPED extent
 * covering the whole device (identity mapping, no allocation, no end-of-I/O work): what the
 * engine adds to the raw device layer. A closed loop keeps {@code depth} asynchronous writes in
 * flight; each completion (on the engine's executor) starts the next.
 */
final class DioRunner {
    private DioRunner() {}

    static Result run(Path image, Workload w, double warmupSeconds, double seconds) throws IOException, InterruptedException {
        try (BufferPool pool = new BufferPool(w.blockSize(), w.depth());
             FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withQueueDepth(w.depth())
                     .withRegisteredBuffers(pool))) {
            DirectIo dio = new DirectIo(dev, DirectIo.Options.defaults().withMaxInFlight(w.depth()));
            IdentityFile file = new IdentityFile(dev.capacity(), dev.capacity());
            MemorySegment[] bufs = new MemorySegment[w.depth()];
            for (int i = 0; i < bufs.length; i++) bufs[i] = pool.acquire().fill((byte) i);
            loop(dio, file, w, bufs, warmupSeconds);
            return loop(dio, file, w, bufs, seconds).withTool("foliofs iomap dio");
        }
    }

    private static Result loop(DirectIo dio, IdentityFile file, Workload w, MemorySegment[] bufs, double seconds)
            throws InterruptedException {
        AtomicLong ops = new AtomicLong();
        AtomicLong active = new AtomicLong(bufs.length);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long blocks = file.capacity() / w.blockSize();
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        Thread main = Thread.currentThread();
        for (int i = 0; i < bufs.length; i++) {
            issue(dio, file, w, bufs[i], new SplittableRandom(i), blocks, deadline, ops, active, failure, main);
        }
        while (active.get() > 0) LockSupport.parkNanos(1_000_000);
        long nanos = System.nanoTime() - start;
        if (failure.get() != null) throw new IllegalStateException("benchmark direct write failed", failure.get());
        return Result.of("", ops.get(), ops.get() * w.blockSize(), nanos, w.depth());
    }

    private static void issue(DirectIo dio, IdentityFile file, Workload w, MemorySegment buf, SplittableRandom rnd, long blocks,
                              long deadline, AtomicLong ops, AtomicLong active, AtomicReference<Throwable> failure, Thread main) {
        long pos = w.random() ? rnd.nextLong(blocks) * w.blockSize() : 0;
        dio.writeAsync(file, file, IoEndHandler.NONE, pos, buf, 0).whenComplete((n, err) -> {
            if (err != null) failure.compareAndSet(null, err);
            else ops.incrementAndGet();
            if (failure.get() == null && System.nanoTime() < deadline) {
                issue(dio, file, w, buf, rnd, blocks, deadline, ops, active, failure, main);
            } else if (active.decrementAndGet() == 0) {
                LockSupport.unpark(main);
            }
        });
    }
}
