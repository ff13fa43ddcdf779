package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.device.SimDeviceBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Crashes and writeback errors on SimDevice: fsynced data survives any crash; a failed writeback
 * is reported by fsync once per handle, keeps the data dirty, and a later fsync writes it; nothing
 * is left locked or under writeback; every test has a timeout (nothing waits forever).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BufferedCrashTest {

    /** Power loss: device crash + metadata rollback; the page cache is lost too (new cache state). */
    static BufferedFixture crashAndRemount(BufferedFixture x) throws IOException {
        x.file.cache().truncate(0);        // the cache's contents die with the machine
        x.f.crash(x.dev);
        return x;
    }

    @Test
    void fsyncedDataSurvivesEveryCrash() throws Exception {
        for (int round = 0; round < 60; round++) {
            long seed = 0xC0A5_0000L + round;
            Random r = new Random(seed);
            int bs = new int[] {512, 4096, 16384}[round % 3];
            SimDeviceBuilder sim = DirectIoTest.sim(512).seed(seed).supportsFua(round % 2 == 0).volatileWriteCache(round % 5 != 4)
                    .asyncCompletions(round % 3 == 1);
            try (BufferedFixture x = new BufferedFixture(sim, BufferedFixture.quietCache(16L << 20),
                    BufferedIo.Options.defaults().withMaxRequestBytes(64 << 10).withMaxFolioOrder(round % 4 == 0 ? 0 : 9),
                    bs, (2 << 20) / bs)) {
                byte[] oracle = new byte[1 << 20], durable = new byte[1 << 20];
                boolean[] since = new boolean[1 << 20];   // written after the last fsync: old or new after a crash
                long durableSize = 0;
                for (int step = 0; step < 8; step++) {
                    int len = 1 + r.nextInt(40_000);
                    int pos = r.nextInt(oracle.length - len);
                    byte[] d = new byte[len];
                    r.nextBytes(d);
                    x.write(pos, d);
                    System.arraycopy(d, 0, oracle, pos, len);
                    Arrays.fill(since, pos, pos + len, true);
                    if (r.nextInt(3) == 0) x.file.writeback(x.file.cache(), 1 + r.nextInt(64 << 10));   // some background writeback
                    if (r.nextBoolean()) {
                        x.bio.fsync(x.f, 0, Long.MAX_VALUE, r.nextBoolean(), x.cursor);
                        System.arraycopy(oracle, 0, durable, 0, oracle.length);
                        Arrays.fill(since, false);
                        durableSize = x.f.size();
                    }
                }
                crashAndRemount(x);
                assertThat(x.f.size()).as("round %d seed %d", round, seed).isEqualTo(durableSize);
                byte[] got = x.read(0, (int) durableSize);
                for (int i = 0; i < durableSize; i++) {
                    if (!since[i] && got[i] != durable[i]) {
                        throw new AssertionError("round " + round + " seed " + seed + " bs " + bs + ": byte " + i + " is " + got[i]
                                + " after the crash, fsynced " + durable[i]);
                    }
                }
                x.assertQuiescent();
            }
        }
    }

    @Test
    void writebackErrorIsReportedOncePerHandleAndTheDataIsRetried() throws Exception {
        // Request numbers: the garbage fill takes FILL_REQUESTS; the first writeback WRITE is the next one.
        FaultPlan plan = FaultPlan.builder().failRequest(DirectIoTest.FILL_REQUESTS + 1, Errno.EIO).build();
        SimDeviceBuilder sim = DirectIoTest.sim(512).faultPlan(plan).seed(11);
        try (BufferedFixture x = new BufferedFixture(sim, BufferedFixture.quietCache(16L << 20), BufferedIo.Options.defaults(),
                4096, 256)) {
            ErrSeq.Cursor other = x.file.errSeq().cursor();
            byte[] d = new byte[5 * 4096];
            new Random(1).nextBytes(d);
            x.write(0, d);
            assertThatThrownBy(x::fsync).isInstanceOf(IOException.class).hasMessageContaining("EIO");
            x.assertQuiescent();
            assertThat(x.file.cache().dirtyBytes()).as("failed data stays dirty").isPositive();
            assertThat(x.file.errSeq().errorCount()).isEqualTo(1);
            // The other handle learns of it once; this handle does not see it again.
            assertThat(other.check()).isEqualTo(Errno.EIO);
            assertThat(other.check()).isZero();
            x.fsync();                                   // the retry succeeds and reports nothing new
            assertThat(x.file.cache().dirtyBytes()).isZero();
            ErrSeq.Cursor late = x.file.errSeq().cursor();
            assertThat(late.check()).as("a handle opened after everyone saw the error").isZero();
            crashAndRemount(x);
            assertThat(x.read(0, d.length)).isEqualTo(d);
            x.assertQuiescent();
        }
    }

    @Test
    void failedEndOfIoWorkIsReportedAndRetriedToo() throws Exception {
        try (BufferedFixture x = BufferedFixture.of(4096, 9)) {
            x.write(0, new byte[3 * 4096 + 5]);
            x.fsync();
            x.f.ioEndFailures = 1;                       // the conversion of the next writeback throws
            x.write(5 * 4096, new byte[] {9});
            assertThatThrownBy(x::fsync).isInstanceOf(IOException.class).hasMessageContaining("EIO");
            x.assertQuiescent();
            assertThat(x.file.cache().dirtyBytes()).isPositive();
            x.fsync();
            crashAndRemount(x);
            assertThat(x.read(5 * 4096, 1)).containsExactly(9);
        }
    }

    @Test
    void aWritebackMappingFailureKeepsTheDataDirtyAndIsReported() throws Exception {
        try (BufferedFixture x = BufferedFixture.of(4096, 0)) {
            byte[] d = new byte[6 * 4096];
            new Random(6).nextBytes(d);
            x.write(0, d);
            x.f.writebackBeginFailures = 1;              // ENOSPC from the allocator
            assertThatThrownBy(x::fsync).isInstanceOf(IOException.class).hasMessageContaining("EIO");
            x.assertQuiescent();
            assertThat(x.file.cache().dirtyBytes()).isEqualTo(6 * 4096);
            x.f.writebackBeginHoles = 1;                 // a file system answering HOLE for writeback
            assertThatThrownBy(x::fsync).isInstanceOf(IOException.class);
            x.assertQuiescent();
            assertThat(x.file.cache().dirtyBytes()).isPositive();
            byte[] viaDirect = new byte[d.length];
            x.dio.read(x.f, x.f, 0, MemorySegment.ofArray(viaDirect));   // writeAndWait succeeds now
            assertThat(viaDirect).isEqualTo(d);
            x.fsync();
            crashAndRemount(x);
            assertThat(x.read(0, d.length)).isEqualTo(d);
        }
    }

    @Test
    void directReadSeesDirtyBufferedDataAndDirectWriteInvalidatesTheCache() throws Exception {
        try (BufferedFixture x = BufferedFixture.of(4096, 9)) {
            byte[] d = new byte[8192];
            Arrays.fill(d, (byte) 5);
            x.write(0, d);
            byte[] viaDirect = new byte[8192];
            x.dio.read(x.f, x.f, 0, MemorySegment.ofArray(viaDirect));
            assertThat(viaDirect).isEqualTo(d);
            byte[] e = new byte[4096];
            Arrays.fill(e, (byte) 6);
            x.dio.write(x.f, x.f, x.f, 4096, MemorySegment.ofArray(e), 0);
            System.arraycopy(e, 0, d, 4096, 4096);
            assertThat(x.read(0, 8192)).isEqualTo(d);
        }
    }
}
