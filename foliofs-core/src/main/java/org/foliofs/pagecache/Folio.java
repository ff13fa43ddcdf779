package org.foliofs.pagecache;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import static org.foliofs.pagecache.FolioState.DEAD;
import static org.foliofs.pagecache.FolioState.DIRTY;
import static org.foliofs.pagecache.FolioState.LOCKED;
import static org.foliofs.pagecache.FolioState.REFERENCED;
import static org.foliofs.pagecache.FolioState.REF_ONE;
import static org.foliofs.pagecache.FolioState.UPTODATE;
import static org.foliofs.pagecache.FolioState.WAITERS;
import static org.foliofs.pagecache.FolioState.WRITEBACK;

/**
 * One folio: 2^order base pages ({@value #PAGE_SIZE} bytes each, order 0..{@value #MAX_ORDER}) of
 * one file, backed by off-heap memory aligned to its size (so {@link #data()} can be a direct-I/O
 * segment). The state word's layout is in {@link FolioState}; per-block uptodate and dirty
 * bitmaps follow the owner's {@link FileCache#blockSize()} (a block larger than the folio counts
 * as one block covering the folio).
 *
 * <p>Rules: {@link #markDirty}, {@link #clearDirty} and {@link #startWriteback} require the folio
 * lock; {@link #endWriteback} may run on any thread (a device completion). The lock is not owned
 * by a thread. Contents of {@link #data()} are undefined until blocks are marked up to date.
 */
public final class Folio {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    public static final int MAX_ORDER = 9;
    private static final int SPINS = 64;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Folio.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int hash;            // wait-table key
    final FileCache owner;
    final int page;            // first page number in the PageCache's memory (buddy block)
    private final long index;
    private final int order;
    private final MemorySegment data;
    private final int blockShift;
    private final int blocks;
    private final int words;
    private final long[] bits; // uptodate words, then dirty words
    @SuppressWarnings("unused") private volatile int state;

    // Guarded by the owner's structure lock (written once at insertion).
    FolioTree.Node leaf;
    int leafSlot;
    // Guarded by the PageCache clock lock; clockNext also chains eviction victims.
    Folio clockPrev, clockNext;

    Folio(FileCache owner, long index, int order, int page, MemorySegment data, int hash) {
        this.owner = owner;
        this.index = index;
        this.order = order;
        this.page = page;
        this.data = data;
        this.hash = hash;
        this.blockShift = Math.min(Integer.numberOfTrailingZeros(owner.blockSize()), PAGE_SHIFT + order);
        this.blocks = 1 << (PAGE_SHIFT + order - blockShift);
        this.words = (blocks + 63) >>> 6;
        this.bits = new long[2 * words];
        STATE.setRelease(this, LOCKED | REF_ONE); // born locked and referenced by its creator
    }

    public long index() { return index; }
    public int order() { return order; }
    public long size() { return (long) PAGE_SIZE << order; }
    public long fileOffset() { return index << PAGE_SHIFT; }
    public MemorySegment data() { return data; }
    /** The file cache this folio belongs (or belonged) to. */
    public FileCache owner() { return owner; }
    /** Base pages in this folio (2^order). */
    public int pages() { return 1 << order; }

    // ---- state word -------------------------------------------------------------------------

    int stateVolatile() { return (int) STATE.getVolatile(this); }
    int setBitsVolatile(int b) { return (int) STATE.getAndBitwiseOr(this, b); }
    int clearBitsVolatile(int b) { return (int) STATE.getAndBitwiseAnd(this, ~b); }
    private int clearBitsRelease(int b) { return (int) STATE.getAndBitwiseAndRelease(this, ~b); }

    public boolean isLocked() { return (stateVolatile() & LOCKED) != 0; }
    public boolean isDirty() { return (stateVolatile() & DIRTY) != 0; }
    public boolean isWriteback() { return (stateVolatile() & WRITEBACK) != 0; }
    public boolean isFullyUptodate() { return (stateVolatile() & UPTODATE) != 0; }
    /** True once removed from its FileCache (truncated, removed or evicted); check after lock(). */
    public boolean isRemoved() { return (stateVolatile() & DEAD) != 0; }
    int refCount() { return FolioState.refs(stateVolatile()); }

    // ---- lock -------------------------------------------------------------------------------

    public boolean tryLock() {
        int s = stateVolatile();
        while ((s & LOCKED) == 0) {
            int witness = (int) STATE.compareAndExchangeAcquire(this, s, s | LOCKED);
            if (witness == s) return true;
            s = witness;
        }
        return false;
    }

    /** Takes the folio lock, parking in the {@link WaitTable} after a few spins. */
    public void lock() {
        if (tryLock()) return;
        for (int i = 0; i < SPINS; i++) {
            Thread.onSpinWait();
            if (tryLock()) return;
        }
        WaitTable.lock(this);
    }

    public void unlock() {
        int old = clearBitsRelease(LOCKED);
        if ((old & LOCKED) == 0) throw notLocked("unlock");
        if ((old & WAITERS) != 0) WaitTable.wake(this, LOCKED);
    }

    private void requireLocked(String what) {
        if ((stateVolatile() & LOCKED) == 0) throw notLocked(what);
    }

    private IllegalStateException notLocked(String what) {
        return new IllegalStateException(what + " needs the folio lock: " + this + " is not locked");
    }

    // ---- references -------------------------------------------------------------------------

    /** Adds a reference; the caller must already hold one (or the folio must be live). */
    public void get() {
        int s = stateVolatile();
        while (true) {
            if (FolioState.refs(s) == 0 && (s & DEAD) != 0) throw new IllegalStateException("get() on a freed " + this);
            if (FolioState.refs(s) == FolioState.MAX_REFS) throw new IllegalStateException("reference count overflow on " + this);
            int witness = (int) STATE.compareAndExchange(this, s, s + REF_ONE);
            if (witness == s) return;
            s = witness;
        }
    }

    /** Adds a reference unless the folio is dead (removed or frozen by eviction): lookups. */
    boolean tryGet() {
        int s = stateVolatile();
        while ((s & DEAD) == 0) {
            if (FolioState.refs(s) == FolioState.MAX_REFS) throw new IllegalStateException("reference count overflow on " + this);
            int witness = (int) STATE.compareAndExchange(this, s, s + REF_ONE);
            if (witness == s) return true;
            s = witness;
        }
        return false;
    }

    /** Drops a reference; the last reference to a removed folio returns its memory. */
    public void put() {
        int old = (int) STATE.getAndAdd(this, -REF_ONE);
        if (FolioState.refs(old) == 0) {
            STATE.getAndAdd(this, REF_ONE);
            throw new IllegalStateException("put() without a reference on " + this);
        }
        if (FolioState.refs(old) == 1 && (old & DEAD) != 0) owner.pageCache().freeFolio(this);
    }

    /**
     * CLOCK's freeze: one CAS from "evictable" (no references, not locked, dirty, under writeback or
     * dead) to LOCKED|DEAD. Mutually exclusive with {@link #tryGet()} (same word), so once this
     * succeeds no lookup can take a reference and the evictor owns the folio.
     */
    boolean tryFreeze() {
        int s = stateVolatile();
        return FolioState.evictable(s) && STATE.compareAndSet(this, s, s | LOCKED | DEAD);
    }

    /** Marks the folio dead after removal; returns true when no reference is left (free it now). */
    boolean markRemovedVolatile() { return FolioState.refs(setBitsVolatile(DEAD)) == 0; }

    /**
     * Sets the CLOCK bit. Racy read first on purpose: a hit on a hot folio must not write the
     * shared cache line every time; a lost set only costs the folio its second chance.
     */
    void markAccessed() {
        if (((int) STATE.getOpaque(this) & REFERENCED) == 0) setBitsVolatile(REFERENCED);
    }

    // ---- writeback --------------------------------------------------------------------------

    /**
     * Sets WRITEBACK (the folio must be locked and not already under writeback). Call it before
     * clearDirty of the blocks being written: the folio then counts as under writeback before it
     * stops counting as dirty, so dirty + writeback, which throttling compares with the limit,
     * never dips below the truth (the other order let a paced writer through the limit by a folio).
     */
    public void startWriteback() {
        requireLocked("startWriteback");
        int old = setBitsVolatile(WRITEBACK);
        if ((old & WRITEBACK) != 0) throw new IllegalStateException("startWriteback: " + this + " is already under writeback");
        owner.setTag(this, FileCache.Tag.WRITEBACK);
        owner.pageCache().writeback().addWriteback(size());
    }

    /** Clears WRITEBACK and wakes its waiters; any thread (e.g. the device completion thread). */
    public void endWriteback() {
        if ((stateVolatile() & WRITEBACK) == 0) throw new IllegalStateException("endWriteback: " + this + " is not under writeback");
        // Tag first, flag second: while WRITEBACK is set the folio cannot be removed, so the tag we
        // clear is still this folio's (never a successor's at the same index).
        owner.clearTag(this, FileCache.Tag.WRITEBACK);
        int old = clearBitsRelease(WRITEBACK);
        owner.pageCache().writeback().addWriteback(-size());
        if ((old & WAITERS) != 0) WaitTable.wake(this, WRITEBACK);
    }

    /** Parks until the folio is not under writeback. */
    public void waitWriteback() {
        if ((stateVolatile() & WRITEBACK) != 0) WaitTable.awaitWritebackEnd(this);
    }

    // ---- per-block state --------------------------------------------------------------------

    /** Bytes per tracked block: min(file block size, folio size). */
    public int blockBytes() { return 1 << blockShift; }

    public boolean isUptodate(long off, long len) {
        checkRange("isUptodate", off, len);
        if (len == 0 || (stateVolatile() & UPTODATE) != 0) return true;
        return BlockBitmap.allSet(bits, 0, (int) (off >>> blockShift), (int) ((off + len - 1) >>> blockShift));
    }

    /** Marks whole blocks up to date; the range must be block-aligned (a partial block would be a lie). */
    public void markUptodate(long off, long len) {
        checkRange("markUptodate", off, len);
        long mask = (1L << blockShift) - 1;
        if ((off & mask) != 0 || (len & mask) != 0) {
            throw new IllegalArgumentException("markUptodate of " + len + " bytes at " + off + " is not aligned to the block size "
                    + blockBytes() + " of " + this);
        }
        if (len == 0) return;
        if ((stateVolatile() & UPTODATE) != 0) return;   // already whole: no rescan, no atomic update
        BlockBitmap.setRange(bits, 0, (int) (off >>> blockShift), (int) ((off + len - 1) >>> blockShift));
        if (BlockBitmap.nextClear(bits, 0, 0, blocks) == blocks) setBitsVolatile(UPTODATE);
    }

    /** Clears up-to-date state of the blocks the range touches (read errors, invalidation). */
    public void clearUptodate(long off, long len) {
        checkRange("clearUptodate", off, len);
        if (len == 0) return;
        clearBitsVolatile(UPTODATE);
        BlockBitmap.clearRange(bits, 0, (int) (off >>> blockShift), (int) ((off + len - 1) >>> blockShift));
    }

    /**
     * Marks every block the range touches dirty; the first dirty block dirties and tags the folio.
     * Needs the folio lock, or WRITEBACK set: the owner of a failed writeback re-dirties its blocks
     * from the I/O completion without the lock (a writer may hold the lock while it waits for that
     * very writeback to end). Safe because nobody cleans a folio while its writeback can complete:
     * clearDirty is called under the lock right after startWriteback, before the request is
     * issued, or after waitWriteback.
     */
    public void markDirty(long off, long len) {
        checkRange("markDirty", off, len);
        if ((stateVolatile() & (LOCKED | WRITEBACK)) == 0) throw notLocked("markDirty");
        if (len == 0) return;
        BlockBitmap.setRange(bits, words, (int) (off >>> blockShift), (int) ((off + len - 1) >>> blockShift));
        // Already DIRTY (the common rewrite): no atomic update of the state word that lookups CAS.
        if ((stateVolatile() & DIRTY) == 0 && (setBitsVolatile(DIRTY) & DIRTY) == 0) {
            owner.setTag(this, FileCache.Tag.DIRTY);
            owner.pageCache().writeback().accountDirty(owner, size());
        }
    }

    /** Cleans every block the range touches; the folio stays DIRTY while any dirty block remains. */
    public void clearDirty(long off, long len) {
        checkRange("clearDirty", off, len);
        requireLocked("clearDirty");
        if (len == 0) return;
        BlockBitmap.clearRange(bits, words, (int) (off >>> blockShift), (int) ((off + len - 1) >>> blockShift));
        if (!BlockBitmap.anySet(bits, words, words) && (stateVolatile() & DIRTY) != 0) {
            owner.clearTag(this, FileCache.Tag.DIRTY);
            clearBitsVolatile(DIRTY);
            owner.pageCache().writeback().accountDirty(owner, -size());
        }
    }

    public boolean hasDirtyBlocks() { return BlockBitmap.anySet(bits, words, words); }

    /**
     * The first run of consecutive dirty blocks at or after the block containing {@code fromOff},
     * packed as {@code start << 32 | length} (bytes within the folio; see {@link #rangeStart} and
     * {@link #rangeLength}), or -1 when there is none.
     */
    public long nextDirtyRange(long fromOff) {
        if (fromOff < 0 || fromOff > size()) throw outside("nextDirtyRange", fromOff, 0);
        int first = BlockBitmap.nextSet(bits, words, (int) (fromOff >>> blockShift), blocks);
        if (first < 0) return -1;
        int end = BlockBitmap.nextClear(bits, words, first, blocks);
        return ((long) first << blockShift) << 32 | ((long) (end - first) << blockShift);
    }

    /**
     * The first run of consecutive up-to-date blocks at or after the block containing
     * {@code fromOff}, packed like {@link #nextDirtyRange}, or -1 when there is none. The gaps
     * between runs are the blocks a read must fill.
     */
    public long nextUptodateRange(long fromOff) {
        if (fromOff < 0 || fromOff > size()) throw outside("nextUptodateRange", fromOff, 0);
        int from = (int) (fromOff >>> blockShift);
        if ((stateVolatile() & UPTODATE) != 0) {
            return from >= blocks ? -1 : ((long) from << blockShift) << 32 | ((long) (blocks - from) << blockShift);
        }
        int first = BlockBitmap.nextSet(bits, 0, from, blocks);
        if (first < 0) return -1;
        int end = BlockBitmap.nextClear(bits, 0, first, blocks);
        return ((long) first << blockShift) << 32 | ((long) (end - first) << blockShift);
    }

    public static long rangeStart(long packed) { return packed >>> 32; }
    public static long rangeLength(long packed) { return packed & 0xFFFF_FFFFL; }

    private void checkRange(String what, long off, long len) {
        if (off < 0 || len < 0 || off > size() - len) throw outside(what, off, len);
    }

    private IllegalArgumentException outside(String what, long off, long len) {
        return new IllegalArgumentException(what + " of " + len + " bytes at " + off + " is outside " + this);
    }

    @Override
    public String toString() {
        return "folio at page " + index + " order " + order + " (" + size() + " bytes at file offset " + fileOffset() + ", "
                + FolioState.describe(stateVolatile()) + ")";
    }
}
