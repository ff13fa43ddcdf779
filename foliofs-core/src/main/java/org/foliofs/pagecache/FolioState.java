package org.foliofs.pagecache;

/**
 * Bit layout of a folio's state word: one {@code int} changed only through {@link Folio}'s
 * VarHandle (CAS or atomic and/or/add), so a folio needs no lock object of its own.
 *
 * <pre>
 *  31                              16 15        7   6    5    4    3    2    1    0
 * +----------------------------------+-----------+----+----+----+----+----+----+----+
 * |     reference count (unsigned)   | reserved  |DEAD|REF |WB  |DIRT|UPTD|WAIT|LOCK|
 * +----------------------------------+-----------+----+----+----+----+----+----+----+
 * </pre>
 *
 * <ul>
 *   <li>{@link #LOCKED}: the folio lock (not owner-tracked: a device completion may unlock a folio
 *       locked by the submitting thread, as in Linux).</li>
 *   <li>{@link #WAITERS}: some thread is (or is about to be) parked in the {@link WaitTable} for this
 *       folio; set and cleared only under the bucket's monitor. Unlock and end of writeback look at
 *       it in the same atomic operation that clears their bit, so a wake-up is never lost.</li>
 *   <li>{@link #UPTODATE}: every block is up to date (derived from the per-block bitmap).</li>
 *   <li>{@link #DIRTY}: at least one block is dirty (derived; cleared only when no dirty block is
 *       left).</li>
 *   <li>{@link #WRITEBACK}: write I/O of this folio is in flight.</li>
 *   <li>{@link #REFERENCED}: CLOCK's second-chance bit, set on lookup, cleared by the hand.</li>
 *   <li>{@link #DEAD}: removed from its FileCache (or frozen by eviction with a zero reference
 *       count); never cleared. A dead folio cannot gain references.</li>
 *   <li>refcount: {@link #REF_ONE} per reference; eviction only freezes a folio whose count is 0.</li>
 * </ul>
 */
final class FolioState {
    private FolioState() {}

    static final int LOCKED = 1;
    static final int WAITERS = 1 << 1;
    static final int UPTODATE = 1 << 2;
    static final int DIRTY = 1 << 3;
    static final int WRITEBACK = 1 << 4;
    static final int REFERENCED = 1 << 5;
    static final int DEAD = 1 << 6;

    static final int REF_SHIFT = 16;
    static final int REF_ONE = 1 << REF_SHIFT;
    static final int MAX_REFS = 0xFFFF;

    /** Flags that make a folio unevictable (besides a non-zero reference count). */
    static final int PINNED = LOCKED | DIRTY | WRITEBACK | DEAD;

    static int refs(int state) { return state >>> REF_SHIFT; }

    /** True when CLOCK may freeze a folio in this state: nobody holds it and nothing is pending. */
    static boolean evictable(int state) { return (state & PINNED) == 0 && refs(state) == 0; }

    static String describe(int state) {
        StringBuilder b = new StringBuilder();
        append(b, state, LOCKED, "LOCKED");
        append(b, state, WAITERS, "WAITERS");
        append(b, state, UPTODATE, "UPTODATE");
        append(b, state, DIRTY, "DIRTY");
        append(b, state, WRITEBACK, "WRITEBACK");
        append(b, state, REFERENCED, "REFERENCED");
        append(b, state, DEAD, "DEAD");
        return b.append(b.isEmpty() ? "" : "|").append("refs=").append(refs(state)).toString();
    }

    private static void append(StringBuilder b, int state, int bit, String name) {
        if ((state & bit) != 0) b.append(b.isEmpty() ? "" : "|").append(name);
    }
}
