package org.foliofs.pagecache;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cached pages of one file (Linux's address_space): page index to {@link Folio}, in a radix
 * tree with DIRTY and WRITEBACK tags ({@link FolioTree}). Made by {@link PageCache#newFileCache}.
 *
 * <p>Locking: lookups are lock-free (acquire loads, then a reference taken with a CAS that fails
 * on dead folios, then a re-check of the slot). Insert and remove take the structure lock, which
 * nests inside folio locks (as Linux's i_pages lock does) and is never held while waiting for a
 * folio lock, doing I/O or allocating folio memory; the PageCache clock lock nests inside it.
 */
public final class FileCache {
    /** Folio tags kept in sync by Folio: markDirty/clearDirty (DIRTY), start/endWriteback (WRITEBACK). */
    public enum Tag { DIRTY, WRITEBACK }

    private final PageCache cache;
    private final int blockSize;
    private final int minOrder;
    private final WritebackTarget target;
    private final FolioTree tree = new FolioTree();
    private final ReentrantLock structureLock = new ReentrantLock();
    private long folios;                       // structure lock
    final AtomicLong dirtyBytes = new AtomicLong();
    // Dirty-file list (PageCache Writeback's lock): linked while dirtyBytes > 0, oldest first.
    FileCache dirtyPrev, dirtyNext;
    boolean onDirtyList;
    long dirtiedWhenNanos;

    FileCache(PageCache cache, int blockSize, int minOrder, WritebackTarget target) {
        if (blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("blockSize (" + blockSize + ") must be a power of two from 512 to 65536");
        }
        if (minOrder < 0 || minOrder > Folio.MAX_ORDER) {
            throw new IllegalArgumentException("minOrder (" + minOrder + ") must be from 0 to " + Folio.MAX_ORDER);
        }
        this.minOrder = minOrder;
        if (target == null) throw new IllegalArgumentException("target must not be null");
        this.cache = cache;
        this.blockSize = blockSize;
        this.target = target;
    }

    public int blockSize() { return blockSize; }
    /** Smallest folio order this cache creates (iomap asks for folios at least one file system block big). */
    public int minOrder() { return minOrder; }
    public PageCache pageCache() { return cache; }
    public WritebackTarget target() { return target; }
    /** Bytes of this file's dirty folios (whole folios, as the global dirty count). */
    public long dirtyBytes() { return dirtyBytes.get(); }

    public long folioCount() {
        structureLock.lock();
        try {
            return folios;
        } finally {
            structureLock.unlock();
        }
    }

    /** The folio containing page {@code index}, with a reference the caller must {@link Folio#put()}, or null. */
    public Folio lookup(long index) {
        checkIndex(index);
        Folio f = lookupGet(index);
        if (f == null) {
            cache.countMiss();
            return null;
        }
        cache.countHit();
        f.markAccessed();
        return f;
    }

    private Folio lookupGet(long index) {
        for (int spins = 0; ; spins++) {
            Folio f = tree.lookup(index);
            if (f == null) return null;
            if (f.tryGet()) {
                if (tree.lookup(index) == f) return f;   // still mapped after we took a live reference
                f.put();                                  // removed meanwhile (put frees it if it was the last)
            } else if (tree.lookup(index) == f) {
                // Frozen by the evictor, which removes it from the tree next: wait briefly.
                if (spins < 64) Thread.onSpinWait(); else Thread.yield();
            }
        }
    }

    /**
     * The folio containing page {@code index}, locked and referenced; when absent, a new folio of
     * {@code order} aligned to its size (order reduced until it overlaps no existing folio, and under
     * memory fragmentation, but never below {@link #minOrder()}) is created, locked and referenced.
     * A new folio has no uptodate blocks.
     *
     * @throws CacheFullException when no memory can be reclaimed within the configured time
     */
    public Folio getOrCreate(long index, int order) {
        checkIndex(index);
        if (order < 0 || order > Folio.MAX_ORDER) {
            throw new IllegalArgumentException("order (" + order + ") must be from 0 to " + Folio.MAX_ORDER);
        }
        while (true) {
            Folio f = lookupGet(index);
            if (f != null) {
                cache.countHit();
                f.lock();
                if (!f.isRemoved()) {
                    f.markAccessed();
                    return f;
                }
                f.unlock();   // truncated or removed while we waited for the lock: retry
                f.put();
                continue;
            }
            int o = Math.max(order, minOrder);
            while (o > minOrder && !tree.isEmpty(alignDown(index, o), alignDown(index, o) + (1L << o))) o--;
            f = cache.allocateFolio(this, index, o);  // may reclaim: no lock held here
            structureLock.lock();
            try {
                if (tree.isEmpty(f.index(), f.index() + f.pages())) {
                    tree.insert(f);
                    folios++;
                    cache.reclaimer().link(f);
                    cache.countMiss();
                    return f;
                }
            } finally {
                structureLock.unlock();
            }
            cache.freeUnused(f);   // lost a race with another creator: use theirs
        }
    }

    /** Removes a folio that is locked, clean and not under writeback; its memory returns at the last put(). */
    public void remove(Folio f) {
        if (f.owner != this) throw new IllegalArgumentException(f + " does not belong to this file cache");
        int s = f.stateVolatile();
        if ((s & FolioState.LOCKED) == 0 || (s & (FolioState.DIRTY | FolioState.WRITEBACK | FolioState.DEAD)) != 0) {
            throw new IllegalStateException("remove needs a locked, clean folio not under writeback and not removed: " + f);
        }
        structureLock.lock();
        try {
            tree.remove(f);
            folios--;
            cache.reclaimer().unlink(f);
        } finally {
            structureLock.unlock();
        }
        if (f.markRemovedVolatile()) cache.freeFolio(f);
    }

    /** Eviction's removal of a frozen folio (LOCKED|DEAD, no references). */
    void removeFrozen(Folio f) {
        structureLock.lock();
        try {
            tree.remove(f);
            folios--;
        } finally {
            structureLock.unlock();
        }
    }

    /**
     * Removes every folio whose first page is at or after {@code fromIndex}: waits for its lock and
     * for writeback, discards dirty data, removes it. A folio that starts before {@code fromIndex}
     * and extends past it is kept (zeroing its tail is the caller's job, as in Linux's
     * truncate_inode_partial_folio). The caller keeps new folios out of the range meanwhile (it
     * holds the inode lock exclusively).
     */
    public void truncate(long fromIndex) {
        checkIndex(fromIndex);
        long next = fromIndex;
        while (true) {
            Folio f = tree.nextPresent(next);
            if (f == null) return;
            if (f.index() < next) {         // straddles: keep it, go on after it
                next = f.index() + f.pages();
                continue;
            }
            if (!f.tryGet()) {              // frozen by the evictor: it disappears shortly
                Thread.yield();
                continue;
            }
            try {
                f.lock();
                try {
                    if (f.isRemoved()) continue;
                    f.waitWriteback();          // cannot restart: starting writeback needs the lock we hold
                    f.clearDirty(0, f.size());
                    remove(f);
                } finally {
                    f.unlock();
                }
            } finally {
                f.put();
            }
            next = f.index() + f.pages();
        }
    }

    /**
     * First page index of the next folio tagged {@code tag} that contains or follows page
     * {@code fromIndex} (so it may be below fromIndex), or -1. O(tree height), no scan.
     */
    public long nextTagged(Tag tag, long fromIndex) {
        checkIndex(fromIndex);
        Folio containing = tree.lookup(fromIndex);   // racy peek, no reference: we only read index and tag
        if (containing != null && containing.index() < fromIndex && FolioTree.isTagged(containing, tag.ordinal())) {
            return containing.index();
        }
        return tree.nextTagged(tag.ordinal(), fromIndex);
    }

    /**
     * First page index of the next cached folio that contains or follows page {@code fromIndex}, or
     * -1. A racy peek without a reference (like {@link #nextTagged}): {@link #lookup} the index to
     * use the folio. Lets callers walk a sparse cache without probing every page.
     */
    public long nextCachedIndex(long fromIndex) {
        checkIndex(fromIndex);
        Folio f = tree.nextPresent(fromIndex);
        return f == null ? -1 : f.index();
    }

    void setTag(Folio f, Tag t) { tree.setTag(f, t.ordinal()); }
    void clearTag(Folio f, Tag t) { tree.clearTag(f, t.ordinal()); }

    static long alignDown(long index, int order) { return index & -(1L << order); }

    private static void checkIndex(long index) {
        if (index < 0 || index > (Long.MAX_VALUE >>> Folio.PAGE_SHIFT) - (1L << Folio.MAX_ORDER)) {
            throw new IllegalArgumentException("page index (" + index + ") is outside 0.." + ((Long.MAX_VALUE >>> Folio.PAGE_SHIFT)
                    - (1L << Folio.MAX_ORDER)));
        }
    }
}
