package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Mkfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class FsckCommandTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        CommandLine cmd = Main.commandLine(false);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    private Path image() {
        Path img = dir.resolve("vol.img");
        assertThat(run("mkfs", img.toString(), "--size", "8M", "--block-size", "1K", "--ag-count", "4")).as(err.toString()).isZero();
        return img;
    }

    @Test
    void cleanVolumeExitsZero() {
        Path img = image();
        assertThat(run("fsck", img.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).isEqualTo(img + ": clean, 2 inodes, 24 metadata blocks" + System.lineSeparator());
        assertThat(err.toString()).isEmpty();
        assertThat(run("fsck", "--no-replay", img.toString())).isZero();
    }

    @Test
    void corruptBlockIsListedAndExitsOne() throws Exception {
        Path img = image();
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(2049L * 1024 + 100);   // header of group 1 (groups of 2048 blocks)
            int b = f.read();
            f.seek(2049L * 1024 + 100);
            f.write(b ^ 0x40);
        }
        assertThat(run("fsck", img.toString())).isEqualTo(1);
        String[] lines = out.toString().split(System.lineSeparator());
        assertThat(lines[0]).startsWith("block 2049 (allocation group header): CRC32C ");
        assertThat(lines[lines.length - 1]).isEqualTo(img + ": " + (lines.length - 1) + " problem" + (lines.length == 2 ? "" : "s")
                + " found");
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void journalNeedingRecovery() throws Exception {
        Path img = dir.resolve("j.img");
        FileDevice.createImage(img, 8 << 20);
        try (FileDevice dev = FileDevice.open(img, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(1024).withAgCount(4));
            fs.mkdir(FolioFs.ROOT_INO, "d", 0755, 0, 0);
            fs.sync();
            fs.abandon();
        }
        byte[] before = Files.readAllBytes(img);
        assertThat(run("fsck", "--no-replay", img.toString())).isEqualTo(1);
        assertThat(out.toString()).startsWith("journal needs recovery: committed record ").contains(img + ": 1 problem found");
        assertThat(Arrays.equals(Files.readAllBytes(img), before)).as("--no-replay writes nothing").isTrue();
        assertThat(run("fsck", img.toString())).as(out.toString()).isZero();
        assertThat(out.toString()).contains("note: recovered ").contains(img + ": clean, 3 inodes");
    }

    @Test
    void cacheOptionTakesASizeOfAtLeastOneMiB() {
        Path img = image();
        assertThat(run("fsck", "--cache", "2M", img.toString())).as(err.toString()).isZero();
        assertThat(run("fsck", "--cache", "100K", img.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("invalid value for --cache: 100 KiB (102400 bytes); must be at least 1 MiB");
        assertThat(run("fsck", "--cache", "lots", img.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("'lots'");
    }

    @Test
    void imagesThatCannotBeCheckedExitTwo() throws Exception {
        Path missing = dir.resolve("missing.img");
        assertThat(run("fsck", missing.toString())).isEqualTo(2);
        assertThat(err.toString()).isEqualTo("foliofs: cannot check " + missing + ": no such file or directory" + System.lineSeparator());

        Path zeros = dir.resolve("zeros.img");
        Files.write(zeros, new byte[1 << 20]);
        assertThat(run("fsck", zeros.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: cannot check " + zeros + ": not a FolioFS volume: bad magic");
        assertThat(out.toString()).isEmpty();

        Path img = image();
        Path cut = dir.resolve("cut.img");
        Files.write(cut, Arrays.copyOf(Files.readAllBytes(img), 4 << 20));
        assertThat(run("fsck", cut.toString())).isEqualTo(2);
        assertThat(err.toString()).startsWith("foliofs: cannot check " + cut + ": truncated image: ");

        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(12);
            f.write(7);   // major version 7
        }
        assertThat(run("fsck", img.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("FolioFS format version 7.0").contains("is newer than this build supports");
    }
}
