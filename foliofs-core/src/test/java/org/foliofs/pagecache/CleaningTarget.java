package org.foliofs.pagecache;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** A fake WritebackTarget: starts writeback of dirty folios and ends it after a delay on another thread. */
final class CleaningTarget implements WritebackTarget, AutoCloseable {
    volatile boolean enabled = true;
    volatile long delayMillis;
    final AtomicLong calls = new AtomicLong(), started = new AtomicLong(), unlimitedCalls = new AtomicLong();
    final Set<Thread> callers = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService completions = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("fake-device-completion").unstarted(r));

    CleaningTarget(long delayMillis) { this.delayMillis = delayMillis; }

    @Override
    public long writeback(FileCache fc, long maxBytes) {
        callers.add(Thread.currentThread());
        calls.incrementAndGet();
        if (maxBytes == Long.MAX_VALUE) unlimitedCalls.incrementAndGet();
        if (!enabled) return 0;
        long n = 0;
        for (long i = fc.nextTagged(FileCache.Tag.DIRTY, 0); i >= 0 && n < maxBytes; ) {
            Folio f = fc.lookup(i);
            if (f == null) {
                i = fc.nextTagged(FileCache.Tag.DIRTY, i + 1);
                continue;
            }
            long next = f.index() + f.pages();
            if (f.tryLock()) {
                if (!f.isRemoved() && f.isDirty() && !f.isWriteback()) {
                    f.startWriteback();
                    f.clearDirty(0, f.size());
                    n += f.size();
                    f.unlock();
                    complete(f);            // hands our reference to the completion
                } else {
                    f.unlock();
                    f.put();
                }
            } else {
                f.put();
            }
            i = fc.nextTagged(FileCache.Tag.DIRTY, next);
        }
        started.addAndGet(n);
        return n;
    }

    private void complete(Folio f) {
        Runnable end = () -> {
            f.endWriteback();
            f.put();
        };
        if (delayMillis == 0) end.run(); else completions.schedule(end, delayMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() { completions.shutdownNow(); }
}
