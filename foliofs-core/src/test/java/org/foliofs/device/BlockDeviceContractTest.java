package org.foliofs.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link BlockDevice} contract, for every device kind: subclass it and implement
 * {@link #createDevice}. Buffers come from {@link #buffer}: native, 4096-aligned (enough for
 * O_DIRECT), from a shared arena because completions may run on another thread.
 */
public abstract class BlockDeviceContractTest {
    protected static final long CAPACITY = 8L << 20;
    protected BlockDevice dev;
    private Arena arena;
    private final List<BlockDevice> extraDevices = new ArrayList<>();

    /** A fresh, zero-filled device of the given capacity (a multiple of 64 KiB). */
    protected abstract BlockDevice createDevice(long capacity) throws Exception;

    /**
     * A device whose every READ and WRITE fails with EIO, or null when this kind of device cannot
     * inject faults (the test needing it is then skipped).
     */
    protected BlockDevice createFailingDevice(long capacity) throws Exception { return null; }

    /**
     * Whether a WRITE from unmapped memory fails in the kernel with EFAULT (a real file device);
     * false for devices that would read that memory themselves.
     */
    protected boolean kernelFaultsOnUnmappedMemory() { return false; }

    @BeforeEach
    void openDevice() throws Exception {
        arena = Arena.ofShared();
        dev = createDevice(CAPACITY);
    }

    @AfterEach
    void closeDevice() {
        try {
            if (dev != null) dev.close();
            for (BlockDevice d : extraDevices) d.close();
        } finally {
            arena.close();
        }
    }

    /** Native memory aligned to 4096 bytes (or the device's memory alignment, if larger), zero-filled. */
    protected MemorySegment buffer(int size) {
        return arena.allocate(size, Math.max(4096, dev.memoryAlignment()));
    }

    protected MemorySegment randomBuffer(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        MemorySegment b = buffer(size);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, b, 0, size);
        return b;
    }

    protected long write(long offset, MemorySegment data, int flags) throws DeviceException {
        IoRequest r = IoRequest.write(offset, data, flags, null);
        dev.submit(r);
        assertThat(r.await()).as("bytes written at %d", offset).isEqualTo(data.byteSize());
        return r.result();
    }

    protected MemorySegment read(long offset, int size) throws DeviceException {
        MemorySegment b = buffer(size);
        IoRequest r = IoRequest.read(offset, b, null);
        dev.submit(r);
        assertThat(r.await()).as("bytes read at %d", offset).isEqualTo(size);
        return b;
    }

    protected static void assertSameBytes(MemorySegment actual, MemorySegment expected, String what) {
        assertThat(actual.byteSize()).as(what + ": size").isEqualTo(expected.byteSize());
        assertThat(actual.mismatch(expected)).as(what + ": first differing byte").isEqualTo(-1L);
    }

    private int lbs() { return dev.logicalBlockSize(); }
    // ---- geometry --------------------------------------------------------------------------

    @Test
    void geometryIsSane() {
        int lbs = dev.logicalBlockSize(), pbs = dev.physicalBlockSize();
        assertThat(Integer.bitCount(lbs)).as("lbs %d is a power of two", lbs).isEqualTo(1);
        assertThat(lbs).isGreaterThanOrEqualTo(512);
        assertThat(Integer.bitCount(pbs)).as("pbs %d is a power of two", pbs).isEqualTo(1);
        assertThat(pbs).isGreaterThanOrEqualTo(lbs);
        assertThat(dev.capacity()).isEqualTo(CAPACITY);
        assertThat(dev.capacity() % lbs).isZero();
        assertThat(Integer.bitCount(dev.memoryAlignment())).as("memory alignment is a power of two").isEqualTo(1);
        int min = dev.atomicWriteUnitMin(), max = dev.atomicWriteUnitMax();
        assertThat(min == 0).as("atomic units %d..%d are both 0 or both positive", min, max).isEqualTo(max == 0);
        if (max > 0) {
            assertThat(min).isLessThanOrEqualTo(max);
            assertThat(Integer.bitCount(min)).isEqualTo(1);
            assertThat(Integer.bitCount(max)).isEqualTo(1);
            assertThat(min).isGreaterThanOrEqualTo(lbs);
        }
        assertThat(dev.describe()).isNotBlank();
    }

    // ---- data paths ------------------------------------------------------------------------

    @Test
    void writeThenReadRoundtrip() throws Exception {
        int pbs = dev.physicalBlockSize();
        long[] offsets = {0, lbs(), 3L * pbs, CAPACITY - 65536};
        int[] sizes = {lbs(), pbs, 65536};
        long seed = 1;
        for (long off : offsets) {
            for (int size : sizes) {
                if (off + size > CAPACITY) continue;
                MemorySegment data = randomBuffer(size, seed++);
                write(off, data, 0);
                assertSameBytes(read(off, size), data, "read back " + size + " bytes at " + off);
            }
        }
        assertThat(dev.stats().requests(IoOp.WRITE)).isGreaterThanOrEqualTo(offsets.length);
    }

    @Test
    void scatterGatherWriteReadsBackWithOtherSegmentation() throws Exception {
        int u = lbs();
        long off = 2L * dev.physicalBlockSize();
        MemorySegment a = randomBuffer(2 * u, 11), b = randomBuffer(u, 12), c = randomBuffer(3 * u, 13);
        IoRequest w = new IoRequest().prepare(IoOp.WRITE, off, 0, null).add(a).add(b).add(c);
        dev.submit(w);
        assertThat(w.await()).isEqualTo(6L * u);

        MemorySegment expected = buffer(6 * u);
        expected.asSlice(0, 2 * u).copyFrom(a);
        expected.asSlice(2L * u, u).copyFrom(b);
        expected.asSlice(3L * u, 3 * u).copyFrom(c);

        MemorySegment x = buffer(4 * u), y = buffer(2 * u);
        IoRequest r = new IoRequest().prepare(IoOp.READ, off, 0, null).add(x).add(y);
        dev.submit(r);
        assertThat(r.await()).isEqualTo(6L * u);
        assertSameBytes(x, expected.asSlice(0, 4 * u), "first read segment");
        assertSameBytes(y, expected.asSlice(4L * u, 2 * u), "second read segment");
        assertSameBytes(read(off, 6 * u), expected, "single-segment read");
    }

    @Test
    void fuaWriteIsCountedAndReadable() throws Exception {
        int pbs = dev.physicalBlockSize();
        MemorySegment data = randomBuffer(pbs, 21);
        write(4L * pbs, data, IoRequest.FUA);
        assertThat(dev.stats().fuaWrites()).isEqualTo(1);
        assertSameBytes(read(4L * pbs, pbs), data, "FUA write");
    }

    @Test
    void flushCompletesAndKeepsData() throws Exception {
        MemorySegment data = randomBuffer(16384, 31);
        write(65536, data, 0);
        long flushes = dev.stats().requests(IoOp.FLUSH);
        dev.flush();
        IoRequest f = IoRequest.flush(null);
        dev.submit(f);
        assertThat(f.await()).isGreaterThanOrEqualTo(0);
        assertThat(dev.stats().requests(IoOp.FLUSH)).isEqualTo(flushes + 2);
        assertSameBytes(read(65536, 16384), data, "data after flush");
        write(65536, randomBuffer(4096, 32), IoRequest.PREFLUSH | IoRequest.FUA);
        assertThat(dev.stats().preflushWrites()).isEqualTo(1);
    }

    @Test
    void postflushWriteCompletesWithItsByteCountAfterTheFlush() throws Exception {
        int u = Math.max(4096, dev.physicalBlockSize());
        MemorySegment earlier = randomBuffer(u, 33);
        write(0, earlier, 0);
        long flushes = dev.stats().requests(IoOp.FLUSH);
        MemorySegment data = randomBuffer(2 * u, 34);
        IoRequest w = IoRequest.write(u, data, IoRequest.POSTFLUSH, null);
        dev.submit(w);
        assertThat(w.await()).as("a POSTFLUSH write completes with the write's byte count").isEqualTo(2L * u);
        assertThat(w.toString()).contains("POSTFLUSH");
        // Both flags (PREFLUSH + write + POSTFLUSH), with FUA, over a scatter/gather vector.
        MemorySegment a = randomBuffer(u, 35), b = randomBuffer(u, 36);
        IoRequest both = new IoRequest().prepare(IoOp.WRITE, 4L * u, IoRequest.PREFLUSH | IoRequest.POSTFLUSH | IoRequest.FUA, null)
                .add(a).add(b);
        dev.submit(both);
        assertThat(both.await()).isEqualTo(2L * u);
        assertThat(dev.stats().postflushWrites()).isEqualTo(2);
        assertThat(dev.stats().preflushWrites()).isEqualTo(1);
        assertThat(dev.stats().requests(IoOp.FLUSH)).as("a post-flush is not a FLUSH request").isEqualTo(flushes);
        assertSameBytes(read(0, u), earlier, "the write before the POSTFLUSH write");
        assertSameBytes(read(u, 2 * u), data, "POSTFLUSH write");
        assertSameBytes(read(4L * u, u), a, "PREFLUSH|POSTFLUSH write, first segment");
        assertSameBytes(read(5L * u, u), b, "PREFLUSH|POSTFLUSH write, second segment");
    }

    @Test
    void concurrentPostflushWritesCompleteThroughCallbacks() throws Exception {
        int n = 48, size = Math.max(4096, dev.physicalBlockSize());
        CountDownLatch done = new CountDownLatch(n);
        AtomicLongArray results = new AtomicLongArray(n);
        MemorySegment[] data = new MemorySegment[n];
        List<Thread> submitters = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int first = t;
            for (int i = first; i < n; i += 3) data[i] = randomBuffer(size, 500 + i);
            submitters.add(Thread.ofPlatform().name("postflush-submitter-" + t).start(() -> {
                for (int i = first; i < n; i += 3) {
                    int index = i;
                    int flags = IoRequest.POSTFLUSH | (i % 3 == 0 ? IoRequest.PREFLUSH : 0) | (i % 2 == 0 ? IoRequest.FUA : 0);
                    dev.submit(IoRequest.write((long) i * size, data[i], flags, (req, res) -> {
                        results.set(index, res);
                        done.countDown();
                    }));
                }
            }));
        }
        for (Thread th : submitters) th.join();
        assertThat(done.await(30, TimeUnit.SECONDS)).as("all %d callbacks ran", n).isTrue();
        for (int i = 0; i < n; i++) {
            assertThat(results.get(i)).as("result of POSTFLUSH write %d", i).isEqualTo(size);
            assertSameBytes(read((long) i * size, size), data[i], "POSTFLUSH write " + i);
        }
        assertThat(dev.stats().postflushWrites()).isEqualTo(n);
    }

    @Test
    void failingPostflushWriteCompletesWithTheWriteError() throws Exception {
        BlockDevice failing = createFailingDevice(CAPACITY);
        if (failing != null) {
            extraDevices.add(failing);
            IoRequest w = IoRequest.write(8192, randomBuffer(4096, 37), IoRequest.POSTFLUSH, null);
            failing.submit(w);
            assertThatThrownBy(w::await).isInstanceOf(DeviceException.class).message()
                    .contains("8192", "EIO").doesNotContain("POSTFLUSH");
            assertThat(w.result()).isEqualTo(-Errno.EIO);
        }
        assumeTrue(failing != null || kernelFaultsOnUnmappedMemory(), "this device kind cannot fail a write");
        if (!kernelFaultsOnUnmappedMemory()) return;
        // A write from unmapped memory (page 1: below mmap_min_addr, never mapped) fails with
        // EFAULT in the kernel; the linked post-flush is cancelled and the write's error is reported.
        for (int flags : new int[] {IoRequest.POSTFLUSH, IoRequest.PREFLUSH | IoRequest.POSTFLUSH}) {
            IoRequest w = IoRequest.write(8192, MemorySegment.ofAddress(4096).reinterpret(4096), flags, null);
            dev.submit(w);
            assertThatThrownBy(w::await).isInstanceOf(DeviceException.class).message()
                    .contains("8192", "EFAULT").doesNotContain("FSYNC").doesNotContain("fdatasync");
            assertThat(w.result()).as("flags %s", IoRequest.flagString(flags)).isEqualTo(-Errno.EFAULT);
        }
        MemorySegment ok = randomBuffer(4096, 38);
        write(8192, ok, IoRequest.POSTFLUSH); // the device (and its ring) works on after the failures
        assertSameBytes(read(8192, 4096), ok, "POSTFLUSH write after failed ones");
    }

    @Test
    void discardedRangeReadsZeros() throws Exception {
        int unit = Math.max(4096, dev.physicalBlockSize());
        long off = 16L * unit;
        MemorySegment data = randomBuffer(4 * unit, 41);
        write(off, data, 0);
        dev.discard(off + unit, 2L * unit);
        MemorySegment back = read(off, 4 * unit);
        assertSameBytes(back.asSlice(0, unit), data.asSlice(0, unit), "before the discarded range");
        assertSameBytes(back.asSlice(unit, 2L * unit), buffer(2 * unit), "discarded range");
        assertSameBytes(back.asSlice(3L * unit, unit), data.asSlice(3L * unit, unit), "after the discarded range");
        assertThat(dev.stats().requests(IoOp.DISCARD)).isEqualTo(1);
    }

    @Test
    void concurrentSubmissionsCompleteThroughCallbacks() throws Exception {
        int n = 64, threads = 4, size = Math.max(8192, dev.physicalBlockSize());
        CountDownLatch done = new CountDownLatch(n);
        AtomicLongArray results = new AtomicLongArray(n);
        AtomicInteger badState = new AtomicInteger();
        MemorySegment[] data = new MemorySegment[n];
        IoRequest[] requests = new IoRequest[n];
        for (int i = 0; i < n; i++) {
            data[i] = randomBuffer(size, 100 + i);
            int index = i;
            requests[i] = IoRequest.write((long) i * size, data[i], 0, (req, res) -> {
                if (!req.isDone() || req.result() != res) badState.incrementAndGet();
                results.set(index, res);
                done.countDown();
            });
        }
        List<Thread> submitters = new ArrayList<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            int first = t;
            submitters.add(Thread.ofPlatform().name("submitter-" + t).uncaughtExceptionHandler((x, e) -> failures.add(e))
                    .start(() -> { for (int i = first; i < n; i += threads) dev.submit(requests[i]); }));
        }
        for (Thread th : submitters) th.join();
        assertThat(failures).as("exceptions in submitting threads").isEmpty();
        assertThat(done.await(30, TimeUnit.SECONDS)).as("all 64 callbacks ran").isTrue();
        assertThat(badState.get()).as("callbacks that saw a request not done or another result").isZero();
        for (int i = 0; i < n; i++) {
            assertThat(results.get(i)).as("result of write %d", i).isEqualTo(size);
            assertSameBytes(read((long) i * size, size), data[i], "write " + i);
        }
        assertThat(dev.stats().requests(IoOp.WRITE)).isEqualTo(n);
    }

    @Test
    void oneRequestReusedThroughPrepare() throws Exception {
        IoRequest r = new IoRequest();
        int size = dev.physicalBlockSize();
        MemorySegment[] data = new MemorySegment[10];
        for (int i = 0; i < data.length; i++) {
            data[i] = randomBuffer(size, 200 + i);
            dev.submit(r.prepare(IoOp.WRITE, (long) i * size, 0, null).add(data[i]));
            assertThat(r.await()).isEqualTo(size);
        }
        MemorySegment into = buffer(size);
        for (int i = 0; i < data.length; i++) {
            dev.submit(r.prepare(IoOp.READ, (long) i * size, 0, null).add(into));
            assertThat(r.await()).isEqualTo(size);
            assertSameBytes(into, data[i], "block " + i + " through the reused request");
        }
    }

    @Test
    void closeWaitsForRequestsInFlight() {
        int n = 16;
        AtomicInteger completed = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            dev.submit(IoRequest.write((long) i * 4096, randomBuffer(4096, 300 + i), 0,
                    (req, res) -> completed.incrementAndGet()));
        }
        dev.close();
        assertThat(completed.get()).as("callbacks run before close() returned").isEqualTo(n);
        dev.close(); // idempotent
    }

    // ---- bad input: thrown from submit, nothing written ----------------------------------

    /** Writes known data over [0, 64 KiB) and returns it, to check a bad submit changed nothing. */
    private MemorySegment knownData() throws DeviceException {
        MemorySegment old = randomBuffer(65536, 400);
        write(0, old, 0);
        return old;
    }

    private void assertUnchanged(MemorySegment old, long requestsBefore) throws DeviceException {
        assertThat(dev.stats().totalRequests()).as("rejected requests are not counted").isEqualTo(requestsBefore);
        assertSameBytes(read(0, (int) old.byteSize()), old, "data after the rejected request");
    }

    private void assertRejected(IoRequest r, Class<? extends Throwable> type, String... inMessage) throws DeviceException {
        MemorySegment old = knownData();
        long before = dev.stats().totalRequests();
        assertThatThrownBy(() -> dev.submit(r)).isInstanceOf(type).message().contains(inMessage);
        assertThat(r.isInFlight()).as("a rejected request is not in flight").isFalse();
        assertUnchanged(old, before);
    }

    @Test
    void unalignedOffsetIsRejected() throws Exception {
        assertRejected(IoRequest.write(100, randomBuffer(lbs(), 1), 0, null), IllegalArgumentException.class, "100");
        assertRejected(IoRequest.read(100, buffer(lbs()), null), IllegalArgumentException.class, "100");
        assertRejected(IoRequest.discard(100, lbs(), null), IllegalArgumentException.class, "100");
    }

    @Test
    void unalignedLengthIsRejected() throws Exception {
        int len = lbs() + 100;
        assertRejected(IoRequest.write(0, randomBuffer(len, 2), 0, null), IllegalArgumentException.class,
                String.valueOf(len));
        assertRejected(IoRequest.discard(0, len, null), IllegalArgumentException.class, String.valueOf(len));
    }

    @Test
    void outOfRangeIsRejected() throws Exception {
        long cap = dev.capacity();
        assertRejected(IoRequest.write(cap, randomBuffer(lbs(), 3), 0, null), IllegalArgumentException.class,
                String.valueOf(cap));
        assertRejected(IoRequest.write(cap - lbs(), randomBuffer(2 * lbs(), 4), 0, null),
                IllegalArgumentException.class, String.valueOf(cap - lbs()), "capacity");
        assertRejected(IoRequest.read(cap + 65536, buffer(lbs()), null), IllegalArgumentException.class,
                String.valueOf(cap + 65536));
        assertRejected(IoRequest.write(-lbs(), randomBuffer(lbs(), 5), 0, null), IllegalArgumentException.class,
                String.valueOf(-lbs()));
    }

    @Test
    void requestWithoutSegmentsOrIntoReadOnlyMemoryIsRejected() throws Exception {
        assertRejected(new IoRequest().prepare(IoOp.WRITE, 0, 0, null), IllegalArgumentException.class, "no data");
        assertRejected(IoRequest.read(0, buffer(lbs()).asReadOnly(), null), IllegalArgumentException.class, "read-only");
    }

    @Test
    void atomicWriteOfUnsupportedOrWrongSizeIsRejected() throws Exception {
        int min = dev.atomicWriteUnitMin(), max = dev.atomicWriteUnitMax();
        if (max == 0) {
            assertRejected(IoRequest.write(0, randomBuffer(4096, 6), IoRequest.ATOMIC, null),
                    UnsupportedOperationException.class, "ATOMIC");
            return;
        }
        assertRejected(IoRequest.write(0, randomBuffer(2 * max, 7), IoRequest.ATOMIC, null),
                IllegalArgumentException.class, String.valueOf(2 * max));
        assertRejected(IoRequest.write(0, randomBuffer(3 * min, 8), IoRequest.ATOMIC, null),
                IllegalArgumentException.class, String.valueOf(3 * min));
        if (max > lbs()) {
            assertRejected(IoRequest.write(lbs(), randomBuffer(max, 9), IoRequest.ATOMIC, null),
                    IllegalArgumentException.class, String.valueOf(lbs()), "aligned");
        }
        MemorySegment ok = randomBuffer(max, 10);
        write(max, ok, IoRequest.ATOMIC);
        assertSameBytes(read(max, max), ok, "ATOMIC write");
        assertThat(dev.stats().atomicWrites()).isEqualTo(1);
    }

    @Test
    void flagsOnlyOnWrite() {
        assertThatThrownBy(() -> new IoRequest().prepare(IoOp.READ, 0, IoRequest.FUA, null))
                .isInstanceOf(IllegalArgumentException.class).message().contains("FUA", "READ");
        assertThatThrownBy(() -> new IoRequest().prepare(IoOp.DISCARD, 0, IoRequest.ATOMIC, null))
                .isInstanceOf(IllegalArgumentException.class).message().contains("ATOMIC", "DISCARD");
        assertThatThrownBy(() -> new IoRequest().prepare(IoOp.READ, 0, IoRequest.POSTFLUSH, null))
                .isInstanceOf(IllegalArgumentException.class).message().contains("POSTFLUSH", "READ");
        assertThatThrownBy(() -> new IoRequest().prepare(IoOp.FLUSH, 0, IoRequest.POSTFLUSH, null))
                .isInstanceOf(IllegalArgumentException.class).message().contains("POSTFLUSH", "FLUSH");
        assertThatThrownBy(() -> new IoRequest().prepare(IoOp.WRITE, 0, 0x40, null))
                .isInstanceOf(IllegalArgumentException.class).message().contains("0x40", "POSTFLUSH");
    }

    @Test
    void ioAfterCloseIsRejected() {
        dev.close();
        assertThatThrownBy(() -> dev.submit(IoRequest.write(0, randomBuffer(lbs(), 11), 0, null)))
                .isInstanceOf(IllegalStateException.class).message().contains("closed");
        assertThatThrownBy(() -> dev.submit(IoRequest.read(0, buffer(lbs()), null)))
                .isInstanceOf(IllegalStateException.class).message().contains("closed");
        assertThatThrownBy(dev::flush).isInstanceOf(IllegalStateException.class).message().contains("closed");
        dev.close();
    }

    @Test
    void completedRequestResubmittedWithoutPrepareIsRejected() throws Exception {
        MemorySegment data = randomBuffer(lbs(), 12);
        IoRequest r = IoRequest.write(0, data, 0, null);
        dev.submit(r);
        r.await();
        long before = dev.stats().totalRequests();
        assertThatThrownBy(() -> dev.submit(r)).isInstanceOf(IllegalStateException.class)
                .message().contains("prepare");
        assertThat(dev.stats().totalRequests()).isEqualTo(before);
        assertThat(r.isDone()).isTrue();
    }

    @Test
    void rejectedRequestCanBeFixedAndResubmitted() throws Exception {
        MemorySegment data = randomBuffer(lbs(), 13);
        IoRequest r = IoRequest.write(100, data, 0, null);
        assertThatThrownBy(() -> dev.submit(r)).isInstanceOf(IllegalArgumentException.class);
        dev.submit(r.prepare(IoOp.WRITE, lbs(), 0, null).add(data));
        assertThat(r.await()).isEqualTo(lbs());
        assertSameBytes(read(lbs(), lbs()), data, "the fixed request's data");
    }

    // ---- I/O errors: through the completion ------------------------------------------------

    @Test
    void awaitThrowsDeviceExceptionNamingTheOffset() throws Exception {
        BlockDevice failing = createFailingDevice(CAPACITY);
        assumeTrue(failing != null, "this device kind cannot inject I/O errors");
        extraDevices.add(failing);
        long off = 3L * failing.physicalBlockSize();
        IoRequest r = IoRequest.read(off, buffer(failing.logicalBlockSize()), null);
        failing.submit(r); // an I/O error is never thrown from submit
        assertThatThrownBy(r::await).isInstanceOf(DeviceException.class)
                .message().contains(String.valueOf(off), "EIO");
        assertThat(r.result()).isEqualTo(-Errno.EIO);
        DeviceException e = r.error();
        assertThat(e.errno()).isEqualTo(Errno.EIO);
        assertThat(e.offset()).isEqualTo(off);
        assertThat(failing.stats().errors()).isEqualTo(1);
    }
}
