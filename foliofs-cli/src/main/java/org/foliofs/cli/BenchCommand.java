package org.foliofs.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import org.foliofs.bench.DeviceBench;
import org.foliofs.bench.StandardBench;
import org.foliofs.bench.StandardReport;
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

/**
 * {@code foliofs bench}: by default the standard comparison (every FolioFS write mode, the device
 * limit, the JDK on the host file system, atomic writes) on a temporary volume, as one table plus a
 * PNG chart and a CSV; {@code --workload device|writethrough} the detailed benchmarks.
 */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        description = "Measures FolioFS on a temporary volume (an image file in --dir, removed afterwards, also on Ctrl-C). The default (--workload standard, about 3 minutes) compares 4 KiB random writes through every FolioFS write mode (writeback, writeback+fdatasync, write-through, +DSYNC, direct, direct+DSYNC; depth 1 and 32) with the device limit (our device layer, O_DIRECT; fio too when installed) and the JDK's FileChannel on the host file system, plus atomic writes (16 KiB atomic overwrites, 8 KiB database pages: doublewrite vs ATOMIC). It prints one table and writes a PNG chart and a CSV into --out. --quick: the key rows in under a minute.")
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
        STANDARD, ATOMIC, DEVICE, WRITETHROUGH, ALL, FS;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }

        boolean standardKind() { return this == STANDARD || this == ATOMIC; }
    }

    static final long STANDARD_SIZE = 4L << 30, QUICK_SIZE = 256L << 20, DETAILED_SIZE = 1L << 30;
    static final int STANDARD_SECONDS = 3, QUICK_SECONDS = 1, DETAILED_SECONDS = 5;
    static final int STANDARD_TRIALS = 1, DETAILED_TRIALS = 3;

    @Spec
    CommandSpec spec;

    @Option(names = "--workload", paramLabel = "<name>", defaultValue = "standard",
            description = "What to measure: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). standard: the comparison above (4 KiB rows and atomic rows; about 3 minutes); atomic: the atomic rows only (about 1 minute); device: device layer vs fio, iomap direct I/O, page cache (about 10 minutes); writethrough: buffered write-through in detail (about 3 minutes per trial with --seconds 3); all: standard, device and writethrough in turn; fs: file-system metadata (create+write+close and unlink rates, mount and fsck of a volume of --files files; not part of all; compare with scripts/fs-bench-xfs).")
    WorkloadSet workload;

    @Option(names = "--quick", description = "A sub-minute run: 256 MiB volume, 1 s per row, the key rows only (--workload standard or atomic).")
    boolean quick;

    @Option(names = "--out", paramLabel = "<dir>", defaultValue = ".",
            description = "Where the PNG chart and the CSV of the standard comparison go (default: the current directory).")
    Path out;

    @Option(names = "--files", paramLabel = "<n>", defaultValue = "1000000",
            description = "--workload fs: files of the volume whose mount and fsck are timed (default: ${DEFAULT-VALUE}).")
    long files;

    @Option(names = "--rate-files", paramLabel = "<n>", defaultValue = "100000",
            description = "--workload fs: files created and unlinked per rate case (default: ${DEFAULT-VALUE}).")
    int rateFiles;

    @Option(names = "--dir", paramLabel = "<path>", defaultValue = "${sys:java.io.tmpdir}",
            description = "Directory for the temporary volume (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--size", paramLabel = "<bytes>", converter = SizeConverter.class,
            description = "Size of the temporary volume, K/M/G/T suffixes allowed (default: 4G for standard and atomic, 256M with --quick, 1G for device and writethrough).")
    Long sizeOption;

    @Option(names = "--no-fio", description = "Do not run the fio comparison even when fio is installed.")
    boolean noFio;

    @Option(names = "--atomic-software",
            description = "Atomic rows: turn the hardware path off (every ATOMIC write logged or out of place, as on a device without an atomic unit), for a device whose atomic unit is a slow emulation, e.g. an image on XFS (sets -D" + org.foliofs.fs.FolioFs.ATOMIC_HARDWARE_PROPERTY + "=false).")
    boolean atomicSoftware;

    @Option(names = "--engine", paramLabel = "<engine>", defaultValue = "both",
            description = "I/O engine to measure (--workload device): ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Option(names = "--output", paramLabel = "<file.md>",
            description = "Also write the results as Markdown to this file.")
    Path output;

    Integer secondsOption;

    @Option(names = "--seconds", paramLabel = "<n>",
            description = "Seconds per row (default: 3 for standard and atomic, 1 with --quick, 5 for device and writethrough).")
    void setSeconds(int n) {
        if (n < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid value for --seconds: " + n + " (must be at least 1)");
        }
        secondsOption = n;
    }

    Integer trialsOption;

    @Option(names = "--trials", paramLabel = "<n>",
            description = "Trials per row, rows alternating; the median is reported (default: 1 for standard and atomic, 3 for device and writethrough).")
    void setTrials(int n) {
        if (n < 1 || n > 99) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid value for --trials: " + n + " (must be between 1 and 99)");
        }
        trialsOption = n;
    }

    /** The volume size for workload {@code w} (the option, else that workload's default). */
    long size(WorkloadSet w) {
        if (sizeOption != null) return sizeOption;
        return w.standardKind() ? (quick ? QUICK_SIZE : STANDARD_SIZE) : DETAILED_SIZE;
    }

    int seconds(WorkloadSet w) {
        if (secondsOption != null) return secondsOption;
        return w.standardKind() ? (quick ? QUICK_SECONDS : STANDARD_SECONDS) : DETAILED_SECONDS;
    }

    int trials(WorkloadSet w) {
        if (trialsOption != null) return trialsOption;
        return w.standardKind() ? STANDARD_TRIALS : DETAILED_TRIALS;
    }

    /** Checks the options together, before anything is created or measured; a bad one is a usage error naming its value. */
    void validate() {
        if (quick && !workload.standardKind()) {
            throw usage("--quick applies to --workload standard or atomic, not to '" + workload + "'");
        }
        boolean standard = workload.standardKind() || workload == WorkloadSet.ALL;
        if (standard) {
            long s = size(WorkloadSet.STANDARD);
            if (s < StandardBench.MIN_SIZE || s % (8L << 20) != 0) {
                throw usage("invalid value for --size: " + Sizes.format(s) + " (" + s + " bytes) for --workload " + workload
                        + " (must be a multiple of 8 MiB and at least 256 MiB)");
            }
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw usage("invalid value for --out: '" + out + "' exists and is not a directory");
            }
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw usage("invalid value for --dir: '" + dir + "' exists and is not a directory");
        }
        if (output != null && Files.isDirectory(output)) {
            throw usage("invalid value for --output: '" + output + "' is a directory (give a file name, e.g. results.md)");
        }
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    @Override
    public Integer call() throws Exception {
        if (atomicSoftware) System.setProperty(org.foliofs.fs.FolioFs.ATOMIC_HARDWARE_PROPERTY, "false");   // read at each mount
        validate();
        boolean standard = workload.standardKind() || workload == WorkloadSet.ALL;
        if (standard) {
            try {
                Files.createDirectories(out);
            } catch (IOException e) {
                throw usage("invalid value for --out: cannot create directory '" + out + "': " + Main.describe(e));
            }
            if (!Files.isWritable(out)) throw usage("invalid value for --out: directory '" + out + "' is not writable");
        }
        List<FileDevice.Engine> engines = switch (engine) {
            case SYNC -> List.of(FileDevice.Engine.SYNC);
            case URING -> List.of(FileDevice.Engine.IO_URING);
            case BOTH -> List.of(FileDevice.Engine.SYNC, FileDevice.Engine.IO_URING);
        };
        PrintWriter pw = spec.commandLine().getOut();
        PrintStream log = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        if (workload == WorkloadSet.FS) return fsBench(pw, log);
        StringBuilder report = new StringBuilder();
        StandardReport.Outputs files = null;
        if (standard) {
            WorkloadSet w = workload == WorkloadSet.ALL ? WorkloadSet.STANDARD : workload;
            StandardBench.Config cfg = new StandardBench.Config(dir, size(w), seconds(w), quick ? 0.3 : 1, trials(w), !noFio, quick,
                    w == WorkloadSet.STANDARD, true);
            StandardBench.Outcome o = StandardBench.run(cfg, log);
            String base = "foliofs-bench-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd-HHmmss"));
            files = StandardReport.write(o.lines(), o.title(), out, base);
            report.append(o.markdown()).append("\nReproduce with: `").append(command(w)).append("`\n");
        }
        if (workload == WorkloadSet.DEVICE || workload == WorkloadSet.ALL) {
            WorkloadSet w = WorkloadSet.DEVICE;
            DeviceBench.Config cfg;
            try {
                cfg = new DeviceBench.Config(dir, size(w), seconds(w), 1, trials(w), !noFio, engines);
            } catch (IllegalArgumentException e) {
                throw usage("invalid --size for --workload " + workload + ": " + e.getMessage());
            }
            report.append(report.isEmpty() ? "" : "\n").append(DeviceBench.run(cfg, log))
                    .append("\nReproduce with: `").append(command(w)).append("`\n");
        }
        if (workload == WorkloadSet.WRITETHROUGH || workload == WorkloadSet.ALL) {
            WorkloadSet w = WorkloadSet.WRITETHROUGH;
            WriteThroughBench.Config cfg;
            try {
                cfg = new WriteThroughBench.Config(dir, size(w), seconds(w), 1, trials(w), !noFio);
            } catch (IllegalArgumentException e) {
                throw usage("invalid --size for --workload " + workload + ": " + e.getMessage());
            }
            report.append(report.isEmpty() ? "" : "\n").append(WriteThroughBench.run(cfg, log))
                    .append("\nReproduce with: `").append(command(w)).append("`\n");
        }
        pw.println();
        pw.println(report);
        if (files != null) {
            pw.println("chart: " + files.png().toAbsolutePath().normalize());
            pw.println("csv:   " + files.csv().toAbsolutePath().normalize());
        }
        pw.flush();
        if (output != null) {
            Files.writeString(output, report, StandardCharsets.UTF_8);
            pw.println("written to " + output);
        }
        return 0;
    }

    /** The command line that reproduces workload {@code w}'s part of this run (options at their defaults left out). */
    String command(WorkloadSet w) {
        StringBuilder c = new StringBuilder("./foliofs bench");
        if (w != WorkloadSet.STANDARD) c.append(" --workload ").append(w);
        if (quick) c.append(" --quick");
        if (sizeOption != null) {
            String human = Sizes.format(sizeOption);
            c.append(" --size ").append(human.contains(".") ? Long.toString(sizeOption) : human.replace(" ", "").replace("iB", ""));
        }
        if (secondsOption != null) c.append(" --seconds ").append(secondsOption);
        if (trialsOption != null) c.append(" --trials ").append(trialsOption);
        if (w == WorkloadSet.DEVICE && engine != Engine.BOTH) c.append(" --engine ").append(engine);
        if (noFio) c.append(" --no-fio");
        if (atomicSoftware) c.append(" --atomic-software");
        // the volume's file system matters (an image on XFS offers atomic writes, on ext4 not)
        if (dir != null && !dir.equals(Path.of(System.getProperty("java.io.tmpdir")))) c.append(" --dir ").append(dir);
        return c.toString();
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
