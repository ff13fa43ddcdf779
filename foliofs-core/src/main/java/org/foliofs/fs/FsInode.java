package org.foliofs.fs;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.foliofs.iomap.BufferedFile;
import org.foliofs.iomap.CacheRangeSync;
import org.foliofs.iomap.InodeLock;
import org.foliofs.iomap.IoInode;

/**
 * The in-memory state of a regular file open for data I/O (one per inode and volume, shared by every
 * {@link FolioFile} of that inode): the iomap engine's view ({@link IoInode}), the inode lock, the
 * in-memory size, the on-disk size last written by this layer, and the delayed-allocation
 * reservations.
 *
 * <p>Delalloc reservations: file block ranges {@code [start, end)} reserved with
 * {@link Allocator#reserve} by accepted buffered writes over holes, kept in a TreeMap (start -&gt; end,
 * disjoint, not merged). They are in memory only (a crash loses them with the dirty pages they stand
 * for). Writeback converts them to allocated blocks; truncate, punch, collapse/insert and the last
 * close of an unlinked file release them. Guarded by this object's monitor (writeback changes them
 * without the inode lock).
 */
public final class FsInode implements IoInode {
    final FolioFs fs;
    final long ino;
    final int bs;
    final InodeLock lock = new InodeLock();
    private volatile long size;
    /** Size on disk as of the last change made by this layer (to skip needless end-of-I/O handles). */
    volatile long diskSize;
    volatile BufferedFile file;
    int opens;                                            // guarded by FolioFs' file table
    /**
     * Closed (opens == 0) but kept in the file table for its dirty or under-writeback data (the
     * lazy last close, {@link FolioFile#close}); written under the file table's lock, read by
     * writeback completions, which then queue the inode on {@code cleaned} to be dropped.
     */
    volatile boolean lingering;
    /** The volume's queue of lingering inodes whose writeback finished (set before publication). */
    java.util.Queue<FsInode> cleaned;
    /** The inode's write mode (Inode.WMODE_*), read at open, kept in step by FolioFs.setattr. */
    volatile int writeMode;
    private final TreeMap<Long, Long> delalloc = new TreeMap<>();
    /**
     * Metadata generations: {@code metaGen} counts changes to this inode's mapping or size;
     * {@code durableGen} is the newest one known durable (its transaction committed, or a sync
     * after it). Starts dirty: changes made before the open may still sit in the running
     * transaction.
     */
    private final java.util.concurrent.atomic.AtomicLong metaGen = new java.util.concurrent.atomic.AtomicLong(1),
            durableGen = new java.util.concurrent.atomic.AtomicLong(0);
    /**
     * Asynchronous calls in flight (Linux's inode_dio_begin/end): size and mapping changes wait for
     * none; an atomic write waits only for those overlapping its range. Guarded by its own monitor.
     */
    private final java.util.ArrayList<InFlight> inFlight = new java.util.ArrayList<>();

    /** One asynchronous call in flight on [from, to) (bytes, rounded out to blocks). */
    static final class InFlight {
        final long from, to;
        InFlight(long from, long to) { this.from = from; this.to = to; }
    }

    FsInode(FolioFs fs, long ino, long size) {
        this.fs = fs;
        this.ino = ino;
        this.bs = fs.blockSize();
        this.size = size;
        this.diskSize = size;
    }

    public long ino() { return ino; }
    public InodeLock lock() { return lock; }

    @Override public long size() { return size; }
    @Override public int blockSize() { return bs; }
    @Override public CacheRangeSync cache() { BufferedFile f = file; return f == null ? CacheRangeSync.NONE : f; }

    @Override
    public void setSizeInMemory(long newSize) {
        synchronized (this) {
            if (newSize > size) size = newSize;
        }
    }

    /** Sets the in-memory size (truncate, fallocate; caller holds the inode lock exclusively). */
    synchronized void setSize(long s) { size = s; }

    /** Grows the in-memory size to at least {@code s} (direct write end of I/O). */

    /**
     * True when nothing of this file is left to write: no dirty folio, none under writeback, no
     * asynchronous call in flight, and the on-disk size is the in-memory size (the last
     * writeback's end-of-I/O handle moved it). Only then may a closed inode leave the file table
     * (whoever finds none reads an up-to-date size from disk).
     */
    boolean clean() {
        BufferedFile f = file;
        boolean idle;
        synchronized (inFlight) { idle = inFlight.isEmpty(); }
        return idle && (f == null || f.cache().dirtyBytes() == 0
                && f.cache().nextTagged(org.foliofs.pagecache.FileCache.Tag.WRITEBACK, 0) < 0) && diskSize >= size;
    }

    // ---- metadata durability (DSYNC: FUA alone, or a journal force) ------------------------------

    /** True while a change to the mapping or size may not be durable: a DSYNC write then needs a journal force. */
    boolean metaDirty() { return durableGen.get() < metaGen.get(); }

    /** Notes a change to the mapping or size made in handle {@code h}; durable when it commits. */
    void metaChanged(Txn h) {
        long g = metaGen.incrementAndGet();
        h.onCommitted(() -> markDurable(g));
    }

    /** Notes a change made outside a handle we can watch (truncate, fallocate): only a sync makes it durable. */
    void metaChanged() { metaGen.incrementAndGet(); }

    /** The generation a sync starting now covers. */
    long metaGeneration() { return metaGen.get(); }

    void markDurable(long g) { durableGen.accumulateAndGet(g, Math::max); }

    // ---- asynchronous calls in flight --------------------------------------------------------------

    /** Registers an asynchronous call on [pos, pos + len); pass the result to {@link #ioDone}. */
    InFlight ioBegin(long pos, long len) {
        InFlight r = new InFlight(pos / bs * bs, Math.ceilDiv(pos + Math.max(len, 1), bs) * bs);
        synchronized (inFlight) { inFlight.add(r); }
        return r;
    }

    void ioDone(InFlight r) {
        synchronized (inFlight) {
            if (!inFlight.remove(r)) throw new IllegalStateException("call " + r + " ended twice on " + this);
            inFlight.notifyAll();
        }
    }

    /** Waits until no asynchronous call is in flight (the caller holds the inode lock exclusively, so none starts). */
    void waitIo() { waitIo(0, Long.MAX_VALUE); }

    /**
     * Waits until no asynchronous call overlapping [pos, pos + len) is in flight (the caller holds
     * the inode lock exclusively, so no new one starts).
     */
    void waitIo(long pos, long len) {
        long end = len > Long.MAX_VALUE - pos ? Long.MAX_VALUE : pos + len;
        boolean interrupted = false;
        synchronized (inFlight) {
            while (overlaps(pos, end)) {
                try {
                    inFlight.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private boolean overlaps(long pos, long end) {
        for (InFlight r : inFlight) if (r.from < end && pos < r.to) return true;
        return false;
    }

    // ---- delalloc reservations -----------------------------------------------------------------

    /** The reserved range holding file block {@code fb} as {start, end}, or null. */
    synchronized long[] delallocAt(long fb) {
        Map.Entry<Long, Long> e = delalloc.floorEntry(fb);
        return e != null && e.getValue() > fb ? new long[] {e.getKey(), e.getValue()} : null;
    }

    /** First reserved block at or after {@code fb}, or -1. */
    synchronized long nextDelalloc(long fb) {
        long[] at = delallocAt(fb);
        if (at != null) return fb;
        Long k = delalloc.ceilingKey(fb);
        return k == null ? -1 : k;
    }

    /** End of the contiguous reserved run starting at {@code fb} (which must be reserved). */
    synchronized long delallocRunEnd(long fb) {
        long end = fb;
        while (true) {
            long[] at = delallocAt(end);
            if (at == null) return end;
            end = at[1];
        }
    }

    /**
     * Reserves the not yet reserved blocks of {@code [from, to)} with the allocator; all or nothing.
     * Returns the blocks newly reserved.
     */
    synchronized long reserve(Allocator alloc, long from, long to) throws NoSpaceException {
        long need = 0;
        for (long b = from; b < to; ) {
            long[] at = delallocAt(b);
            if (at != null) { b = at[1]; continue; }
            Long k = delalloc.ceilingKey(b);
            long e = k == null ? to : Math.min(k, to);
            need += e - b;
            b = e;
        }
        if (need == 0) return 0;
        alloc.reserve(need);
        for (long b = from; b < to; ) {
            long[] at = delallocAt(b);
            if (at != null) { b = at[1]; continue; }
            Long k = delalloc.ceilingKey(b);
            long e = k == null ? to : Math.min(k, to);
            delalloc.put(b, e);
            b = e;
        }
        return need;
    }

    /**
     * Drops from this inode's map the reservations of {@code [from, to)}, which handle {@code h}
     * allocated and the allocator already stopped counting
     * ({@link Allocator#consumeReservationOfNextAlloc}); back in the map if the handle aborts.
     */
    void dropConsumedReservations(Txn h, long from, long to) {
        List<long[]> taken = new ArrayList<>();
        long n;
        synchronized (this) { n = release(null, from, to, taken); }
        if (n != to - from)
            throw new IllegalStateException("blocks [" + from + ", " + to + ") of " + this + " were allocated as reserved but only " + n
                    + " of them were");
        h.onAbort(() -> {
            synchronized (this) {
                for (long[] r : taken) delalloc.put(r[0], r[1]);
            }
        });
    }

    /** Drops the reservations in {@code [from, to)} and gives them back to the allocator; returns the blocks released. */
    synchronized long release(Allocator alloc, long from, long to) { return release(alloc, from, to, null); }

    private synchronized long release(Allocator alloc, long from, long to, List<long[]> taken) {
        long n = 0;
        Map.Entry<Long, Long> e = delalloc.floorEntry(from);
        long start = e != null && e.getValue() > from ? e.getKey() : from;
        for (Map.Entry<Long, Long> x : new TreeMap<>(delalloc.subMap(start, true, to, false)).entrySet()) {
            long s = x.getKey(), t = x.getValue();
            long a = Math.max(s, from), b = Math.min(t, to);
            if (a >= b) continue;
            delalloc.remove(s);
            if (s < a) delalloc.put(s, a);
            if (b < t) delalloc.put(b, t);
            if (taken != null) taken.add(new long[] {a, b});
            n += b - a;
        }
        if (n > 0 && alloc != null) alloc.unreserve(n);
        return n;
    }

    /** Blocks reserved (tests). */
    public synchronized long delallocBlocks() {
        long n = 0;
        for (Map.Entry<Long, Long> e : delalloc.entrySet()) n += e.getValue() - e.getKey();
        return n;
    }

    @Override
    public String toString() { return "FsInode[" + ino + ", size=" + size + "]"; }
}
