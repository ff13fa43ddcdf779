package org.foliofs.pagecache;

import java.util.concurrent.locks.LockSupport;

/**
 * Hashed wait queues for folio lock and writeback waiters, the idea of Linux's folio_wait_table:
 * {@value #BUCKETS} buckets, each a monitor-guarded intrusive list of parked threads, keyed by
 * folio identity (its {@code hash}). Folios therefore carry no lock or condition objects; a folio
 * that nobody waits for costs nothing here.
 *
 * <p>Protocol (no lost wake-ups): a waiter enqueues itself and sets {@link FolioState#WAITERS}
 * under the bucket monitor, then re-checks its condition before every park. Unlock and
 * endWriteback clear their bit with one atomic read-modify-write that also returns WAITERS; both
 * RMWs hit the same word, so either the waker sees WAITERS (and wakes) or the waiter's re-check
 * sees the bit cleared. WAITERS is cleared under the monitor by whoever removes the folio's last
 * waiter, so it cannot race with a new waiter's enqueue.
 *
 * <p>Lock waiters are woken one at a time (the first LOCKED waiter of the folio): a woken thread
 * stays queued until it owns the lock, so if another thread barges in first, that thread's unlock
 * wakes it again. Writeback waiters are all woken. A waiter node is per thread and reused, so
 * waiting allocates nothing after a thread's first wait.
 */
final class WaitTable {
    private WaitTable() {}

    static final int BUCKETS = 256;
    private static final Bucket[] TABLE = new Bucket[BUCKETS];
    private static final ThreadLocal<Waiter> WAITER = ThreadLocal.withInitial(Waiter::new);

    static {
        for (int i = 0; i < BUCKETS; i++) TABLE[i] = new Bucket();
    }

    private static final class Bucket {
        Waiter head, tail;   // guarded by this bucket's monitor
    }

    private static final class Waiter {
        final Thread thread = Thread.currentThread();
        Folio folio;
        int bit;
        Waiter prev, next;
    }

    private static Bucket bucket(Folio f) { return TABLE[f.hash & (BUCKETS - 1)]; }

    /** Parks until {@code f.tryLock()} succeeds. */
    static void lock(Folio f) { await(f, FolioState.LOCKED); }

    /** Parks until WRITEBACK is clear. */
    static void awaitWritebackEnd(Folio f) { await(f, FolioState.WRITEBACK); }

    private static void await(Folio f, int bit) {
        Waiter w = WAITER.get();
        w.folio = f;
        w.bit = bit;
        Bucket b = bucket(f);
        synchronized (b) {
            enqueue(b, w);
            f.setBitsVolatile(FolioState.WAITERS);
        }
        boolean interrupted = false;
        try {
            while (!(bit == FolioState.LOCKED ? f.tryLock() : (f.stateVolatile() & bit) == 0)) {
                LockSupport.park(f);
                // An interrupt would make every later park return at once (a busy loop): remember
                // it, clear it, and restore it when done. Folio waits are not interruptible.
                if (Thread.interrupted()) interrupted = true;
            }
        } finally {
            synchronized (b) {
                unlink(b, w);
                if (!hasWaiter(b, f)) f.clearBitsVolatile(FolioState.WAITERS);
            }
            w.folio = null;
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /**
     * Wakes the waiters of {@code f} for {@code bit}: the first lock waiter, or every writeback
     * waiter. Called after the bit was cleared, when the clearing RMW returned WAITERS.
     */
    static void wake(Folio f, int bit) {
        Bucket b = bucket(f);
        synchronized (b) {
            for (Waiter w = b.head; w != null; w = w.next) {
                if (w.folio == f && w.bit == bit) {
                    LockSupport.unpark(w.thread);
                    if (bit == FolioState.LOCKED) return;
                }
            }
        }
    }

    private static boolean hasWaiter(Bucket b, Folio f) {
        for (Waiter w = b.head; w != null; w = w.next) {
            if (w.folio == f) return true;
        }
        return false;
    }

    private static void enqueue(Bucket b, Waiter w) {
        w.next = null;
        w.prev = b.tail;
        if (b.tail == null) b.head = w; else b.tail.next = w;
        b.tail = w;
    }

    private static void unlink(Bucket b, Waiter w) {
        if (w.prev == null) b.head = w.next; else w.prev.next = w.next;
        if (w.next == null) b.tail = w.prev; else w.next.prev = w.prev;
        w.prev = w.next = null;
    }
}
