package org.foliofs.iomap;

import java.util.concurrent.atomic.AtomicLong;
import org.foliofs.device.Errno;

/**
 * Writeback error sequence of one file (Linux's errseq_t): a failed writeback {@link #record}s its
 * errno; every open handle holds a {@link Cursor} and {@link Cursor#check} reports each error that
 * happened since that handle last looked, once per handle. Lock-free: one {@code long} word.
 *
 * <pre>
 *  63                                   17   16   15             0
 * +---------------------------------------+------+----------------+
 * |      counter (errors recorded)        | SEEN | last errno     |
 * +---------------------------------------+------+----------------+
 * </pre>
 * SEEN is set when some cursor reported the current error. A cursor opened while an error nobody
 * has seen yet is current samples "before" it, so it reports that error too (as Linux does, so a
 * file reopened to fsync after a background writeback error still learns of it).
 */
public final class ErrSeq {
    private static final long ERRNO_MASK = 0xFFFF;
    private static final long SEEN = 1L << 16;
    private static final long ONE = 1L << 17;

    private final AtomicLong word = new AtomicLong();

    /** Records a writeback failure with the positive {@code errno}. */
    public void record(int errno) {
        if (errno <= 0 || errno > ERRNO_MASK) throw new IllegalArgumentException("errno (" + errno + ") must be from 1 to 65535");
        long w;
        do {
            w = word.get();
        } while (!word.compareAndSet(w, ((w & ~(SEEN | ERRNO_MASK)) + ONE) | errno));
    }

    /** Errors recorded so far (tests, diagnostics). */
    public long errorCount() { return word.get() >>> 17; }

    /** The last recorded errno, 0 if none. */
    public int lastErrno() { return (int) (word.get() & ERRNO_MASK); }

    /** A cursor for a newly opened handle (errseq_sample). */
    public Cursor cursor() {
        long w = word.get();
        // An error nobody has seen yet stays visible to the new handle.
        return new Cursor(this, (w & SEEN) == 0 && (w & ERRNO_MASK) != 0 ? -1 : w & ~SEEN);
    }

    /** Samples the current value without consuming anything (for callers that only compare). */
    long sample() { return word.get() & ~SEEN; }

    /** True when an error was recorded after {@code sample} was taken. */
    boolean changedSince(long sample) { return (word.get() & ~SEEN) != sample; }

    /** One handle's view of an {@link ErrSeq}. Not thread-safe: one handle, one user at a time (fsync is serialised by the caller). */
    public static final class Cursor {
        private final ErrSeq seq;
        private long sampled;

        private Cursor(ErrSeq seq, long sampled) {
            this.seq = seq;
            this.sampled = sampled;
        }

        /**
         * The errno of an error recorded since this cursor last reported one (and marks it seen),
         * or 0. Each error is reported once per cursor; several errors between two checks are
         * reported once, with the last errno.
         */
        public int check() {
            long w = seq.word.get();
            long cur = w & ~SEEN;
            if (cur == sampled) return 0;
            sampled = cur;
            while ((w & SEEN) == 0 && !seq.word.compareAndSet(w, w | SEEN)) {
                w = seq.word.get();
                if ((w & ~SEEN) != cur) break; // a newer error arrived: it stays unseen for the others
            }
            return (int) (cur & ERRNO_MASK);
        }

        /** Like {@link #check}, as an exception naming the errno and what failed. */
        public void checkOrThrow(String what) throws java.io.IOException {
            int e = check();
            if (e != 0) throw new java.io.IOException(what + ": an earlier writeback failed with " + Errno.name(e));
        }
    }
}
