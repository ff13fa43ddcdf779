package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.foliofs.fs.FolioFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code foliofs io}: every command, every error path, and the device requests {@code stats} reports. */
class IoCommandTest {

    @TempDir
    Path dir;

    private Path img;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void mkfs() {
        img = dir.resolve("vol.img");
        assertThat(run("mkfs", "--size", "32M", img.toString())).as(err.toString()).isZero();
        clear();
    }

    private int run(String... args) {
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    /** {@code foliofs io IMAGE -c cmd...}. */
    private int io(String... commands) {
        List<String> args = new ArrayList<>(List.of("io", img.toString()));
        for (String c : commands) { args.add("-c"); args.add(c); }
        return run(args.toArray(String[]::new));
    }

    private void clear() {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
    }

    private static long number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("'%s' in:%n%s", regex, text).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void pwriteAndPreadPrintLikeXfsIo() {
        assertThat(io("open -c /f", "pwrite 0 64k", "pread -b 16k 0 64k")).as(err.toString()).isZero();
        assertThat(out.toString())
                .contains("wrote 65536/65536 bytes at offset 0" + System.lineSeparator() + "64 KiB, 16 ops; ")
                .contains("read 65536/65536 bytes at offset 0" + System.lineSeparator() + "64 KiB, 4 ops; ")
                .containsPattern("ops; \\d+\\.\\d{4} sec \\(.+/sec and \\d+\\.\\d{4} ops/sec\\)");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void everyWriteFlagIsReachableAndTheDataIsRight() throws Exception {
        assertThat(io("open -c /f",
                "pwrite -S 0x11 -b 64k 0 256k",            // buffered
                "pwrite -W -S 0x22 -b 64k 256k 256k",      // write-through
                "pwrite -D -S 0x33 512k 64k",              // dsync
                "pwrite -W -D -S 0x44 576k 64k",           // write-through + dsync
                "pwrite -a -W -S 0x55 -b 16k 640k 128k",   // async write-through, 8 outstanding
                "pwrite -a -S 0x66 -b 16k 768k 32k",       // async buffered
                "sha256 0 800k", "fsync", "close",
                "open -d /f", "pwrite -S 0x77 -b 64k 1m 128k", "pwrite -a -S 0x78 -b 32k 1152k 128k",
                "sha256 1m 256k", "pread -b 64k 1m 256k", "close",
                "open -s /f", "pwrite -S 0x79 1280k 4k", "close",
                "open -t /f", "pwrite -S 0x7a 1284k 4k", "stat", "sha256 0 2m")).as(err.toString()).isZero();
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        int[][] parts = {{0x11, 256}, {0x22, 256}, {0x33, 64}, {0x44, 64}, {0x55, 128}, {0x66, 32}};
        for (int[] p : parts) md.update(filled(p[1] << 10, p[0]));
        String first = HexFormat.of().formatHex(md.digest());
        assertThat(out.toString()).contains(first + "  819200 bytes at offset 0");
        byte[] direct = new byte[256 << 10];
        Arrays.fill(direct, 0, 128 << 10, (byte) 0x77);
        Arrays.fill(direct, 128 << 10, 256 << 10, (byte) 0x78);
        assertThat(out.toString()).contains(sha256(direct) + "  262144 bytes at offset 1048576")
                .contains("wrote 131072/131072 bytes at offset 1179648" + System.lineSeparator() + "128 KiB, 4 ops")
                .contains("wrote 131072/131072 bytes at offset 655360" + System.lineSeparator() + "128 KiB, 8 ops")
                .contains("read 262144/262144 bytes at offset 1048576")
                .contains("fd.flags = non-sync,non-direct,write-through,read-write")
                .contains("stat.size = 1318912")
                .contains("1318912 bytes at offset 0");   // sha256 stops at the end of the file
    }

    @Test
    void statsShowTheRequestsOfAWriteThroughWrite() {
        assertThat(io("open -c /f", "pwrite -W -b 1m 0 1m", "stats")).as(err.toString()).isZero();
        String s = out.toString();
        assertThat(number(s, "device requests: \\d+ reads, (\\d+) writes")).as(s).isEqualTo(1);
        assertThat(number(s, "device bytes: \\d+ read, (\\d+) written")).isEqualTo(1L << 20);
        assertThat(s).contains("page cache now: 0 dirty bytes, 0 writeback bytes");
    }

    @Test
    void statsShowADsyncOverwriteAsOneWriteMadeDurable() {
        assertThat(io("open -c /f", "pwrite -W -b 1m 0 1m", "fsync", "stats",
                "pwrite -W -D -b 1m 0 1m", "stats")).as(err.toString()).isZero();
        String s = out.toString();
        String last = s.substring(s.lastIndexOf("wrote "));
        assertThat(number(last, "device requests: \\d+ reads, (\\d+) writes")).as(last).isEqualTo(1);
        assertThat(number(last, "device bytes: \\d+ read, (\\d+) written")).isEqualTo(1L << 20);
        long fua = number(last, "device writes: (\\d+) FUA");
        long flushes = number(last, "(\\d+) flushes");
        assertThat(fua + flushes).as("durable: FUA or a cache flush%n%s", last).isPositive();
        assertThat(last).contains("page cache: 1 hits, 0 misses");
    }

    @Test
    void statsCountPageCacheHitsAndDirtyBytes() {
        assertThat(io("open -c /f", "pwrite -b 64k 0 64k", "stats", "pread -b 64k 0 64k", "stats")).isZero();
        String s = out.toString();
        assertThat(s).contains("page cache now: 65536 dirty bytes");
        String last = s.substring(s.lastIndexOf("read "));
        assertThat(last).contains("device requests: 0 reads, 0 writes").contains("page cache: 1 hits, 0 misses");
    }

    @Test
    void preadVerboseDumpsLikeXfsIo() {
        assertThat(io("open -c /f", "pwrite -S 0x41 0 20", "pread -v 0 20")).isZero();
        assertThat(out.toString())
                .contains("00000000:  41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41  AAAAAAAAAAAAAAAA")
                .contains("00000010:  41 41 41 41" + " ".repeat(36) + "  AAAA")
                .contains("read 20/20 bytes at offset 0");
    }

    @Test
    void preadStopsAtTheEndOfFile() {
        assertThat(io("open -c /f", "pwrite 0 10000", "pread 8k 64k")).isZero();
        assertThat(out.toString()).contains("read 1808/65536 bytes at offset 8192");
    }

    @Test
    void sizeAndSpaceCommandsShowInStatAndFiemap() {
        assertThat(io("open -c /f", "pwrite -W -b 64k 0 256k", "fsync", "fdatasync",
                "fpunch 64k 64k", "falloc -k 1m 64k", "fzero 512k 8k", "falloc 2m 4k", "fiemap", "stat",
                "truncate 100000", "stat", "statx")).as(err.toString()).isZero();
        String s = out.toString();
        assertThat(s).contains("/f:\n\t0: [0..127]: ", "\t1: [128..255]: hole", "unwritten")
                .contains("stat.size = 2101248")            // falloc 2m 4k grew it; -k did not
                .contains("stat.size = 100000")
                .contains("stat.atomic_write_unit_min = 4096", "stat.atomic_write_unit_max = ", "stat.atomic_write_segments_max = 1",
                        "device.atomic_write_unit_max = ", "software atomic: out of place")
                .contains("stat.type = regular file");
        assertThat(s.lines().filter(l -> l.matches("\t\\d+: \\[\\d+\\.\\.\\d+\\]: \\d+\\.\\.\\d+( unwritten)?")).count())
                .as(s).isGreaterThanOrEqualTo(3);
    }

    @Test
    void reflinkWorksOrSaysItIsNotSupportedYet() {
        boolean present = Arrays.stream(FolioFile.class.getMethods()).anyMatch(m -> m.getName().equals("cloneRange"));
        int rc = io("open -c /src", "pwrite -W -b 64k 0 64k", "close", "open -c /dst", "reflink /src 0 0 64k", "sha256 0 64k");
        if (present) {
            assertThat(rc).as(err.toString()).isZero();
            assertThat(out.toString()).contains("linked 65536/65536 bytes at offset 0");
        } else {
            assertThat(rc).isEqualTo(1);
            assertThat(err.toString()).isEqualTo("reflink: not supported yet: this build of FolioFS has no reflink (FolioFile.cloneRange)"
                    + System.lineSeparator());
        }
    }

    @Test
    void atomicNeedsWriteThroughAndTheNextCommandsStillRun() {
        assertThat(io("open -c /f", "pwrite -A 0 4k", "pwrite -W -A -b 16k 0 16k", "pwrite -W -A -b 12k 0 12k", "pwrite 0 4k")).isEqualTo(1);
        assertThat(err.toString()).contains("pwrite: ATOMIC buffered write needs WRITETHROUGH")
                .contains("atomic write of 12288 bytes at offset 0").contains("power of two");
        assertThat(out.toString()).contains("wrote 16384/16384 bytes at offset 0", "wrote 4096/4096 bytes at offset 0");
    }

    /** open -d + pwrite -A: direct atomic writes (sync, DSYNC, async), limits refused with their message, the data reads back. */
    @Test
    void directAtomicWritesWithOpenDAndPwriteA() {
        assertThat(io("open -c -d /f", "pwrite -A -b 64k -S 0x41 0 64k", "pwrite -A -D -b 16k -S 0x42 64k 32k",
                "pwrite -A -a -b 16k -S 0x43 128k 64k", "pwrite -A -b 12k 0 12k", "close", "open /f", "pread -v 64k 16",
                "pread -v 128k 16", "statx")).as(err.toString()).isEqualTo(1);
        long max = number(out.toString(), "stat.atomic_write_unit_max = (\\d+)");
        assertThat(err.toString().lines()).as("only the 12 KiB write is refused").singleElement().asString()
                .startsWith("pwrite: atomic write of 12288 bytes at offset 0 on FolioFile[inode ")
                .endsWith("refused: the length must be a power of two from 4096 to " + max
                        + " (atomic write limits: unit min 4096, unit max " + max + ", segments max 1)");
        assertThat(out.toString()).contains("wrote 65536/65536 bytes at offset 0", "wrote 32768/32768 bytes at offset 65536",
                        "wrote 65536/65536 bytes at offset 131072")
                .contains("00010000:  42 42 42 42 42 42 42 42 42 42 42 42 42 42 42 42  BBBBBBBBBBBBBBBB")
                .contains("00020000:  43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43  CCCCCCCCCCCCCCCC")
                .contains("stat.size = 196608");
    }

    @Test
    void everyErrorIsOneLineNamingTheCommandAndMakesTheStatusNonZero() {
        String[][] cases = {
            {"bogus", "io: command \"bogus\" not found"},
            {"pwrite -Z 0 4k", "pwrite: Unknown option: '-Z'"},
            {"pwrite -1 4k", "pwrite: Invalid value for positional parameter at index 0 (OFF): invalid size '-1': must not be negative"},
            {"pwrite 0 12Q", "pwrite: Invalid value for positional parameter at index 1 (LEN): invalid size '12Q'"},
            {"pwrite -b 0 0 4k", "pwrite: buffer size -b 0 must be from 1 to"},
            {"pwrite -S 300 0 4k", "pwrite: fill byte -S 300 must be from 0 to 255"},
            {"pwrite -S zz 0 4k", "pwrite: fill byte -S 'zz' is not a number"},
            {"pread 0", "pread: Missing required parameter: 'LEN'"},
            {"truncate -5", "truncate: Invalid value for positional parameter at index 0 (LEN): invalid size '-5'"},
            {"falloc 0 0", "falloc: fallocate range [0, +0) is invalid"},
            {"open 'unterminated", "io: unterminated quote (')"},
        };
        for (String[] c : cases) {
            clear();
            assertThat(io("open -c /f", c[0], "stat")).as(c[0]).isEqualTo(1);
            assertThat(err.toString()).as(c[0]).startsWith(c[1]).doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(err.toString().lines().count()).as(c[0] + ": " + err).isEqualTo(1);
            assertThat(out.toString()).as("the command after the failing one runs").contains("stat.ino = ");
        }
    }

    @Test
    void fileErrors() {
        assertThat(io("open /nope")).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("open: no such file or directory: /nope" + System.lineSeparator());
        clear();
        assertThat(io("open /")).isEqualTo(1);
        assertThat(err.toString()).startsWith("open: /: not a file name");
        clear();
        assertThat(io("open -c /d/f")).isEqualTo(1);
        assertThat(err.toString()).startsWith("open: no such file or directory: /d");
        clear();
        assertThat(io("pwrite 0 4k", "stat", "fsync")).isEqualTo(1);
        assertThat(err.toString()).isEqualTo(String.join(System.lineSeparator(),
                "pwrite: no file is open (use: open [-c] PATH)", "stat: no file is open (use: open [-c] PATH)",
                "fsync: no file is open (use: open [-c] PATH)", ""));
        clear();
        assertThat(io("open -c -d /f", "pwrite -W 0 4k")).isEqualTo(1);
        assertThat(err.toString()).startsWith("pwrite: write flags DIRECT and WRITETHROUGH exclude each other");
    }

    @Test
    void imageErrorsExitNonZero() {
        assertThat(run("io", dir.resolve("missing.img").toString(), "-c", "stat")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: no such file or directory: ");
        clear();
        assertThat(run("io")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required parameter: 'IMAGE'");
        clear();
        assertThat(run("io", img.toString(), "--bogus")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option: '--bogus'");
        clear();
        assertThat(run("io", img.toString(), "--engine", "both", "-c", "stat")).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: invalid value for --engine: both (expected sync or uring)");
    }

    @Test
    void syncEngine() {
        assertThat(run("io", img.toString(), "--engine", "sync", "-c", "open -c /f", "-c", "pwrite -a -W -b 4k 0 64k",
                "-c", "sha256 0 64k")).as(err.toString()).isZero();
        assertThat(out.toString()).contains("wrote 65536/65536 bytes at offset 0" + System.lineSeparator() + "64 KiB, 16 ops");
    }

    @Test
    void commandsFromStdin() {
        InputStream saved = System.in;
        try {
            System.setIn(new ByteArrayInputStream("open -c /f\n# comment\n\npwrite 0 4k\nquit\npwrite 0 4k\n".getBytes(StandardCharsets.UTF_8)));
            assertThat(run("io", img.toString())).as(err.toString()).isZero();
        } finally {
            System.setIn(saved);
        }
        assertThat(out.toString()).containsOnlyOnce("wrote 4096/4096 bytes at offset 0");
    }

    @Test
    void helpListsTheCommands() {
        assertThat(io("help")).isZero();
        assertThat(out.toString()).contains("open", "pwrite", "pread", "fsync", "fdatasync", "truncate", "falloc", "fpunch",
                "fzero", "reflink", "statx", "fiemap", "sha256", "stats");
        clear();
        assertThat(io("help pwrite")).isZero();
        assertThat(out.toString()).contains("Usage: io pwrite [-aADW] [-b=BS] [-S=SEED] OFF LEN");
    }

    @Test
    void splitHonoursQuotes() {
        assertThat(IoShell.split("  open -c  '/a b' \"c d\"e ")).containsExactly("open", "-c", "/a b", "c de");
        assertThat(IoShell.split("")).isEmpty();
    }
}
