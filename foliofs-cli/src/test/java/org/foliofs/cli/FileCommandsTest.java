package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code foliofs ls}, {@code cat}, {@code cp} and {@code info}: round trips and error exits. */
class FileCommandsTest {
    private static final long SEED = Long.getLong("foliofs.test.seed", 0x5eedL);

    @TempDir
    Path dir;

    private Path img;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final ByteArrayOutputStream raw = new ByteArrayOutputStream();

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
        ((CatCommand) cmd.getSubcommands().get("cat").getCommand()).stdout = raw;
        return cmd.execute(args);
    }

    private void clear() {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        raw.reset();
    }

    private byte[] randomBytes(int n) {
        System.out.println("FileCommandsTest seed " + SEED + " (replay: -Dfoliofs.test.seed=" + SEED + ")");
        byte[] b = new byte[n];
        new Random(SEED).nextBytes(b);
        return b;
    }

    @Test
    void copyInListCatAndCopyOutRoundTrip() throws Exception {
        byte[] data = randomBytes(3 * (1 << 20) + 12345);   // more than one 1 MiB chunk, not block aligned
        Path host = dir.resolve("data.bin");
        Files.write(host, data);
        assertThat(run("cp", host.toString(), img + ":/data.bin")).as(err.toString()).isZero();
        assertThat(run("cp", host.toString(), img + ":/")).as("into a directory, under the source's name").isZero();
        assertThat(run("io", img.toString(), "-c", "open -c /small", "-c", "pwrite -S 0x61 0 5")).isZero();
        clear();

        assertThat(run("ls", img.toString())).isZero();
        assertThat(out.toString()).isEqualTo(String.join(System.lineSeparator(), "data.bin", "small", ""));
        clear();
        assertThat(run("ls", "-l", img.toString(), "/")).isZero();
        assertThat(out.toString()).containsPattern("-rw-r--r--\\s+1\\s+0\\s+0\\s+3158073 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d data.bin")
                .containsPattern("-rw-r--r--\\s+1\\s+0\\s+0\\s+5 .* small");
        clear();
        assertThat(run("ls", img.toString(), "/small")).isZero();
        assertThat(out.toString()).isEqualTo("/small" + System.lineSeparator());
        clear();

        assertThat(run("cat", img.toString(), "/small")).isZero();
        assertThat(raw.toString()).isEqualTo("aaaaa");
        clear();
        assertThat(run("cat", img.toString(), "/data.bin")).isZero();
        assertThat(raw.toByteArray()).isEqualTo(data);

        Path back = dir.resolve("back.bin");
        assertThat(run("cp", img + ":/data.bin", back.toString())).as(err.toString()).isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(data);
        Path outDir = Files.createDirectory(dir.resolve("out"));
        assertThat(run("cp", img + ":/small", outDir.toString())).isZero();
        assertThat(Files.readString(outDir.resolve("small"))).isEqualTo("aaaaa");

        // overwrite with something shorter: the old tail must go
        Files.writeString(host, "short");
        assertThat(run("cp", host.toString(), img + ":/data.bin")).isZero();
        clear();
        assertThat(run("cat", img.toString(), "/data.bin")).isZero();
        assertThat(raw.toString()).isEqualTo("short");
        assertThat(run("fsck", img.toString())).as(out.toString()).isZero();
    }

    @Test
    void lsOfASubdirectory() throws Exception {
        try (FileDevice dev = FileDevice.open(img, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC));
             FolioFs fs = FolioFs.mount(dev)) {
            long d = fs.mkdir(FolioFs.ROOT_INO, "dir", 0755, 0, 0).ino();
            fs.create(d, "b", 0600, 0, 0);
            fs.create(d, "a", 0644, 0, 0);
            fs.symlink(d, "l", "a", 0, 0);
        }
        assertThat(run("ls", "-l", img.toString(), "/dir")).as(err.toString()).isZero();
        String[] lines = out.toString().split(System.lineSeparator());
        assertThat(lines).hasSize(3);
        assertThat(lines[0]).startsWith("-rw-r--r--").endsWith(" a");
        assertThat(lines[1]).startsWith("-rw-------").endsWith(" b");
        assertThat(lines[2]).startsWith("l").endsWith(" l -> a");
        clear();
        assertThat(run("ls", "-l", img.toString())).isZero();
        assertThat(out.toString()).startsWith("drwxr-xr-x").contains(" dir");
    }

    @Test
    void errorsNameTheValueAndExitNonZero() throws Exception {
        assertThat(run("ls", img.toString(), "/nope")).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("foliofs: no such file or directory: /nope" + System.lineSeparator());
        clear();
        assertThat(run("cat", img.toString(), "/")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: /: not a file name");
        clear();
        assertThat(run("cat", dir.resolve("none.img").toString(), "/x")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: no such file or directory: " + dir.resolve("none.img"));
        clear();
        assertThat(run("cp", "a", "b")).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: neither 'a' nor 'b' is IMAGE:PATH");
        clear();
        assertThat(run("cp", img + ":/x", img + ":/y")).isEqualTo(2);
        assertThat(err.toString()).contains("copying between volumes is not supported");
        clear();
        assertThat(run("cp", dir.resolve("missing").toString(), img + ":/x")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: no such file or directory: " + dir.resolve("missing"));
        clear();
        assertThat(run("cp", dir.toString(), img + ":/x")).isEqualTo(1);
        assertThat(err.toString()).contains("is a directory");
        clear();
        assertThat(run("cp", img + ":/missing", dir.resolve("m").toString())).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: no such file or directory: /missing");
        clear();
        Path plain = Files.write(dir.resolve("plain.img"), new byte[1 << 20]);
        assertThat(run("ls", plain.toString())).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: ").doesNotContain("\tat ");
    }

    private static String sha256(Path p) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /**
     * ls, cat, cp out, info and fsck --no-replay mount read-only: the image's bytes stay the same and
     * an image the process cannot write works (chmod a-w; as root, which ignores permission bits,
     * chattr +i). An image left by a crash is still listed (mounted read-write: the journal is replayed).
     */
    @Test
    void readingCommandsWriteNothingAndWorkOnAnImageThatIsNotWritable() throws Exception {
        assertThat(run("io", img.toString(), "-c", "open -c /small", "-c", "pwrite -S 0x62 0 7")).as(err.toString()).isZero();
        clear();
        String before = sha256(img);
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean locked = false;
        if (root) {
            try {
                locked = new ProcessBuilder("chattr", "+i", img.toString()).redirectErrorStream(true).start().waitFor() == 0;
            } catch (java.io.IOException e) {
                locked = false;   // no chattr: still check that nothing is written
            }
        } else {
            Files.setPosixFilePermissions(img, java.nio.file.attribute.PosixFilePermissions.fromString("r--r--r--"));
            locked = true;
        }
        System.out.println("image locked against writes: " + locked);
        try {
            assertThat(run("ls", "-l", img.toString())).as(err.toString()).isZero();
            assertThat(out.toString()).contains(" small");
            clear();
            assertThat(run("cat", img.toString(), "/small")).as(err.toString()).isZero();
            assertThat(raw.toString()).isEqualTo("bbbbbbb");
            clear();
            Path host = dir.resolve("out.bin");
            assertThat(run("cp", img + ":/small", host.toString())).as(err.toString()).isZero();
            assertThat(Files.readString(host)).isEqualTo("bbbbbbb");
            clear();
            assertThat(run("info", img.toString())).as(err.toString()).isZero();
            assertThat(out.toString()).contains("read-only", "FolioFS 1.0 volume");
            clear();
            assertThat(run("fsck", "--no-replay", img.toString())).as(err.toString()).isZero();
            clear();
            if (locked) {
                assertThat(run("cp", dir.resolve("out.bin").toString(), img + ":/in")).isEqualTo(1);
                assertThat(err.toString()).contains(img.toString());
                clear();
            }
        } finally {
            if (root && locked) new ProcessBuilder("chattr", "-i", img.toString()).start().waitFor();
            else if (!root) Files.setPosixFilePermissions(img, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
        assertThat(sha256(img)).as("image after ls, cat, cp out, info, fsck --no-replay").isEqualTo(before);

        try (FileDevice dev = FileDevice.open(img, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            FolioFs fs = FolioFs.mount(dev);
            fs.create(FolioFs.ROOT_INO, "after-crash", 0644, 0, 0);
            fs.sync();
            fs.abandon();                                      // a crash: the journal needs recovery
        }
        assertThat(run("ls", img.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).contains("after-crash");
    }

    @Test
    void infoShowsTheVolume() throws Exception {
        assertThat(run("info", img.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).contains("capacity:", "FolioFS 1.0 volume", "block size:            4096 (4 KiB)",
                "blocks:                8192 (32 MiB)", "journal:", "features:              compat 0x0",
                "inodes:                2", "software atomic:       min 4096 (4 KiB), max ", "device atomic write:");
        clear();
        Path plain = Files.write(dir.resolve("plain.img"), new byte[1 << 20]);
        assertThat(run("info", plain.toString())).isZero();
        assertThat(out.toString()).contains("no FolioFS volume");
    }
}
