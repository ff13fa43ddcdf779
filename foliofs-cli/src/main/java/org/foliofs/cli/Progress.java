package org.foliofs.cli;

import java.io.Console;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on stderr for long work (mkfs of a large image, cp of a large file, fsck), or
 * nothing at all when stdout and stderr are not a terminal ({@link #onTerminal()}), so scripts,
 * pipes and tests see only the command's output. {@code FOLIOFS_PROGRESS=0} turns it off,
 * {@code FOLIOFS_PROGRESS=1} on. A total of -1 gives an indefinite bar (a spinner).
 */
final class Progress implements AutoCloseable {
    /** Work smaller than this finishes before a bar would be worth drawing. */
    static final long MIN_BYTES = 64L << 20;

    private static final Progress NONE = new Progress(null);
    private final ProgressBar bar;

    private Progress(ProgressBar bar) { this.bar = bar; }

    /** True when a person is watching: a console whose stdin and stdout are a terminal, unless FOLIOFS_PROGRESS says otherwise. */
    static boolean onTerminal() {
        String forced = System.getenv("FOLIOFS_PROGRESS");
        if ("0".equals(forced)) return false;
        if ("1".equals(forced)) return true;
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** A bar counting {@code total} bytes (shown in MiB), or a spinner when {@code total < 0}; quiet off a terminal. */
    static Progress bytes(String task, long total) {
        if (!onTerminal() || (total >= 0 && total < MIN_BYTES)) return NONE;
        ProgressBarBuilder b = builder(task, total);
        if (total >= 0) b.setUnit(" MiB", 1L << 20).showSpeed();
        return new Progress(b.build());
    }

    /** An indefinite bar (work without a known end, e.g. fsck) when {@code worthIt}; quiet off a terminal. */
    static Progress spinner(String task, boolean worthIt) {
        if (!worthIt || !onTerminal()) return NONE;
        return new Progress(builder(task, -1).hideEta().build());
    }

    private static ProgressBarBuilder builder(String task, long total) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).clearDisplayOnFinish();
    }

    void stepBy(long n) {
        if (bar != null) bar.stepBy(n);
    }

    void message(String text) {
        if (bar != null) bar.setExtraMessage(text);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
