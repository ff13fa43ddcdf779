package org.foliofs.device;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An in-memory {@link BlockDevice} for tests of every layer above, deterministic by seed.
 *
 * <p>Storage is sparse (64 KiB chunks allocated on first write). A volatile write cache is
 * modelled precisely ({@link SimCache}): reads see every completed write, but only FUA and
 * POSTFLUSH writes, writes followed by a completed FLUSH (or PREFLUSH write), and all writes of a device built with
 * {@code volatileWriteCache(false)} are durable. {@link #crash()} simulates a power loss that
 * loses, applies, tears and reorders the rest. A {@link FaultPlan} injects I/O errors, short and
 * slow completions.
 *
 * <p>Requests are performed one at a time under the device lock, in submission order. By default
 * they complete inline, on the submitting thread, before {@code submit} returns. With
 * {@code asyncCompletions(true)} one daemon thread performs and completes them in submission
 * order; segments must then be accessible from that thread (shared or global arena, or heap).
 * A segment that cannot be accessed fails the request with EFAULT.
 *
 * <p>A device without FUA support ({@code supportsFua(false)}) still honours the interface
 * contract for FUA writes the way the Linux block layer does: it flushes after the write.
 */
public final class SimDevice implements BlockDevice {
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final long capacity;
    private final int lbs;
    private final int pbs;
    private final boolean volatileCache;
    private final boolean fua;
    private final int atomicMin;
    private final int atomicMax;
    private final long seed;
    private volatile FaultPlan faults;
    private final String description;
    private final DeviceStats stats = new DeviceStats();
    private final Random random;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Condition idle = lock.newCondition();
    private final SimCache cache;
    private final ArrayDeque<Queued> queue = new ArrayDeque<>();
    private final Thread completer; // null: inline completions
    private final ThreadLocal<int[]> callbackDepth = ThreadLocal.withInitial(() -> new int[1]);
    private long submitted;
    private int inFlight;
    private boolean closed;

    private record Queued(IoRequest request, long number) {}

    private SimDevice(SimDeviceBuilder b) {
        this.capacity = b.capacity;
        this.lbs = b.logicalBlockSize;
        this.pbs = b.physicalBlockSize;
        this.volatileCache = b.volatileWriteCache;
        this.fua = b.supportsFua;
        this.atomicMin = b.atomicMin;
        this.atomicMax = b.atomicMax;
        this.seed = b.seed;
        this.faults = b.faultPlan;
        this.random = new Random(seed);
        this.cache = new SimCache(capacity, lbs);
        this.description = "sim[capacity=" + capacity + ", lbs=" + lbs + ", pbs=" + pbs + ", seed=" + seed + "]";
        if (b.asyncCompletions) {
            completer = new Thread(this::completionLoop, "sim-completions-" + THREADS.incrementAndGet());
            completer.setDaemon(true);
            completer.start();
        } else {
            completer = null;
        }
    }

    /** A builder with the defaults: 64 MiB, 512/4096 byte blocks, volatile cache, FUA, no ATOMIC, seed 0. */
    public static SimDeviceBuilder builder() { return SimDeviceBuilder.DEFAULTS; }

    static SimDevice create(SimDeviceBuilder b) { return new SimDevice(b); }

    @Override public int logicalBlockSize() { return lbs; }
    @Override public int physicalBlockSize() { return pbs; }
    @Override public int memoryAlignment() { return 1; }
    @Override public long capacity() { return capacity; }
    @Override public boolean volatileWriteCache() { return volatileCache; }
    @Override public boolean supportsFua() { return fua; }
    @Override public int atomicWriteUnitMin() { return atomicMin; }
    @Override public int atomicWriteUnitMax() { return atomicMax; }
    @Override public DeviceStats stats() { return stats; }
    @Override public String describe() { return description; }
    @Override public String toString() { return description; }

    public long seed() { return seed; }
    public FaultPlan faultPlan() { return faults; }

    /** Requests numbered so far (validated submissions): the base for {@link FaultPlan} request numbers. */
    public long requestsSubmitted() {
        lock.lock();
        try {
            return submitted;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Replaces the fault plan from the next request on (tests that fail a file's data range after
     * the file system has placed it). Request numbers keep counting from the device's first request
     * ({@link #requestsSubmitted()} tells how many were numbered so far).
     */
    public void faultPlan(FaultPlan plan) { this.faults = java.util.Objects.requireNonNull(plan, "plan"); }
    public boolean asyncCompletions() { return completer != null; }

    /** Writes completed but not yet durable (what a crash now would act on). */
    public int pendingWrites() {
        lock.lock();
        try {
            return cache.pendingCount();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void submit(IoRequest r) {
        Objects.requireNonNull(r, "request");
        long n;
        lock.lock();
        try {
            if (closed) throw RequestValidator.closed(this, r);
            r.beginSubmit(description);
            try {
                RequestValidator.validate(this, r);
            } catch (RuntimeException e) {
                r.abortSubmit();
                throw e;
            }
            stats.recordSubmit(r);
            n = ++submitted;
            inFlight++;
            if (completer != null) {
                queue.add(new Queued(r, n));
                work.signal();
                return;
            }
        } finally {
            lock.unlock();
        }
        deliver(r, n);
    }

    private void completionLoop() {
        while (true) {
            Queued q;
            lock.lock();
            try {
                while (queue.isEmpty() && !closed) work.awaitUninterruptibly();
                q = queue.poll();
                if (q == null) return; // closed and drained
            } finally {
                lock.unlock();
            }
            try {
                deliver(q.request(), q.number());
            } catch (Throwable t) { // a callback threw: report it, keep completing the others
                Thread self = Thread.currentThread();
                self.getUncaughtExceptionHandler().uncaughtException(self, t);
            }
        }
    }

    /** Delays, performs and completes request number n; the callback runs on this thread. */
    private void deliver(IoRequest r, long n) {
        try {
            long delay = faults.delayMillis(n);
            if (delay > 0) sleep(delay);
            long result;
            lock.lock();
            try {
                result = perform(r, n);
            } finally {
                lock.unlock();
            }
            int[] depth = callbackDepth.get();
            depth[0]++;
            try {
                r.complete(result);
            } finally {
                depth[0]--;
            }
        } finally {
            lock.lock();
            try {
                inFlight--;
                if (lock.hasWaiters(idle)) idle.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Cuts the power during a later request: counting from now, the {@code nth} (from 1) write,
     * flush or discard is the last one the device sees. A write at the cut lands in the volatile
     * cache only (its FUA or POSTFLUSH is lost with the power, so {@link #crash()} may lose or tear it) and fails
     * with EIO, like every request after it, until {@link #crash()} reboots the device. For crash
     * campaigns: a crash in the middle of a sequence of synchronous, FUA or flushed writes.
     */
    public void powerCutAt(long nth) {
        if (nth < 1) throw new IllegalArgumentException("nth (" + nth + ") must be at least 1");
        lock.lock();
        try {
            cutCountdown = nth;
            powerOff = false;
        } finally {
            lock.unlock();
        }
    }

    /** Whether a {@link #powerCutAt} cut has happened (and no crash() since). */
    public boolean powerOff() {
        lock.lock();
        try {
            return powerOff;
        } finally {
            lock.unlock();
        }
    }

    private long cutCountdown;
    private boolean powerOff;

    /** Performs one request under the lock; returns the result (bytes or negative errno). */
    private long perform(IoRequest r, long n) {
        IoOp op = r.op();
        if (powerOff) return fail(r, "sim " + op.name().toLowerCase() + " (power cut)", Errno.EIO);
        if (cutCountdown > 0 && op != IoOp.READ && --cutCountdown == 0) {
            powerOff = true;
            if (op == IoOp.WRITE) {
                long len = r.length();
                MemorySegment data = gather(r, len);
                if (r.hasFlag(IoRequest.PREFLUSH)) cache.flush();
                cache.write(r.offset(), data, !volatileCache, r.hasFlag(IoRequest.ATOMIC)); // no FUA, no POSTFLUSH: the power is gone
            }
            return fail(r, "sim " + op.name().toLowerCase() + " (power cut)", Errno.EIO);
        }
        int errno = faults.errnoFor(n, op, r.offset(), r.length());
        if (errno != 0) return fail(r, "sim " + op.name().toLowerCase(), errno);
        try {
            switch (op) {
                case READ -> {
                    long len = transferLength(r, n);
                    scatter(r, len);
                    return len;
                }
                case WRITE -> {
                    long len = r.hasFlag(IoRequest.ATOMIC) ? r.length() : transferLength(r, n);
                    MemorySegment data = gather(r, len); // before any change: a bad segment changes nothing
                    if (r.hasFlag(IoRequest.PREFLUSH)) cache.flush();
                    boolean fuaFlag = r.hasFlag(IoRequest.FUA);
                    boolean isDurable = !volatileCache || (fuaFlag && fua);
                    cache.write(r.offset(), data, isDurable, r.hasFlag(IoRequest.ATOMIC));
                    if ((fuaFlag && !isDurable) || r.hasFlag(IoRequest.POSTFLUSH)) cache.flush(); // FUA emulated by a post-flush
                    return len;
                }
                case FLUSH -> {
                    cache.flush();
                    return 0;
                }
                case DISCARD -> {
                    cache.discard(r.offset(), r.length(), !volatileCache);
                    return 0;
                }
                default -> throw new AssertionError(op);
            }
        } catch (RuntimeException e) { // inaccessible segment: wrong thread, closed arena
            return fail(r, "sim " + op.name().toLowerCase() + " (" + e.getClass().getSimpleName() + ": "
                    + e.getMessage() + ")", Errno.EFAULT);
        }
    }

    private long fail(IoRequest r, String call, int errno) {
        r.failedCall(call);
        stats.recordError();
        return -errno;
    }

    private long transferLength(IoRequest r, long n) {
        long s = faults.shortBytes(n);
        if (s < 0) return r.length();
        return Math.min(r.length(), s - s % lbs);
    }

    private MemorySegment gather(IoRequest r, long len) {
        MemorySegment data = MemorySegment.ofArray(new byte[Math.toIntExact(len)]);
        long pos = 0;
        for (int i = 0; i < r.segmentCount() && pos < len; i++) {
            MemorySegment s = r.segment(i);
            long k = Math.min(s.byteSize(), len - pos);
            MemorySegment.copy(s, 0, data, pos, k);
            pos += k;
        }
        return data;
    }

    private void scatter(IoRequest r, long len) {
        long pos = 0;
        for (int i = 0; i < r.segmentCount() && pos < len; i++) {
            MemorySegment s = r.segment(i);
            long k = Math.min(s.byteSize(), len - pos);
            cache.read(r.offset() + pos, s, 0, k);
            pos += k;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits, holding the lock, until no request is in flight except those this thread is completing. */
    private void awaitIdle(String what) {
        if (Thread.currentThread() == completer) {
            throw new IllegalStateException(what + " on " + description
                    + " cannot be called from a completion callback of an asynchronous SimDevice");
        }
        int own = callbackDepth.get()[0];
        while (inFlight > own) idle.awaitUninterruptibly();
    }

    /**
     * Simulates a power loss and reboot, choosing with the device's seeded random sequence; see
     * {@link #crash(long)}.
     */
    public CrashReport crash() {
        lock.lock();
        try {
            checkOpen("crash()");
            awaitIdle("crash()");
            powerOff = false;
            cutCountdown = 0;
            return cache.crash(random.nextLong());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Simulates a power loss and reboot with an explicit seed (replay a {@link CrashReport#seed()}).
     * First waits for requests in flight to complete. Then every pending write (completed, not
     * durable), taken in a random order, is independently lost, applied whole or torn (a random
     * proper subset of its logical blocks applied); ATOMIC and single-block writes are never torn.
     * The result is what reads see and what is durable; the device stays usable.
     */
    public CrashReport crash(long crashSeed) {
        lock.lock();
        try {
            checkOpen("crash(" + crashSeed + ")");
            awaitIdle("crash(" + crashSeed + ")");
            powerOff = false;
            cutCountdown = 0;
            return cache.crash(crashSeed);
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen(String what) {
        if (closed) throw new IllegalStateException(what + ": device " + description + " is closed");
    }

    /**
     * Waits for requests in flight and their callbacks, then releases the memory. Idempotent.
     * Called from a completion callback of an asynchronous device it does not wait: the
     * completion thread finishes the queued requests and exits.
     */
    @Override
    public void close() {
        boolean fromCompleter = Thread.currentThread() == completer;
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                work.signalAll();
            }
            if (fromCompleter) return;
            int own = callbackDepth.get()[0];
            while (inFlight > own) idle.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
        if (completer != null) {
            boolean interrupted = false;
            while (completer.isAlive()) {
                try {
                    completer.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        lock.lock();
        try {
            if (inFlight == 0) cache.clear();
        } finally {
            lock.unlock();
        }
    }
}
