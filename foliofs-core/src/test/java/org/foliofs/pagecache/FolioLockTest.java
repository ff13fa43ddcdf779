package org.foliofs.pagecache;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Folio lock and writeback waits park (no busy spin); mutual exclusion under contention. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FolioLockTest {
    private static PageCache cache;

    @BeforeAll
    static void open() { cache = TestCaches.small(8L << 20); }

    @AfterAll
    static void close() { cache.close(); }

    private static void awaitParked(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertThat(System.nanoTime()).as("thread never parked: " + t.getState()).isLessThan(deadline);
            Thread.sleep(1);
        }
        // parked on the folio, not spinning: stays parked
        Thread.sleep(20);
        assertThat(t.getState()).isIn(Thread.State.WAITING, Thread.State.TIMED_WAITING);
    }

    @Test
    void lockWaiterParksUntilUnlockFromAnotherThread() throws Exception {
        FileCache fc = cache.newFileCache(4096, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(0, 0);      // locked by us
        AtomicLong acquiredAt = new AtomicLong();
        Thread waiter = Thread.ofPlatform().start(() -> {
            f.lock();
            acquiredAt.set(System.nanoTime());
            f.unlock();
        });
        awaitParked(waiter);
        assertThat(acquiredAt.get()).isZero();
        assertThat(f.tryLock()).isFalse();
        long unlockedAt = System.nanoTime();
        f.unlock();
        waiter.join(5_000);
        assertThat(waiter.isAlive()).isFalse();
        assertThat(acquiredAt.get()).isGreaterThanOrEqualTo(unlockedAt);
        assertThat(f.stateVolatile() & FolioState.WAITERS).as("last waiter clears WAITERS").isZero();
        f.put();
    }

    @Test
    void writebackWaitersParkUntilEndWritebackFromAnotherThread() throws Exception {
        FileCache fc = cache.newFileCache(4096, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(0, 2);
        f.startWriteback();
        f.unlock();
        CountDownLatch done = new CountDownLatch(3);
        Thread[] waiters = new Thread[3];
        for (int i = 0; i < waiters.length; i++) {
            waiters[i] = Thread.ofPlatform().start(() -> {
                f.waitWriteback();
                assertThat(f.isWriteback()).isFalse();
                done.countDown();
            });
        }
        for (Thread t : waiters) awaitParked(t);
        assertThat(done.getCount()).isEqualTo(3);
        Thread completion = Thread.ofPlatform().start(f::endWriteback);   // like a device completion thread
        completion.join();
        for (Thread t : waiters) {
            t.join(5_000);
            assertThat(t.isAlive()).isFalse();
        }
        assertThat(done.getCount()).isZero();
        f.put();
    }

    @Test
    void interruptedWaiterDoesNotSpinAndKeepsItsInterrupt() throws Exception {
        FileCache fc = cache.newFileCache(4096, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(0, 0);
        AtomicInteger interrupted = new AtomicInteger();
        Thread waiter = Thread.ofPlatform().start(() -> {
            f.lock();
            if (Thread.currentThread().isInterrupted()) interrupted.set(1);
            f.unlock();
        });
        awaitParked(waiter);
        waiter.interrupt();
        awaitParked(waiter);                  // back to parking, not spinning on the interrupt
        f.unlock();
        waiter.join(5_000);
        assertThat(interrupted.get()).isEqualTo(1);
        f.put();
    }

    @Test
    void contendedLockKeepsMutualExclusion() throws Exception {
        FileCache fc = cache.newFileCache(4096, TestCaches.NO_WRITEBACK);
        Folio f = fc.getOrCreate(0, 0);
        f.unlock();
        int threads = 8, rounds = 20_000;
        long[] counter = new long[1];         // plain field: only the lock protects it
        AtomicInteger inside = new AtomicInteger(), overlaps = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final boolean useTry = t % 2 == 0;
            ts[t] = Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < rounds; i++) {
                    if (useTry) {
                        while (!f.tryLock()) Thread.onSpinWait();
                    } else {
                        f.lock();
                    }
                    if (inside.incrementAndGet() != 1) overlaps.incrementAndGet();
                    counter[0]++;
                    if (i % 512 == 0) Thread.yield();   // hold it a while sometimes so lockers park
                    inside.decrementAndGet();
                    f.unlock();
                }
            });
        }
        start.countDown();
        for (Thread t : ts) t.join(20_000);
        assertThat(overlaps.get()).isZero();
        assertThat(counter[0]).isEqualTo((long) threads * rounds);
        assertThat(f.isLocked()).isFalse();
        assertThat(f.stateVolatile() & FolioState.WAITERS).isZero();
        f.put();
    }
}
