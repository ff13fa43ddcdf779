package org.foliofs.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Smoke test of the file-system benchmark: a small run completes, its figures are sane, nothing is left behind. */
class FsBenchTest {

    @TempDir
    Path dir;

    @Test
    void smallRunMeasuresEveryCaseAndLeavesNoImage() throws Exception {
        long files = Long.getLong("fsbench.files", 2_000);
        int rateFiles = Integer.getInteger("fsbench.rateFiles", 400);
        FsBench.Results r = FsBench.measure(new FsBench.Config(dir, files, rateFiles, false), System.out);
        String report = FsBench.report(r);
        System.out.println(report);

        assertThat(r.rates()).hasSize(4);
        for (FsBench.Rate rate : r.rates()) {
            assertThat(rate.files()).as(rate.name()).isEqualTo(rateFiles / rate.threads() * rate.threads());
            assertThat(rate.createSeconds()).as(rate.name()).isPositive();
            assertThat(rate.unlinkSeconds()).as(rate.name()).isPositive();
            // a floor far below any real machine; catches a zero or a wildly wrong unit
            assertThat(rate.createsPerSecond()).as(rate.name()).isGreaterThan(10);
        }
        FsBench.Population p = r.population();
        assertThat(p.files()).isEqualTo(files);
        assertThat(p.dirs()).isEqualTo((files + FsBench.FILES_PER_DIR - 1) / FsBench.FILES_PER_DIR);
        assertThat(p.walked()).isEqualTo(files);
        assertThat(p.fsckClean()).as(p.fsckProblems()).isTrue();
        // every file, every directory, the root and the orphanage
        assertThat(p.fsckInodes()).isEqualTo(files + p.dirs() + 2);
        assertThat(p.mountSeconds()).isPositive().isLessThan(p.fsckSeconds() + 60);
        assertThat(report).contains("| 1 thread |", "| 2 threads, same directory |", "| fsck |", "clean");
        try (var s = Files.list(dir)) {
            assertThat(s.toList()).as("images removed").isEmpty();
        }
    }

    @Test
    void badConfigNamesTheValue() {
        assertThatThrownBy(() -> new FsBench.Config(dir, 0, 100, false)).hasMessageContaining("files (0)");
        assertThatThrownBy(() -> new FsBench.Config(dir, 10, 1, false)).hasMessageContaining("rateFiles (1)");
    }
}
