package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.Fsck;
import org.foliofs.fs.FsckReport;
import org.foliofs.fuse.FolioMount;
import org.foliofs.fuse.MountOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** foliofs mount: refusals that leave the image untouched, clean unmount on SIGTERM / fusermount3 -u, kill -9 recovery. */
class MountCommandTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeAll
    static void fuse() {
        String why = FolioMount.unavailable();
        if (why != null) System.out.println("SKIPPED: mount tests need FUSE: " + why);
        assumeTrue(why == null, why);
    }

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    private Path image(String name, String size) {
        Path img = dir.resolve(name);
        assertThat(run("mkfs", img.toString(), "--size", size)).as(err.toString()).isZero();
        return img;
    }

    private Path mountpoint(String name) throws IOException {
        return Files.createDirectories(dir.resolve(name));
    }

    private static String sha(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private static void assertCleanWithoutRecovery(Path image) throws IOException {
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            FsckReport r = Fsck.check(dev, false);
            assertThat(r.needsRecovery()).as("journal needs recovery").isFalse();
            assertThat(r.problems()).as("fsck problems").isEmpty();
        }
    }

    private static String sh(String script) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true).start();
        String o = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s\n%s", script, o).isZero();
        return o;
    }

    private static boolean mounted(Path mp) throws IOException {
        String abs = mp.toAbsolutePath().toString();
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream().anyMatch(l -> l.split(" ")[1].equals(abs));
    }

    // ------------------------------------------------------------------ refusals

    @Test
    void refusesAnImageInUseNotFolioFsOrFailingChecksWithoutTouchingIt() throws Exception {
        Path img = image("vol.img", "32M");
        Path mp = mountpoint("mnt"), mp2 = mountpoint("mnt2");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (FolioMount m = FolioMount.mount(img, mp, MountOptions.defaults(), new PrintStream(log, true))) {
            assertThat(run("mount", img.toString(), mp2.toString())).isEqualTo(1);
            assertThat(err.toString()).contains(img + " is in use by another FolioFS process");
            assertThat(mounted(mp2)).isFalse();
            assertThat(run("fsck", img.toString())).isEqualTo(2);
            assertThat(err.toString()).contains("cannot check " + img + ": " + img + " is in use by another FolioFS process");
            assertThat(run("mkfs", "--force", img.toString())).isEqualTo(1);
            assertThat(err.toString()).contains(img + " is in use by another FolioFS process");
        }
        assertThat(mounted(mp)).isFalse();

        Path zeros = dir.resolve("zeros.img");
        Files.write(zeros, new byte[16 << 20]);
        String before = sha(zeros);
        assertThat(run("mount", zeros.toString(), mp2.toString())).isEqualTo(1);
        assertThat(err.toString()).contains(zeros + " is not a FolioFS volume");
        assertThat(sha(zeros)).isEqualTo(before);

        Path bad = image("bad.img", "32M");
        try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
            long at = (long) 4096 * 4096 + 4096 + 100;   // header of group 1 (16 MiB groups with 4 KiB blocks)
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
        assertThat(run("fsck", "--no-replay", bad.toString())).as("the corruption is seen by fsck").isEqualTo(1);
        before = sha(bad);
        assertThat(run("mount", bad.toString(), mp2.toString())).isEqualTo(1);
        assertThat(err.toString()).contains(bad + " fails its checks").contains("Run foliofs fsck");
        assertThat(sha(bad)).isEqualTo(before);
        assertThat(mounted(mp2)).isFalse();
    }

    @Test
    void badOptionsAndMountpointsAreUsageErrors() throws Exception {
        Path img = image("vol.img", "16M");
        Path mp = mountpoint("mnt");
        assertThat(run("mount", "-o", "writemode=fast", img.toString(), mp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("writemode=fast is not one of writeback, writethrough, writethrough+dsync");
        assertThat(run("mount", "-o", "threads=0", img.toString(), mp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("threads (0) must be from 1 to 64");
        assertThat(run("mount", "-o", "bogus", img.toString(), mp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("unknown mount option bogus");
        assertThat(run("mount", img.toString(), dir.resolve("nowhere").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("nowhere").contains("must be an existing directory");
    }

    // ------------------------------------------------------------------ a mount in its own JVM

    /** `foliofs mount` in a child JVM, its output collected line by line. */
    private static final class Child implements AutoCloseable {
        final Process process;
        final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final StringBuilder all = new StringBuilder();
        final Thread reader;

        Child(String... args) throws IOException {
            List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
            cmd.addAll(List.of(args));
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            reader = Thread.ofPlatform().daemon(true).start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        synchronized (all) { all.append(l).append('\n'); }
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                }
            });
        }

        void awaitLine(String prefix) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                String l = lines.poll(100, TimeUnit.MILLISECONDS);
                if (l != null && l.startsWith(prefix)) return;
                if (l == null && !process.isAlive()) break;
            }
            throw new AssertionError("no line starting with \"" + prefix + "\" from the mount process; output:\n" + output());
        }

        String output() { synchronized (all) { return all.toString(); } }

        /** Waits for the process to exit and its output to be read; false on timeout. */
        boolean awaitExit() throws InterruptedException {
            if (!process.waitFor(60, TimeUnit.SECONDS)) return false;
            reader.join(10_000);
            return true;
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    @Test
    void sigtermAndFusermountUnmountLeaveTheImageClean() throws Exception {
        Path img = image("vol.img", "64M");
        Path mp = mountpoint("mnt");
        try (Child c = new Child("mount", img.toString(), mp.toString())) {
            c.awaitLine(MountCommand.MOUNTED);
            sh("cd '" + mp + "' && mkdir d && seq 1 100000 > d/numbers && cp d/numbers d/copy && ln -s numbers d/link");
            sh("kill -TERM " + c.process.pid());   // SIGTERM (Process.destroy would also close our end of its output)
            assertThat(c.awaitExit()).as("exited after SIGTERM:\n%s", c.output()).isTrue();
            assertThat(c.output()).as("exit status %s", c.process.exitValue()).contains("unmounted " + mp);
        }
        assertThat(mounted(mp)).isFalse();
        assertCleanWithoutRecovery(img);

        try (Child c = new Child("mount", "-o", "threads=2", img.toString(), mp.toString())) {
            c.awaitLine(MountCommand.MOUNTED);
            sh("cd '" + mp + "' && cmp d/numbers d/copy && [ \"$(readlink d/link)\" = numbers ] && seq 1 1000 > d/more");
            sh("fusermount3 -u '" + mp + "'");
            assertThat(c.awaitExit()).as("exited after fusermount3 -u:\n%s", c.output()).isTrue();
            assertThat(c.process.exitValue()).as(c.output()).isZero();
            assertThat(c.output()).contains("unmounted " + mp + "; " + img + " is clean");
        }
        assertCleanWithoutRecovery(img);
    }

    @Test
    void readOnlyMountWritesNothing() throws Exception {
        Path img = image("vol.img", "32M");
        Path mp = mountpoint("mnt");
        assertThat(run("mount", "--help")).isZero();
        assertThat(out.toString()).contains("-o ro", "ro (read-only");
        try (Child c = new Child("mount", img.toString(), mp.toString())) {
            c.awaitLine(MountCommand.MOUNTED);
            sh("cd '" + mp + "' && echo kept > f && fusermount3 -u '" + mp + "'");
            assertThat(c.awaitExit()).as(c.output()).isTrue();
        }
        String before = sha(img);
        try (Child c = new Child("mount", "-o", "ro", img.toString(), mp.toString())) {
            c.awaitLine(MountCommand.MOUNTED);
            assertThat(c.output()).contains("(read-only, direct_io");
            assertThat(sh("cd '" + mp + "' && cat f && (touch g 2>&1 || true)")).contains("kept", "Read-only file system");
            sh("fusermount3 -u '" + mp + "'");
            assertThat(c.awaitExit()).as(c.output()).isTrue();
            assertThat(c.process.exitValue()).as(c.output()).isZero();
        }
        assertThat(sha(img)).as("image after a read-only mount").isEqualTo(before);
        assertCleanWithoutRecovery(img);
    }

    @Test
    void backgroundMountReturnsOnceLive() throws Exception {
        Path img = image("vol.img", "32M");
        Path mp = mountpoint("mnt");
        Path log = dir.resolve("mount.log");
        try (Child c = new Child("mount", "--background", "--log", log.toString(), img.toString(), mp.toString())) {
            assertThat(c.awaitExit()).isTrue();
            assertThat(c.process.exitValue()).as(c.output()).isZero();
            assertThat(c.output()).contains("in the background");
        }
        assertThat(mounted(mp)).isTrue();
        sh("echo hi > '" + mp + "/f' && fusermount3 -u '" + mp + "'");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.readString(log).contains("is clean") && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(Files.readString(log)).contains("unmounted " + mp);
        // the lock is gone once the serving process has exited
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            try (org.foliofs.fuse.ImageLock l = org.foliofs.fuse.ImageLock.acquire(img)) {
                break;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        assertCleanWithoutRecovery(img);
    }

    // ------------------------------------------------------------------ kill -9

    private static final String WORKLOAD = """
            import os, random, sys
            mnt, ack, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
            rnd = random.Random(seed)
            a = open(ack, "a", buffering=1)
            files, pending, n = [], {}, 0
            while True:
                if len(files) < 6 and rnd.random() < 0.02 or not files:
                    name = "f%d" % len(files)
                    fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_RDWR, 0o644)
                    free = list(range(256)); rnd.shuffle(free)
                    files.append((name, fd, free)); pending[name] = []
                name, fd, free = rnd.choice(files)
                if not free:
                    continue
                blk = free.pop()
                os.pwrite(fd, (b"%08d" % n) * 512, blk * 4096)
                pending[name].append((blk, n))
                n += 1
                if rnd.random() < 0.3:
                    (os.fdatasync if rnd.random() < 0.5 else os.fsync)(fd)
                    for b, v in pending[name]:
                        a.write("%s %d %d\\n" % (name, b, v))
                    pending[name] = []
            """;

    private static final String VERIFY = """
            import os, sys
            mnt, ack = sys.argv[1], sys.argv[2]
            bad, ok = [], 0
            for line in open(ack):
                parts = line.split()
                if len(parts) != 3:
                    continue   # the last line may be torn by the kill
                name, blk, v = parts[0], int(parts[1]), int(parts[2])
                with open(os.path.join(mnt, name), "rb") as f:
                    f.seek(blk * 4096)
                    data = f.read(4096)
                if data != (b"%08d" % v) * 512:
                    bad.append("%s block %d: expected write %d, found %r" % (name, blk, v, data[:16]))
                else:
                    ok += 1
            print("acknowledged writes present:", ok)
            for b in bad[:20]:
                print("MISSING", b)
            sys.exit(1 if bad else 0)
            """;

    @Test
    void killDashNineLosesNoFsyncedWrite() throws Exception {
        long seed = Long.getLong("foliofs.seed", System.nanoTime() & 0xffff_ffffL);
        System.out.println("seed " + seed + "; replay: mvn -pl foliofs-cli test -Dtest='MountCommandTest#killDashNineLosesNoFsyncedWrite' -Dfoliofs.seed=" + seed);
        Path img = image("vol.img", "64M");
        Path mp = mountpoint("mnt");
        Path ack = dir.resolve("ack.txt"), workload = dir.resolve("workload.py"), verify = dir.resolve("verify.py");
        Files.writeString(workload, WORKLOAD);
        Files.writeString(verify, VERIFY);
        Files.createFile(ack);
        try (Child c = new Child("mount", img.toString(), mp.toString())) {
            c.awaitLine(MountCommand.MOUNTED);
            Process w = new ProcessBuilder("python3", workload.toString(), mp.toString(), ack.toString(), Long.toString(seed))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("workload.out").toFile()).start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (Files.readAllLines(ack).size() < 300 && w.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
                assertThat(w.isAlive()).as("workload still running: %s", Files.readString(dir.resolve("workload.out"))).isTrue();
                c.process.destroyForcibly();   // SIGKILL in the middle of the workload
                assertThat(c.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            } finally {
                w.destroyForcibly();
                w.waitFor(30, TimeUnit.SECONDS);
            }
        }
        sh("fusermount3 -u -z '" + mp + "' 2>/dev/null || umount -l '" + mp + "' 2>/dev/null || true");
        long acked = Files.readAllLines(ack).size();
        assertThat(acked).as("acknowledged writes before the kill").isGreaterThanOrEqualTo(300);

        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (FolioMount m = FolioMount.mount(img, mp, MountOptions.defaults(), new PrintStream(log, true))) {
            assertThat(log.toString()).as("the remount recovers the journal").contains("journal recovery replayed");
            String o = sh("python3 '" + verify + "' '" + mp + "' '" + ack + "'");
            System.out.println(o.strip() + " (of " + acked + " acknowledged)");
        }
        assertCleanWithoutRecovery(img);
    }
}
