package org.foliofs.iomap;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoRequest;

/**
 * The reference protocol shared by one call that issues several device requests and finishes once
 * ({@link DioCall}, {@link WriteThrough}; Linux's iomap_dio and the write-through context):
 * {@code pending} is 1 (the submitter's reference) plus the requests in flight. Each completion
 * calls {@link #requestDone}; the submitter calls {@link #submitted} after its loop. Whoever drops
 * it to 0 starts {@link #finish}, exactly once: a synchronous submitter waits for 0 and finishes
 * itself; an asynchronous call finishes on the executor, or where {@link #finishInline} allows,
 * on the completing thread (never on the submitter inside the submit call). The atomic decrements
 * order every completion's writes (error, short point) before finish reads them; fields the
 * submitter alone writes are published by its own decrement.
 */
abstract class IoCall {
    final CompletableFuture<Long> future;   // null: synchronous
    private final Executor executor;
    /**
     * Where the rest after an asynchronous call's journal commit runs instead of the executor: the
     * thread waiting for the call ({@link CallerRuns}), or null. Set before the call starts.
     */
    Executor restExecutor;
    /** A/B switch of the probe (scripts/atomic-probe): 0 sends even a waited-for call's finish to the pool. */
    static int waiterFinishToggle = 1;
    private final Thread submitter = Thread.currentThread();
    final AtomicInteger pending = new AtomicInteger(1);
    private final AtomicLong shortAt = new AtomicLong(Long.MAX_VALUE);   // file position of the first short completion
    volatile Throwable error;   // the first failure; set under this object's monitor (cold)
    private volatile boolean submitting = true;
    /** A synchronous call's hook, run on the submitter once every request is issued, before it waits. */
    private Runnable afterSubmit;
    private volatile boolean dataLogged;   // an atomic call's data is exposed only by metadata its end of I/O logged

    // Outcome of a synchronous call.
    private long bytes;
    private Throwable outcome;

    IoCall(boolean async, Executor executor) {
        this.future = async ? new CompletableFuture<>() : null;
        this.executor = executor;
    }

    CompletableFuture<Long> future() { return future; }

    /** Sets the synchronous call's after-submit hook (see {@link BufferedIo#writeThrough(IoInode, IoMapOps, IoMapOps, long, MemorySegment, int, Runnable)}). */
    final void afterSubmit(Runnable r) { this.afterSubmit = r; }

    /** Hook: the DSYNC step's commit or FLUSH completed (its callback, before the rest is handed on); for tracing. */
    void syncEnded() {}

    /** Runs once, after the last request and the submitter's loop. */
    abstract void finish();

    /** May the completion that dropped the last reference of an asynchronous call finish it right there? Default no. */
    boolean finishInline() { return false; }

    /** The submitter's loop is over: drops its reference; a synchronous call waits for its requests and finishes. */
    final void submitted() {
        submitting = future == null;   // a synchronous submitter keeps being woken while it waits
        if (future != null) {
            // The submitter's own drop never finishes inline: the call must not complete inside the submit call.
            if (pending.decrementAndGet() == 0) {
                // Nothing in flight (a logged atomic write: its data went to the journal): a call
                // whose submitter waits for it (CallerRuns) finishes on that thread once the submit
                // call returned, instead of waking a pool thread for it.
                Executor waiter = restExecutor;
                if (waiter != null && waiterFinishToggle != 0) waiter.execute(asEngine(this::finish));
                else finishOnExecutor();
            }
            return;
        }
        pending.decrementAndGet();
        Runnable hook = afterSubmit;
        if (hook != null) hook.run();
        boolean interrupted = false;
        while (pending.get() != 0) {
            LockSupport.park(this);
            if (Thread.interrupted()) interrupted = true;   // the I/O is in flight regardless
        }
        if (interrupted) Thread.currentThread().interrupt();
        finish();
    }

    /** One request completed (after its own bookkeeping). */
    final void requestDone() {
        if (pending.decrementAndGet() == 0 && future != null) {
            // A completion dropped the last reference, so the submitter has dropped its own already.
            if (finishInline()) finish();
            else finishOnExecutor();
        } else if (submitting) {
            LockSupport.unpark(submitter);
        }
    }

    final void shortAt(long filePos) {
        long cur;
        while (filePos < (cur = shortAt.get())) {
            if (shortAt.compareAndSet(cur, filePos)) return;
        }
    }

    /** The file position of the first short completion, or Long.MAX_VALUE. */
    final long shortAt() { return shortAt.get(); }

    final synchronized void fail(Throwable t) {
        if (error == null) error = t;
        else if (error != t) error.addSuppressed(t);
    }

    /** Marks the threads of {@link #asEngine} tasks (an executor the user gave may name its threads as it likes). */
    private static final ThreadLocal<Boolean> ENGINE = new ThreadLocal<>();

    /**
     * Whether this thread is one the engines may need to finish I/O calls: their own threads
     * (named {@code foliofs-...}: ring, end-of-I/O pools, journal log, writeback) or a task of a
     * call's end on the executor, which includes the callbacks its future runs there. A caller
     * that would block on another call's end must not do so on such a thread.
     */
    static boolean engineThread() {
        return ENGINE.get() != null || Thread.currentThread().getName().startsWith("foliofs-");
    }

    private static Runnable asEngine(Runnable r) {
        return () -> {
            ENGINE.set(Boolean.TRUE);
            try {
                r.run();
            } finally {
                ENGINE.remove();
            }
        };
    }

    /** Runs {@code r} on the executor (on a new virtual thread if it refuses: shut down). */
    private void onExecutor(Runnable r) {
        try {
            executor.execute(asEngine(r));
        } catch (RejectedExecutionException e) {
            Thread.ofVirtual().name("foliofs-end").start(r);
        }
    }

    private void finishOnExecutor() {
        try {
            executor.execute(asEngine(this::finish));
        } catch (RejectedExecutionException e) {   // executor shut down: finish here rather than never
            finish();
        }
    }

    /**
     * The DSYNC step of finish, then {@code rest} with its failure (or null):
     * {@link IoEndHandler#sync} (the journal commit), then a FLUSH on a volatile cache unless the
     * commit's PREFLUSH already covered the data. A synchronous call waits for the FLUSH here; an
     * asynchronous one does not hold a thread while it runs ({@link #flushThen}), and {@code rest}
     * then runs on the executor from its completion. For an asynchronous call the journal commit
     * itself runs on a virtual thread: it may wait for the commit in flight and then lead the next
     * (group commit), and an executor thread blocked there would hold back the end-of-I/O work of
     * every other call, the very handles the next commit should gather.
     */
    final void syncThen(IoEndHandler handler, IoInode inode, long pos, long length, BlockDevice device, Consumer<Throwable> rest) {
        if (future != null && dataLogged
                && handler.syncLoggedAsync(inode, pos, length, t -> {
                    syncEnded();
                    Executor waiter = restExecutor;
                    if (waiter != null) waiter.execute(() -> rest.accept(t));
                    else onExecutor(() -> rest.accept(t));
                })) {
            return;   // no thread waits: the commit's end hands the rest to the executor (or to the call's waiter)
        }
        if (future != null) {
            Thread.ofVirtual().name("foliofs-dsync").start(() -> syncNow(handler, inode, pos, length, device, rest));
            return;
        }
        syncNow(handler, inode, pos, length, device, rest);
    }

    private void syncNow(IoEndHandler handler, IoInode inode, long pos, long length, BlockDevice device, Consumer<Throwable> rest) {
        Throwable err = null;
        try {
            boolean flushed = dataLogged ? handler.syncLogged(inode, pos, length) : handler.sync(inode, pos, length);
            if (!flushed && device.volatileWriteCache()) {
                if (future != null) {
                    flushThen(device, rest);
                    return;
                }
                device.flush();
            }
        } catch (IOException | RuntimeException e) {
            err = e;
        }
        syncEnded();
        rest.accept(err);
    }

    /**
     * DSYNC's cache flush for an ASYNCHRONOUS call without holding a thread while it runs: submits
     * a FLUSH and returns; {@code then} runs on the executor with the flush's failure (or null)
     * once it completed. Many calls finishing at once thus have their flushes in flight together,
     * where {@link org.foliofs.device.FileDevice} merges them, instead of one blocked executor
     * thread per flush.
     */
    private void flushThen(BlockDevice device, Consumer<Throwable> then) {
        IoRequest r = IoRequest.flush((req, res) -> {
            Throwable e = res < 0 ? req.error() : null;
            syncEnded();
            try {
                executor.execute(asEngine(() -> then.accept(e)));
            } catch (RejectedExecutionException x) {   // executor shut down: finish here rather than never
                then.accept(e);
            }
        });
        try {
            device.submit(r);
        } catch (RuntimeException e) {   // closed device: refused before it was queued
            then.accept(e);
        }
    }

    /** Ends the call with {@code result} or {@code err} (called by finish). */
    final void complete(long result, Throwable err) {
        if (future == null) {
            outcome = err;
            bytes = result;
        } else if (err != null) {
            future.completeExceptionally(err);
        } else {
            future.complete(result);
        }
    }

    // ---- atomic (untorn) calls: the rules DioCall and WriteThrough share --------------------------

    /**
     * An atomic call needs ONE allocated mapping for its whole range (MAPPED: in place with the
     * device's ATOMIC flag, or NEW|SHARED out of place), else it fails before issuing anything.
     */
    static void checkAtomicMapping(String what, IoMap m, long p, long n, long start, long length) throws IOException {
        if (p != start || n != length || m.type() != IoMap.Type.MAPPED) {
            throw new IOException("atomic " + what + " of " + length + " bytes at " + start + ": begin(...|ATOMIC) returned " + m
                    + ", which is not one MAPPED mapping covering the whole range (an untorn write needs one mapping)");
        }
    }

    /** Device flags of an atomic call's request: ATOMIC when it overwrites in place (no NEW/SHARED: not out of place). */
    static int atomicRequestFlags(IoMap m) {
        return (m.flags() & (IoMap.NEW | IoMap.SHARED)) == 0 ? IoRequest.ATOMIC : 0;
    }

    /**
     * The end of an atomic call: a short completion is a failure (all or nothing); then ONE
     * {@link IoEndHandler#ioEndAtomic} with every mapping written (remap in one transaction, or
     * undo on error). Returns the call's failure (the first one), or null.
     */
    final Throwable endAtomic(IoEndHandler handler, IoInode inode, long start, long length, long result, List<IoMap> maps,
                              Throwable err, String device, java.lang.foreign.MemorySegment data) {
        if (err == null && result < length) {
            err = new DeviceException("atomic write completed " + result + " of " + length + " bytes", device, start, length, Errno.EIO);
        }
        int errno = err == null ? 0 : err instanceof DeviceException d ? d.errno() : Errno.EIO;
        if (maps.isEmpty()) return err;
        try {
            dataLogged = handler.ioEndAtomic(inode, start, errno == 0 ? length : result, maps, errno, data) && errno == 0;
        } catch (Exception | Error e) {
            if (err == null) err = e;
            else err.addSuppressed(e);
        }
        return err;
    }

    /** The outcome of a synchronous call: the bytes, or its failure rethrown. */
    final long awaitSync() throws IOException {
        Throwable t = outcome;
        if (t == null) return bytes;
        if (t instanceof IOException e) throw e;
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        throw new IOException(t);
    }
}
