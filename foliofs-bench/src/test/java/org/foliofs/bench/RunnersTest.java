package org.foliofs.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The per-call figures a progress line adds: CPU time, and the journal's work (made-up counts). */
class RunnersTest {
    @Test
    void progressLinesGiveCpuAndJournalWorkPerCall() {
        var m = new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null, 56_000_000L, new long[] {100, 1230, 3000});
        assertThat(m.extras()).isEqualTo("  cpu 56 us/op  commits/op 0.10 blocks/commit 12.3 meta writes/op 3.0");
        var noCommit = new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null, 39_000_000L, new long[] {0, 0, 0});
        assertThat(noCommit.extras()).as("no commit: no journal figures").isEqualTo("  cpu 39 us/op");
        assertThat(new Runners.Measured(1000, 8_192_000, 1_000_000_000L, 100, 200, null).extras())
                .as("not measured: nothing").isEmpty();
        assertThat(Runners.processCpuNanos()).isPositive();
    }
}
