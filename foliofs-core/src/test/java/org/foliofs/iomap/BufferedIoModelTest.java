package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

/**
 * Seeded model-based test: random buffered reads and writes, direct reads and writes, truncate
 * (down and up), fsync, zero range, background writeback passes and forced eviction, against an
 * in-memory oracle (bytes and size). After every step the size is checked and the range the step
 * touched is read back through the cache; every 256 steps the whole file is compared through the
 * cache and through direct I/O. Default 100,000 operations over four configurations (one whose
 * file system reports buffered reservations as HOLE rather than DELALLOC).
 * Replay: {@code mvn -pl foliofs-core test -Dtest=BufferedIoModelTest -Dfoliofs.seed=N} (logs
 * every operation); {@code -Dfoliofs.modelOps=N} changes the total count.
 */
class BufferedIoModelTest {
    static final long BASE_SEED = 0xB0FF_0000L;
    static final int FILE_BYTES = 1 << 20;

    record Config(int bs, int maxFolioOrder, int maxRequest, boolean asyncDevice, boolean holeReservations) {}

    static final Config[] CONFIGS = {
        new Config(512, 0, 16 << 10, false, false),
        new Config(1024, 9, 1 << 20, true, false),
        new Config(4096, 2, 64 << 10, false, true),
        new Config(65536, 9, 1 << 20, false, false),
    };

    @Test
    void randomBufferedAndDirectIoMatchesTheOracle() throws Throwable {
        String prop = System.getProperty("foliofs.seed");
        long seed = prop != null ? Long.decode(prop) : BASE_SEED + 1;
        int total = Integer.getInteger("foliofs.modelOps", 100_000);
        int per = Math.max(1, total / CONFIGS.length);
        long t0 = System.nanoTime();
        System.out.println("BufferedIoModelTest seed " + seed + " (" + per * CONFIGS.length + " ops); replay: "
                + "mvn -pl foliofs-core test -Dtest=BufferedIoModelTest -Dfoliofs.seed=" + seed);
        for (int c = 0; c < CONFIGS.length; c++) {
            Round round = new Round(CONFIGS[c], seed * 31 + c, prop != null);
            try {
                round.run(per);
            } catch (Throwable t) {
                System.out.println("FAILED at op " + round.op + " of config " + CONFIGS[c] + " seed " + seed + "; replay: mvn -pl "
                        + "foliofs-core test -Dtest=BufferedIoModelTest -Dfoliofs.seed=" + seed);
                throw t;
            }
        }
        System.out.printf("BufferedIoModelTest: %d operations in %.1f s%n", per * CONFIGS.length, (System.nanoTime() - t0) / 1e9);
    }

    static final class Round {
        final Config cfg;
        final Random rnd;
        final boolean verbose;
        final BufferedFixture x;
        final byte[] oracle = new byte[FILE_BYTES];
        long size;
        int op;

        Round(Config cfg, long seed, boolean verbose) throws Exception {
            this.cfg = cfg;
            this.rnd = new Random(seed);
            this.verbose = verbose;
            this.x = new BufferedFixture(DirectIoTest.sim(512).asyncCompletions(cfg.asyncDevice()).seed(seed),
                    BufferedFixture.quietCache(8L << 20), BufferedIo.Options.defaults().withMaxRequestBytes(cfg.maxRequest())
                    .withMaxFolioOrder(cfg.maxFolioOrder()).withReadahead(16 << 10, 256 << 10), cfg.bs(), FILE_BYTES / cfg.bs());
            x.f.holeReservations = cfg.holeReservations();
        }

        void log(String format, Object... args) {
            if (verbose) System.out.printf("  [%s op %d] %s%n", cfg, op, String.format(format, args));
        }

        void run(int n) throws Exception {
            try {
                for (op = 0; op < n; op++) {
                    step();
                    if (verbose && System.getProperty("foliofs.debugPos") != null) debug(Long.getLong("foliofs.debugPos"));
                    assertThat(x.f.size()).as("size after op %d", op).isEqualTo(size);
                    if (op % 256 == 255) checkAll();
                }
                checkAll();
                x.assertQuiescent();
            } finally {
                x.close();
            }
        }

        int len(int max) {
            return rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(max) : 1 + rnd.nextInt(Math.min(max, 3 * cfg.bs()));
        }

        void step() throws Exception {
            int p = rnd.nextInt(100);
            if (p < 30) {
                int len = len(64 << 10);
                int pos = rnd.nextInt(FILE_BYTES - len);
                byte[] d = new byte[len];
                rnd.nextBytes(d);
                log("buffered write %d+%d", pos, len);
                assertThat(x.write(pos, d)).isEqualTo(len);
                System.arraycopy(d, 0, oracle, pos, len);
                size = Math.max(size, pos + len);
                check(pos, len);
            } else if (p < 55) {
                int len = len(128 << 10);
                int pos = rnd.nextInt(FILE_BYTES - len);
                log("buffered read %d+%d", pos, len);
                check(pos, len);
            } else if (p < 65) {
                int len = 512 * (1 + rnd.nextInt(64));
                int pos = 512 * rnd.nextInt((FILE_BYTES - len) / 512);
                byte[] d = new byte[len];
                rnd.nextBytes(d);
                log("direct write %d+%d", pos, len);
                assertThat(x.dio.write(x.f, x.f, x.f, pos, MemorySegment.ofArray(d), 0)).isEqualTo(len);
                System.arraycopy(d, 0, oracle, pos, len);
                size = Math.max(size, pos + len);
                check(pos, len);
            } else if (p < 75) {
                int len = 512 * (1 + rnd.nextInt(128));
                int pos = 512 * rnd.nextInt((FILE_BYTES - len) / 512);
                byte[] got = new byte[len];
                log("direct read %d+%d", pos, len);
                long n = x.dio.read(x.f, x.f, pos, MemorySegment.ofArray(got));
                compare("direct read", pos, got, n);
            } else if (p < 81) {
                long newSize = rnd.nextInt(3) == 0 ? rnd.nextInt(FILE_BYTES) : Math.max(0, size - rnd.nextInt(3 * cfg.bs()));
                log("truncate %d -> %d", size, newSize);
                x.f.truncate(x.bio, newSize);
                if (newSize < size) Arrays.fill(oracle, (int) newSize, (int) size, (byte) 0);
                size = newSize;
                check(Math.max(0, newSize - cfg.bs()), 2 * cfg.bs());
            } else if (p < 86) {
                if (size == 0) return;
                long pos = rnd.nextLong(size);
                long len = 1 + rnd.nextLong(Math.min(size - pos, 3L * cfg.bs()));
                log("zero range %d+%d", pos, len);
                x.bio.zeroRange(x.f, x.f, pos, len);
                Arrays.fill(oracle, (int) pos, (int) (pos + len), (byte) 0);
                check(pos, (int) len);
            } else if (p < 91) {
                log("fsync");
                x.bio.fsync(x.f, 0, Long.MAX_VALUE, rnd.nextBoolean(), x.cursor);
            } else if (p < 96) {
                log("writeback pass");
                x.file.writeback(x.file.cache(), 1 + rnd.nextInt(256 << 10));
            } else {
                log("evict");
                x.evictAll();
            }
        }

        void debug(long pos) throws Exception {
            IoMap m = x.f.begin(x.f, pos, 1, IoMapOps.REPORT);
            org.foliofs.pagecache.Folio g = x.file.cache().lookup(pos >>> 12);
            String fs = "not cached";
            if (g != null) {
                long off = pos - g.fileOffset();
                fs = g + " uptodate=" + g.isUptodate(off, 1) + " byte=" + g.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, off);
                g.put();
            }
            byte[] dev = new byte[512];
            if (m.deviceAddress() >= 0) {
                org.foliofs.device.IoRequest r = org.foliofs.device.IoRequest.read(m.deviceAddressOf(pos / 512 * 512), MemorySegment.ofArray(dev), null);
                x.dev.submit(r);
                r.await();
            }
            System.out.printf("    debug %d: %s; %s; device byte %d; oracle %d%n", pos, m, fs, dev[(int) (pos % 512)], oracle[(int) pos]);
        }

        void check(long pos, long len) throws Exception {
            len = Math.min(len, FILE_BYTES - pos);
            byte[] got = new byte[(int) len];
            long n = x.bio.read(x.f, x.f, pos, MemorySegment.ofArray(got));
            compare("buffered read", pos, got, n);
        }

        void compare(String what, long pos, byte[] got, long n) {
            long expect = Math.max(0, Math.min(got.length, size - pos));
            assertThat(n).as("%s of %d at %d returned (size %d, op %d)", what, got.length, pos, size, op).isEqualTo(expect);
            for (int i = 0; i < expect; i++) {
                if (got[i] != oracle[(int) pos + i]) {
                    throw new AssertionError("op " + op + ": " + what + ": byte at file offset " + (pos + i) + " is " + got[i]
                            + ", expected " + oracle[(int) pos + i] + " (read " + pos + "+" + got.length + ", size " + size + ", " + cfg + ")");
                }
            }
        }

        void checkAll() throws Exception {
            check(0, FILE_BYTES);
            byte[] got = new byte[FILE_BYTES];
            long n = x.dio.read(x.f, x.f, 0, MemorySegment.ofArray(got));
            compare("direct read of the whole file", 0, got, n);
        }
    }

    @Test
    void configsCoverEveryBlockSize() {
        assertThat(Arrays.stream(CONFIGS).mapToInt(Config::bs).distinct().count()).isEqualTo(4);
        assertThat(SimDevice.builder()).isNotNull();
    }
}
