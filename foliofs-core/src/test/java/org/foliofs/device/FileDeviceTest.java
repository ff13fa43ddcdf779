package org.foliofs.device;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What only a FileDevice does: opening, geometry probing, raw block devices, atomic-unit detection. */
class FileDeviceTest {
    @TempDir Path dir;

    private static FileDevice.Options opts(FileDevice.Engine e) {
        return FileDevice.Options.defaults().withEngine(e).withQueueDepth(16);
    }

    @Test
    void missingImageIsNamed() {
        Path p = dir.resolve("nope.img");
        assertThatThrownBy(() -> FileDevice.open(p, FileDevice.Options.defaults()))
                .isInstanceOf(NoSuchFileException.class).hasMessageContaining(p.toString()).hasMessageContaining("does not exist");
    }

    @Test
    void emptyImageIsRejected() throws IOException {
        Path p = Files.createFile(dir.resolve("empty.img"));
        assertThatThrownBy(() -> FileDevice.open(p, FileDevice.Options.defaults()))
                .isInstanceOf(IOException.class).hasMessageContaining(p.toString()).hasMessageContaining("empty (0 bytes)");
    }

    @Test
    void directoryIsRejected() {
        assertThatThrownBy(() -> FileDevice.open(dir, FileDevice.Options.defaults()))
                .isInstanceOf(IOException.class).hasMessageContaining(dir.toString());
    }

    @Test
    void immutableImageIsNotWritable() throws Exception {
        Path p = dir.resolve("ro.img");
        FileDevice.createImage(p, 1 << 20);
        try {
            LoopDevices.run("chattr", "+i", p.toString());
        } catch (IOException e) {
            assumeTrue(false, "chattr +i unavailable here: " + e.getMessage());
        }
        try {
            assertThatThrownBy(() -> FileDevice.open(p, FileDevice.Options.defaults()))
                    .isInstanceOf(AccessDeniedException.class).hasMessageContaining(p.toString()).hasMessageContaining("not writable");
        } finally {
            LoopDevices.run("chattr", "-i", p.toString());
        }
    }

    /** withReadOnly: O_RDONLY; reads work, every WRITE, FLUSH and DISCARD is refused at submit and nothing reaches the file. */
    @ParameterizedTest
    @EnumSource(FileDevice.Engine.class)
    void readOnlyOpenReadsAndRefusesEveryChange(FileDevice.Engine engine) throws Exception {
        Path p = dir.resolve("ro-" + engine + ".img");
        FileDevice.createImage(p, 1 << 20);
        byte[] content = new byte[1 << 20];
        new java.util.Random(11).nextBytes(content);
        Files.write(p, content);
        try (FileDevice d = FileDevice.open(p, opts(engine).withReadOnly(true)); Arena a = Arena.ofConfined()) {
            assertThat(d.isReadOnly()).isTrue();
            assertThat(d.describe()).contains("read-only");
            MemorySegment buf = a.allocate(8192, 4096);
            IoRequest r = IoRequest.read(4096, buf, null);
            d.submit(r);
            assertThat(r.await()).isEqualTo(8192);
            assertThat(buf.toArray(JAVA_BYTE)).isEqualTo(java.util.Arrays.copyOfRange(content, 4096, 4096 + 8192));
            for (IoRequest w : java.util.List.of(IoRequest.write(0, buf, 0, null), IoRequest.write(0, buf, IoRequest.FUA, null),
                    IoRequest.flush(null), IoRequest.discard(0, 4096, null))) {
                assertThatThrownBy(() -> d.submit(w)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("read-only").hasMessageContaining(p.toString()).hasMessageContaining(w.op().name());
            }
            assertThatThrownBy(d::flush).isInstanceOf(IllegalStateException.class).hasMessageContaining("read-only");
            assertThat(d.stats().requests(IoOp.WRITE) + d.stats().requests(IoOp.FLUSH)).isZero();
            IoRequest again = IoRequest.read(0, buf, null);   // the device still works after refusals
            d.submit(again);
            assertThat(again.await()).isEqualTo(8192);
        }
        assertThat(Files.readAllBytes(p)).isEqualTo(content);
        try (FileDevice d = FileDevice.open(p, opts(engine))) {
            assertThat(d.isReadOnly()).isFalse();
        }
    }

    /**
     * A read-only open works on an image the process may not write: chmod a-w (for root, which
     * ignores permission bits, chattr +i instead), where a read-write open is refused.
     */
    @Test
    void readOnlyOpenWorksOnAnImageThatIsNotWritable() throws Exception {
        Path p = dir.resolve("locked.img");
        FileDevice.createImage(p, 1 << 20);
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root) {
            try {
                LoopDevices.run("chattr", "+i", p.toString());
            } catch (IOException e) {
                assumeTrue(false, "running as root and chattr +i is unavailable here: " + e.getMessage());
            }
        } else {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("r--r--r--"));
        }
        try {
            assertThatThrownBy(() -> FileDevice.open(p, FileDevice.Options.defaults()))
                    .isInstanceOf(AccessDeniedException.class).hasMessageContaining("not writable");
            try (FileDevice d = FileDevice.open(p, FileDevice.Options.defaults().withReadOnly(true)); Arena a = Arena.ofConfined()) {
                IoRequest r = IoRequest.read(0, a.allocate(4096, 4096), null);
                d.submit(r);
                assertThat(r.await()).isEqualTo(4096);
            }
        } finally {
            if (root) LoopDevices.run("chattr", "-i", p.toString());
        }
    }

    @Test
    void createImageNeverOverwrites() throws Exception {
        Path p = dir.resolve("keep.img");
        FileDevice.createImage(p, 1 << 20);
        Files.write(p, new byte[] {7}, java.nio.file.StandardOpenOption.WRITE);
        assertThatThrownBy(() -> FileDevice.createImage(p, 2 << 20))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining(p.toString());
        assertThat(Files.size(p)).isEqualTo(1 << 20);
        assertThat(Files.readAllBytes(p)[0]).isEqualTo((byte) 7);
        assertThatThrownBy(() -> FileDevice.createImage(dir.resolve("odd.img"), 1000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(1000)");
    }

    /**
     * io_uring: FLUSHes submitted while one runs are merged into one fdatasync issued when it ends;
     * every one completes successfully, and a flush submitted later still gets a flush of its own
     * (none is answered by a flush that began before it was submitted).
     */
    @Test
    void concurrentFlushesAreMergedAndAllComplete() throws Exception {
        Path p = dir.resolve("flush.img");
        FileDevice.createImage(p, 1 << 20);
        try (FileDevice d = FileDevice.open(p, opts(FileDevice.Engine.IO_URING))) {
            int n = 64;
            java.util.List<IoRequest> rs = new java.util.ArrayList<>();
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(n);
            long[] order = new long[n];
            java.util.concurrent.atomic.AtomicLong seq = new java.util.concurrent.atomic.AtomicLong();
            for (int i = 0; i < n; i++) {
                int k = i;
                IoRequest r = IoRequest.flush((req, res) -> { order[k] = res < 0 ? -1 : seq.incrementAndGet(); done.countDown(); });
                rs.add(r);
                d.submit(r);
            }
            assertThat(done.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < n; i++) assertThat(order[i]).as("flush %d", i).isPositive();
            assertThat(d.stats().requests(IoOp.FLUSH)).isEqualTo(n);
            long merged = d.stats().mergedFlushes();
            System.out.println("64 concurrent flushes: " + (n - merged) + " fdatasync calls, " + merged + " merged");
            assertThat(merged).as("flushes merged while one ran").isPositive().isLessThan(n);
            // The first flush never rides on another; a flush submitted after all others completed runs alone.
            long before = d.stats().mergedFlushes();
            d.flush();
            assertThat(d.stats().mergedFlushes()).isEqualTo(before);
        }
    }

    /**
     * submitInline: with io_uring, a READ or WRITE is performed on the calling thread (complete
     * when the call returns, its completion run there), POSTFLUSH included; the data is what a
     * ring-submitted read sees; a bad request is refused as by submit; FLUSH still goes through
     * the ring (merged).
     */
    @Test
    void inlineRequestsRunOnTheCallersThreadWithIoUring() throws Exception {
        Path p = dir.resolve("inline.img");
        FileDevice.createImage(p, 1 << 20);
        try (FileDevice d = FileDevice.open(p, opts(FileDevice.Engine.IO_URING)); Arena a = Arena.ofConfined()) {
            MemorySegment w = a.allocate(8192, 4096).fill((byte) 7), r = a.allocate(8192, 4096);
            String[] ranOn = new String[1];
            IoRequest wr = IoRequest.write(4096, w, IoRequest.POSTFLUSH, (req, res) -> ranOn[0] = Thread.currentThread().getName());
            long postflushes = d.stats().postflushWrites();
            d.submitInline(wr);
            assertThat(wr.isDone()).as("complete when submitInline returns").isTrue();
            assertThat(wr.await()).isEqualTo(8192);
            assertThat(ranOn[0]).as("completion on the caller").isEqualTo(Thread.currentThread().getName());
            assertThat(d.stats().postflushWrites() - postflushes).isEqualTo(1);
            IoRequest rd = IoRequest.read(4096, r, null);
            d.submit(rd);   // through the ring: sees the inline write
            assertThat(rd.await()).isEqualTo(8192);
            assertThat(r.toArray(JAVA_BYTE)).containsOnly((byte) 7);
            IoRequest bad = IoRequest.write(100, w, 0, null);
            assertThatThrownBy(() -> d.submitInline(bad)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100");
            IoRequest fl = IoRequest.flush(null);
            d.submitInline(fl);
            assertThat(fl.await()).isZero();
            assertThat(d.stats().requests(IoOp.FLUSH)).isEqualTo(1);
        }
    }

    @Test
    void optionsNameBadValues() {
        assertThatThrownBy(() -> FileDevice.Options.defaults().withQueueDepth(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queueDepth (0)");
    }

    @Test
    void heapSegmentsAreRejectedForDirectIo() throws Exception {
        Path p = dir.resolve("heap.img");
        FileDevice.createImage(p, 1 << 20);
        try (FileDevice d = FileDevice.open(p, opts(FileDevice.Engine.SYNC))) {
            IoRequest r = IoRequest.write(0, MemorySegment.ofArray(new byte[4096]), 0, null);
            assertThatThrownBy(() -> d.submit(r)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Java heap");
            assertThat(d.stats().totalRequests()).isZero();
        }
    }

    /** On the host's ext4 (no atomic write support for this file) the device reports none. */
    @Test
    void hostFileSystemReportsItsAtomicUnits() throws Exception {
        Path p = dir.resolve("atomic.img");
        FileDevice.createImage(p, 1 << 20);
        try (FileDevice d = FileDevice.open(p, FileDevice.Options.defaults())) {
            System.out.println("host image: " + d.describe());
            if (d.atomicWriteUnitMax() == 0) {
                assertThat(d.atomicWriteUnitMin()).isZero();
                assertThat(d.atomicWriteSegmentsMax()).isZero();
            } else {
                assertThat(d.atomicWriteUnitMin()).isPositive().isLessThanOrEqualTo(d.atomicWriteUnitMax());
            }
        }
    }

    /** XFS on a loop device reports statx atomic limits (CoW-based software atomics, Linux 6.16+). */
    @ParameterizedTest
    @EnumSource(FileDevice.Engine.class)
    void xfsOnLoopReportsAtomicUnitsAndAtomicWriteSucceeds(FileDevice.Engine engine) throws Exception {
        String why = LoopDevices.unavailableReason(true);
        if (why != null) System.out.println("SKIP xfs atomic test: " + why);
        assumeTrue(why == null, why);
        try (LoopDevices loops = new LoopDevices(); Arena arena = Arena.ofShared()) {
            Path mnt = loops.xfs(dir.resolve("xfs.img"), 512L << 20, dir.resolve("mnt"));
            Path f = mnt.resolve("data");
            FileDevice.createImage(f, 8L << 20);
            try (FileDevice d = FileDevice.open(f, opts(engine))) {
                System.out.println("xfs file: " + d.describe() + ", atomic segments max " + d.atomicWriteSegmentsMax());
                if (d.atomicWriteUnitMax() == 0) {
                    System.out.println("SKIP: this kernel's XFS reports no atomic write unit for " + f);
                    assumeTrue(false, "kernel XFS without atomic writes");
                }
                int unit = d.atomicWriteUnitMin();
                assertThat(Integer.bitCount(unit)).isEqualTo(1);
                assertThat(d.atomicWriteUnitMax()).isGreaterThanOrEqualTo(unit);
                int size = Math.min(d.atomicWriteUnitMax(), 64 << 10);
                MemorySegment buf = arena.allocate(size, 4096);
                for (int i = 0; i < size; i++) buf.set(JAVA_BYTE, i, (byte) (i * 31));
                IoRequest w = IoRequest.write(size, buf, IoRequest.ATOMIC, null);
                d.submit(w);
                assertThat(w.await()).isEqualTo(size);
                assertThat(d.stats().atomicWrites()).isEqualTo(1);
                MemorySegment back = arena.allocate(size, 4096);
                IoRequest r = IoRequest.read(size, back, null);
                d.submit(r);
                r.await();
                assertThat(back.mismatch(buf)).isEqualTo(-1);
                IoRequest misaligned = IoRequest.write(unit * 3L, buf.asSlice(0, 2L * unit), IoRequest.ATOMIC, null);
                if (2 * unit <= d.atomicWriteUnitMax()) {
                    assertThatThrownBy(() -> d.submit(misaligned)).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("not naturally aligned");
                }
            }
        }
    }

    /** A raw block device: geometry from the block ioctls, discard through BLKDISCARD. */
    @ParameterizedTest
    @EnumSource(FileDevice.Engine.class)
    void loopBlockDevice(FileDevice.Engine engine) throws Exception {
        String why = LoopDevices.unavailableReason(false);
        if (why != null) System.out.println("SKIP loop block device test: " + why);
        assumeTrue(why == null, why);
        try (LoopDevices loops = new LoopDevices(); Arena arena = Arena.ofShared()) {
            Path dev = loops.attach(dir.resolve("loop.img"), 16L << 20);
            try (FileDevice d = FileDevice.open(dev, opts(engine))) {
                System.out.println("loop: " + d.describe());
                assertThat(d.capacity()).isEqualTo(16L << 20);
                assertThat(d.logicalBlockSize()).isIn(512, 4096);
                MemorySegment buf = arena.allocate(8192, 4096);
                buf.fill((byte) 0x5a);
                IoRequest w = IoRequest.write(4096, buf, IoRequest.FUA | IoRequest.PREFLUSH, null);
                d.submit(w);
                assertThat(w.await()).isEqualTo(8192);
                d.flush();
                d.discard(4096, 8192);
                MemorySegment back = arena.allocate(8192, 4096);
                IoRequest r = IoRequest.read(4096, back, null);
                d.submit(r);
                r.await();
                // Loop devices implement discard as a hole punch in the backing file: zeros.
                assertThat(back.mismatch(arena.allocate(8192, 4096))).isEqualTo(-1);
            }
        }
    }

    /**
     * Real device errors: a loop device whose backing tmpfs is full fails writes with ENOSPC.
     * The error arrives through the completion (never from submit), names the call, offset and
     * errno, is counted, and leaves the data written before it intact.
     */
    @ParameterizedTest
    @EnumSource(FileDevice.Engine.class)
    void deviceErrorArrivesThroughTheCompletion(FileDevice.Engine engine) throws Exception {
        String why = LoopDevices.unavailableReason(false);
        if (why != null) System.out.println("SKIP device error test: " + why);
        assumeTrue(why == null, why);
        try (LoopDevices loops = new LoopDevices(); Arena arena = Arena.ofShared()) {
            Path dev = loops.attachOnSmallTmpfs(dir.resolve("small"), 1 << 20, 8L << 20);
            try (FileDevice d = FileDevice.open(dev, opts(engine))) {
                MemorySegment buf = arena.allocate(64 << 10, 4096);
                buf.fill((byte) 0x33);
                IoRequest ok = IoRequest.write(0, buf, 0, null);
                d.submit(ok);
                assertThat(ok.await()).isEqualTo(64 << 10);
                long failed = 0;
                DeviceException error = null;
                IoRequest w = new IoRequest();
                for (long off = 1 << 20; off < d.capacity() && error == null; off += buf.byteSize()) {
                    w.prepare(IoOp.WRITE, off, 0, null).add(buf);
                    d.submit(w); // must not throw: the error comes with the completion
                    try {
                        w.await();
                    } catch (DeviceException e) {
                        error = e;
                        failed = off;
                    }
                }
                assertThat(error).as("a write past the tmpfs room must fail").isNotNull();
                System.out.println("device error: " + error.getMessage());
                assertThat(error.errno()).isIn(Errno.ENOSPC, Errno.EIO);
                assertThat(error.offset()).isEqualTo(failed);
                assertThat(error.getMessage()).contains(String.valueOf(failed), Errno.name(error.errno()),
                        engine == FileDevice.Engine.SYNC ? "pwritev2" : "io_uring WRITE", dev.toString());
                assertThat(d.stats().errors()).isEqualTo(1);
                MemorySegment back = arena.allocate(64 << 10, 4096);
                IoRequest r = IoRequest.read(0, back, null);
                d.submit(r);
                r.await();
                assertThat(back.mismatch(buf)).isEqualTo(-1);
            }
        }
    }

    /**
     * Many threads hand requests to the one ring thread at a small depth (permits park them):
     * every write lands where it was aimed and reads back intact; nothing waits forever.
     */
    @Test
    void manyThreadsShareTheRingThread() throws Exception {
        Path p = dir.resolve("mt.img");
        int threads = 8, perThread = 1500, block = 4096;
        FileDevice.createImage(p, (long) threads * 64 * block);
        try (FileDevice d = FileDevice.open(p, FileDevice.Options.defaults().withQueueDepth(4));
             BufferPool pool = new BufferPool(block, 2 * threads)) {
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                final int id = t;
                ts[t] = Thread.ofPlatform().start(() -> {
                    MemorySegment w = pool.acquire(), r = pool.acquire();
                    IoRequest req = new IoRequest();
                    java.util.SplittableRandom rnd = new java.util.SplittableRandom(id);
                    try {
                        for (int i = 0; i < perThread; i++) {
                            long off = ((long) id * 64 + rnd.nextInt(64)) * block; // own region: no races between threads
                            w.fill((byte) (i * 7 + id));
                            d.submit(req.prepare(IoOp.WRITE, off, 0, null).add(w));
                            req.await();
                            d.submit(req.prepare(IoOp.READ, off, 0, null).add(r));
                            req.await();
                            if (r.mismatch(w) != -1) throw new AssertionError("thread " + id + " op " + i + " read back other data at " + off);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            for (Thread t : ts) {
                t.join(60_000);
                assertThat(t.isAlive()).as("a submitter is stuck").isFalse();
            }
            assertThat(failure.get()).isNull();
            assertThat(d.stats().requests(IoOp.WRITE)).isEqualTo((long) threads * perThread);
        }
    }

    @Test
    void closeFromTheRingThreadIsRefused() throws Exception {
        Path p = dir.resolve("cb.img");
        FileDevice.createImage(p, 1 << 20);
        try (FileDevice d = FileDevice.open(p, FileDevice.Options.defaults()); Arena arena = Arena.ofShared()) {
            java.util.concurrent.CompletableFuture<Throwable> seen = new java.util.concurrent.CompletableFuture<>();
            IoRequest r = IoRequest.read(0, arena.allocate(4096, 4096), (req, res) -> {
                try {
                    d.close();
                    seen.complete(null);
                } catch (Throwable t) {
                    seen.complete(t);
                }
            });
            d.submit(r);
            Throwable t = seen.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(t).isInstanceOf(IllegalStateException.class).hasMessageContaining("completion callback");
        }
    }
}
