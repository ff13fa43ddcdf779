package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class CallerRunsTest {
    @Test
    @Timeout(10)
    void tasksPostedFromAnotherThreadRunOnTheWaiterUntilTheFutureIsDone() throws Exception {
        CallerRuns waiter = new CallerRuns();
        CompletableFuture<Long> f = new CompletableFuture<>();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        Thread poster = Thread.ofPlatform().start(() -> {
            sleep(50);   // the waiter is parked by then
            waiter.execute(() -> {
                ranOn.set(Thread.currentThread());
                f.complete(7L);
            });
        });
        waiter.await(f);
        poster.join();
        assertThat(ranOn.get()).isSameAs(Thread.currentThread());
        assertThat(f.get()).isEqualTo(7L);
    }

    @Test
    @Timeout(10)
    void aFutureCompletedElsewhereWithoutATaskStillWakesTheWaiter() {
        // A call that fails before its commit ends on the pool: no task ever reaches the waiter.
        CallerRuns waiter = new CallerRuns();
        CompletableFuture<Long> f = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            sleep(50);
            f.completeExceptionally(new java.io.IOException("EIO"));
        });
        waiter.await(f);
        assertThat(f).isCompletedExceptionally();
    }

    @Test
    @Timeout(10)
    void aFailingTaskDoesNotStopTheOnesAfterItAndAnInterruptIsKept() throws Exception {
        CallerRuns waiter = new CallerRuns();
        CompletableFuture<Long> f = new CompletableFuture<>();
        CountDownLatch parked = new CountDownLatch(1);
        Thread me = Thread.currentThread();
        Thread other = Thread.ofPlatform().start(() -> {
            sleep(50);
            me.interrupt();   // while the waiter waits: the call goes on
            waiter.execute(() -> { throw new IllegalStateException("boom (expected in this test)"); });
            waiter.execute(() -> f.complete(1L));
            parked.countDown();
        });
        waiter.await(f);
        assertThat(Thread.interrupted()).as("the interrupt is kept for the caller").isTrue();
        assertThat(f.getNow(0L)).isEqualTo(1L);
        assertThat(parked.await(5, TimeUnit.SECONDS)).isTrue();
        other.join();
    }

    @Test
    void onlyTheThreadThatCreatedItMayWait() throws Exception {
        CallerRuns waiter = new CallerRuns();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                waiter.await(CompletableFuture.completedFuture(1L));
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        t.join();
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("not its owner");
        assertThatThrownBy(() -> { throw thrown.get(); }).hasMessageContaining("CallerRuns.await");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
