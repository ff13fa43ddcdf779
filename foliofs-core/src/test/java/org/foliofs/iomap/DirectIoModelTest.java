package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

/**
 * Seeded model-based test: random direct reads and writes (sync, async, DSYNC), preallocation,
 * hole punching, forced remaps and fsync+crash, checked against an in-memory oracle after every
 * read; over several device and engine configurations (20,000 operations in the default run).
 * Replay: {@code mvn -pl foliofs-core test -Dtest=DirectIoModelTest -Dfoliofs.seed=N} runs that
 * seed for every configuration and logs each operation; {@code -Dfoliofs.modelOps=N} changes the
 * operations per configuration.
 */
class DirectIoModelTest {
    static final long BASE_SEED = 0x10AA_0000L;
    static final int FILE_BYTES = 256 << 10;

    /** One configuration: device geometry and engine limits. */
    record Config(int lbs, int bs, boolean asyncDevice, int maxRequest, int maxInFlight, boolean fua, boolean vwc) {}

    static final Config[] CONFIGS = {
        new Config(512, 4096, false, 8192, 2, true, true),
        new Config(4096, 4096, true, 16384, 4, false, true),
        new Config(512, 512, false, 4096, 1, true, false),
        new Config(4096, 16384, false, 1 << 20, 32, false, true),
    };

    @Test
    void randomDirectIoMatchesTheOracle() throws Throwable {
        String prop = System.getProperty("foliofs.seed");
        long seed = prop != null ? Long.decode(prop) : BASE_SEED + 1;
        int ops = Integer.getInteger("foliofs.modelOps", 5000);
        System.out.println("DirectIoModelTest seed " + seed + " (" + ops + " ops x " + CONFIGS.length + " configs); replay: "
                + "mvn -pl foliofs-core test -Dtest=DirectIoModelTest -Dfoliofs.seed=" + seed);
        for (int c = 0; c < CONFIGS.length; c++) {
            try {
                new Round(CONFIGS[c], seed * 31 + c, prop != null).run(ops);
            } catch (Throwable t) {
                System.out.println("FAILED config " + CONFIGS[c] + " seed " + seed + "; replay: mvn -pl foliofs-core test "
                        + "-Dtest=DirectIoModelTest -Dfoliofs.seed=" + seed);
                throw t;
            }
        }
    }

    static final class Round {
        final Config cfg;
        final Random rnd;
        final boolean verbose;
        final SimDevice dev;
        final TestMapping f;
        final DirectIo dio;
        final byte[] oracle = new byte[FILE_BYTES];
        long size;
        int op;

        Round(Config cfg, long seed, boolean verbose) throws Exception {
            this.cfg = cfg;
            this.rnd = new Random(seed);
            this.verbose = verbose;
            this.dev = DirectIoTest.device(SimDevice.builder().capacity(8L << 20).logicalBlockSize(cfg.lbs())
                    .physicalBlockSize(Math.max(4096, cfg.lbs())).asyncCompletions(cfg.asyncDevice())
                    .supportsFua(cfg.fua()).volatileWriteCache(cfg.vwc()).seed(seed));
            this.f = new TestMapping(dev, cfg.bs(), FILE_BYTES / cfg.bs());
            this.dio = new DirectIo(dev, DirectIo.Options.defaults().withMaxRequestBytes(cfg.maxRequest())
                    .withMaxInFlight(cfg.maxInFlight()));
        }

        void log(String format, Object... args) {
            if (verbose) System.out.printf("  [%s op %d] %s%n", cfg, op, String.format(format, args));
        }

        void run(int n) throws Exception {
            try {
                for (op = 0; op < n; op++) step();
            } finally {
                dev.close();
            }
        }

        void step() throws Exception {
            int p = rnd.nextInt(100);
            int lbs = cfg.lbs();
            if (p < 38) {
                int len = lbs * (1 + rnd.nextInt(Math.min(64, FILE_BYTES / lbs)));
                long pos = (long) lbs * rnd.nextInt((FILE_BYTES - len) / lbs + 1);
                int flags = rnd.nextInt(5) == 0 ? DirectIo.DSYNC : 0;
                boolean async = rnd.nextInt(4) == 0;
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                log("write %d+%d flags=%d async=%s", pos, len, flags, async);
                MemorySegment src = MemorySegment.ofArray(data);
                long w = async ? dio.writeAsync(f, f, f, pos, src, flags).get(10, TimeUnit.SECONDS)
                        : dio.write(f, f, f, pos, src, flags);
                assertThat(w).isEqualTo(len);
                System.arraycopy(data, 0, oracle, (int) pos, len);
                size = Math.max(size, pos + len);
                assertThat(f.size()).isEqualTo(size);
            } else if (p < 75) {
                int len = lbs * (1 + rnd.nextInt(Math.min(96, FILE_BYTES / lbs)));
                long pos = (long) lbs * rnd.nextInt((FILE_BYTES - len) / lbs + 1);
                boolean async = rnd.nextInt(4) == 0;
                byte[] got = new byte[len];
                MemorySegment dst = MemorySegment.ofArray(got);
                long r = async ? dio.readAsync(f, f, pos, dst).get(10, TimeUnit.SECONDS) : dio.read(f, f, pos, dst);
                long expect = Math.max(0, Math.min(len, size - pos));
                log("read %d+%d -> %d", pos, len, r);
                assertThat(r).as("bytes read at %d+%d (size %d)", pos, len, size).isEqualTo(expect);
                for (int i = 0; i < expect; i++) {
                    if (got[i] != oracle[(int) pos + i]) {
                        throw new AssertionError("op " + op + ": byte at file offset " + (pos + i) + " is " + got[i]
                                + ", expected " + oracle[(int) pos + i] + " (read " + pos + "+" + len + ", " + cfg + ")");
                    }
                }
            } else if (p < 83) {
                int blocks = FILE_BYTES / cfg.bs();
                int first = rnd.nextInt(blocks), count = 1 + rnd.nextInt(Math.min(8, blocks - first));
                log("preallocate blocks %d+%d", first, count);
                f.preallocate((long) first * cfg.bs(), (long) count * cfg.bs());
            } else if (p < 91) {
                int blocks = FILE_BYTES / cfg.bs();
                int first = rnd.nextInt(blocks), count = 1 + rnd.nextInt(Math.min(8, blocks - first));
                log("punch blocks %d+%d", first, count);
                f.punch((long) first * cfg.bs(), (long) count * cfg.bs());
                Arrays.fill(oracle, first * cfg.bs(), (first + count) * cfg.bs(), (byte) 0);
            } else if (p < 97) {
                log("relocate before the next submission");
                f.relocateNext = 1;
            } else {
                log("fsync + crash");
                f.fsync();
                f.crash(dev);
                assertThat(f.size()).isEqualTo(size);
            }
        }
    }

    @Test
    void oracleSelfCheckPatternIsNotAllZero() {
        assertThat(DirectIoTest.pattern(512, 1).toArray(ValueLayout.JAVA_BYTE)).isNotEqualTo(new byte[512]);
    }
}
