package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    @Test
    void helpListsTheCommands() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString()).contains("bench", "info");
    }

    @Test
    void noCommandShowsUsageAndFails() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString()).contains("Usage: foliofs", "bench", "info");
    }

    @Test
    void benchDefaults() {
        CommandLine cmd = Main.commandLine(false);
        CommandLine.ParseResult result = cmd.parseArgs("bench");
        BenchCommand bench = (BenchCommand) result.subcommand().commandSpec().userObject();
        assertThat(bench.workload).isEqualTo(BenchCommand.WorkloadSet.STANDARD);
        assertThat(bench.size(bench.workload)).isEqualTo(4L << 30);
        assertThat(bench.seconds(bench.workload)).isEqualTo(3);
        assertThat(bench.trials(bench.workload)).isEqualTo(1);
        assertThat(bench.size(BenchCommand.WorkloadSet.DEVICE)).isEqualTo(1L << 30);
        assertThat(bench.seconds(BenchCommand.WorkloadSet.DEVICE)).isEqualTo(5);
        assertThat(bench.trials(BenchCommand.WorkloadSet.WRITETHROUGH)).isEqualTo(3);
        assertThat(bench.quick).isFalse();
        assertThat(bench.out.toString()).isEqualTo(".");
        assertThat(bench.engine).isEqualTo(BenchCommand.Engine.BOTH);
        assertThat(bench.noFio).isFalse();
        assertThat(bench.output).isNull();
        assertThat(bench.dir.toString()).isEqualTo(System.getProperty("java.io.tmpdir"));
    }

    @Test
    void benchOptions() {
        CommandLine cmd = Main.commandLine(false);
        CommandLine.ParseResult result = cmd.parseArgs("bench", "--dir", "/mnt/x", "--size", "64M",
                "--seconds", "2", "--no-fio", "--engine", "uring", "--output", "r.md");
        BenchCommand bench = (BenchCommand) result.subcommand().commandSpec().userObject();
        assertThat(bench.dir.toString()).isEqualTo("/mnt/x");
        assertThat(bench.size(bench.workload)).isEqualTo(64L << 20);
        assertThat(bench.seconds(bench.workload)).isEqualTo(2);
        assertThat(bench.noFio).isTrue();
        assertThat(bench.engine).isEqualTo(BenchCommand.Engine.URING);
        assertThat(bench.output.toString()).isEqualTo("r.md");
    }

    @Test
    void badSizeIsAUsageErrorNamingTheValue() {
        assertThat(run("bench", "--size", "12Q")).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: ").contains("'12Q'").doesNotContain("Exception");
    }

    @Test
    void badSecondsIsAUsageError() {
        assertThat(run("bench", "--seconds", "0")).isEqualTo(2);
        assertThat(err.toString()).contains("--seconds");
    }

    @Test
    void infoOnAMissingFileIsAOneLineError() {
        assertThat(run("info", "/nonexistent/foliofs-test.img")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: ").doesNotContain("\tat ");
    }

    @Test
    void describeGivesPlainMessages() {
        assertThat(Main.describe(new NoSuchFileException("/x")))
                .isEqualTo("no such file or directory: /x");
        assertThat(Main.describe(new AccessDeniedException("/x", null, "not writable")))
                .isEqualTo("/x: not writable");
        assertThat(Main.describe(new IOException("disk on fire"))).isEqualTo("disk on fire");
        assertThat(Main.describe(new RuntimeException(new IllegalStateException("closed"))))
                .contains("closed");
        assertThat(Main.describe(new IllegalStateException())).isEqualTo("IllegalStateException");
    }
}
