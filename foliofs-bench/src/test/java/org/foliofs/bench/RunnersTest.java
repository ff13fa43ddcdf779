package org.foliofs.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-call figures a progress line adds: CPU time, and the journal's work (made-up counts). */
class RunnersTest {
    @Test
    void progressLinesGiveCpuAndJournalWorkPerCall() {
        var m = new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null, 56_000_000L, new long[] {100, 1230, 3000, 310});
        assertThat(m.extras()).isEqualTo("  cpu 56 us/op  commits/op 0.10 blocks/commit 12.3 (log blocks written 3.1) meta writes/op 3.0");
        var logged = new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null, 56_000_000L, new long[] {50, 1000, 0, 1050, 2000});
        assertThat(logged.extras()).isEqualTo("  cpu 56 us/op  commits/op 0.05 blocks/commit 20.0 (log blocks written 21.0) meta writes/op 0.0"
                + " logged data blocks/op 2.0");
        var noCommit = new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null, 39_000_000L, new long[] {0, 0, 0, 0});
        assertThat(noCommit.extras()).as("no commit: no journal figures").isEqualTo("  cpu 39 us/op");
        assertThat(new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null).extras())
                .as("not measured: nothing").isEmpty();
        assertThat(Runners.processCpuNanos()).isPositive();
    }

    /** One trial of {@code ops} calls in one second. */
    private static Runners.Measured trial(long ops) {
        return new Runners.Measured(ops, ops * 8192, 1_000_000_000L, 100, 200, null);
    }

    /**
     * Ratios of paired trials: trial t of the second case against trial t of the first (not the
     * ratio of the two medians, which can pair a fast trial with a slow one), their median, and the
     * note that lists them.
     */
    @Test
    void pairedRatiosCompareTrialsThatRanTogether() {
        // The disk slowed down in trial 2 for both: medians 1161 and 1735 give 1.49; the pairs give 2.11, 1.49, 1.77.
        var r = Runners.pairedRatio(List.of(trial(776), trial(1161), trial(1352)), List.of(trial(1640), trial(1735), trial(2394)));
        assertThat(r.perTrial()).containsExactly(1640 / 776.0, 1735 / 1161.0, 2394 / 1352.0);
        assertThat(r.median()).isEqualTo(2394 / 1352.0);
        assertThat(r.note("doublewrite", ">= 1.5x")).isEqualTo("1.77x doublewrite (target >= 1.5x; trials 2.11, 1.49, 1.77)");
        var even = Runners.pairedRatio(List.of(trial(100), trial(100)), List.of(trial(300), trial(200)));
        assertThat(even.median()).as("an even count takes the lower middle ratio").isEqualTo(2.0);
        assertThat(Runners.pairedRatio(List.of(trial(100)), List.of(trial(80))).note("non-atomic", ">= 0.6x"))
                .as("one trial: no list").isEqualTo("0.80x non-atomic (target >= 0.6x)");
        assertThatThrownBy(() -> Runners.pairedRatio(List.of(trial(1)), List.of()))
                .hasMessage("paired ratio needs the same number of trials, not 1 and 0");
    }
}
