package org.foliofs.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import org.foliofs.pagecache.PageCache;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs io IMAGE [-c CMD]...}: mounts the volume and runs xfs_io-shaped commands on one
 * open file ({@link IoShell}), in order; with no {@code -c}, reads commands from stdin, one a line.
 * A failing command prints its error and the rest still run (as in xfs_io); the exit status is 1
 * when any command failed, 0 otherwise. The volume is unmounted cleanly at the end.
 */
@Command(name = "io",
        mixinStandardHelpOptions = true,
        description = {"Runs xfs_io-style commands on a file in a FolioFS volume, e.g.",
                "  foliofs io vol.img -c 'open -c /f' -c 'pwrite -W -b 1m 0 1m' -c stats",
                "Commands: open [-c] [-d] [-s] [-t] PATH, close, pwrite [-W] [-D] [-A] [-a] [-b BS] [-S SEED] OFF LEN,",
                "pread [-v] [-b BS] OFF LEN, fsync, fdatasync, truncate LEN, falloc [-k] OFF LEN, fpunch OFF LEN,",
                "fzero [-k] OFF LEN, reflink SRCPATH SRCOFF OFF LEN, stat, statx, fiemap, sha256 OFF LEN, stats,",
                "help [COMMAND]. Sizes take K/M/G/T suffixes (binary).",
                "Every command runs even after one fails; exit status 1 if any failed."})
public final class IoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "IMAGE", description = "Image file or block device holding a FolioFS volume.")
    Path image;

    @Option(names = "-c", paramLabel = "CMD", description = "A command to run; repeat for more (default: read them from stdin).")
    List<String> commands;

    @Option(names = "--engine", paramLabel = "<engine>",
            description = "I/O engine of the device: sync or uring (default: uring where the kernel allows it, else sync).")
    BenchCommand.Engine engine;

    @Option(names = "--cache", paramLabel = "<bytes>", converter = SizeConverter.class, defaultValue = "64M",
            description = "Page cache size (default: ${DEFAULT-VALUE}).")
    long cacheBytes;

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        if (engine == BenchCommand.Engine.BOTH)
            throw new CommandLine.ParameterException(cl, "invalid value for --engine: both (expected sync or uring)");
        if (!Files.exists(image)) throw new NoSuchFileException(image.toString());
        PrintWriter out = cl.getOut(), err = cl.getErr();
        int failures;
        FileDevice.Engine e = engine == null ? null
                : engine == BenchCommand.Engine.SYNC ? FileDevice.Engine.SYNC : FileDevice.Engine.IO_URING;
        try (ImagePaths.Mounted m = ImagePaths.mount(image, e)) {
            m.fs().setPageCacheConfig(PageCache.Config.builder().memoryBytes(cacheBytes).build());
            try (IoShell shell = new IoShell(m.fs(), out, err)) {
                if (commands != null) {
                    for (String c : commands) shell.run(c);
                } else {
                    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                    for (String line; (line = in.readLine()) != null; ) {
                        String t = line.strip();
                        if (t.equals("quit") || t.equals("q")) break;
                        if (!t.startsWith("#")) shell.run(t);
                    }
                }
                failures = shell.failures();
            }
        }
        out.flush();
        return failures == 0 ? 0 : 1;
    }
}
