package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MkfsCommandTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    @Test
    void makesAnImageAndPrintsTheSummary() throws Exception {
        Path img = dir.resolve("vol.img");
        assertThat(run("mkfs", img.toString(), "--size", "16M", "--block-size", "4K", "--ag-count", "4", "--label", "t"))
                .as(err.toString()).isZero();
        assertThat(Files.size(img)).isEqualTo(16L << 20);
        assertThat(out.toString()).contains("FolioFS 1.0 volume", "label 't'", "block size:         4096",
                "blocks:             4096 (16777216 bytes)", "allocation groups:  4 of 1024 blocks",
                "free blocks:        3070 (");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void refusesToOverwriteAVolumeWithoutForce() throws Exception {
        Path img = dir.resolve("vol.img");
        assertThat(run("mkfs", img.toString(), "--size", "8M")).isZero();
        out.getBuffer().setLength(0);
        assertThat(run("mkfs", img.toString(), "--block-size", "1K")).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("foliofs: " + img + ": already holds a FolioFS volume; use --force to overwrite it"
                + System.lineSeparator());
        assertThat(run("mkfs", img.toString(), "--block-size", "1K", "--ag-count", "2", "--force")).isZero();
        assertThat(out.toString()).contains("block size:         1024", "allocation groups:  2 of 4096 blocks");
    }

    @Test
    void formatsAnExistingNonFolioFsFile() throws Exception {
        Path img = dir.resolve("plain.img");
        Files.write(img, new byte[4 << 20]);
        assertThat(run("mkfs", img.toString(), "--ag-count", "1")).as(err.toString()).isZero();
        assertThat(out.toString()).contains("allocation groups:  1 of 1024 blocks");
    }

    @Test
    void badValuesAreOneLineErrors() {
        Path img = dir.resolve("x.img");
        assertThat(run("mkfs", img.toString(), "--size", "16M", "--block-size", "3K")).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: blockSize (3072) must be a power of two");
        assertThat(Files.exists(img)).isFalse();
        err.getBuffer().setLength(0);
        assertThat(run("mkfs", img.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: --size is required to create " + img);
        err.getBuffer().setLength(0);
        assertThat(run("mkfs", img.toString(), "--size", "64K", "--ag-count", "4")).isEqualTo(1);
        assertThat(err.toString()).startsWith("foliofs: device too small: 65536 bytes").doesNotContain("\tat ");
        assertThat(Files.exists(img)).as("a failed mkfs removes the image it created").isFalse();
    }

    @Test
    void groupsOptionAndRefusalLeavesTheImageUntouched() throws Exception {
        Path img = dir.resolve("vol.img");
        assertThat(run("mkfs", "--size", "64M", "--groups", "2", img.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).contains("allocation groups:  2 of 8192 blocks");
        byte[] before = Files.readAllBytes(img);
        assertThat(run("mkfs", "--size", "64M", "--groups", "4", img.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("already holds a FolioFS volume; use --force");
        assertThat(Files.readAllBytes(img)).as("refused mkfs leaves the image as it was").isEqualTo(before);
    }

    @Test
    void badSizesAndGroupsNameTheValue() {
        Path img = dir.resolve("y.img");
        assertThat(run("mkfs", "--size", "0", img.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: invalid value for --size: 0");
        err.getBuffer().setLength(0);
        assertThat(run("mkfs", "--size", "8X", img.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("'--size'", "'8X'");
        err.getBuffer().setLength(0);
        assertThat(run("mkfs", "--size", "8M", "--groups", "-3", img.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: invalid value for --groups: -3");
        assertThat(Files.exists(img)).isFalse();
    }
}
