package org.foliofs.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.Fsck;
import org.foliofs.fs.FsckReport;
import org.foliofs.fuse.ImageLock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs fsck <image> [--no-replay] [--cache <bytes>]}: checks every invariant of a FolioFS volume ({@link Fsck}).
 * Prints each problem on its own line, then notes ({@code note: ...}), then a summary line. Exit
 * codes: 0 clean, 1 problems found, 2 the volume cannot be checked (not FolioFS, newer version,
 * truncated, no valid superblock, unreadable, mounted by a FolioFS process). The image is opened with
 * io_uring (the default engine): fsck reads metadata ahead with many requests in flight.
 */
@Command(name = "fsck",
        mixinStandardHelpOptions = true,
        description = {"Checks a FolioFS volume read-only (replaying its journal first unless --no-replay).",
                "Exit status: 0 clean, 1 problems found (one per line), 2 cannot check."})
public final class FsckCommand implements Callable<Integer> {
    static final int CLEAN = 0, PROBLEMS = 1, CANNOT_CHECK = 2;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "<image>", description = "Image file or block device.")
    Path image;

    @Option(names = "--no-replay",
            description = "Write nothing: report a journal that needs recovery instead of replaying it.")
    boolean noReplay;

    @Option(names = "--cache", paramLabel = "<bytes>", defaultValue = "64M", converter = SizeConverter.class,
            description = "Memory for the block cache (metadata read ahead and kept while checked), at least 1M; default 64M.")
    long cacheBytes;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (cacheBytes < Fsck.MIN_CACHE_BYTES)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "invalid value for --cache: " + Sizes.format(cacheBytes)
                    + " (" + cacheBytes + " bytes); must be at least " + Sizes.format(Fsck.MIN_CACHE_BYTES));
        if (!Files.exists(image)) return cannot(err, "no such file or directory");
        FsckReport r;
        try (ImageLock lock = ImageLock.acquire(image);   // not while a FolioFS process has it mounted
             FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withReadOnly(noReplay))) {
            try (Progress p = Progress.spinner("fsck " + image.getFileName(), dev.capacity() >= 1L << 30)) {
                r = Fsck.check(dev, !noReplay, cacheBytes);
            }
        } catch (Exception e) {
            return cannot(err, Main.describe(e));
        }
        out.print(r.describe());
        if (r.clean()) out.println(image + ": clean, " + r.inodes() + " inodes, " + r.metadata().size() + " metadata blocks");
        else out.println(image + ": " + r.problems().size() + " problem" + (r.problems().size() == 1 ? "" : "s") + " found");
        out.flush();
        return r.clean() ? CLEAN : PROBLEMS;
    }

    private int cannot(PrintWriter err, String why) {
        err.println("foliofs: cannot check " + image + ": " + why);
        err.flush();
        return CANNOT_CHECK;
    }
}
