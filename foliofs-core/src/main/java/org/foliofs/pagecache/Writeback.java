package org.foliofs.pagecache;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Dirty accounting, throttling (the idea of Linux's balance_dirty_pages) and the background
 * writeback workers of one PageCache.
 *
 * <ul>
 *   <li>Counts: {@code dirty} (bytes of DIRTY folios, whole folios) and {@code writeback} (bytes
 *       under WRITEBACK). Background writeback looks at dirty only (writeback already started);
 *       throttling at dirty + writeback.</li>
 *   <li>Dirty files: a list, oldest first, of FileCaches with dirty bytes; a file's
 *       {@code dirtiedWhenNanos} is when it became dirty (like an inode's dirtied_when). Expiry is
 *       per file: once its oldest dirtying is older than dirtyExpire, all its dirty data is written,
 *       and if dirty data remains it goes to the tail with a fresh time.</li>
 *   <li>Progress: a counter bumped when a folio is cleaned, ends writeback or is freed. Throttled
 *       writers and allocators short of memory wait on its monitor; a signaller only takes the
 *       monitor when some thread waits (Dekker pair: waiter writes waiters then reads progress,
 *       signaller writes progress then reads waiters, all volatile, so one sees the other).</li>
 * </ul>
 * Lock: {@code lock} (dirty list, worker condition) is a leaf.
 */
final class Writeback {
    private static final System.Logger LOG = System.getLogger("org.foliofs.pagecache");
    private static final long MIN_CHUNK = 4L << 20;

    private final long backgroundThresh, dirtyLimit, maxPauseNanos, stallNanos, expireNanos, intervalNanos;
    final AtomicLong dirty = new AtomicLong(), writeback = new AtomicLong();
    private final AtomicLong progress = new AtomicLong();
    private final AtomicLong throttledNanos = new AtomicLong();
    private final Object progressMonitor = new Object();
    private volatile int progressWaiters;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private FileCache head, tail;   // lock
    private int listed;             // lock
    private volatile boolean kicked, closed;
    private final Thread[] workers;

    Writeback(PageCache.Config c) {
        this.backgroundThresh = c.memoryBytes() * c.backgroundRatio() / 100;
        this.dirtyLimit = c.memoryBytes() * c.dirtyRatio() / 100;
        this.maxPauseNanos = TimeUnit.MILLISECONDS.toNanos(c.maxPauseMillis());
        this.stallNanos = TimeUnit.MILLISECONDS.toNanos(c.stallTimeoutMillis());
        this.expireNanos = TimeUnit.MILLISECONDS.toNanos(c.dirtyExpireMillis());
        this.intervalNanos = TimeUnit.MILLISECONDS.toNanos(c.writebackIntervalMillis());
        this.workers = new Thread[c.writebackThreads()];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("foliofs-writeback-" + i).unstarted(this::run);
        }
    }

    void start() { for (Thread t : workers) t.start(); }
    long backgroundThresh() { return backgroundThresh; }
    long dirtyLimit() { return dirtyLimit; }
    long throttledNanos() { return throttledNanos.get(); }

    // ---- accounting (called by Folio on flag transitions) ------------------------------------

    void accountDirty(FileCache fc, long delta) {
        long d = dirty.addAndGet(delta);
        long fd = fc.dirtyBytes.addAndGet(delta);
        if (delta > 0 ? fd == delta : fd == 0) syncDirtyList(fc);
        if (delta < 0) signalProgress();
        else if (d > backgroundThresh) kick();
    }

    void addWriteback(long delta) {
        writeback.addAndGet(delta);
        if (delta < 0) signalProgress();
    }

    /** Links or unlinks {@code fc} to match its dirty count now (re-read under the lock, so racing calls converge). */
    private void syncDirtyList(FileCache fc) {
        lock.lock();
        try {
            boolean dirtyNow = fc.dirtyBytes.get() > 0;
            if (dirtyNow && !fc.onDirtyList) append(fc, System.nanoTime());
            else if (!dirtyNow && fc.onDirtyList) unlink(fc);
        } finally {
            lock.unlock();
        }
    }

    private void append(FileCache fc, long now) {
        fc.dirtiedWhenNanos = now;
        fc.dirtyPrev = tail;
        fc.dirtyNext = null;
        if (tail == null) head = fc; else tail.dirtyNext = fc;
        tail = fc;
        fc.onDirtyList = true;
        listed++;
    }

    private void unlink(FileCache fc) {
        if (fc.dirtyPrev == null) head = fc.dirtyNext; else fc.dirtyPrev.dirtyNext = fc.dirtyNext;
        if (fc.dirtyNext == null) tail = fc.dirtyPrev; else fc.dirtyNext.dirtyPrev = fc.dirtyPrev;
        fc.dirtyPrev = fc.dirtyNext = null;
        fc.onDirtyList = false;
        listed--;
    }

    void signalProgress() {
        progress.incrementAndGet();
        if (progressWaiters > 0) {
            synchronized (progressMonitor) {
                progressMonitor.notifyAll();
            }
        }
    }

    /** Waits up to {@code nanos} for progress after {@code seen}; false when interrupted. */
    boolean awaitProgress(long seen, long nanos) {
        synchronized (progressMonitor) {
            progressWaiters++;
            try {
                if (progress.get() == seen && !closed) TimeUnit.NANOSECONDS.timedWait(progressMonitor, nanos);
                return true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } finally {
                progressWaiters--;
            }
        }
    }

    long progress() { return progress.get(); }

    /** Wakes a worker (cheap when one was already kicked). */
    void kick() {
        if (kicked) return;   // racy check on purpose: a missed kick costs at most one interval
        lock.lock();
        try {
            kicked = true;
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    // ---- throttling -------------------------------------------------------------------------

    /** See {@link PageCache#balanceDirty(FileCache)}. */
    void balanceDirty(FileCache fc) {
        if (dirty.get() > backgroundThresh) kick();
        long mid = (backgroundThresh + dirtyLimit) / 2;
        long d = dirty.get() + writeback.get();
        if (d <= mid || fc.dirtyBytes.get() == 0) return;   // free run; a writer without dirty data is never held
        long start = System.nanoTime();
        if (d < dirtyLimit) {
            // Pace the writer by writeback: wait for the next progress event (a folio cleaned or
            // its writeback ended), for at most a pause proportional to the excess over mid. A
            // fixed sleep instead would cap a writer at (bytes per call / pause) whatever the
            // device's speed: measured 170 MiB/s through a 64 MiB cache on a disk taking 5 GB/s.
            kick();
            awaitProgress(progress.get(), maxPauseNanos * (d - mid) / Math.max(1, dirtyLimit - mid));
        } else {                                            // at the limit: wait for writeback progress
            long seen = progress.get();
            long stallDeadline = start + stallNanos;
            while (!closed && fc.dirtyBytes.get() > 0 && dirty.get() + writeback.get() >= dirtyLimit) {
                kick();
                if (!awaitProgress(seen, maxPauseNanos)) break;
                long now = System.nanoTime(), p = progress.get();
                if (p != seen) {
                    seen = p;
                    stallDeadline = now + stallNanos;
                } else if (now - stallDeadline > 0) {
                    // Writeback made no progress at all for stallTimeout: stop throttling this call
                    // rather than hang; the memory budget is still enforced by allocation.
                    LOG.log(System.Logger.Level.WARNING, "dirty throttling gave up after " + stallNanos / 1_000_000
                            + " ms without writeback progress (" + (dirty.get() + writeback.get()) + " bytes dirty or under writeback, limit "
                            + dirtyLimit + ")");
                    break;
                }
            }
        }
        throttledNanos.addAndGet(System.nanoTime() - start);
    }

    // ---- workers ----------------------------------------------------------------------------

    private void run() {
        int fruitless = 0;
        while (!closed) {
            FileCache fc;
            long max;
            lock.lock();
            try {
                long now = System.nanoTime();
                boolean over = dirty.get() > backgroundThresh;
                fc = head;
                if (fc == null || !(over || now - fc.dirtiedWhenNanos >= expireNanos)) {
                    kicked = false;
                    long wait = fc == null ? intervalNanos : Math.min(intervalNanos, fc.dirtiedWhenNanos + expireNanos - now);
                    try {
                        work.awaitNanos(Math.max(wait, 1_000_000));
                    } catch (InterruptedException e) {
                        if (closed) return;
                    }
                    continue;
                }
                max = now - fc.dirtiedWhenNanos >= expireNanos ? Long.MAX_VALUE : Math.max(dirty.get() - backgroundThresh, MIN_CHUNK);
            } finally {
                lock.unlock();
            }
            long started;
            try {
                started = fc.target().writeback(fc, max);
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "writeback target of a file cache failed", t);
                started = 0;
            }
            lock.lock();
            try {   // expired data written, or nothing startable: requeue behind the others with a fresh time
                if (fc.onDirtyList && (started == 0 || max == Long.MAX_VALUE)) {
                    unlink(fc);
                    append(fc, System.nanoTime());
                }
            } finally {
                lock.unlock();
            }
            fruitless = started > 0 ? 0 : fruitless + 1;
            if (fruitless > 0 && fruitless >= Math.max(1, listed)) {   // a whole round started nothing: wait for progress
                awaitProgress(progress.get(), 10_000_000);
                fruitless = 0;
            }
        }
    }

    void close() {
        closed = true;
        lock.lock();
        try {
            work.signalAll();
        } finally {
            lock.unlock();
        }
        synchronized (progressMonitor) {
            progressMonitor.notifyAll();
        }
        for (Thread t : workers) {
            if (t == Thread.currentThread()) continue;
            try {
                t.join(10_000);
                if (t.isAlive()) {
                    LOG.log(System.Logger.Level.WARNING, t.getName() + " still in a writeback target after 10 s; interrupting it");
                    t.interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
