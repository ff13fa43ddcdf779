package org.foliofs.fuse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Fsck;
import org.foliofs.fs.FsckReport;
import org.foliofs.fs.Mkfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A fresh image mounted in a temporary directory, and shell commands run on it. */
final class MountFixture implements AutoCloseable {
    final Path dir, image, mnt;
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);
    FolioMount mount;

    /** Skips the calling test, printing why, when FUSE is truly unavailable here. */
    static void assumeFuse() {
        String why = FolioMount.unavailable();
        if (why != null) System.out.println("SKIPPED: FUSE tests need FUSE: " + why);
        assumeTrue(why == null, why);
    }

    MountFixture(Path dir, long size) throws IOException {
        this.dir = dir;
        this.image = dir.resolve("volume.img");
        this.mnt = dir.resolve("mnt");
        Files.createDirectories(mnt);
        FileDevice.createImage(image, size);
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            FolioFs.format(dev, Mkfs.Options.defaults()).close();
        }
    }

    MountFixture mount(MountOptions opts) throws IOException {
        mount = FolioMount.mount(image, mnt, opts, log);
        return this;
    }

    /** Runs {@code bash -c script} in the mount point; returns stdout+stderr; fails on a non-zero exit. */
    String sh(String script) throws IOException, InterruptedException {
        return sh(script, 120);
    }

    String sh(String script, int timeoutSeconds) throws IOException, InterruptedException {
        Result r = run(script, timeoutSeconds);
        assertThat(r.exit).as("exit status of\n%s\noutput:\n%s\nmount log:\n%s", script, r.out, logBytes).isZero();
        return r.out;
    }

    record Result(int exit, String out) {}

    Result run(String script, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", "-c", "set -e -o pipefail\n" + script).directory(mnt.toFile())
                .redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = Thread.ofPlatform().start(() -> {
            try { p.getInputStream().transferTo(out); } catch (IOException ignored) { }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            reader.join(5000);
            throw new AssertionError("timed out after " + timeoutSeconds + " s:\n" + script + "\noutput:\n" + out + "\nmount log:\n" + logBytes);
        }
        reader.join();
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }

    /** Unmounts and checks the image without replay: clean, nothing to recover. */
    void unmountAndCheck() throws Exception {
        if (mount != null) {
            assertThat(mount.unmount(60, TimeUnit.SECONDS)).as("unmount finished").isTrue();
            mount = null;
        }
        assertClean(image);
    }

    static void assertClean(Path image) throws IOException {
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            FsckReport r = Fsck.check(dev, false);
            assertThat(r.needsRecovery()).as("journal needs recovery after unmount").isFalse();
            assertThat(r.problems()).as("fsck problems").isEmpty();
        }
    }

    String log() { return logBytes.toString(StandardCharsets.UTF_8); }

    @Override
    public void close() throws Exception {
        if (mount != null) {
            try {
                mount.unmount(60, TimeUnit.SECONDS);
            } finally {
                mount = null;
            }
        }
    }

    static List<String> lines(String s) { return s.lines().toList(); }
}
