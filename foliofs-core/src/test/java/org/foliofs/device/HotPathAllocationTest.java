package org.foliofs.device;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * "No per-request garbage on the hot path", measured: after warm-up, a reused IoRequest
 * submitted and awaited many times allocates (almost) nothing on the submitting thread, and on
 * the io_uring ring thread. Uses HotSpot's per-thread allocation counters.
 */
class HotPathAllocationTest {
    private static final int WARMUP = 30_000, MEASURED = 20_000, ROUNDS = 5;
    @TempDir Path dir;

    private static com.sun.management.ThreadMXBean threads() {
        return (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    }

    @ParameterizedTest
    @EnumSource(FileDevice.Engine.class)
    void reusedRequestAllocatesNothingPerIo(FileDevice.Engine engine) throws Exception {
        Path p = dir.resolve(engine + ".img");
        FileDevice.createImage(p, 4 << 20);
        try (BufferPool pool = new BufferPool(4096, 2);
             FileDevice d = FileDevice.open(p, FileDevice.Options.defaults().withEngine(engine).withQueueDepth(8)
                     .withRegisteredBuffers(engine == FileDevice.Engine.IO_URING ? pool : null))) {
            MemorySegment buf = pool.acquire();
            IoRequest r = new IoRequest();
            run(d, r, buf, WARMUP);
            Thread ring = engine == FileDevice.Engine.IO_URING ? ringThread(d) : null;
            long me = Thread.currentThread().threadId();
            // The best of a few rounds: on a loaded machine late in a long test run the JIT may
            // not have compiled the path yet (interpreted and C1 code allocate what C2's escape
            // analysis removes). Garbage the code really makes shows in every round.
            double perIo = Double.MAX_VALUE, ringPerIo = Double.MAX_VALUE;
            for (int round = 0; round < ROUNDS && (perIo >= 1.0 || ringPerIo >= 1.0); round++) {
                long before = threads().getThreadAllocatedBytes(me);
                long ringBefore = ring == null ? 0 : threads().getThreadAllocatedBytes(ring.threadId());
                run(d, r, buf, MEASURED);
                perIo = Math.min(perIo, (threads().getThreadAllocatedBytes(me) - before) / (double) MEASURED);
                ringPerIo = Math.min(ringPerIo,
                        ring == null ? 0 : (threads().getThreadAllocatedBytes(ring.threadId()) - ringBefore) / (double) MEASURED);
                System.out.printf("%s round %d: %.3f bytes allocated per I/O on the submitter, %.3f on the ring thread%n",
                        engine, round + 1, perIo, ringPerIo);
            }
            assertThat(perIo).as("bytes per I/O on the submitting thread").isLessThan(1.0);
            assertThat(ringPerIo).as("bytes per I/O on the ring thread").isLessThan(1.0);
        }
    }

    private static void run(FileDevice d, IoRequest r, MemorySegment buf, int n) throws DeviceException {
        for (int i = 0; i < n; i++) {
            d.submit(r.prepare(i % 4 == 0 ? IoOp.READ : IoOp.WRITE, (i % 1024) * 4096L, 0, null).add(buf));
            r.await();
        }
    }

    private static Thread ringThread(FileDevice d) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("foliofs-uring " + d.path())) return t;
        }
        throw new AssertionError("no ring thread for " + d.path());
    }
}
