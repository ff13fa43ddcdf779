package org.foliofs.iomap;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.LockSupport;

/**
 * An executor for ONE asynchronous call whose submitter waits for it (a synchronous write handed
 * off as an asynchronous call, {@code FolioFile.write}): the call's last step after its journal
 * commit (folio release, the call's end, its future) runs on the waiting thread instead of the
 * end-of-I/O pool. The commit's thread then wakes the waiter once, instead of waking a pool
 * thread that wakes the waiter: one thread hand-off less per call on the acknowledgement path
 * (8 KiB atomic DSYNC writes from 32 threads on 2 vCPUs: about 250 us less between the commit's
 * end and the caller's return, measured in the probe of docs/BENCHMARKS.md).
 *
 * <p>Create it on the waiting thread, pass it to the call, then {@link #await} the call's future
 * on that same thread: it runs the tasks as they come and returns once the future is complete
 * and no task is left. Tasks must not block on other calls (they are a call's end).
 */
public final class CallerRuns implements Executor {
    private static final System.Logger LOG = System.getLogger(CallerRuns.class.getName());
    private final Thread owner = Thread.currentThread();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();

    @Override
    public void execute(Runnable r) {
        tasks.add(r);
        LockSupport.unpark(owner);
    }

    /**
     * Runs this executor's tasks until {@code f} is complete (completed here, or elsewhere: a
     * failure before the commit ends the call on the pool) and none is left; an interrupt is
     * kept for the caller (the call goes on regardless).
     */
    public void await(CompletableFuture<?> f) {
        if (Thread.currentThread() != owner) throw new IllegalStateException("CallerRuns.await on " + Thread.currentThread() + ", not its owner " + owner);
        f.whenComplete((v, t) -> LockSupport.unpark(owner));
        boolean interrupted = false;
        while (true) {
            Runnable r;
            while ((r = tasks.poll()) != null) {
                try {
                    r.run();
                } catch (RuntimeException | Error e) {   // as a pool thread would: the call's end reports its own failures
                    LOG.log(System.Logger.Level.ERROR, "a call's end failed on its waiting thread", e);
                }
            }
            if (f.isDone() && tasks.isEmpty()) break;
            LockSupport.park(this);
            if (Thread.interrupted()) interrupted = true;
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
