package org.foliofs.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.foliofs.bench.DeviceBench;
import org.foliofs.bench.FsBench;
import org.foliofs.bench.WriteThroughBench;
import org.foliofs.device.FileDevice;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code foliofs bench}: benchmarks the device layer (against fio), the iomap engine and the page cache on a temporary volume. */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Benchmarks the device layer (beside fio), the iomap direct-I/O engine and the page cache",
            "on a temporary volume file (the default workload), or buffered write-through on a FolioFS",
            "volume beside FolioFS buffered and direct I/O, the JDK on the host file system and fio",
            "(--workload writethrough).",
            "The volume is created in --dir and removed afterwards."
        })
public final class BenchCommand implements Callable<Integer> {

    /** Which I/O engines of the device layer to measure. */
    public enum Engine {
        SYNC, URING, BOTH;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Which benchmark to run. */
    public enum WorkloadSet {
        DEVICE, WRITETHROUGH, ALL, FS;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--workload", paramLabel = "<name>", defaultValue = "device",
            description = {"What to measure: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).",
                    "device: device layer vs fio, iomap direct I/O, page cache (about 10 minutes with the defaults);",
                    "writethrough: buffered write-through on a FolioFS volume (a quarter of --size is the file;",
                    "about 3 minutes per trial with --seconds 3); all: both (the default stays device only: it alone",
                    "takes about 10 minutes);",
                    "fs: file-system metadata (create+write+close and unlink rates, mount and fsck of a volume of",
                    "--files files; not part of all; compare with scripts/fs-bench-xfs)."})
    WorkloadSet workload;

    @Option(names = "--files", paramLabel = "<n>", defaultValue = "1000000",
            description = "--workload fs: files of the volume whose mount and fsck are timed (default: ${DEFAULT-VALUE}).")
    long files;

    @Option(names = "--rate-files", paramLabel = "<n>", defaultValue = "100000",
            description = "--workload fs: files created and unlinked per rate case (default: ${DEFAULT-VALUE}).")
    int rateFiles;

    @Option(names = "--dir", paramLabel = "<path>", defaultValue = "${sys:java.io.tmpdir}",
            description = "Directory for the temporary volume (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--size", paramLabel = "<bytes>", defaultValue = "1G",
            converter = SizeConverter.class,
            description = "Size of the temporary volume, K/M/G/T suffixes allowed (default: ${DEFAULT-VALUE}).")
    long size;

    int seconds = 5;

    @Option(names = "--no-fio", description = "Do not run the fio comparison even when fio is installed.")
    boolean noFio;

    @Option(names = "--engine", paramLabel = "<engine>", defaultValue = "both",
            description = "I/O engine to measure: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Option(names = "--output", paramLabel = "<file.md>",
            description = "Also write the results as Markdown to this file.")
    Path output;

    @Option(names = "--seconds", paramLabel = "<n>", defaultValue = "5",
            description = "Seconds per test (default: ${DEFAULT-VALUE}).")
    void setSeconds(int n) {
        if (n < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid value for --seconds: " + n + " (must be at least 1)");
        }
        seconds = n;
    }

    int trials = 3;

    @Option(names = "--trials", paramLabel = "<n>", defaultValue = "3",
            description = "Trials per case, ours and fio alternating; the median is reported (default: ${DEFAULT-VALUE}).")
    void setTrials(int n) {
        if (n < 1 || n > 99) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid value for --trials: " + n + " (must be between 1 and 99)");
        }
        trials = n;
    }

    @Override
    public Integer call() throws Exception {
        List<FileDevice.Engine> engines = switch (engine) {
            case SYNC -> List.of(FileDevice.Engine.SYNC);
            case URING -> List.of(FileDevice.Engine.IO_URING);
            case BOTH -> List.of(FileDevice.Engine.SYNC, FileDevice.Engine.IO_URING);
        };
        PrintWriter out = spec.commandLine().getOut();
        PrintStream log = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        if (workload == WorkloadSet.FS) return fsBench(out, log);
        String report = "";
        if (workload != WorkloadSet.WRITETHROUGH) {
            DeviceBench.Config cfg = new DeviceBench.Config(dir, size, seconds, 1, trials, !noFio, engines);
            report = DeviceBench.run(cfg, log);
        }
        if (workload != WorkloadSet.DEVICE) {
            WriteThroughBench.Config cfg;
            try {
                cfg = new WriteThroughBench.Config(dir, size, seconds, 1, trials, !noFio);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "invalid --size for --workload " + workload + ": " + e.getMessage());
            }
            report = report + (report.isEmpty() ? "" : "\n") + WriteThroughBench.run(cfg, log);
        }
        String human = Sizes.format(size);
        String sizeArg = human.contains(".") ? Long.toString(size) : human.replace(" ", "").replace("iB", "");
        String command = "./foliofs bench --size " + sizeArg
                + " --seconds " + seconds + " --trials " + trials
                + (workload == WorkloadSet.WRITETHROUGH ? "" : " --engine " + engine)
                + (workload == WorkloadSet.DEVICE ? "" : " --workload " + workload) + (noFio ? " --no-fio" : "");
        report = report + "\nReproduce with: `" + command + "`\n";
        out.println();
        out.println(report);
        out.flush();
        if (output != null) {
            Files.writeString(output, report, StandardCharsets.UTF_8);
            out.println("written to " + output);
        }
        return 0;
    }

    private int fsBench(PrintWriter out, PrintStream log) throws Exception {
        FsBench.Config cfg;
        try {
            cfg = new FsBench.Config(dir, files, rateFiles, true);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid value for --workload fs: " + e.getMessage());
        }
        String report = FsBench.run(cfg, log)
                + "\nReproduce with: `./foliofs bench --workload fs --files " + files + " --rate-files " + rateFiles + "`\n";
        out.println();
        out.println(report);
        out.flush();
        if (output != null) {
            Files.writeString(output, report, StandardCharsets.UTF_8);
            out.println("written to " + output);
        }
        return 0;
    }
}
