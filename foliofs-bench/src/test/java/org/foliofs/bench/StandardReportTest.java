package org.foliofs.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table, CSV and PNG chart of the standard comparison, from made-up lines (nothing is measured). */
class StandardReportTest {
    static final String K4 = "4 KiB random writes", AT = "Atomic writes";

    static List<StandardReport.Line> fake() {
        return List.of(
                new StandardReport.Line(K4, "device limit (O_DIRECT)", 1, 4096, "IOPS", 9000, 35.2, 100, 300, 1.0, ""),
                new StandardReport.Line(K4, "device limit (O_DIRECT)", 32, 4096, "IOPS", 60000, 234.4, 500, 2000, 1.0, ""),
                new StandardReport.Line(K4, "FolioFS writeback", 1, 4096, "IOPS", 80000, 312.5, 3, 170, 8.89, "file 4x cache"),
                new StandardReport.Line(K4, "FolioFS write-through + DSYNC", 1, 4096, "IOPS", 3000, 11.7, 280, 540, 0.33, ""),
                new StandardReport.Line(K4, "FolioFS write-through + DSYNC", 32, 4096, "IOPS", 7000, 27.3, 3000, 13000, 0.12, "writeAsync"),
                new StandardReport.Line(K4, "JDK FileChannel DSYNC, ext4", 32, 4096, "IOPS", 26000, 101.6, Double.NaN, Double.NaN, 0.43,
                        "32 threads, \"quoted\""),
                new StandardReport.Line(AT, "16 KiB WT+DSYNC", 1, 16384, "IOPS", 2500, 39.1, 400, 900, Double.NaN, ""),
                new StandardReport.Line(AT, "16 KiB atomic+DSYNC", 1, 16384, "IOPS", 1800, 28.1, 550, 1200, Double.NaN, "0.72x non-atomic"),
                new StandardReport.Line(AT, "8 KiB page: doublewrite", 1, 8192, "pages/s", 1200, 9.4, 800, 1500, Double.NaN, ""),
                new StandardReport.Line(AT, "8 KiB page: atomic", 1, 8192, "pages/s", 2000, 15.6, 500, 900, Double.NaN, "1.67x doublewrite"));
    }

    @Test
    void writesANonEmptyPngAndACsvWithHeaderAndOneRowPerLine(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("sub");
        StandardReport.Outputs o = StandardReport.write(fake(), "foliofs bench: test machine, 2026-11-21", out, "bench");
        assertThat(o.png()).isEqualTo(out.resolve("bench.png")).isRegularFile();
        assertThat(Files.size(o.png())).isGreaterThan(10_000);
        BufferedImage img = ImageIO.read(o.png().toFile());
        assertThat(img).as("a PNG that ImageIO can read").isNotNull();
        assertThat(img.getWidth()).isEqualTo(1400);
        assertThat(img.getHeight()).as("two panels (two sections)").isGreaterThan(1000);
        String keep = System.getProperty("foliofs.keepChart");
        if (keep != null) Files.copy(o.png(), Path.of(keep), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        List<String> csv = Files.readAllLines(o.csv());
        assertThat(csv).hasSize(1 + fake().size());
        assertThat(csv.get(0)).isEqualTo(StandardReport.CSV_HEADER);
        assertThat(csv.get(1)).isEqualTo("4 KiB random writes,device limit (O_DIRECT),1,4096,IOPS,9000.0,35.20,100.0,300.0,1.000,");
        assertThat(csv.get(6)).as("NaN as empty cells, commas and quotes quoted")
                .isEqualTo("4 KiB random writes,\"JDK FileChannel DSYNC, ext4\",32,4096,IOPS,26000.0,101.60,,,0.430,\"32 threads, \"\"quoted\"\"\"");
        for (String line : csv.subList(1, csv.size())) assertThat(line.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", -1)).hasSize(11);
    }

    @Test
    void tableHasOneRowPerLineWithRatiosAndUnits() {
        String t = StandardReport.table(fake());
        List<String> rows = t.lines().toList();
        assertThat(rows).hasSize(2 + fake().size());
        assertThat(rows.get(0)).contains("mode", "IOPS", "MiB/s", "p50", "p99", "x device limit");
        assertThat(rows.get(5)).isEqualTo("| FolioFS write-through + DSYNC | 4 KiB | 1 | 3000 | 11.7 | 280.0 | 540.0 | 0.33x |  |");
        assertThat(rows.get(7)).contains("| - | - | 0.43x |");
        assertThat(rows.get(11)).isEqualTo("| 8 KiB page: atomic | 8 KiB | 1 | 2000 | 15.6 | 500.0 | 900.0 | - | pages/s; 1.67x doublewrite |");
    }

    @Test
    void badLinesAreRefusedNamingTheValue() {
        assertThatThrownBy(() -> new StandardReport.Line(K4, "x", 0, 4096, "IOPS", 1, 1, 1, 1, 1, ""))
                .hasMessageContaining("depth (0)");
        assertThatThrownBy(() -> StandardReport.chart(List.of(), "t", java.io.OutputStream.nullOutputStream()))
                .hasMessageContaining("no lines");
    }
}
