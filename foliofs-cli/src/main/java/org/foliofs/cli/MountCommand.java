package org.foliofs.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.foliofs.fuse.FolioMount;
import org.foliofs.fuse.MountOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs mount [-o OPTIONS] [--background] <image> <mountpoint>}: serves a FolioFS volume through
 * FUSE ({@link FolioMount}) until it is unmounted ({@code fusermount3 -u}, {@code umount}, SIGINT or
 * SIGTERM), then leaves the image clean. With {@code --background} a child process serves the mount and
 * this command returns once the mount is live.
 */
@Command(name = "mount",
        mixinStandardHelpOptions = true,
        description = {"Mounts a FolioFS volume with FUSE and serves it in the foreground until it is unmounted",
                "(fusermount3 -u MOUNTPOINT, umount, Ctrl-C or SIGTERM), which flushes everything and leaves the image clean.",
                "Refuses an image that another FolioFS process has open, that is not FolioFS, or that fails its checks.",
                "With -o ro the image is opened read-only and never written (not at unmount either); read-only mounts of one",
                "image may coexist, never with a read-write one; an image that needs journal recovery is refused (mount it",
                "read-write once, or run foliofs fsck, first)."})
public final class MountCommand implements Callable<Integer> {
    /** Printed on stdout once the mount is live. */
    static final String MOUNTED = "foliofs: mounted ";

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "<image>", description = "Image file or block device holding a FolioFS volume.")
    Path image;

    @Parameters(index = "1", paramLabel = "<mountpoint>", description = "An existing directory.")
    Path mountpoint;

    @Option(names = "-o", paramLabel = "<options>", split = ",",
            description = {"Comma-separated mount options (repeatable): direct_io (default: our page cache is the only cache),",
                    "kernel_cache, writemode=writeback, threads=N (default 4), cache=SIZE (default 64M),",
                    "attr_timeout=S, entry_timeout=S (default 1), nocheck, allow_other, allow_root, debug,",
                    "ro (read-only: nothing is written to the image; changes fail with EROFS), rw (default)."})
    List<String> options = new ArrayList<>();

    @Option(names = "--background", description = "Return once the mount is live; a child process serves it (its messages go to --log).")
    boolean background;

    @Option(names = "--log", paramLabel = "<file>", description = "With --background: where the serving process writes its messages (default: discard).")
    Path logFile;

    @Option(names = "--ready-file", hidden = true, description = "Internal: created once the mount is live (used by --background).")
    Path readyFile;

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        MountOptions opts;
        try {
            opts = MountOptions.parse(String.join(",", options), MountOptions.defaults());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        if (background) return background(cl.getOut(), cl.getErr());
        PrintWriter out = cl.getOut();
        PrintStream log = System.err;
        FolioMount m = FolioMount.mount(image, mountpoint, opts, log);
        Thread hook = Thread.ofPlatform().name("foliofs-unmount-on-signal").unstarted(() -> {
            try {
                m.unmount();
                log.println("foliofs: unmounted " + mountpoint + "; " + image + " is clean");
            } catch (IOException e) {
                log.println("foliofs: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        out.println(MOUNTED + image + " on " + mountpoint + " (" + (opts.readOnly() ? "read-only, " : "") + (opts.directIo() ? "direct_io" : "kernel_cache") + ", "
                + opts.threads() + " threads); unmount with: fusermount3 -u " + mountpoint);
        out.flush();
        if (readyFile != null) Files.writeString(readyFile, ProcessHandle.current().pid() + "\n");
        m.awaitUnmounted();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            return 0;   // a signal is shutting the JVM down: the hook reports
        }
        out.println("foliofs: unmounted " + mountpoint + "; " + image + " is clean");
        out.flush();
        return 0;
    }

    /** Starts this command again without --background in a new session and waits until its mount is live. */
    private int background(PrintWriter out, PrintWriter err) throws IOException, InterruptedException {
        Path ready = Files.createTempFile("foliofs-mount-", ".ready");
        Files.delete(ready);
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) cmd.add("/usr/bin/setsid");   // away from the terminal's signals
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add("mount");
        for (String o : options) { cmd.add("-o"); cmd.add(o); }
        cmd.add("--ready-file");
        cmd.add(ready.toString());
        cmd.add(image.toAbsolutePath().toString());
        cmd.add(mountpoint.toAbsolutePath().toString());
        Path log = logFile != null ? logFile.toAbsolutePath() : Path.of("/dev/null");
        Path startLog = Files.createTempFile("foliofs-mount-", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                        (logFile != null ? log : startLog).toFile()));
        Process p = pb.start();
        try {
            while (!Files.exists(ready)) {
                if (p.waitFor(50, TimeUnit.MILLISECONDS)) {
                    String why = Files.readString(logFile != null ? log : startLog, StandardCharsets.UTF_8).strip();
                    err.println(why.isEmpty() ? "foliofs: the mount process exited with status " + p.exitValue() : why);
                    err.flush();
                    return p.exitValue() == 0 ? 1 : p.exitValue();
                }
            }
            out.println(MOUNTED + image + " on " + mountpoint + " (in the background, pid " + p.pid()
                    + "); unmount with: fusermount3 -u " + mountpoint);
            out.flush();
            return 0;
        } finally {
            Files.deleteIfExists(ready);
            Files.deleteIfExists(startLog);
        }
    }
}
