package org.foliofs.device;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Faults a {@link SimDevice} injects, decided by request number (1-based, counting the requests
 * that passed validation, in submission order) or by device range. Immutable; made with
 * {@link #builder()}. A failed request changes nothing on the device and completes with the
 * negative errno; the device counts it in {@link DeviceStats#errors()}.
 *
 * <p>When several faults match a request, the first in this order wins: {@link
 * Builder#failRequest}, {@link Builder#failRange}, {@link Builder#failAfter}. Short and slow
 * completions apply on top (a slow request may also fail).
 */
public final class FaultPlan {
    private static final FaultPlan NONE = new Builder().build();

    private final Map<Long, Integer> failRequests;
    private final List<RangeFault> failRanges;
    private final long failAfter;
    private final int failAfterErrno;
    private final Map<Long, Long> shortCompletions;
    private final Map<Long, Long> slowRequests;
    private final long slowAll;

    /** Requests touching [offset, offset+length) fail; op null means READ and WRITE. */
    private record RangeFault(long offset, long length, IoOp op, int errno) {
        boolean matches(IoOp o, long off, long len) {
            boolean opMatches = op == null ? (o == IoOp.READ || o == IoOp.WRITE) : o == op;
            return opMatches && len > 0 && off < offset + length && offset < off + len;
        }

        @Override
        public String toString() {
            return "fail " + (op == null ? "READ/WRITE" : op) + " in [" + offset + ", " + (offset + length) + ") with "
                    + Errno.name(errno);
        }
    }

    private FaultPlan(Builder b) {
        this.failRequests = Map.copyOf(b.failRequests);
        this.failRanges = List.copyOf(b.failRanges);
        this.failAfter = b.failAfter;
        this.failAfterErrno = b.failAfterErrno;
        this.shortCompletions = Map.copyOf(b.shortCompletions);
        this.slowRequests = Map.copyOf(b.slowRequests);
        this.slowAll = b.slowAll;
    }

    /** No faults: the default of a SimDevice. */
    public static FaultPlan none() { return NONE; }

    public static Builder builder() { return new Builder(); }

    /** True when this plan injects nothing. */
    public boolean isNone() {
        return failRequests.isEmpty() && failRanges.isEmpty() && failAfter < 0 && shortCompletions.isEmpty()
                && slowRequests.isEmpty() && slowAll == 0;
    }

    /** The positive errno request number {@code n} fails with, or 0 when it succeeds. */
    int errnoFor(long n, IoOp op, long offset, long length) {
        Integer e = failRequests.get(n);
        if (e != null) return e;
        for (RangeFault f : failRanges) {
            if (f.matches(op, offset, length)) return f.errno;
        }
        if (failAfter >= 0 && n > failAfter) return failAfterErrno;
        return 0;
    }

    /** Bytes request {@code n} transfers when it completes short, or -1 when it completes in full. */
    long shortBytes(long n) {
        Long b = shortCompletions.get(n);
        return b == null ? -1 : b;
    }

    /** Milliseconds request {@code n} is delayed before it is performed and completed. */
    long delayMillis(long n) {
        Long d = slowRequests.get(n);
        return d != null ? d : slowAll;
    }

    @Override
    public String toString() {
        if (isNone()) return "FaultPlan.none";
        List<String> parts = new ArrayList<>();
        new TreeMap<>(failRequests).forEach((n, e) -> parts.add("fail #" + n + " with " + Errno.name(e)));
        failRanges.forEach(f -> parts.add(f.toString()));
        if (failAfter >= 0) parts.add("fail every request after #" + failAfter + " with " + Errno.name(failAfterErrno));
        new TreeMap<>(shortCompletions).forEach((n, b) -> parts.add("#" + n + " transfers " + b + " bytes"));
        new TreeMap<>(slowRequests).forEach((n, d) -> parts.add("#" + n + " delayed " + d + " ms"));
        if (slowAll > 0) parts.add("every request delayed " + slowAll + " ms");
        return "FaultPlan" + parts;
    }

    /** Collects faults; each method validates its arguments at once. Later settings for the same request win. */
    public static final class Builder {
        private final Map<Long, Integer> failRequests = new TreeMap<>();
        private final List<RangeFault> failRanges = new ArrayList<>();
        private long failAfter = -1;
        private int failAfterErrno;
        private final Map<Long, Long> shortCompletions = new TreeMap<>();
        private final Map<Long, Long> slowRequests = new TreeMap<>();
        private long slowAll;

        private Builder() {}

        /** The {@code n}-th submitted request (1-based) fails with {@code errno} (positive, e.g. Errno.EIO). */
        public Builder failRequest(long n, int errno) {
            failRequests.put(requestNumber(n), checkErrno(errno));
            return this;
        }

        /** Every READ or WRITE overlapping [offset, offset+length) fails with {@code errno}. */
        public Builder failRange(long offset, long length, int errno) {
            return addRange(offset, length, null, errno);
        }

        /** Every request of {@code op} overlapping [offset, offset+length) fails with {@code errno}. */
        public Builder failRange(long offset, long length, IoOp op, int errno) {
            if (op == null) throw new IllegalArgumentException("op must not be null; use failRange(offset, length, errno) for READ and WRITE");
            return addRange(offset, length, op, errno);
        }

        private Builder addRange(long offset, long length, IoOp op, int errno) {
            if (offset < 0) throw new IllegalArgumentException("range offset (" + offset + ") must not be negative");
            if (length <= 0) throw new IllegalArgumentException("range length (" + length + ") must be positive");
            if (offset + length < 0) {
                throw new IllegalArgumentException("range [" + offset + ", +" + length + ") overflows");
            }
            failRanges.add(new RangeFault(offset, length, op, checkErrno(errno)));
            return this;
        }

        /** Every request after the {@code n}-th (so from number n+1 on) fails with {@code errno}: a dying device. */
        public Builder failAfter(long n, int errno) {
            if (n < 0) throw new IllegalArgumentException("failAfter request count (" + n + ") must not be negative");
            this.failAfterErrno = checkErrno(errno);
            this.failAfter = n;
            return this;
        }

        /**
         * Request {@code n}, if a READ or WRITE, transfers only its first {@code bytes} bytes (rounded
         * down to the logical block size, at most the request length); only that prefix is written or
         * read, and the result is the short count. An ATOMIC write never completes short.
         */
        public Builder shortCompletion(long n, long bytes) {
            if (bytes < 0) throw new IllegalArgumentException("short completion bytes (" + bytes + ") must not be negative");
            shortCompletions.put(requestNumber(n), bytes);
            return this;
        }

        /** Request {@code n} is delayed {@code millis} ms before it is performed and completed. */
        public Builder slowRequest(long n, long millis) {
            slowRequests.put(requestNumber(n), checkMillis(millis));
            return this;
        }

        /** Every request without its own {@link #slowRequest} delay is delayed {@code millis} ms. */
        public Builder slowAll(long millis) {
            this.slowAll = checkMillis(millis);
            return this;
        }

        public FaultPlan build() { return new FaultPlan(this); }

        private static long requestNumber(long n) {
            if (n < 1) throw new IllegalArgumentException("request number (" + n + ") must be at least 1 (requests are counted from 1)");
            return n;
        }

        private static int checkErrno(int errno) {
            if (errno <= 0 || errno > 4095) {
                throw new IllegalArgumentException("errno (" + errno + ") must be a positive errno value such as Errno.EIO (5)");
            }
            return errno;
        }

        private static long checkMillis(long millis) {
            if (millis < 0 || millis > 60_000) {
                throw new IllegalArgumentException("delay (" + millis + " ms) must be between 0 and 60000 ms");
            }
            return millis;
        }
    }
}
