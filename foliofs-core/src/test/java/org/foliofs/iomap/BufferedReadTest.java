package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.Random;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.device.IoOp;
import org.junit.jupiter.api.Test;

/** Read-ahead (sequential growth, async window, random reads), read errors, hot-path allocation, and ErrSeq. */
class BufferedReadTest {

    /** A 4 MiB file written and synced, then evicted: every read comes from the device. */
    static BufferedFixture coldFile(BufferedIo.Options o) throws Exception {
        BufferedFixture x = new BufferedFixture(DirectIoTest.sim(512), BufferedFixture.quietCache(32L << 20), o, 4096, 1024);
        byte[] d = new byte[4 << 20];
        new Random(9).nextBytes(d);
        x.write(0, d);
        x.fsync();
        x.evictAll();
        return x;
    }

    @Test
    void sequentialReadsGrowTheWindowAndReadAheadAsynchronously() throws Exception {
        try (BufferedFixture x = coldFile(BufferedIo.Options.defaults().withReadahead(128 << 10, 1 << 20))) {
            DeviceStats.Snapshot before = x.dev.stats().snapshot();
            byte[] buf = new byte[16 << 10];
            for (long pos = 0; pos < (4 << 20); pos += buf.length) {
                assertThat(x.bio.read(x.f, x.f, pos, MemorySegment.ofArray(buf))).isEqualTo(buf.length);
            }
            DeviceStats.Snapshot d = x.dev.stats().snapshot().minus(before);
            System.out.printf("sequential 4 MiB in 16 KiB reads: %d device reads, %d folios cached%n", d.reads(), x.pc.stats().folios());
            assertThat(d.bytesRead()).as("each byte read once").isEqualTo(4 << 20);
            // 256 reads of 16 KiB; the window grows 128 KiB -> 1 MiB, so only a handful of device reads.
            assertThat(d.reads()).as("device reads for 4 MiB read sequentially").isLessThanOrEqualTo(12);
            assertThat(x.pc.stats().folios()).as("large folios for large windows").isLessThan(256);
        }
    }

    @Test
    void randomReadsGetNoReadAhead() throws Exception {
        try (BufferedFixture x = coldFile(BufferedIo.Options.defaults())) {
            Random r = new Random(4);
            DeviceStats.Snapshot before = x.dev.stats().snapshot();
            byte[] buf = new byte[4096];
            for (int i = 0; i < 50; i++) {
                x.bio.read(x.f, x.f, 4096L * (1 + r.nextInt(1000)), MemorySegment.ofArray(buf));
            }
            DeviceStats.Snapshot d = x.dev.stats().snapshot().minus(before);
            assertThat(d.bytesRead()).as("random 4 KiB reads read about what they need").isLessThanOrEqualTo(50L * 4096);
        }
    }

    @Test
    void aFailedReadThrowsAndLeavesNothingLockedAndALaterReadRetries() throws Exception {
        // The garbage fill takes FILL_REQUESTS requests; then the write-back of the file and a flush.
        FaultPlan plan = FaultPlan.builder().failRequest(DirectIoTest.FILL_REQUESTS + 3, Errno.EIO).build();
        try (BufferedFixture x = new BufferedFixture(DirectIoTest.sim(512).faultPlan(plan), BufferedFixture.quietCache(16L << 20),
                BufferedIo.Options.defaults(), 4096, 64)) {
            byte[] d = new byte[8192];
            new Random(2).nextBytes(d);
            x.write(0, d);
            x.fsync();
            x.evictAll();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> x.read(0, 8192))
                    .isInstanceOf(org.foliofs.device.DeviceException.class).hasMessageContaining("EIO");
            x.assertQuiescent();
            assertThat(x.read(0, 8192)).isEqualTo(d);
            assertThat(x.dev.stats().requests(IoOp.READ)).isEqualTo(2);
        }
    }

    @Test
    void cachedReadsAllocateNothing() throws Exception {
        try (BufferedFixture x = coldFile(BufferedIo.Options.defaults())) {
            MemorySegment dst = MemorySegment.ofArray(new byte[64 << 10]);
            for (int i = 0; i < 20_000; i++) x.bio.read(x.f, x.f, (i % 64) * (64L << 10), dst);   // warm: all cached, JIT done
            var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long me = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(me);
            int n = 20_000;
            for (int i = 0; i < n; i++) x.bio.read(x.f, x.f, (i % 64) * (64L << 10), dst);
            double per = (threads.getThreadAllocatedBytes(me) - before) / (double) n;
            System.out.printf("cached 64 KiB buffered read: %.3f bytes allocated per call%n", per);
            assertThat(per).as("bytes allocated per cached read").isLessThan(1.0);
        }
    }

    @Test
    void cachedOverwritesAllocateOnlyTheirCallContext() throws Exception {
        try (BufferedFixture x = coldFile(BufferedIo.Options.defaults())) {
            MemorySegment src = MemorySegment.ofArray(new byte[16 << 10]);
            for (int i = 0; i < 20_000; i++) x.bio.write(x.f, x.f, (i % 64) * (16L << 10), src);
            var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long me = Thread.currentThread().threadId();
            long before = threads.getThreadAllocatedBytes(me);
            int n = 20_000;
            for (int i = 0; i < n; i++) x.bio.write(x.f, x.f, (i % 64) * (16L << 10), src);
            double per = (threads.getThreadAllocatedBytes(me) - before) / (double) n;
            System.out.printf("cached 16 KiB buffered overwrite: %.1f bytes allocated per call%n", per);
            // The call's iterator and chunk objects and the file system's IoMap (TestMapping allocates
            // one per begin); nothing per folio or per byte.
            assertThat(per).as("bytes allocated per cached overwrite").isLessThan(400);
        }
    }

    @Test
    void errSeqReportsEachErrorOncePerCursor() {
        ErrSeq e = new ErrSeq();
        ErrSeq.Cursor a = e.cursor();
        assertThat(a.check()).isZero();
        e.record(Errno.EIO);
        ErrSeq.Cursor b = e.cursor();                 // opened while the error is unseen: sees it
        assertThat(a.check()).isEqualTo(Errno.EIO);
        assertThat(a.check()).isZero();
        assertThat(b.check()).isEqualTo(Errno.EIO);
        ErrSeq.Cursor c = e.cursor();                 // opened after it was seen: does not
        assertThat(c.check()).isZero();
        e.record(Errno.ENOSPC);
        e.record(Errno.EIO);
        assertThat(c.check()).as("two errors since the last check: reported once, the last errno").isEqualTo(Errno.EIO);
        assertThat(e.errorCount()).isEqualTo(3);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> e.record(0)).hasMessage("errno (0) must be from 1 to 65535");
    }
}
