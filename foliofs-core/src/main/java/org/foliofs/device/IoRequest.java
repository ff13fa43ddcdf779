package org.foliofs.device;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * One device request: an operation, flags, a device offset and a scatter/gather vector of memory
 * segments. Requests are mutable and meant to be reused (no per-request garbage on hot paths):
 * {@link #prepare} it, add segments, {@link BlockDevice#submit submit} it, and once it has
 * completed it may be prepared again.
 *
 * <p>Life cycle: IDLE --submit--> IN_FLIGHT --device calls complete(result)--> DONE --prepare--> IDLE.
 * The device calls {@link #complete(long)} exactly once; that publishes the result (release), wakes a
 * thread blocked in {@link #await()}, then runs the completion callback.
 *
 * <p>Results: bytes transferred ({@code >= 0}, possibly short) or a negative errno.
 */
public final class IoRequest {
    /** Forced unit access: the write is durable when it completes (RWF_DSYNC on files). */
    public static final int FUA = 1;
    /** Flush the volatile write cache before this write is performed. */
    public static final int PREFLUSH = 2;
    /** Untorn: the write is performed all-or-nothing (RWF_ATOMIC); size and alignment rules apply. */
    public static final int ATOMIC = 4;
    /**
     * Flush the volatile write cache after this write is performed: the request completes only
     * after that flush, with the write's result (or the write's error, when the write fails and
     * no flush is issued, or the flush's error). The mirror of {@link #PREFLUSH}; both may be set.
     */
    public static final int POSTFLUSH = 8;
    static final int ALL_FLAGS = FUA | PREFLUSH | ATOMIC | POSTFLUSH;

    private static final int IDLE = 0, IN_FLIGHT = 1, DONE = 2;
    private static final VarHandle STATE;
    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(IoRequest.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private IoOp op = IoOp.READ;
    private int flags;
    private long offset;
    private MemorySegment[] segments = new MemorySegment[4];
    private int segmentCount;
    private long length;
    private IoCompletion callback;
    private Object attachment;

    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state = IDLE;
    private long result;
    private volatile Thread waiter;
    // Set by the device on failure only (cold): what was called and on what, for the exception text.
    private String failedCall;
    private String deviceName;

    public IoRequest() {}

    // ---- building ---------------------------------------------------------------------------

    /** Resets this request for a new operation; segments are cleared. Must not be in flight. */
    public IoRequest prepare(IoOp op, long offset, int flags, IoCompletion callback) {
        checkNotInFlight("prepare");
        if ((flags & ~ALL_FLAGS) != 0) {
            throw new IllegalArgumentException("flags (0x" + Integer.toHexString(flags) + ") has unknown bits; allowed are FUA, PREFLUSH, ATOMIC, POSTFLUSH");
        }
        if (flags != 0 && op != IoOp.WRITE) {
            throw new IllegalArgumentException("flags (" + flagString(flags) + ") are only valid on WRITE, not " + op);
        }
        this.op = op;
        this.offset = offset;
        this.flags = flags;
        this.callback = callback;
        this.attachment = null;
        this.length = 0;
        Arrays.fill(segments, 0, segmentCount, null);
        this.segmentCount = 0;
        this.failedCall = null;
        this.deviceName = null;
        this.result = 0;
        STATE.setRelease(this, IDLE);
        return this;
    }

    /** Appends a memory segment to the scatter/gather vector (READ and WRITE). */
    public IoRequest add(MemorySegment segment) {
        checkNotInFlight("add a segment to");
        if (op != IoOp.READ && op != IoOp.WRITE) {
            throw new IllegalArgumentException("segments are only valid on READ and WRITE, not " + op);
        }
        if (segmentCount == segments.length) {
            segments = Arrays.copyOf(segments, segments.length * 2);
        }
        segments[segmentCount++] = segment;
        length += segment.byteSize();
        return this;
    }

    /** Sets the byte length of a DISCARD. */
    public IoRequest discardLength(long bytes) {
        checkNotInFlight("change the length of");
        if (op != IoOp.DISCARD) throw new IllegalArgumentException("discardLength is only valid on DISCARD, not " + op);
        if (bytes < 0) throw new IllegalArgumentException("discard length (" + bytes + ") must not be negative");
        this.length = bytes;
        return this;
    }

    /** Free slot for the submitter's own use (e.g. the folio or context the request belongs to). */
    public IoRequest attach(Object attachment) {
        checkNotInFlight("attach to");
        this.attachment = attachment;
        return this;
    }

    public static IoRequest read(long offset, MemorySegment into, IoCompletion callback) {
        return new IoRequest().prepare(IoOp.READ, offset, 0, callback).add(into);
    }

    public static IoRequest write(long offset, MemorySegment from, int flags, IoCompletion callback) {
        return new IoRequest().prepare(IoOp.WRITE, offset, flags, callback).add(from);
    }

    public static IoRequest flush(IoCompletion callback) {
        return new IoRequest().prepare(IoOp.FLUSH, 0, 0, callback);
    }

    public static IoRequest discard(long offset, long length, IoCompletion callback) {
        return new IoRequest().prepare(IoOp.DISCARD, offset, 0, callback).discardLength(length);
    }

    // ---- reading ---------------------------------------------------------------------------

    public IoOp op() { return op; }
    public int flags() { return flags; }
    public boolean hasFlag(int flag) { return (flags & flag) != 0; }
    public long offset() { return offset; }
    /** Total bytes: the sum of the segments for READ/WRITE, the discard length for DISCARD, 0 for FLUSH. */
    public long length() { return length; }
    public int segmentCount() { return segmentCount; }
    public MemorySegment segment(int i) {
        if (i < 0 || i >= segmentCount) throw new IndexOutOfBoundsException("segment " + i + " of " + segmentCount);
        return segments[i];
    }
    public Object attachment() { return attachment; }
    public IoCompletion callback() { return callback; }
    public boolean isDone() { return (int) STATE.getAcquire(this) == DONE; }
    public boolean isInFlight() { return (int) STATE.getAcquire(this) == IN_FLIGHT; }

    /** The result once done: bytes transferred or a negative errno. */
    public long result() {
        if (!isDone()) throw new IllegalStateException("request " + this + " has not completed");
        return result;
    }

    /** The failure as an exception naming call, range and errno; null if the request succeeded. */
    public DeviceException error() {
        long r = result();
        if (r >= 0) return null;
        String call = failedCall != null ? failedCall : op.name().toLowerCase();
        return new DeviceException(call, deviceName == null ? "device" : deviceName, offset, length, (int) -r);
    }

    /**
     * Blocks (parks) until the request completes; returns the bytes transferred or throws the
     * device error. Only one thread may wait on a request.
     */
    public long await() throws DeviceException {
        if (!isDone()) {
            waiter = Thread.currentThread();
            boolean interrupted = false;
            while (!isDone()) {
                LockSupport.park(this);
                if (Thread.interrupted()) interrupted = true; // keep waiting: the I/O is in flight regardless
            }
            waiter = null;
            if (interrupted) Thread.currentThread().interrupt();
        }
        if (result < 0) throw error();
        return result;
    }

    // ---- for device implementations --------------------------------------------------------

    /** Marks the request in flight; called by the device in submit(). Fails if it already is. */
    void beginSubmit(String deviceName) {
        if (!STATE.compareAndSet(this, IDLE, IN_FLIGHT)) {
            throw new IllegalStateException("request " + this + (isDone()
                    ? " has already completed; prepare() it before submitting it again"
                    : " is already in flight"));
        }
        this.deviceName = deviceName;
    }

    /** Undoes beginSubmit when validation fails, so the caller can fix and resubmit. */
    void abortSubmit() {
        STATE.setRelease(this, IDLE);
    }

    /** Records which system call failed, for {@link #error()}. Cold path only. */
    void failedCall(String call) { this.failedCall = call; }

    /**
     * Completes the request: called exactly once by the device. Publishes the result, wakes the
     * waiter, then runs the callback.
     */
    void complete(long result) {
        // Read the callback before publishing DONE: once DONE is visible, a woken waiter may
        // prepare() this request with a new callback, which must not be called for this I/O.
        IoCompletion cb = callback;
        this.result = result;
        if (!STATE.compareAndSet(this, IN_FLIGHT, DONE)) {
            throw new IllegalStateException("request " + this + " completed twice");
        }
        Thread w = waiter; // after DONE (volatile): pairs with await() writing waiter before checking DONE
        if (w != null) LockSupport.unpark(w);
        if (cb != null) cb.complete(this, result);
    }

    private void checkNotInFlight(String what) {
        if ((int) STATE.getAcquire(this) == IN_FLIGHT) {
            throw new IllegalStateException("cannot " + what + " request " + this + " while it is in flight");
        }
    }

    static String flagString(int flags) {
        if (flags == 0) return "none";
        StringBuilder sb = new StringBuilder();
        if ((flags & FUA) != 0) sb.append("FUA|");
        if ((flags & PREFLUSH) != 0) sb.append("PREFLUSH|");
        if ((flags & ATOMIC) != 0) sb.append("ATOMIC|");
        if ((flags & POSTFLUSH) != 0) sb.append("POSTFLUSH|");
        return sb.substring(0, sb.length() - 1);
    }

    @Override
    public String toString() {
        return op + "[offset=" + offset + ", length=" + length + ", segments=" + segmentCount
                + ", flags=" + flagString(flags) + "]";
    }
}
