package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code foliofs bench} options: defaults per workload, --quick, and every bad value refused as a
 * usage error (exit 2) naming the value, before any volume is created or anything is measured.
 * (The benchmark itself is not run here; its table, CSV and chart writer is tested with made-up
 * results in foliofs-bench's StandardReportTest.)
 */
class BenchCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    private static BenchCommand parse(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "bench";
        System.arraycopy(args, 0, all, 1, args.length);
        return (BenchCommand) Main.commandLine(false).parseArgs(all).subcommand().commandSpec().userObject();
    }

    @Test
    void quickIsASmallVolumeAndOneSecondPerRow() {
        BenchCommand b = parse("--quick", "--out", "charts");
        assertThat(b.size(b.workload)).isEqualTo(256L << 20);
        assertThat(b.seconds(b.workload)).isEqualTo(1);
        assertThat(b.trials(b.workload)).isEqualTo(1);
        assertThat(b.out.toString()).isEqualTo("charts");
        assertThat(b.command(b.workload)).isEqualTo("./foliofs bench --quick");
        b = parse("--quick", "--seconds", "2", "--size", "512M", "--workload", "ATOMIC");
        assertThat(b.workload).isEqualTo(BenchCommand.WorkloadSet.ATOMIC);
        assertThat(b.size(b.workload)).isEqualTo(512L << 20);
        assertThat(b.seconds(b.workload)).isEqualTo(2);
        assertThat(b.command(b.workload)).isEqualTo("./foliofs bench --workload atomic --quick --size 512M --seconds 2");
        b = parse("--workload", "atomic", "--dir", "/mnt/xfs");   // where the volume lives matters (atomic unit of its file system)
        assertThat(b.command(b.workload)).isEqualTo("./foliofs bench --workload atomic --dir /mnt/xfs");
    }

    @Test
    void existingWorkloadNamesStillParse() {
        for (String w : new String[] {"device", "writethrough", "all", "standard", "atomic"}) {
            assertThat(parse("--workload", w).workload.toString()).isEqualTo(w);
        }
        assertThat(parse().command(BenchCommand.WorkloadSet.STANDARD)).isEqualTo("./foliofs bench");
    }

    @Test
    void unknownWorkloadIsAUsageErrorNamingIt() {
        assertThat(run("bench", "--workload", "nope")).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: ").contains("'nope'", "STANDARD", "ATOMIC", "DEVICE", "WRITETHROUGH");
    }

    @Test
    void quickWithADetailedWorkloadIsRefused() {
        assertThat(run("bench", "--quick", "--workload", "device")).isEqualTo(2);
        assertThat(err.toString()).contains("--quick", "'device'");
    }

    @Test
    void tooSmallOrUnalignedSizeIsRefusedNamingTheValue(@TempDir Path tmp) {
        assertThat(run("bench", "--size", "100M", "--dir", tmp.toString(), "--out", tmp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--size", "100 MiB", "104857600", "at least 256 MiB");
        err.getBuffer().setLength(0);
        assertThat(run("bench", "--quick", "--size", "260M", "--dir", tmp.toString(), "--out", tmp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("260 MiB", "multiple of 8 MiB");
        assertThat(tmp).isEmptyDirectory();
    }

    @Test
    void outThatIsAFileIsRefusedNamingIt(@TempDir Path tmp) throws IOException {
        Path f = Files.writeString(tmp.resolve("not-a-dir"), "x");
        assertThat(run("bench", "--quick", "--out", f.toString(), "--dir", tmp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--out", f.toString(), "not a directory");
        assertThat(run("bench", "--quick", "--dir", f.toString(), "--out", tmp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--dir", f.toString());
        assertThat(run("bench", "--quick", "--dir", tmp.toString(), "--out", tmp.toString(), "--output", tmp.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--output", "is a directory");
        try (var s = Files.list(tmp)) {
            assertThat(s.toList()).as("nothing created").containsExactly(f);
        }
    }

    @Test
    void badTrialsIsRefusedNamingTheValue() {
        assertThat(run("bench", "--trials", "100")).isEqualTo(2);
        assertThat(err.toString()).contains("--trials", "100");
    }
}
