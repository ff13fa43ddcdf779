package org.foliofs.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** SimDevice specifics: builder, sparseness, cache model, completion thread. */
class SimDeviceTest {
    private static MemorySegment data(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return MemorySegment.ofArray(b);
    }

    private static void write(BlockDevice dev, long off, MemorySegment data, int flags) throws DeviceException {
        IoRequest r = IoRequest.write(off, data, flags, null);
        dev.submit(r);
        r.await();
    }

    private static MemorySegment read(BlockDevice dev, long off, int size) throws DeviceException {
        MemorySegment b = MemorySegment.ofArray(new byte[size]);
        IoRequest r = IoRequest.read(off, b, null);
        dev.submit(r);
        r.await();
        return b;
    }

    @Test
    void builderRejectsBadValuesNamingThem() {
        SimDeviceBuilder b = SimDevice.builder();
        assertThatThrownBy(() -> b.logicalBlockSize(1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("logicalBlockSize (1000) must be a power of two between 512 and 65536");
        assertThatThrownBy(() -> b.physicalBlockSize(131072)).hasMessageContaining("physicalBlockSize (131072)");
        assertThatThrownBy(() -> b.capacity(1000)).hasMessageContaining("capacity (1000)");
        assertThatThrownBy(() -> b.capacity(0)).hasMessageContaining("capacity (0)");
        assertThatThrownBy(() -> b.atomicWriteUnits(8192, 4096)).hasMessageContaining("min=8192, max=4096");
        assertThatThrownBy(() -> b.atomicWriteUnits(0, 4096)).hasMessageContaining("both 0 or both positive");
        assertThatThrownBy(() -> b.atomicWriteUnits(3000, 4096)).hasMessageContaining("powers of two");
        assertThatThrownBy(() -> b.faultPlan(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> b.logicalBlockSize(4096).physicalBlockSize(512).build())
                .hasMessageContaining("physicalBlockSize (512) must be at least logicalBlockSize (4096)");
        assertThatThrownBy(() -> b.capacity(1536).logicalBlockSize(1024).build()).hasMessageContaining("capacity (1536)");
        assertThatThrownBy(() -> b.logicalBlockSize(4096).atomicWriteUnits(512, 4096).build())
                .hasMessageContaining("min (512)");
    }

    @Test
    void builderIsImmutableAndDescribeNamesTheGeometry() {
        SimDeviceBuilder b = SimDevice.builder().capacity(1L << 30).seed(42);
        SimDeviceBuilder bigBlocks = b.logicalBlockSize(4096);
        try (SimDevice d = b.build(); SimDevice d2 = bigBlocks.build()) {
            assertThat(d.logicalBlockSize()).isEqualTo(512);
            assertThat(d2.logicalBlockSize()).isEqualTo(4096);
            assertThat(d.describe()).isEqualTo("sim[capacity=1073741824, lbs=512, pbs=4096, seed=42]");
            assertThat(d.memoryAlignment()).isEqualTo(1);
            assertThat(d.volatileWriteCache()).isTrue();
            assertThat(d.supportsFua()).isTrue();
            assertThat(d.atomicWriteUnitMax()).isZero();
        }
    }

    @Test
    void largeSparseDeviceCostsOnlyWhatIsWritten() throws Exception {
        long cap = 64L << 30; // far beyond the test heap: storage must be sparse
        try (SimDevice dev = SimDevice.builder().capacity(cap).build()) {
            MemorySegment a = data(65536, 1), z = data(4096, 2);
            write(dev, cap - 65536, a, 0);
            write(dev, 33L << 30, z, IoRequest.FUA);
            assertThat(read(dev, cap - 65536, 65536).mismatch(a)).isEqualTo(-1);
            assertThat(read(dev, 33L << 30, 4096).mismatch(z)).isEqualTo(-1);
            assertThat(read(dev, 1L << 30, 4096).mismatch(MemorySegment.ofArray(new byte[4096]))).isEqualTo(-1);
            dev.discard(0, cap); // whole-device discard stays cheap
            assertThat(read(dev, cap - 65536, 65536).mismatch(MemorySegment.ofArray(new byte[65536]))).isEqualTo(-1);
            dev.flush();
        }
    }

    @Test
    void postflushWriteIsDurableWhenItCompletes() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(1 << 20).seed(7).build()) {
            MemorySegment earlier = data(4096, 1), d = data(8192, 2);
            write(dev, 0, earlier, 0);
            assertThat(dev.pendingWrites()).isEqualTo(1);
            write(dev, 8192, d, IoRequest.POSTFLUSH);
            assertThat(dev.pendingWrites()).as("the post-flush made the write and the earlier one durable").isZero();
            CrashReport crash = dev.crash();
            assertThat(crash.pendingWrites()).as("crash right after completion: nothing to lose").isZero();
            assertThat(read(dev, 8192, 8192).mismatch(d)).as("POSTFLUSH write after crash()").isEqualTo(-1);
            assertThat(read(dev, 0, 4096).mismatch(earlier)).as("earlier write after crash()").isEqualTo(-1);
            assertThat(dev.stats().postflushWrites()).isEqualTo(1);
        }
        // At a power cut, the write lands in the volatile cache only: its post-flush is lost.
        try (SimDevice dev = SimDevice.builder().capacity(1 << 20).seed(8).build()) {
            dev.powerCutAt(1);
            IoRequest w = IoRequest.write(0, data(4096, 3), IoRequest.POSTFLUSH, null);
            dev.submit(w);
            assertThatThrownBy(w::await).isInstanceOf(DeviceException.class).hasMessageContaining("power cut");
            assertThat(dev.pendingWrites()).as("the write at the cut is not flushed").isEqualTo(1);
        }
    }

    @Test
    void durabilityRulesOfTheCache() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(1 << 20).build()) {
            write(dev, 0, data(4096, 1), 0);
            assertThat(dev.pendingWrites()).isEqualTo(1);
            write(dev, 4096, data(4096, 2), IoRequest.FUA);
            assertThat(dev.pendingWrites()).as("FUA write is durable at once").isEqualTo(1);
            write(dev, 8192, data(4096, 3), IoRequest.PREFLUSH);
            assertThat(dev.pendingWrites()).as("PREFLUSH drained the earlier write").isEqualTo(1);
            write(dev, 8192, data(4096, 4), IoRequest.FUA);
            assertThat(dev.pendingWrites()).as("a durable overwrite supersedes the pending write").isZero();
            dev.discard(0, 4096);
            assertThat(dev.pendingWrites()).as("a discard is a pending write of zeros").isEqualTo(1);
            dev.flush();
            assertThat(dev.pendingWrites()).isZero();
        }
        try (SimDevice dev = SimDevice.builder().volatileWriteCache(false).build()) {
            write(dev, 0, data(4096, 1), 0);
            assertThat(dev.pendingWrites()).isZero();
            assertThat(dev.crash().pendingWrites()).isZero();
        }
        try (SimDevice dev = SimDevice.builder().supportsFua(false).build()) {
            write(dev, 0, data(4096, 1), 0);
            write(dev, 4096, data(4096, 2), IoRequest.FUA);
            assertThat(dev.pendingWrites()).as("emulated FUA flushes everything").isZero();
        }
    }

    @Test
    void crashKeepsDurableDataAndMayLoseOrKeepTheRest() throws Exception {
        MemorySegment durable = data(4096, 1), old = data(4096, 2), discarded = MemorySegment.ofArray(new byte[4096]);
        int lostDiscard = 0, keptDiscard = 0;
        for (long seed = 0; seed < 64; seed++) {
            try (SimDevice dev = SimDevice.builder().capacity(1 << 20).build()) {
                write(dev, 0, durable, IoRequest.FUA);
                write(dev, 4096, old, 0);
                dev.flush();
                dev.discard(4096, 4096);
                write(dev, 8192, data(16384, seed), 0);
                CrashReport report = dev.crash(seed);
                assertThat(report.seed()).isEqualTo(seed);
                assertThat(report.pendingWrites()).isEqualTo(2);
                assertThat(read(dev, 0, 4096).mismatch(durable)).isEqualTo(-1);
                MemorySegment at4k = read(dev, 4096, 4096);
                if (at4k.mismatch(old) == -1) lostDiscard++;
                if (at4k.mismatch(discarded) == -1) keptDiscard++;
                for (int b = 0; b < 8; b++) { // an unflushed discard may also be torn, per logical block
                    MemorySegment block = at4k.asSlice(b * 512L, 512);
                    assertThat(block.mismatch(old.asSlice(b * 512L, 512)) == -1
                            || block.mismatch(discarded.asSlice(0, 512)) == -1)
                            .as("seed %d: block %d of the discarded range is old data or zeros", seed, b).isTrue();
                }
                write(dev, 8192, data(4096, 99), IoRequest.FUA); // usable after the crash
                assertThat(read(dev, 8192, 4096).mismatch(data(4096, 99))).isEqualTo(-1);
            }
        }
        assertThat(lostDiscard).as("crashes that undid the discard").isPositive();
        assertThat(keptDiscard).as("crashes that kept the discard").isPositive();
    }

    @Test
    void asyncCompletionsRunOnOneThreadInSubmissionOrder() throws Exception {
        try (SimDevice dev = SimDevice.builder().asyncCompletions(true).build()) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(100);
            for (int i = 0; i < 100; i++) {
                int n = i;
                dev.submit(IoRequest.write((long) i * 512, data(512, i), 0, (r, res) -> {
                    order.add(n);
                    threads.add(Thread.currentThread().getName());
                    done.countDown();
                }));
            }
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 100; i++) assertThat(order.get(i)).isEqualTo(i);
            assertThat(threads).allMatch(t -> t.startsWith("sim-completions-"));
        }
    }

    @Test
    void crashWaitsForRequestsInFlight() throws Exception {
        FaultPlan slow = FaultPlan.builder().slowAll(5).build();
        try (SimDevice dev = SimDevice.builder().asyncCompletions(true).faultPlan(slow).build()) {
            List<IoRequest> rs = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                IoRequest r = IoRequest.write((long) i * 4096, data(4096, i), IoRequest.FUA, null);
                dev.submit(r);
                rs.add(r);
            }
            dev.crash();
            assertThat(rs).allMatch(IoRequest::isDone);
            for (int i = 0; i < 10; i++) assertThat(read(dev, (long) i * 4096, 4096).mismatch(data(4096, i))).isEqualTo(-1);
        }
    }

    @Test
    void callbacksMayCloseButAsyncCallbacksMayNotCrash() throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        SimDevice async = SimDevice.builder().asyncCompletions(true).build();
        CountDownLatch callbackDone = new CountDownLatch(1);
        IoRequest r = IoRequest.flush((req, res) -> {
            try {
                async.crash();
            } catch (Throwable t) {
                thrown.set(t);
            }
            async.close(); // must not wait for itself
            callbackDone.countDown();
        });
        async.submit(r);
        assertThat(callbackDone.await(10, TimeUnit.SECONDS)).isTrue();
        async.close();
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("callback");
        assertThatThrownBy(async::crash).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");

        SimDevice inline = SimDevice.builder().build();
        inline.submit(IoRequest.write(0, data(512, 1), 0, (req, res) -> inline.close()));
        assertThatThrownBy(() -> inline.submit(IoRequest.flush(null))).hasMessageContaining("closed");
    }

    @Test
    void throwingCallbackDoesNotStopTheCompletionThread() throws Exception {
        try (SimDevice dev = SimDevice.builder().asyncCompletions(true).build()) {
            Thread.UncaughtExceptionHandler quiet = (t, e) -> { };
            IoRequest bad = IoRequest.flush((req, res) -> {
                Thread.currentThread().setUncaughtExceptionHandler(quiet);
                throw new IllegalStateException("callback bug");
            });
            dev.submit(bad);
            IoRequest next = IoRequest.write(0, data(512, 1), 0, null);
            dev.submit(next);
            assertThat(next.await()).isEqualTo(512);
        }
    }

    @Test
    void inaccessibleSegmentFailsWithEfaultAndChangesNothing() throws Exception {
        try (SimDevice dev = SimDevice.builder().build()) {
            MemorySegment gone;
            try (Arena a = Arena.ofConfined()) {
                gone = a.allocate(4096);
            }
            IoRequest r = IoRequest.write(0, gone, 0, null);
            dev.submit(r);
            assertThatThrownBy(r::await).isInstanceOf(DeviceException.class).hasMessageContaining("EFAULT");
            assertThat(read(dev, 0, 4096).mismatch(MemorySegment.ofArray(new byte[4096]))).isEqualTo(-1);
            assertThat(dev.pendingWrites()).isZero();
            assertThat(dev.stats().errors()).isEqualTo(1);
        }
    }
}
