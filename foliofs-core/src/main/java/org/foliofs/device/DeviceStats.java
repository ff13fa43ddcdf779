package org.foliofs.device;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of what was submitted to a device: requests and bytes per operation, FUA, PREFLUSH,
 * POSTFLUSH and ATOMIC writes, and failures. A PREFLUSH or POSTFLUSH write's cache flush is not
 * counted as a FLUSH request ({@link #requests}): it is part of the write. Tests use them to assert how many device requests an operation
 * issued. Updates are LongAdder increments: cheap and allocation-free after warm-up.
 */
public final class DeviceStats {
    private final LongAdder[] requests = adders(IoOp.values().length);
    private final LongAdder[] bytes = adders(IoOp.values().length);
    private final LongAdder fuaWrites = new LongAdder();
    private final LongAdder preflushWrites = new LongAdder();
    private final LongAdder atomicWrites = new LongAdder();
    private final LongAdder postflushWrites = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder mergedFlushes = new LongAdder();

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) a[i] = new LongAdder();
        return a;
    }

    /** Counts a request that passed validation and was queued. */
    void recordSubmit(IoRequest r) {
        int i = r.op().ordinal();
        requests[i].increment();
        bytes[i].add(r.length());
        int f = r.flags();
        if (f != 0) {
            if ((f & IoRequest.FUA) != 0) fuaWrites.increment();
            if ((f & IoRequest.PREFLUSH) != 0) preflushWrites.increment();
            if ((f & IoRequest.ATOMIC) != 0) atomicWrites.increment();
            if ((f & IoRequest.POSTFLUSH) != 0) postflushWrites.increment();
        }
    }

    void recordError() { errors.increment(); }

    /** Counts a FLUSH that was answered by another FLUSH issued after it was submitted (merged). */
    void recordMergedFlush() { mergedFlushes.increment(); }

    public long requests(IoOp op) { return requests[op.ordinal()].sum(); }
    public long bytes(IoOp op) { return bytes[op.ordinal()].sum(); }
    public long fuaWrites() { return fuaWrites.sum(); }
    public long preflushWrites() { return preflushWrites.sum(); }
    public long atomicWrites() { return atomicWrites.sum(); }
    /** WRITEs with {@link IoRequest#POSTFLUSH}: each is one cache flush after its write. */
    public long postflushWrites() { return postflushWrites.sum(); }
    public long errors() { return errors.sum(); }
    /**
     * FLUSH requests that did not reach the kernel on their own: submitted while another flush was
     * in flight, they were answered by one flush issued when it ended ({@link FileDevice} merges
     * flushes like the kernel's flush machinery). {@code requests(FLUSH) - mergedFlushes()} is the
     * number of flushes the device really performed.
     */
    public long mergedFlushes() { return mergedFlushes.sum(); }

    /** All requests of every operation. */
    public long totalRequests() {
        long n = 0;
        for (LongAdder a : requests) n += a.sum();
        return n;
    }

    public Snapshot snapshot() {
        return new Snapshot(requests(IoOp.READ), requests(IoOp.WRITE), requests(IoOp.FLUSH),
                requests(IoOp.DISCARD), bytes(IoOp.READ), bytes(IoOp.WRITE), fuaWrites(),
                preflushWrites(), atomicWrites(), errors(), mergedFlushes(), postflushWrites());
    }

    public void reset() {
        for (LongAdder a : requests) a.reset();
        for (LongAdder a : bytes) a.reset();
        fuaWrites.reset();
        preflushWrites.reset();
        atomicWrites.reset();
        postflushWrites.reset();
        errors.reset();
        mergedFlushes.reset();
    }

    /** A point-in-time copy; {@link #minus} gives what an operation issued. */
    public record Snapshot(long reads, long writes, long flushes, long discards, long bytesRead,
                           long bytesWritten, long fuaWrites, long preflushWrites, long atomicWrites,
                           long errors, long mergedFlushes, long postflushWrites) {
        public Snapshot minus(Snapshot before) {
            return new Snapshot(reads - before.reads, writes - before.writes, flushes - before.flushes,
                    discards - before.discards, bytesRead - before.bytesRead,
                    bytesWritten - before.bytesWritten, fuaWrites - before.fuaWrites,
                    preflushWrites - before.preflushWrites, atomicWrites - before.atomicWrites,
                    errors - before.errors, mergedFlushes - before.mergedFlushes,
                    postflushWrites - before.postflushWrites);
        }
    }

    @Override
    public String toString() { return snapshot().toString(); }
}
