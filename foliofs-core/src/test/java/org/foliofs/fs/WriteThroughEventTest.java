package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JFR event of a write-through call ({@code org.foliofs.WriteThrough}): one per call, its stages adding up to its duration. */
class WriteThroughEventTest {
    static final String[] STAGES = {"issue", "device", "toEnd", "endWork", "sync", "toRelease", "release"};

    @Test
    void eachWriteThroughCallIsOneEventWhoseStagesAddUpToItsDuration(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("wt.jfr");
        try (SimDevice dev = AtomicWriteTest.device(0); Recording rec = new Recording()) {
            FolioFs fs = AtomicWriteTest.format(dev);
            FolioFile f = FolioFileTest.create(fs, "f");
            f.write(0, AtomicWriteTest.data(1, 64 << 10), FolioFile.WRITETHROUGH | FolioFile.DSYNC);   // before the recording
            rec.enable("org.foliofs.WriteThrough").withThreshold(Duration.ZERO);
            rec.start();
            f.write(8192, AtomicWriteTest.data(2, 8192), AtomicWriteTest.AT | FolioFile.DSYNC);   // atomic, DSYNC: a commit
            f.write(32768, AtomicWriteTest.data(3, 4096), FolioFile.WRITETHROUGH);                // no DSYNC
            assertThat(f.writeAsync(16384, AtomicWriteTest.data(4, 8192), AtomicWriteTest.AT | FolioFile.DSYNC).get()).isEqualTo(8192);
            rec.stop();
            rec.dump(out);
            f.close();
            fs.close();
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(out).stream()
                .filter(e -> e.getEventType().getName().equals("org.foliofs.WriteThrough")).toList();
        assertThat(events).hasSize(3);
        RecordedEvent atomicSync = find(events, 8192), plain = find(events, 32768), async = find(events, 16384);
        assertThat(atomicSync.getBoolean("atomic")).isTrue();
        assertThat(atomicSync.getBoolean("dsync")).isTrue();
        assertThat(atomicSync.getBoolean("async")).isFalse();
        assertThat(atomicSync.getLong("length")).isEqualTo(8192);
        assertThat(atomicSync.getBoolean("failed")).isFalse();
        assertThat(async.getBoolean("async")).isTrue();
        assertThat(plain.getBoolean("atomic")).isFalse();
        assertThat(plain.getBoolean("dsync")).isFalse();
        assertThat(plain.getDuration("sync")).as("no DSYNC step").isZero();
        assertThat(atomicSync.getDuration("sync")).as("the commit").isPositive();
        for (RecordedEvent e : events) {
            long sum = 0;
            for (String s : STAGES) {
                Duration d = e.getDuration(s);
                assertThat(d.isNegative()).as(s + " of " + e + " is negative").isFalse();
                sum += d.toNanos();
            }
            // The stages split [start, end] of the call; JFR's own timestamps come from another clock.
            assertThat(sum).as("stages of " + e).isPositive()
                    .isCloseTo(e.getDuration().toNanos(), org.assertj.core.data.Offset.offset(2_000_000L));
        }
        assertThat(Files.size(out)).isPositive();
    }

    private static RecordedEvent find(List<RecordedEvent> events, long position) {
        return events.stream().filter(e -> e.getLong("position") == position).findFirst()
                .orElseThrow(() -> new AssertionError("no event at " + position + " in " + events));
    }
}
