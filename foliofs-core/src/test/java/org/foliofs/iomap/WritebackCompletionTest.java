package org.foliofs.iomap;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where writeback's end-of-I/O work runs: on the executor by default; on the device's completion
 * thread for a successful request when the handler says its ioEnd cannot block (XFS completes
 * ioends that need no work in the bio's completion). Errors always go to the executor.
 */
class WritebackCompletionTest {

    private static int writebackHops(boolean inlineIoEnd) throws Exception {
        AtomicInteger hops = new AtomicInteger();
        BufferedIo.Options opts = BufferedIo.Options.defaults().withExecutor(task -> {
            hops.incrementAndGet();
            ForkJoinPool.commonPool().execute(task);
        });
        try (BufferedFixture fx = new BufferedFixture(DirectIoTest.sim(512).asyncCompletions(true),
                BufferedFixture.quietCache(16L << 20), opts, 4096, 1024)) {
            fx.f.inlineIoEnd = inlineIoEnd;
            byte[] data = new byte[256 << 10];
            java.util.Arrays.fill(data, (byte) 5);
            fx.write(0, data);
            fx.fsync();                          // first writeback allocates: NEW blocks, always the executor
            hops.set(0);
            java.util.Arrays.fill(data, (byte) 6);
            fx.write(0, data);
            fx.fsync();                          // now a pure overwrite of MAPPED blocks
            assertThat(fx.read(0, data.length)).isEqualTo(data);
            fx.assertQuiescent();
            return hops.get();
        }
    }

    @Test
    void pureOverwriteWritebackFinishesInlineOnlyWhenTheHandlerAllows() throws Exception {
        assertThat(writebackHops(true)).as("executor hops with an inline-safe ioEnd").isZero();
        assertThat(writebackHops(false)).as("executor hops with the default handler").isPositive();
    }
}
