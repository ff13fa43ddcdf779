package org.foliofs.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A FileCache's index: a radix tree of 64-slot nodes keyed by page index (the shape of Linux's
 * xarray), with two tag bitmaps per node like xarray marks. A folio of order k fills its 2^k leaf
 * slots, so a lookup of any page it covers is one descent; its tags live on the slot of its first
 * page only, and a node's tag bit i is set when child i holds a tagged entry, so
 * {@link #nextTagged} skips untagged subtrees a word at a time (O(height), not O(folios)).
 *
 * <p>Concurrency: {@link #lookup}, {@link #nextTagged} and {@link #nextPresent} run lock-free.
 * Slots and tag words are published with release stores and read with acquire loads; insert and
 * remove run under the owner's structure lock, tag changes (and every change of a node's parent
 * or tag words) under {@code tagLock}. Deliberate races, and why they are safe: a reader may
 * descend into a node that is being pruned (it sees null slots: "absent", which a racing remove
 * makes true anyway; the garbage collector keeps the node alive, so it is our RCU grace period);
 * a tag search may see a tag bit whose slot is already empty (skipped) or miss a tag set after it
 * passed (the folio was dirtied concurrently; callers that need it re-scan, as Linux's do).
 */
final class FolioTree {
    static final int BITS = 6;
    static final int FANOUT = 1 << BITS;
    static final int TAGS = 2;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);
    private static final VarHandle TAG = MethodHandles.arrayElementVarHandle(long[].class);

    static final class Node {
        final int shift;                      // 0 for leaves (slots hold Folios), else children Nodes
        final Object[] slots = new Object[FANOUT];
        final long[] tags = new long[TAGS];
        Node parent;                          // guarded by tagLock (and the structure lock)
        int offset;                           // slot index in parent; guarded like parent
        int count;                            // non-null slots; structure lock

        Node(int shift) { this.shift = shift; }
    }

    private volatile Node root;
    private final Object tagLock = new Object();

    private static boolean covers(Node n, long index) { return (index >>> (n.shift + BITS)) == 0; }

    /** The folio in the slot of {@code index}, or null (no reference taken). */
    Folio lookup(long index) {
        Node n = root;
        if (n == null || !covers(n, index)) return null;
        while (n.shift > 0) {
            n = (Node) SLOT.getAcquire(n.slots, (int) (index >>> n.shift) & (FANOUT - 1));
            if (n == null) return null;
        }
        return (Folio) SLOT.getAcquire(n.slots, (int) index & (FANOUT - 1));
    }

    /** True when no slot of [start, end) is occupied (structure lock held, or a racy hint). */
    boolean isEmpty(long start, long end) {
        Folio f = nextPresent(start);
        return f == null || f.index() >= end;
    }

    /** Inserts {@code f} into all its slots; the caller holds the structure lock and checked isEmpty. */
    void insert(Folio f) {
        long start = f.index(), end = start + f.pages();
        grow(end - 1);
        for (long i = start; i < end; ) {
            Node leaf = leafFor(i);
            int s = (int) i & (FANOUT - 1);
            int e = (int) Math.min(FANOUT, s + (end - i));
            if (i == start) {
                f.leaf = leaf;
                f.leafSlot = s;
            }
            for (int k = s; k < e; k++) SLOT.setRelease(leaf.slots, k, f);
            leaf.count += e - s;
            i += e - s;
        }
    }

    /** Removes {@code f} from its slots and prunes emptied nodes; the caller holds the structure lock. */
    void remove(Folio f) {
        synchronized (tagLock) {
            for (int t = 0; t < TAGS; t++) clearTagLocked(f.leaf, f.leafSlot, t);
        }
        long start = f.index(), end = start + f.pages();
        for (long i = start; i < end; ) {
            Node leaf = leafFor(i);
            int s = (int) i & (FANOUT - 1);
            int e = (int) Math.min(FANOUT, s + (end - i));
            for (int k = s; k < e; k++) SLOT.setRelease(leaf.slots, k, null);
            leaf.count -= e - s;
            if (leaf.count == 0) prune(leaf);
            i += e - s;
        }
    }

    private void grow(long maxIndex) {
        Node r = root;
        if (r == null) {
            int shift = 0;
            while ((maxIndex >>> (shift + BITS)) != 0) shift += BITS;
            root = new Node(shift);
            return;
        }
        while (!covers(r, maxIndex)) {
            Node up = new Node(r.shift + BITS);
            synchronized (tagLock) {
                r.parent = up;
                r.offset = 0;
                for (int t = 0; t < TAGS; t++) up.tags[t] = r.tags[t] != 0 ? 1 : 0;
            }
            up.slots[0] = r;
            up.count = 1;
            root = up; // volatile publication: up is complete, readers holding the old root still see a valid subtree
            r = up;
        }
    }

    private Node leafFor(long index) {
        Node n = root;
        while (n.shift > 0) {
            int s = (int) (index >>> n.shift) & (FANOUT - 1);
            Node c = (Node) n.slots[s];
            if (c == null) {
                c = new Node(n.shift - BITS);
                c.parent = n;  // not yet reachable: no tag operation can see it before the release below
                c.offset = s;
                SLOT.setRelease(n.slots, s, c);
                n.count++;
            }
            n = c;
        }
        return n;
    }

    private void prune(Node n) {
        Node p;
        synchronized (tagLock) {
            p = n.parent;
            if (p == null) {
                if (root == n) root = null;
                return;
            }
            for (int t = 0; t < TAGS; t++) clearTagLocked(p, n.offset, t);
            n.parent = null;
        }
        SLOT.setRelease(p.slots, n.offset, null);
        if (--p.count == 0) prune(p);
    }

    // ---- tags -------------------------------------------------------------------------------

    void setTag(Folio f, int t) {
        synchronized (tagLock) {
            int slot = f.leafSlot;
            for (Node n = f.leaf; n != null; n = n.parent) {
                long w = (long) TAG.getAcquire(n.tags, t);
                if ((w & (1L << slot)) != 0) return;   // ancestors are already tagged
                TAG.setRelease(n.tags, t, w | (1L << slot));
                slot = n.offset;
            }
        }
    }

    void clearTag(Folio f, int t) {
        synchronized (tagLock) {
            clearTagLocked(f.leaf, f.leafSlot, t);
        }
    }

    private static void clearTagLocked(Node n, int slot, int t) {
        for (; n != null; n = n.parent) {
            long w = (long) TAG.getAcquire(n.tags, t) & ~(1L << slot);
            TAG.setRelease(n.tags, t, w);
            if (w != 0) return;  // siblings still tagged: ancestors stay tagged
            slot = n.offset;
        }
    }

    static boolean isTagged(Folio f, int t) {
        return (((long) TAG.getAcquire(f.leaf.tags, t) >>> f.leafSlot) & 1) != 0;
    }

    /** First index >= from whose slot carries tag t (a folio's first page), or -1. */
    long nextTagged(int t, long from) {
        Node r = root;
        if (r == null || !covers(r, from)) return -1;
        return searchTag(r, t, from, 0);
    }

    private static long searchTag(Node n, int t, long from, long base) {
        int start = from > base ? (int) ((from - base) >>> n.shift) : 0;
        long word = (long) TAG.getAcquire(n.tags, t) & (-1L << start);
        while (word != 0) {
            int s = Long.numberOfTrailingZeros(word);
            long childBase = base + ((long) s << n.shift);
            Object c = SLOT.getAcquire(n.slots, s);
            if (c != null) {
                if (n.shift == 0) return childBase;
                long found = searchTag((Node) c, t, Math.max(from, childBase), childBase);
                if (found >= 0) return found;
            }
            word &= word - 1;
        }
        return -1;
    }

    /** The folio in the first occupied slot >= from (it may start before from), or null. */
    Folio nextPresent(long from) {
        Node r = root;
        if (r == null || !covers(r, from)) return null;
        return searchPresent(r, from, 0);
    }

    private static Folio searchPresent(Node n, long from, long base) {
        for (int s = from > base ? (int) ((from - base) >>> n.shift) : 0; s < FANOUT; s++) {
            Object c = SLOT.getAcquire(n.slots, s);
            if (c == null) continue;
            if (n.shift == 0) return (Folio) c;
            long childBase = base + ((long) s << n.shift);
            Folio f = searchPresent((Node) c, Math.max(from, childBase), childBase);
            if (f != null) return f;
        }
        return null;
    }
}
