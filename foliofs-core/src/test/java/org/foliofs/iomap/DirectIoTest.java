package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.DeviceException;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.device.IoRequest;
import org.foliofs.device.SimDevice;
import org.foliofs.device.SimDeviceBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Direct I/O through {@link TestMapping} on SimDevice: data, holes, allocation, DSYNC, errors, async. */
class DirectIoTest {
    static final byte GARBAGE = (byte) 0xEE;
    /** Requests {@link #fillGarbage} makes on an 8 MiB device (FaultPlan numbers count them). */
    static final int FILL_REQUESTS = 9;

    static SimDevice device(SimDeviceBuilder b) throws DeviceException {
        SimDevice d = b.build();
        fillGarbage(d);
        return d;
    }

    /** Durable garbage everywhere, so any stale block a read exposes shows up. */
    static void fillGarbage(SimDevice d) throws DeviceException {
        MemorySegment g = MemorySegment.ofArray(new byte[1 << 20]);
        g.fill(GARBAGE);
        for (long off = 0; off < d.capacity(); off += g.byteSize()) {
            IoRequest w = IoRequest.write(off, g.asSlice(0, Math.min(g.byteSize(), d.capacity() - off)), 0, null);
            d.submit(w);
            w.await();
        }
        d.flush();
        d.stats().reset();
    }

    static MemorySegment pattern(int len, int seed) {
        byte[] a = new byte[len];
        for (int i = 0; i < len; i++) a[i] = (byte) (seed * 31 + i * 7 + (i >>> 9));
        return MemorySegment.ofArray(a);
    }

    static byte[] read(DirectIo dio, TestMapping f, long pos, int len) throws IOException {
        byte[] a = new byte[len];
        long n = dio.read(f, f, pos, MemorySegment.ofArray(a));
        return n == len ? a : java.util.Arrays.copyOf(a, (int) n);
    }

    static SimDeviceBuilder sim(int lbs) {
        return SimDevice.builder().capacity(8L << 20).logicalBlockSize(lbs).physicalBlockSize(Math.max(lbs, 4096));
    }

    @ParameterizedTest
    @CsvSource({"512,512,1", "512,4096,7", "4096,4096,1", "4096,16384,33", "512,1024,64"})
    void roundTripAcrossBlockSizes(int lbs, int bs, int blocks) throws IOException {
        SimDevice d = device(sim(lbs));
        TestMapping f = new TestMapping(d, bs, 512);
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withMaxRequestBytes(64 << 10));
        int len = blocks * lbs;
        for (long pos : new long[] {0, lbs, 3L * lbs, 5L * bs}) {
            MemorySegment data = pattern(len, (int) pos);
            assertThat(dio.write(f, f, f, pos, data, 0)).isEqualTo(len);
            assertThat(read(dio, f, pos, len)).isEqualTo(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
        assertThat(f.ioEndErrors).isZero();
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 4096})
    void holesAndUnwrittenReadAsZerosWithoutDeviceIo(int lbs) throws IOException {
        SimDevice d = device(sim(lbs));
        TestMapping f = new TestMapping(d, 4096, 64);
        f.setSize(64 * 4096);
        f.preallocate(8192, 8192);
        DirectIo dio = new DirectIo(d);
        DeviceStats.Snapshot before = d.stats().snapshot();
        assertThat(read(dio, f, 0, 32768)).containsOnly((byte) 0);
        assertThat(d.stats().snapshot().minus(before).reads()).isZero();
    }

    @Test
    void readStopsAtTheFileSize() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        dio.write(f, f, f, 0, pattern(8192, 1), 0);
        f.setSize(5000);
        assertThat(dio.read(f, f, 0, MemorySegment.ofArray(new byte[16384]))).isEqualTo(5000);
        assertThat(dio.read(f, f, 8192, MemorySegment.ofArray(new byte[512]))).isZero();
        assertThat(dio.read(f, f, 0, MemorySegment.ofArray(new byte[0]))).isZero();
    }

    @Test
    void writeIntoHoleAllocatesUnwrittenAndConvertsOnceAtTheEnd() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        MemorySegment data = pattern(16384, 3);
        assertThat(dio.write(f, f, f, 4096, data, 0)).isEqualTo(16384);
        assertThat(f.ioEnds).isEqualTo(1);
        assertThat(f.size()).isEqualTo(4096 + 16384);
        assertThat(read(dio, f, 4096, 16384)).isEqualTo(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        assertThat(read(dio, f, 0, 4096)).containsOnly((byte) 0);
        assertThat(IoMapReport.fiemap(f, f, 0, Long.MAX_VALUE)).singleElement()
                .satisfies(m -> assertThat(m.type()).isEqualTo(IoMap.Type.MAPPED));
    }

    @Test
    void subBlockWriteIntoHoleZeroPadsTheBlock() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        f.setSize(4096);
        DirectIo dio = new DirectIo(d);
        DeviceStats.Snapshot before = d.stats().snapshot();
        dio.write(f, f, f, 1024, pattern(512, 9), 0);
        assertThat(d.stats().snapshot().minus(before).writes()).isEqualTo(3); // head pad, data, tail pad
        byte[] block = read(dio, f, 0, 4096);
        for (int i = 0; i < 4096; i++) {
            if (i < 1024 || i >= 1536) assertThat(block[i]).as("byte %d", i).isZero();
        }
    }

    @Test
    void failedWriteDoesNotConvertAndStopsIssuing() throws IOException {
        SimDevice d = device(sim(512).faultPlan(FaultPlan.builder().failRequest(FILL_REQUESTS + 2, Errno.EIO).build()));
        TestMapping f = new TestMapping(d, 4096, 64);
        f.setSize(65536);
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withMaxRequestBytes(4096).withMaxInFlight(1));
        assertThatThrownBy(() -> dio.write(f, f, f, 0, pattern(32768, 4), 0))
                .isInstanceOf(DeviceException.class).hasMessageContaining("EIO")
                .satisfies(e -> assertThat(((DeviceException) e).offset()).isEqualTo(4096));
        assertThat(d.stats().requests(org.foliofs.device.IoOp.WRITE)).isEqualTo(2); // request 1 ok, 2 failed inline, nothing after
        assertThat(f.ioEndErrors).isEqualTo(1);
        assertThat(read(dio, f, 0, 32768)).containsOnly((byte) 0); // never the garbage, never half-converted
    }

    @Test
    void failedAsyncWriteCompletesExceptionally() throws Exception {
        SimDevice d = (sim(4096).asyncCompletions(true)
                .faultPlan(FaultPlan.builder().failRange(0, 8L << 20, org.foliofs.device.IoOp.WRITE, Errno.ENOSPC).build())).build();
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        CompletableFuture<Long> fut = dio.writeAsync(f, f, f, 0, pattern(8192, 1), 0);
        assertThatThrownBy(() -> fut.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(DeviceException.class).hasMessageContaining("ENOSPC");
        assertThat(f.size()).isZero();
        d.close();
    }

    @Test
    void crashAfterUnsyncedAllocatingWriteShowsZerosButDsyncSurvives() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        MemorySegment a = pattern(8192, 5), b = pattern(8192, 6);
        dio.write(f, f, f, 8192, b, DirectIo.DSYNC); // durable when it returns
        dio.write(f, f, f, 0, a, 0);                 // not durable: neither data nor conversion
        f.crash(d);
        assertThat(f.size()).isEqualTo(16384);
        assertThat(read(dio, f, 0, 8192)).containsOnly((byte) 0);
        assertThat(read(dio, f, 8192, 8192)).isEqualTo(b.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        MemorySegment c = pattern(8192, 7);
        dio.write(f, f, f, 8192, c, DirectIo.DSYNC); // pure overwrite: FUA
        f.crash(d);
        assertThat(read(dio, f, 8192, 8192)).isEqualTo(c.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    /** fua: supportsFua; vwc: volatile write cache; then expected FUA writes / flushes for overwrite and allocating DSYNC writes. */
    @ParameterizedTest
    @CsvSource({"true,true,2,0,0,1", "false,true,0,1,0,1", "false,false,2,0,0,0", "true,false,2,0,0,0"})
    void dsyncUsesFuaForPureOverwritesAndFlushOtherwise(boolean fua, boolean vwc, long owFua, long owFlush,
                                                         long allocFua, long allocFlush) throws IOException {
        SimDevice d = device(sim(512).supportsFua(fua).volatileWriteCache(vwc));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withMaxRequestBytes(4096));
        dio.write(f, f, f, 0, pattern(8192, 1), 0);
        DeviceStats.Snapshot s0 = d.stats().snapshot();
        dio.write(f, f, f, 0, pattern(8192, 2), DirectIo.DSYNC);
        DeviceStats.Snapshot ow = d.stats().snapshot().minus(s0);
        assertThat(ow.writes()).isEqualTo(2);
        assertThat(ow.fuaWrites()).isEqualTo(owFua);
        assertThat(ow.flushes()).isEqualTo(owFlush);
        assertThat(f.syncs).isEqualTo((int) owFlush); // a sync exactly when FUA could not be used
        DeviceStats.Snapshot s1 = d.stats().snapshot();
        int syncsBefore = f.syncs;
        dio.write(f, f, f, 8192, pattern(8192, 3), DirectIo.DSYNC);
        DeviceStats.Snapshot al = d.stats().snapshot().minus(s1);
        assertThat(al.fuaWrites()).isEqualTo(allocFua);
        assertThat(al.flushes()).isEqualTo(allocFlush);
        assertThat(f.syncs).isEqualTo(syncsBefore + 1); // metadata sync for the allocating write, whatever the device
    }

    @Test
    void dsyncOverwriteOfSharedOrDirtyMappingIsNotFua() throws IOException {
        for (int flag : new int[] {IoMap.SHARED, IoMap.DIRTY}) {
            SimDevice d = device(sim(512));
            TestMapping f = new TestMapping(d, 4096, 64);
            DirectIo dio = new DirectIo(d);
            dio.write(f, f, f, 0, pattern(4096, 1), 0);
            f.mappedFlags = flag;
            DeviceStats.Snapshot s0 = d.stats().snapshot();
            dio.write(f, f, f, 0, pattern(4096, 2), DirectIo.DSYNC);
            DeviceStats.Snapshot s = d.stats().snapshot().minus(s0);
            assertThat(s.fuaWrites()).as(IoMap.flagString(flag)).isZero();
            assertThat(s.flushes()).as(IoMap.flagString(flag)).isEqualTo(1);
        }
    }

    /**
     * Linux's inline completion: an async pure overwrite inside the size (no DSYNC, nothing
     * cached) finishes on the device's completion thread, without an executor hop; an async
     * device is needed, since an inline device completes on the submitter, which must never finish.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void pureOverwriteFinishesOnTheCompletionThread(boolean asyncDevice) throws Exception {
        SimDevice d = device(sim(512).asyncCompletions(asyncDevice));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo plain = new DirectIo(d);
        plain.write(f, f, f, 0, pattern(65536, 3), 0); // allocate + convert: now MAPPED
        java.util.concurrent.atomic.AtomicInteger hops = new java.util.concurrent.atomic.AtomicInteger();
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withExecutor(task -> {
            hops.incrementAndGet();
            java.util.concurrent.ForkJoinPool.commonPool().execute(task);
        }));
        Thread me = Thread.currentThread();
        CompletableFuture<Long> w = dio.writeAsync(f, f, f, 4096, pattern(8192, 4), 0);
        assertThat(w.get(10, TimeUnit.SECONDS)).isEqualTo(8192);
        // ioEnd runs where the call finishes: inline on the device's completion thread when that
        // thread dropped the last reference, else (inline device, or the submitter was last) the executor.
        assertThat(f.lastIoEndThread).isNotSameAs(me);
        if (hops.get() == 0) {
            assertThat(asyncDevice).isTrue();
            assertThat(f.lastIoEndThread.getName()).startsWith("sim-completions");
        } else {
            assertThat(hops).hasValue(1);
            assertThat(f.lastIoEndThread.getName()).doesNotStartWith("sim-completions");
        }
        MemorySegment back = java.lang.foreign.Arena.ofAuto().allocate(8192, 4096);
        assertThat(dio.readAsync(f, f, 4096, back).get(10, TimeUnit.SECONDS)).isEqualTo(8192);
        assertThat(back.mismatch(pattern(8192, 4))).isEqualTo(-1);
        hops.set(0);
        dio.writeAsync(f, f, f, 0, pattern(4096, 5), DirectIo.DSYNC).get(10, TimeUnit.SECONDS);
        // DSYNC on a device without native FUA needs the sync: back to the executor.
        if (!d.supportsFua()) assertThat(hops).hasValue(1);
    }

    /**
     * A call issued from a device completion thread (as a closed loop resubmitting from its
     * completions does) and completed later on that same thread still finishes inline: the
     * submitter's reference, not the thread's identity, tells whether the call is still being issued.
     */
    @Test
    void callIssuedOnTheCompletionThreadFinishesInlineThere() throws Exception {
        SimDevice d = device(sim(512).asyncCompletions(true));
        TestMapping f = new TestMapping(d, 4096, 64);
        new DirectIo(d).write(f, f, f, 0, pattern(65536, 3), 0);      // allocate + convert: now MAPPED
        java.util.concurrent.atomic.AtomicInteger hops = new java.util.concurrent.atomic.AtomicInteger();
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withExecutor(task -> {
            hops.incrementAndGet();
            java.util.concurrent.ForkJoinPool.commonPool().execute(task);
        }));
        CompletableFuture<CompletableFuture<Long>> issued = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicReference<Thread> issuer = new java.util.concurrent.atomic.AtomicReference<>();
        MemorySegment scratch = java.lang.foreign.Arena.ofAuto().allocate(512, 4096);
        d.submit(org.foliofs.device.IoRequest.read(0, scratch, (r, res) -> {   // runs on the device's completion thread
            issuer.set(Thread.currentThread());
            issued.complete(dio.writeAsync(f, f, f, 8192, pattern(8192, 4), 0));
        }));
        assertThat(issued.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS)).isEqualTo(8192);
        assertThat(f.lastIoEndThread).isSameAs(issuer.get());
        assertThat(hops).as("executor hops").hasValue(0);
        d.close();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void asyncCompletionNeverRunsOnTheSubmitter(boolean asyncDevice) throws Exception {
        SimDevice d = device(sim(512).asyncCompletions(asyncDevice));
        TestMapping f = new TestMapping(d, 4096, 64);
        Thread me = Thread.currentThread();
        java.util.concurrent.atomic.AtomicInteger hops = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.Executor pool = java.util.concurrent.ForkJoinPool.commonPool();
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withExecutor(task -> {
            hops.incrementAndGet();
            pool.execute(task);
        }));
        CompletableFuture<Long> w = dio.writeAsync(f, f, f, 0, pattern(65536, 8), DirectIo.DSYNC);
        assertThat(w.get(10, TimeUnit.SECONDS)).isEqualTo(65536);
        // Completed by the executor, not by the submitter or the device thread: one hop for the
        // end-of-I/O work, one after DSYNC's flush (submitted asynchronously: no thread waits in it).
        assertThat(hops).hasValue(2);
        assertThat(f.lastIoEndThread).isNotSameAs(me);
        assertThat(f.lastIoEndThread.getName()).doesNotStartWith("sim-completions");
        assertThat(f.syncs).isEqualTo(1);
        byte[] back = new byte[65536];
        assertThat(dio.readAsync(f, f, 0, MemorySegment.ofArray(back)).get(10, TimeUnit.SECONDS)).isEqualTo(65536);
        // A read finishes inline on the device's completion thread, unless the submitter dropped
        // the last reference itself (all requests done before it returned): then on the executor.
        assertThat(hops.get()).isBetween(2, 3);
        if (!asyncDevice) assertThat(hops).hasValue(3); // an inline device completes on the submitter: never inline
        assertThat(back).isEqualTo(pattern(65536, 8).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        d.close();
    }

    @Test
    void alignmentAndFlagErrorsNameTheValues() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        assertThatThrownBy(() -> dio.write(f, f, f, 4096, MemorySegment.ofArray(new byte[1000]), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("direct write of 1000 bytes at 4096 is not aligned to the logical block size 512");
        assertThatThrownBy(() -> dio.read(f, f, 100, MemorySegment.ofArray(new byte[512])))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("direct read of 512 bytes at 100 is not aligned to the logical block size 512");
        assertThatThrownBy(() -> dio.read(f, f, 0, MemorySegment.ofArray(new byte[1024]).asSlice(8, 512)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("direct read buffer address 0x8 is not aligned to 512 bytes");
        assertThatThrownBy(() -> dio.write(f, f, f, 0, MemorySegment.ofArray(new byte[512]), 0x40))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("direct write flags (0x40) has unknown bits; allowed are DSYNC, NOWAIT, ATOMIC");
        assertThatThrownBy(() -> dio.readAsync(f, f, -512, MemorySegment.ofArray(new byte[512])))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("direct read position (-512) must not be negative");
        assertThat(d.stats().totalRequests()).isZero();
    }

    @Test
    void staleMappingIsRemappedBeforeSubmission() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        dio.write(f, f, f, 0, pattern(16384, 1), 0);
        f.relocateNext = 1; // between begin and submission the file system moves the extents
        MemorySegment data = pattern(16384, 2);
        int begins = f.begins;
        dio.write(f, f, f, 0, data, 0);
        assertThat(f.remaps).isEqualTo(1);
        assertThat(f.staleEnds).isEqualTo(1);
        assertThat(f.begins - begins).isEqualTo(2);
        assertThat(read(dio, f, 0, 16384)).isEqualTo(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Test
    void largeWritesAreSplitAtTheMaximumRequestSizeWithFewSlots() throws IOException {
        SimDevice d = device(sim(512).asyncCompletions(true));
        TestMapping f = new TestMapping(d, 4096, 256);
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withMaxRequestBytes(8192).withMaxInFlight(2));
        DeviceStats.Snapshot s0 = d.stats().snapshot();
        MemorySegment data = pattern(1 << 20, 4);
        dio.write(f, f, f, 0, data, 0);
        assertThat(d.stats().snapshot().minus(s0).writes()).isEqualTo(128);
        assertThat(read(dio, f, 0, 1 << 20)).isEqualTo(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        d.close();
    }

    @Test
    void shortCompletionShortensTheResultAndTheConversion() throws IOException {
        SimDevice d = device(sim(512).faultPlan(FaultPlan.builder().shortCompletion(FILL_REQUESTS + 1, 3000).build()));
        TestMapping f = new TestMapping(d, 512, 64);
        DirectIo dio = new DirectIo(d, DirectIo.Options.defaults().withMaxRequestBytes(4096));
        assertThat(dio.write(f, f, f, 0, pattern(8192, 1), 0)).isEqualTo(2560);
        assertThat(f.size()).isEqualTo(2560);
    }

    @Test
    void delallocAndHoleMappingsAreRejected() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        f.setSize(8192);
        DirectIo dio = new DirectIo(d);
        IoMapOps delalloc = (inode, pos, len, flags) -> new IoMap(0, 8192, IoMap.Type.DELALLOC, 0, IoMap.NO_ADDRESS, 0);
        assertThatThrownBy(() -> dio.read(f, delalloc, 0, MemorySegment.ofArray(new byte[4096])))
                .isInstanceOf(IOException.class).hasMessageContaining("DELALLOC");
        IoMapOps hole = (inode, pos, len, flags) -> IoMap.hole(0, 8192, 0);
        assertThatThrownBy(() -> dio.write(f, hole, IoEndHandler.NONE, 0, MemorySegment.ofArray(new byte[4096]), 0))
                .isInstanceOf(IOException.class).hasMessageContaining("must allocate");
    }

    @Test
    void cacheHooksRunAroundDirectIo() throws IOException {
        SimDevice d = device(sim(512));
        TestMapping f = new TestMapping(d, 4096, 64);
        List<String> calls = new ArrayList<>();
        f.cache = new CacheRangeSync() {
            @Override public void writeAndWait(long pos, long len) { calls.add("writeAndWait " + pos + "+" + len); }
            @Override public void invalidate(long pos, long len) { calls.add("invalidate " + pos + "+" + len); }
        };
        DirectIo dio = new DirectIo(d);
        dio.write(f, f, f, 4096, pattern(4096, 1), 0);
        dio.read(f, f, 4096, MemorySegment.ofArray(new byte[4096]));
        assertThat(calls).containsExactly("writeAndWait 4096+4096", "invalidate 4096+4096", "invalidate 4096+4096",
                "writeAndWait 4096+4096");
    }
}
