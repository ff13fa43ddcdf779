package org.foliofs.fs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reference counts of shared data blocks (reflink, snapshots of files) and CoW staging extents:
 * one B+tree per allocation group ({@link RefcountOps}), rooted at {@link AgHeader#refRoot} /
 * {@link AgHeader#refLevels} (mkfs makes an empty root leaf at group block 5).
 *
 * <pre>
 *  key (u64)                               record
 *  +-+-------------------------------+     +--------------+--------------+
 *  |0|  group-relative start block   | --> | length   u32 | refcount u32 |   shared extent, refcount >= 2
 *  +-+-------------------------------+     +--------------+--------------+
 *  |1|  group-relative start block   | --> | length   u32 | 1            |   CoW staging extent
 *  +-+-------------------------------+     +--------------+--------------+
 *   bit 63 = COW_FLAG
 * </pre>
 *
 * As in XFS, only extents with refcount 2 or more are stored: an allocated block without a record
 * has one owner. Shared records never overlap; neighbouring records with the same refcount are
 * merged. CoW staging records list blocks allocated for a copy-on-write that has not yet been
 * remapped into the file: after a crash they belong to nobody, and mount frees them
 * ({@link #cowStaging}). The API takes absolute block numbers; a range never crosses a group.
 *
 * <p>Stateless apart from the geometry; every call reads the group header, changes the tree and
 * writes the header back if the root or level count changed (re-reading it after the tree change,
 * since tree changes allocate and free blocks through the allocator, which writes the header too).
 */
public final class Refcounts {
    /** Key bit of CoW staging records. */
    public static final long COW_FLAG = 1L << 63;
    /** Largest refcount a record can hold. */
    public static final long MAX_REFCOUNT = 0xffff_ffffL;

    private final Superblock sb;
    /**
     * Blocks whose refcount went down (a sharer unmapped them) in handles not yet committed:
     * absolute start -&gt; {length, epoch}, disjoint (touching or overlapping additions merge, keeping
     * the larger epoch). See {@link #unsharedNotDurable}. Guarded by itself.
     */
    private final java.util.TreeMap<Long, long[]> pending = new java.util.TreeMap<>();
    private long epoch;                                    // guarded by pending

    public Refcounts(Superblock sb) {
        if (sb == null) throw new IllegalArgumentException("superblock must not be null");
        this.sb = sb;
    }

    /** A new sharer of every block in the range: refcount n becomes n+1 (1 -&gt; 2 creates records). */
    public void increment(Txn tx, long start, long len) throws IOException {
        adjust(tx, start, len, +1);
    }

    /**
     * A sharer of every block in the range is gone: blocks at refcount 2 or more lose one (at 2 the
     * record goes: the block stays allocated with one owner); blocks without a record (one owner) go to
     * zero and are returned, {@code {absoluteStart, length}} ascending, for the caller to free.
     */
    public List<long[]> decrement(Txn tx, long start, long len) throws IOException {
        return adjust(tx, start, len, -1);
    }

    /** Sub-ranges of the range with refcount &gt;= 2, ascending, each {@code {absoluteStart, length, refcount}}. */
    public List<long[]> shared(Txn tx, long start, long len) throws IOException {
        int agno = checkRange(start, len);
        long agStart = sb.agStart(agno), a = start - agStart, b = a + len;
        List<long[]> out = new ArrayList<>();
        for (long[] r : collect(open(tx, agno), agno, a, b, false)) {
            long s = Math.max(r[0], a), e = Math.min(r[0] + r[1], b);
            if (s < e) out.add(new long[] {agStart + s, e - s, r[2]});
        }
        return out;
    }

    /**
     * Notes that a sharer of {@code [start, start+len)} dropped its reference in {@code tx} while the
     * blocks stay allocated. Until {@code tx} is committed, a crash could bring that sharer back
     * mapping them: so the remaining owner must not overwrite them in place yet; copy-on-write treats
     * them as shared ({@link #sharedOrPending}). (The same reason as busy extents for freed blocks.)
     */
    public void unsharedNotDurable(Txn tx, long start, long len) {
        long ep;
        synchronized (pending) {
            ep = ++epoch;
            long lo = start, hi = start + len;
            java.util.Map.Entry<Long, long[]> f = pending.floorEntry(start);
            if (f != null && f.getKey() + f.getValue()[0] >= start) lo = f.getKey();
            List<Long> gone = new ArrayList<>();
            for (var e : pending.subMap(lo, true, hi, true).entrySet()) {
                hi = Math.max(hi, e.getKey() + e.getValue()[0]);
                gone.add(e.getKey());
            }
            for (long k : gone) pending.remove(k);
            pending.put(lo, new long[] {hi - lo, ep});
        }
        tx.onCommitted(() -> {
            synchronized (pending) {
                pending.values().removeIf(v -> v[1] <= ep);   // every handle up to this one is durable
            }
        });
    }

    /**
     * Sub-ranges of the range that copy-on-write must copy: refcount &gt;= 2 ({@link #shared}) or
     * unshared by a handle not yet committed ({@link #unsharedNotDurable}); ascending
     * {@code {absoluteStart, length}}, merged.
     */
    public List<long[]> sharedOrPending(Txn tx, long start, long len) throws IOException {
        List<long[]> all = new ArrayList<>();
        for (long[] r : shared(tx, start, len)) all.add(new long[] {r[0], r[1]});
        long end = start + len;
        synchronized (pending) {
            java.util.Map.Entry<Long, long[]> f = pending.floorEntry(start);
            Long from = f != null ? f.getKey() : start;
            for (var e : pending.subMap(from, true, end, false).entrySet()) {
                long a = Math.max(start, e.getKey()), b = Math.min(end, e.getKey() + e.getValue()[0]);
                if (a < b) all.add(new long[] {a, b - a});
            }
        }
        if (all.size() < 2) return all;
        all.sort((x, y) -> Long.compare(x[0], y[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] r : all) {
            long[] p = out.isEmpty() ? null : out.getLast();
            if (p != null && p[0] + p[1] >= r[0]) p[1] = Math.max(p[1], r[0] + r[1] - p[0]);
            else out.add(r);
        }
        return out;
    }

    /** Records {@code [start, start+len)} as CoW staging blocks (merged with touching staging records). */
    public void addCowStaging(Txn tx, long start, long len) throws IOException {
        int agno = checkRange(start, len);
        long agStart = sb.agStart(agno), a = start - agStart, b = a + len;
        BTree<RefcountOps.Rec> t = open(tx, agno);
        List<long[]> near = collect(t, agno, a, b, true);
        long lo = a, hi = b;
        for (long[] r : near) {
            if (r[0] < b && r[0] + r[1] > a)
                throw new IllegalStateException("CoW staging range [" + start + ", +" + len + ") overlaps staging extent ["
                        + (agStart + r[0]) + ", +" + r[1] + ")");
            lo = Math.min(lo, r[0]);
            hi = Math.max(hi, r[0] + r[1]);
        }
        for (long[] r : near) delete(t, agno, COW_FLAG | r[0]);
        insert(t, agno, COW_FLAG | lo, new RefcountOps.Rec(hi - lo, 1));
        persist(tx, agno, t);
    }

    /** Removes {@code [start, start+len)}, which must be entirely CoW staging blocks, from the staging records. */
    public void removeCowStaging(Txn tx, long start, long len) throws IOException {
        int agno = checkRange(start, len);
        long agStart = sb.agStart(agno), a = start - agStart, b = a + len;
        BTree<RefcountOps.Rec> t = open(tx, agno);
        List<long[]> over = new ArrayList<>();
        long pos = a;
        for (long[] r : collect(t, agno, a, b, true)) {
            if (r[0] >= b || r[0] + r[1] <= a) continue;
            if (r[0] > pos) break;
            over.add(r);
            pos = r[0] + r[1];
        }
        if (pos < b)
            throw new IllegalStateException("CoW staging range [" + start + ", +" + len + ") is not all staged: block "
                    + (agStart + pos) + " has no staging record");
        for (long[] r : over) delete(t, agno, COW_FLAG | r[0]);
        long[] first = over.getFirst(), last = over.getLast();
        if (first[0] < a) insert(t, agno, COW_FLAG | first[0], new RefcountOps.Rec(a - first[0], 1));
        if (last[0] + last[1] > b) insert(t, agno, COW_FLAG | b, new RefcountOps.Rec(last[0] + last[1] - b, 1));
        persist(tx, agno, t);
    }

    /** Every CoW staging extent of group {@code agno}, ascending, each {@code {absoluteStart, length}}. */
    public List<long[]> cowStaging(Txn tx, int agno) throws IOException {
        checkAgno(agno);
        BTree<RefcountOps.Rec> t = open(tx, agno);
        List<long[]> out = new ArrayList<>();
        long prevEnd = 0;
        for (BTree<RefcountOps.Rec>.Cursor c = t.seekGE(COW_FLAG); c.valid(); c.next()) {
            long s = c.key() & ~COW_FLAG;
            RefcountOps.Rec r = c.record();
            checkRecord(agno, c.leaf().blkno(), s, r, true, prevEnd);
            prevEnd = s + r.length();
            out.add(new long[] {sb.agStart(agno) + s, r.length()});
        }
        return out;
    }

    /**
     * Verifies group {@code agno}'s tree: structure ({@link BTree#verify()}), header levels, and every
     * record (inside the group, length at least 1, refcount at least 2 or 1 for staging, no overlaps).
     */
    public BTree.Shape verify(Txn tx, int agno) throws IOException {
        checkAgno(agno);
        AgHeader h = tx.agHeader(agno);
        BTree<RefcountOps.Rec> t = BTree.open(tx, RefcountOps.INSTANCE, agno, h.refRoot, h.refLevels);
        BTree.Shape shape = t.verify();
        if (t.levels() != h.refLevels)
            throw MetaBlockLayout.corrupt(AgHeader.blockOf(sb, agno), AgHeader.TYPE, "refcount tree has " + t.levels()
                    + " levels, header says " + h.refLevels);
        long prevEnd = 0;
        for (BTree<RefcountOps.Rec>.Cursor c = t.first(); c.valid() && c.key() >= 0; c.next()) {
            RefcountOps.Rec r = c.record();
            checkRecord(agno, c.leaf().blkno(), c.key(), r, false, prevEnd);
            prevEnd = c.key() + r.length();
        }
        cowStaging(tx, agno);
        return shape;
    }

    // ------------------------------------------------------------------ internals

    private List<long[]> adjust(Txn tx, long start, long len, int delta) throws IOException {
        int agno = checkRange(start, len);
        long agStart = sb.agStart(agno), a = start - agStart, b = a + len;
        BTree<RefcountOps.Rec> t = open(tx, agno);
        List<long[]> old = collect(t, agno, a, b, false);
        // Segments {start, end, refcount} covering [lo, hi): the records touching the range and the gaps (refcount 1).
        List<long[]> seg = new ArrayList<>();
        long pos = old.isEmpty() ? a : Math.min(a, old.getFirst()[0]);
        for (long[] r : old) {
            if (r[0] > pos) addSplit(seg, pos, r[0], 1, a, b);
            addSplit(seg, r[0], r[0] + r[1], r[2], a, b);
            pos = r[0] + r[1];
        }
        if (pos < b) addSplit(seg, pos, b, 1, a, b);
        for (long[] s : seg) {
            if (s[1] <= a || s[0] >= b) continue;
            s[2] += delta;
            if (s[2] > MAX_REFCOUNT)
                throw new IllegalStateException("refcount of [" + (agStart + s[0]) + ", +" + (s[1] - s[0])
                        + ") would exceed " + MAX_REFCOUNT);
        }
        List<long[]> merged = new ArrayList<>();
        for (long[] s : seg) {
            long[] p = merged.isEmpty() ? null : merged.getLast();
            if (p != null && p[1] == s[0] && p[2] == s[2]) p[1] = s[1];
            else merged.add(s.clone());
        }
        for (long[] r : old) delete(t, agno, r[0]);
        List<long[]> freed = new ArrayList<>();
        for (long[] s : merged) {
            if (s[2] >= 2) insert(t, agno, s[0], new RefcountOps.Rec(s[1] - s[0], s[2]));
            else if (s[2] == 0) freed.add(new long[] {agStart + s[0], s[1] - s[0]});
        }
        persist(tx, agno, t);
        return freed;
    }

    /** Adds segment [s, e) with refcount rc, split at the range edges a and b. */
    private static void addSplit(List<long[]> seg, long s, long e, long rc, long a, long b) {
        long[] cuts = {s, Math.max(s, Math.min(a, e)), Math.max(s, Math.min(b, e)), e};
        for (int i = 0; i < 3; i++) if (cuts[i] < cuts[i + 1]) seg.add(new long[] {cuts[i], cuts[i + 1], rc});
    }

    /**
     * Records (group-relative {start, length, refcount}) of one kind that overlap or touch [a, b),
     * ascending, checked for sanity.
     */
    private List<long[]> collect(BTree<RefcountOps.Rec> t, int agno, long a, long b, boolean cow) throws IOException {
        long flag = cow ? COW_FLAG : 0;
        List<long[]> out = new ArrayList<>();
        BTree<RefcountOps.Rec>.Cursor c = t.seekLE(flag | (a - 1));   // a record ending exactly at a touches the range
        if (!c.valid() || (c.key() & COW_FLAG) != flag) c = t.seekGE(flag | a);
        long prevEnd = 0;
        for (; c.valid() && (c.key() & COW_FLAG) == flag; c.next()) {
            long s = c.key() & ~COW_FLAG;
            if (s > b) break;
            RefcountOps.Rec r = c.record();
            checkRecord(agno, c.leaf().blkno(), s, r, cow, prevEnd);
            prevEnd = s + r.length();
            if (s + r.length() >= a) out.add(new long[] {s, r.length(), r.refcount()});
        }
        return out;
    }

    private void checkRecord(int agno, long leaf, long s, RefcountOps.Rec r, boolean cow, long prevEnd)
            throws CorruptMetadataException {
        long agLen = sb.agLength(agno);
        // (the record's description is built only for a problem: this runs for every record a remap reads)
        if (r.length() < 1 || s < AgHeader.RESERVED_BLOCKS || s + r.length() > agLen)
            throw MetaBlockLayout.corrupt(leaf, MetaType.REFCOUNT_BTREE, describe(s, r, cow) + " is not inside the group's blocks ["
                    + AgHeader.RESERVED_BLOCKS + ", " + agLen + ")");
        if (cow ? r.refcount() != 1 : r.refcount() < 2)
            throw MetaBlockLayout.corrupt(leaf, MetaType.REFCOUNT_BTREE, describe(s, r, cow) + ": refcount must be " + (cow ? "1" : "at least 2"));
        if (s < prevEnd)
            throw MetaBlockLayout.corrupt(leaf, MetaType.REFCOUNT_BTREE, describe(s, r, cow) + " overlaps the previous record ending at " + prevEnd);
    }

    private static String describe(long s, RefcountOps.Rec r, boolean cow) {
        return (cow ? "CoW staging" : "refcount") + " record [" + s + ", +" + r.length() + ") refcount " + r.refcount() + " (group-relative)";
    }

    private BTree<RefcountOps.Rec> open(Txn tx, int agno) throws IOException {
        AgHeader h = tx.agHeader(agno);
        return BTree.open(tx, RefcountOps.INSTANCE, agno, h.refRoot, h.refLevels);
    }

    private void persist(Txn tx, int agno, BTree<RefcountOps.Rec> t) throws IOException {
        AgHeader h = tx.agHeader(agno);
        if (h.refRoot == t.root() && h.refLevels == t.levels()) return;
        h.refRoot = t.root();
        h.refLevels = t.levels();
        tx.writeAgHeader(h);
    }

    private void delete(BTree<RefcountOps.Rec> t, int agno, long key) throws IOException {
        if (!t.delete(key))
            throw new IllegalStateException("refcount record " + Long.toUnsignedString(key) + " of group " + agno + " vanished");
    }

    private void insert(BTree<RefcountOps.Rec> t, int agno, long key, RefcountOps.Rec r) throws IOException {
        if (!t.insert(key, r))
            throw new IllegalStateException("refcount record " + Long.toUnsignedString(key) + " of group " + agno + " already exists");
    }

    private int checkRange(long start, long len) {
        if (len < 1) throw new IllegalArgumentException("length (" + len + ") must be at least 1");
        if (start < 0 || start > sb.totalBlocks() - len)
            throw new IllegalArgumentException("range [" + start + ", +" + len + ") is outside the volume (" + sb.totalBlocks()
                    + " blocks)");
        int agno = (int) Math.min(start / sb.agBlocks(), sb.agCount() - 1);
        int last = (int) Math.min((start + len - 1) / sb.agBlocks(), sb.agCount() - 1);
        if (last != agno)
            throw new IllegalArgumentException("range [" + start + ", +" + len + ") crosses the boundary of allocation group "
                    + agno + " at block " + (sb.agStart(agno) + sb.agLength(agno)));
        if (start - sb.agStart(agno) < AgHeader.RESERVED_BLOCKS)
            throw new IllegalArgumentException("range [" + start + ", +" + len + ") covers fixed blocks of allocation group " + agno);
        return agno;
    }

    private void checkAgno(int agno) {
        if (agno < 0 || agno >= sb.agCount())
            throw new IllegalArgumentException("allocation group " + agno + " is not in [0, " + sb.agCount() + ")");
    }
}
