package org.foliofs.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FaultPlanTest {
    private static final long MiB = 1 << 20;

    private static SimDevice device(FaultPlan plan) {
        return SimDevice.builder().capacity(MiB).seed(3).faultPlan(plan).build();
    }

    private static MemorySegment data(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return MemorySegment.ofArray(b);
    }

    /** Submits and returns the completed request; never throws for I/O errors. */
    private static IoRequest run(BlockDevice dev, IoRequest r) {
        dev.submit(r);
        try {
            r.await();
        } catch (DeviceException e) {
            // inspected through r.result() / r.error()
        }
        return r;
    }

    private static MemorySegment readBack(BlockDevice dev, long off, int size) {
        MemorySegment b = MemorySegment.ofArray(new byte[size]);
        assertThat(run(dev, IoRequest.read(off, b, null)).result()).isEqualTo(size);
        return b;
    }

    @Test
    void nthRequestFailsAndChangesNothing() {
        try (SimDevice dev = device(FaultPlan.builder().failRequest(2, Errno.EIO).build())) {
            MemorySegment old = data(4096, 1);
            assertThat(run(dev, IoRequest.write(8192, old, 0, null)).result()).isEqualTo(4096);
            IoRequest bad = run(dev, IoRequest.write(8192, data(4096, 2), IoRequest.FUA, null));
            assertThat(bad.result()).isEqualTo(-Errno.EIO);
            assertThat(bad.error().getMessage()).contains("8192", "EIO", "4096 bytes", "sim write", dev.describe());
            assertThat(bad.error().errno()).isEqualTo(Errno.EIO);
            assertThat(bad.error().offset()).isEqualTo(8192);
            assertThatThrownBy(bad::await).isInstanceOf(DeviceException.class).hasMessageContaining("offset 8192");
            assertThat(readBack(dev, 8192, 4096).mismatch(old)).as("old data after the failed write").isEqualTo(-1);
            assertThat(dev.stats().errors()).isEqualTo(1);
            assertThat(dev.stats().requests(IoOp.WRITE)).as("a failed request still counts as submitted").isEqualTo(2);
            assertThat(dev.stats().fuaWrites()).isEqualTo(1);
        }
    }

    @Test
    void failedWriteDoesNotFlushOrBecomePending() {
        try (SimDevice dev = device(FaultPlan.builder().failRequest(2, Errno.ENOSPC).failRequest(3, Errno.ENOSPC).build())) {
            run(dev, IoRequest.write(0, data(4096, 1), 0, null));
            assertThat(dev.pendingWrites()).isEqualTo(1);
            IoRequest bad = run(dev, IoRequest.write(4096, data(4096, 2), IoRequest.PREFLUSH, null));
            assertThat(bad.error().getMessage()).contains("ENOSPC");
            assertThat(dev.pendingWrites()).as("the failed PREFLUSH write flushed nothing").isEqualTo(1);
            IoRequest badPost = run(dev, IoRequest.write(4096, data(4096, 3), IoRequest.POSTFLUSH, null));
            assertThat(badPost.result()).as("request 3 fails too: the write's error").isEqualTo(-Errno.ENOSPC);
            assertThat(badPost.error().getMessage()).contains("ENOSPC", "sim write");
            assertThat(dev.pendingWrites()).as("the failed POSTFLUSH write flushed nothing").isEqualTo(1);
        }
    }

    @Test
    void requestsOverlappingAFailingRangeFail() {
        FaultPlan plan = FaultPlan.builder().failRange(65536, 4096, Errno.EIO)
                .failRange(131072, 4096, IoOp.WRITE, Errno.EROFS).build();
        try (SimDevice dev = device(plan)) {
            assertThat(run(dev, IoRequest.write(0, data(65536, 1), 0, null)).result()).isEqualTo(65536);
            assertThat(run(dev, IoRequest.write(61440, data(8192, 2), 0, null)).result()).isEqualTo(-Errno.EIO);
            assertThat(run(dev, IoRequest.read(69632, MemorySegment.ofArray(new byte[512]), null)).result())
                    .as("just past the range").isEqualTo(512);
            IoRequest r = run(dev, IoRequest.read(65536 + 512, MemorySegment.ofArray(new byte[512]), null));
            assertThat(r.error().getMessage()).contains("sim read", "66048", "EIO");
            assertThat(run(dev, IoRequest.discard(65536, 4096, null)).result()).as("DISCARD is not READ/WRITE").isZero();
            assertThat(run(dev, IoRequest.flush(null)).result()).isZero();
            assertThat(run(dev, IoRequest.read(131072, MemorySegment.ofArray(new byte[4096]), null)).result())
                    .as("a WRITE-only range lets reads through").isEqualTo(4096);
            assertThat(run(dev, IoRequest.write(131072, data(4096, 3), 0, null)).result()).isEqualTo(-Errno.EROFS);
            assertThat(dev.stats().errors()).isEqualTo(3);
        }
    }

    @Test
    void everyRequestAfterTheNthFails() {
        try (SimDevice dev = device(FaultPlan.builder().failAfter(3, Errno.EIO).build())) {
            for (int i = 0; i < 3; i++) assertThat(run(dev, IoRequest.write(0, data(512, i), 0, null)).result()).isEqualTo(512);
            assertThat(run(dev, IoRequest.write(0, data(512, 9), 0, null)).result()).isEqualTo(-Errno.EIO);
            assertThat(run(dev, IoRequest.read(0, MemorySegment.ofArray(new byte[512]), null)).result()).isEqualTo(-Errno.EIO);
            assertThatThrownBy(dev::flush).isInstanceOf(DeviceException.class).hasMessageContaining("sim flush")
                    .hasMessageContaining("EIO");
            assertThat(dev.stats().errors()).isEqualTo(3);
            assertThat(dev.stats().totalRequests()).isEqualTo(6);
        }
    }

    @Test
    void shortCompletionTransfersOnlyThePrefix() {
        FaultPlan plan = FaultPlan.builder().shortCompletion(1, 1000).shortCompletion(2, 2048).build();
        try (SimDevice dev = device(plan)) {
            MemorySegment w = data(4096, 1);
            assertThat(run(dev, IoRequest.write(4096, w, 0, null)).result()).as("1000 rounded down to 512").isEqualTo(512);
            MemorySegment into = MemorySegment.ofArray(new byte[4096]).fill((byte) 0x55);
            assertThat(run(dev, IoRequest.read(4096, into, null)).result()).isEqualTo(2048);
            assertThat(into.asSlice(0, 512).mismatch(w.asSlice(0, 512))).as("written prefix").isEqualTo(-1);
            assertThat(into.asSlice(512, 1536).mismatch(MemorySegment.ofArray(new byte[1536])))
                    .as("not written: still zeros").isEqualTo(-1);
            assertThat(into.asSlice(2048, 2048).mismatch(MemorySegment.ofArray(new byte[2048]).fill((byte) 0x55)))
                    .as("not read: buffer untouched").isEqualTo(-1);
            assertThat(dev.stats().errors()).isZero();
        }
    }

    @Test
    void slowCompletionWithAsyncCompletionsDelaysInOrder() throws Exception {
        FaultPlan plan = FaultPlan.builder().slowRequest(1, 300).build();
        try (SimDevice dev = SimDevice.builder().capacity(MiB).asyncCompletions(true).faultPlan(plan).build()) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            long t0 = System.nanoTime();
            IoRequest slow = IoRequest.write(0, data(4096, 1), 0, (r, res) -> order.add(1));
            IoRequest fast = IoRequest.read(0, MemorySegment.ofArray(new byte[4096]), (r, res) -> order.add(2));
            dev.submit(slow);
            dev.submit(fast);
            long submitMillis = (System.nanoTime() - t0) / 1_000_000;
            assertThat(submitMillis).as("submit does not wait for a slow completion").isLessThan(250);
            assertThat(slow.isDone()).isFalse();
            fast.await();
            assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(300);
            slow.await();
            // await() returns once the result is published; the callback may still be finishing.
            for (int i = 0; i < 200 && order.size() < 2; i++) Thread.sleep(5);
            assertThat(order).as("completions in submission order").containsExactly(1, 2);
        }
    }

    @Test
    void slowCompletionInlineSleepsInSubmit() {
        try (SimDevice dev = device(FaultPlan.builder().slowAll(20).slowRequest(2, 0).build())) {
            long t0 = System.nanoTime();
            run(dev, IoRequest.write(0, data(512, 1), 0, null));
            assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(20);
            assertThat(dev.faultPlan().delayMillis(2)).as("own delay overrides slowAll").isZero();
            assertThat(dev.faultPlan().delayMillis(3)).isEqualTo(20);
        }
    }

    @Test
    void builderValidatesAtOnceNamingTheValue() {
        FaultPlan.Builder b = FaultPlan.builder();
        assertThatThrownBy(() -> b.failRequest(0, Errno.EIO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("request number (0)");
        assertThatThrownBy(() -> b.failRequest(1, -5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("errno (-5)");
        assertThatThrownBy(() -> b.failRange(-1, 10, Errno.EIO)).hasMessageContaining("offset (-1)");
        assertThatThrownBy(() -> b.failRange(0, 0, Errno.EIO)).hasMessageContaining("length (0)");
        assertThatThrownBy(() -> b.failAfter(-2, Errno.EIO)).hasMessageContaining("(-2)");
        assertThatThrownBy(() -> b.shortCompletion(1, -4)).hasMessageContaining("(-4)");
        assertThatThrownBy(() -> b.slowAll(-7)).hasMessageContaining("(-7 ms)");
        assertThatThrownBy(() -> b.failRange(0, 512, null, Errno.EIO)).hasMessageContaining("op must not be null");
    }

    @Test
    void planIsImmutableAndDescribesItself() {
        FaultPlan.Builder b = FaultPlan.builder().failRequest(2, Errno.EIO);
        FaultPlan plan = b.build();
        b.failRequest(3, Errno.EIO);
        assertThat(plan.errnoFor(3, IoOp.WRITE, 0, 512)).as("later builder changes do not leak").isZero();
        assertThat(plan.errnoFor(2, IoOp.FLUSH, 0, 0)).isEqualTo(Errno.EIO);
        assertThat(plan.toString()).contains("fail #2 with EIO");
        assertThat(FaultPlan.none().isNone()).isTrue();
        assertThat(plan.isNone()).isFalse();
        assertThat(b.build().toString()).contains("#3");
    }
}
