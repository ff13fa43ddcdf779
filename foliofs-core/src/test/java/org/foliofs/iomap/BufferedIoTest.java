package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.IoOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Buffered I/O contract across file system block sizes and folio orders, plus request merging and argument checks. */
class BufferedIoTest {
    static Stream<Arguments> geometries() {
        List<Arguments> list = new ArrayList<>();
        for (int bs : new int[] {512, 1024, 4096, 65536}) {
            for (int order : new int[] {0, 2, 9}) list.add(Arguments.of(bs, order));
        }
        return list.stream();
    }

    static byte[] random(Random r, int len) {
        byte[] a = new byte[len];
        r.nextBytes(a);
        return a;
    }

    @ParameterizedTest(name = "bs={0} maxOrder={1}")
    @MethodSource("geometries")
    void writeReadRoundTripThroughCacheAndDevice(int bs, int order) throws Exception {
        try (BufferedFixture x = BufferedFixture.of(bs, order)) {
            Random r = new Random(bs * 31L + order);
            byte[] oracle = new byte[1 << 20];
            long size = 0;
            for (int i = 0; i < 40; i++) {
                int len = 1 + r.nextInt(i % 5 == 0 ? 200_000 : 9000);
                int pos = r.nextInt(oracle.length - len);
                byte[] d = random(r, len);
                assertThat(x.write(pos, d)).isEqualTo(len);
                System.arraycopy(d, 0, oracle, pos, len);
                size = Math.max(size, pos + len);
                assertThat(x.f.size()).isEqualTo(size);
                assertThat(x.read(pos, len)).isEqualTo(d);
            }
            assertThat(x.read(0, (int) size)).isEqualTo(Arrays.copyOf(oracle, (int) size));
            x.fsync();
            assertThat(x.f.delallocBlocks()).isZero();
            x.evictAll();
            assertThat(x.file.cache().folioCount()).isZero();
            assertThat(x.read(0, (int) size)).as("from the device").isEqualTo(Arrays.copyOf(oracle, (int) size));
            byte[] viaDirect = new byte[(int) ((size + 511) / 512 * 512)];
            x.dio.read(x.f, x.f, 0, MemorySegment.ofArray(viaDirect));
            assertThat(Arrays.copyOf(viaDirect, (int) size)).isEqualTo(Arrays.copyOf(oracle, (int) size));
            x.assertQuiescent();
        }
    }

    @ParameterizedTest(name = "bs={0} maxOrder={1}")
    @MethodSource("geometries")
    void partialBlockWritesReadOnlyTheBlocksTheyNeed(int bs, int order) throws Exception {
        try (BufferedFixture x = BufferedFixture.of(bs, order)) {
            Random r = new Random(7);
            byte[] base = random(r, 4 * bs);
            x.write(0, base);
            x.fsync();
            x.evictAll();
            DeviceStats.Snapshot before = x.dev.stats().snapshot();
            byte[] one = {42};
            x.write(bs + 3, one);                       // inside block 1: read-modify-write of that block only
            DeviceStats.Snapshot d = x.dev.stats().snapshot().minus(before);
            assertThat(d.reads()).isEqualTo(1);
            assertThat(d.bytesRead()).isEqualTo(bs);
            base[bs + 3] = 42;
            byte[] across = random(r, 10);
            x.write(2L * bs - 5, across);               // straddles blocks 1 and 2
            System.arraycopy(across, 0, base, 2 * bs - 5, 10);
            assertThat(x.read(0, 4 * bs)).isEqualTo(base);
            x.fsync();
            x.evictAll();
            assertThat(x.read(0, 4 * bs)).isEqualTo(base);
        }
    }

    @ParameterizedTest(name = "bs={0} maxOrder={1}")
    @MethodSource("geometries")
    void holesAndGapsReadZerosAndReadsStopAtTheSize(int bs, int order) throws Exception {
        try (BufferedFixture x = BufferedFixture.of(bs, order)) {
            byte[] tail = {1, 2, 3};
            long pos = 5L * bs + 7;
            x.write(pos, tail);
            assertThat(x.f.size()).isEqualTo(pos + 3);
            byte[] all = x.read(0, (int) pos + 100);
            assertThat(all).hasSize((int) pos + 3);
            for (int i = 0; i < pos; i++) assertThat(all[i]).as("byte %d", i).isZero();
            assertThat(x.read(pos + 3, 10)).isEmpty();
            x.fsync();
            x.evictAll();
            all = x.read(0, (int) pos + 3);
            for (int i = 0; i < pos; i++) assertThat(all[i]).as("byte %d after eviction", i).isZero();
            assertThat(Arrays.copyOfRange(all, (int) pos, (int) pos + 3)).isEqualTo(tail);
        }
    }

    @ParameterizedTest(name = "bs={0} maxOrder={1}")
    @MethodSource("geometries")
    void truncateZeroesTheTailInCacheAndOnTheDevice(int bs, int order) throws Exception {
        try (BufferedFixture x = BufferedFixture.of(bs, order)) {
            byte[] d = random(new Random(3), 3 * bs);
            x.write(0, d);
            x.fsync();
            long cut = bs + bs / 2 + 1;
            x.f.truncate(x.bio, cut);
            assertThat(x.f.size()).isEqualTo(cut);
            x.f.truncate(x.bio, 3L * bs);               // grow again: the cut part reads as zeros
            byte[] expect = Arrays.copyOf(Arrays.copyOf(d, (int) cut), 3 * bs);
            assertThat(x.read(0, 3 * bs)).isEqualTo(expect);
            x.fsync();
            x.evictAll();
            assertThat(x.read(0, 3 * bs)).as("after writeback and eviction").isEqualTo(expect);
        }
    }

    @ParameterizedTest(name = "bs={0} maxOrder={1}")
    @MethodSource("geometries")
    void zeroRangeAndSeekSeeCachedData(int bs, int order) throws Exception {
        try (BufferedFixture x = BufferedFixture.of(bs, order)) {
            byte[] d = random(new Random(5), 4 * bs);
            x.write(2L * bs, d);                        // blocks 0..1 are a hole, 2..5 delalloc
            assertThat(x.bio.seekData(x.f, x.f, 0)).isEqualTo(2L * bs);
            assertThat(x.bio.seekHole(x.f, x.f, 2L * bs)).isEqualTo(6L * bs);
            x.bio.zeroRange(x.f, x.f, 3L * bs + 1, bs);
            Arrays.fill(d, bs + 1, 2 * bs + 1, (byte) 0);
            assertThat(x.read(2L * bs, 4 * bs)).isEqualTo(d);
            x.fsync();
            x.evictAll();
            assertThat(x.read(2L * bs, 4 * bs)).isEqualTo(d);
            assertThat(x.bio.seekData(x.f, x.f, 0)).isEqualTo(2L * bs);
        }
    }

    @Test
    void contiguousDirtyBlocksAreWrittenBackInOneRequest() throws Exception {
        try (BufferedFixture x = BufferedFixture.of(4096, 0)) {
            byte[] block = new byte[4096];
            for (int i = 0; i < 256; i++) {
                Arrays.fill(block, (byte) i);
                x.write(i * 4096L, block);
            }
            assertThat(x.file.cache().folioCount()).isEqualTo(256);
            DeviceStats.Snapshot before = x.dev.stats().snapshot();
            x.fsync();
            DeviceStats.Snapshot d = x.dev.stats().snapshot().minus(before);
            assertThat(d.writes()).as("256 dirty 4 KiB folios, maxRequestBytes 1 MiB").isEqualTo(1);
            assertThat(d.bytesWritten()).isEqualTo(1 << 20);
            assertThat(d.flushes()).isEqualTo(1);
            assertThat(x.dev.stats().requests(IoOp.WRITE)).isGreaterThan(0);
        }
    }

    @Test
    void aFileNotOpenInTheEngineIsRejectedByName() throws Exception {
        try (BufferedFixture x = BufferedFixture.of(4096, 9)) {
            TestMapping other = new TestMapping(x.dev, 4096, 16);
            assertThatThrownBy(() -> x.bio.read(other, other, 0, MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not open in this BufferedIo");
            assertThatThrownBy(() -> x.bio.write(x.f, x.f, -1, MemorySegment.ofArray(new byte[1])))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("buffered write of 1 bytes at -1");
            assertThatThrownBy(() -> BufferedIo.Options.defaults().withMaxFolioOrder(10))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("maxFolioOrder (10) must be from 0 to 9");
        }
    }
}
