package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The extent map of an inode's data fork: which device blocks hold which file blocks.
 *
 * <h2>Formats</h2>
 * Up to {@link #INLINE_MAX} extents live in the inode's inline area ({@link Inode#FORMAT_INLINE},
 * {@code nrecs} = extents), sorted by file block, 24 bytes each, unused bytes zero:
 * <pre>
 *  0                               8                              16              20              24
 *  +-------------------------------+-------------------------------+---------------+---------------+
 *  | file block                u64 | start block (absolute)    u64 | length    u32 | flags     u32 |
 *  +-------------------------------+-------------------------------+---------------+---------------+
 *  flags bit 0 = unwritten, other bits zero; 4 records = 96 of the 112 inline bytes, the last 16 zero
 * </pre>
 * A fifth extent converts the fork to a B+tree owned by the inode ({@link Inode#FORMAT_BTREE},
 * {@code forkRoot}/{@code forkLevels}, {@code nrecs} = extents; nodes {@link MetaType#EXTENT_BTREE}
 * with owner = inode number, key = file block, 16-byte record, see {@link ExtentOps}). When a tree
 * shrinks to {@link #TO_INLINE} extents or fewer it is converted back and its (single) node freed;
 * the gap between 2 and 4 keeps a file that hovers around the limit from converting on every call.
 *
 * <h2>Invariants</h2>
 * Extents are sorted, do not overlap, have lengths in [1, {@link Extent#MAX_LENGTH}] and end at or
 * below {@link #MAX_FILE_BLOCKS} (2^40: with 64 KiB blocks the largest byte offset is 2^56, far from
 * overflowing a long). Every operation merges an extent it adds with neighbours that continue it in
 * the file and on the device in the same state (as long as the sum fits in MAX_LENGTH); a map built
 * only through these operations never holds two joinable neighbours.
 *
 * <h2>Use</h2>
 * Static methods working in the caller's transaction on the caller's {@link Inode} object: they change
 * its fork fields ({@code format, nrecs, forkRoot, forkLevels, inline}) and {@code blocks}, which is
 * kept charged with the B+tree's own nodes (the caller charges data blocks); the caller writes the
 * inode back with {@link Inodes#put}. If a method throws, abort the transaction and drop the inode
 * object. Data blocks are never allocated or freed here: {@link #remove} returns what it unmapped.
 *
 * <h2>Blocks touched</h2>
 * Each call makes a bounded number of record changes; each record change in a tree of L levels
 * changes at most {@code 3 * (L + 1) + 1} blocks (path, split or merge partners, sibling links, a new
 * root). {@link #maxBlocksChanged} turns a count of record changes into a journal reservation:
 * <table>
 *   <caption>record changes per call</caption>
 *   <tr><th>call</th><th>changes</th></tr>
 *   <tr><td>find, next, range, all, blockCount, verify</td><td>0 (reads only)</td></tr>
 *   <tr><td>insert</td><td>{@link #INSERT_CHANGES}</td></tr>
 *   <tr><td>remove(from, count, maxExtents)</td><td>maxExtents + 1 (unbounded {@code remove(from, count)}:
 *       extents overlapping + 1; callers truncating big files loop with maxExtents)</td></tr>
 *   <tr><td>markWritten</td><td>5 per unwritten extent in the range (a completed write covers a few)</td></tr>
 *   <tr><td>shift(from, end, delta, maxExtents)</td><td>4 * maxExtents + 2</td></tr>
 *   <tr><td>destroy</td><td>frees every node: call it when the map is (nearly) empty, i.e. after
 *       removing everything in bounded steps, and it frees at most one block</td></tr>
 * </table>
 */
public final class ExtentMap {
    private ExtentMap() {}

    /** File block numbers are below this (2^40 blocks: 64 PiB with 64 KiB blocks). */
    public static final long MAX_FILE_BLOCKS = 1L << 40;
    /** Extents stored in the inode before the fork becomes a B+tree. */
    public static final int INLINE_MAX = 4;
    /** A B+tree fork with this many extents or fewer goes back inline. */
    public static final int TO_INLINE = 2;
    /** Bytes per inline extent record. */
    public static final int INLINE_RECORD = 24;
    /** Record changes of one {@link #insert}. */
    public static final int INSERT_CHANGES = 2;

    // ---- queries ---------------------------------------------------------------------------------

    /** The extent containing file block {@code fileBlock}, or null (a hole). */
    public static Extent find(Txn tx, Inode inode, long fileBlock) throws IOException {
        checkBlock("fileBlock", fileBlock);
        Extent x = new Fork(tx, inode).floor(fileBlock);
        return x != null && x.contains(fileBlock) ? x : null;
    }

    /** The first extent starting at or after {@code fileBlock}, or null. */
    public static Extent next(Txn tx, Inode inode, long fileBlock) throws IOException {
        checkBlock("fileBlock", fileBlock);
        return new Fork(tx, inode).ceiling(fileBlock);
    }

    /** Every extent overlapping {@code [from, from + count)}, whole (not clipped), in file order. */
    public static List<Extent> range(Txn tx, Inode inode, long from, long count) throws IOException {
        checkRange(from, count);
        return new Fork(tx, inode).scan(from, from + count);
    }

    /** Every extent, in file order. */
    public static List<Extent> all(Txn tx, Inode inode) throws IOException {
        return new Fork(tx, inode).scan(0, MAX_FILE_BLOCKS);
    }

    /** Blocks mapped (written and unwritten). Reads the whole map. */
    public static long blockCount(Txn tx, Inode inode) throws IOException {
        long n = 0;
        for (Extent e : all(tx, inode)) n += e.length();
        return n;
    }

    // ---- changes ---------------------------------------------------------------------------------

    /**
     * Maps {@code e}: its file range must be a hole (else IllegalStateException naming the extent in
     * the way). Merges with neighbours it continues.
     */
    public static void insert(Txn tx, Inode inode, Extent e) throws IOException {
        Fork f = new Fork(tx, inode);
        Extent prev = f.floor(e.fileBlock());
        if (prev != null && prev.fileEnd() > e.fileBlock()) throw overlap(inode, e, prev);
        Extent nxt = f.ceiling(e.fileBlock());
        if (nxt != null && nxt.fileBlock() < e.fileEnd()) throw overlap(inode, e, nxt);
        f.mergeAdd(e, prev, nxt);
        f.finish();
    }

    /**
     * Maps {@code [from, from + count)} to the written blocks from {@code newStart}: what
     * {@link #remove} then {@link #insert} of the new extent do, and returns the pieces removed
     * (the caller frees them). When the range is exactly one extent and no neighbour would merge
     * with the new one, that is one record update (a copy-on-write or atomic overwrite of a range
     * it rewrote before): one leaf change instead of a delete and an insert.
     */
    public static List<Extent> remap(Txn tx, Inode inode, long from, long count, long newStart) throws IOException {
        checkRange(from, count);
        Extent e = new Extent(from, newStart, count, false);
        Fork f = new Fork(tx, inode);
        Extent[] around = f.around(from);
        Extent x = around[1];
        if (x != null && x.fileBlock() == from && x.fileEnd() == from + count) {
            Extent prev = around[0], nxt = around[2];
            boolean merges = prev != null && prev.fileEnd() == from && prev.joins(e) && prev.length() + count <= Extent.MAX_LENGTH
                    || nxt != null && e.joins(nxt) && count + nxt.length() <= Extent.MAX_LENGTH;
            if (!merges) {
                f.replace(e);
                f.finish();
                return List.of(x);
            }
        }
        List<Extent> pieces = remove(tx, inode, from, count);
        insert(tx, inode, e);
        return pieces;
    }

    /** Unmaps {@code [from, from + count)} completely; see {@link #remove(Txn, Inode, long, long, int)}. */
    public static List<Extent> remove(Txn tx, Inode inode, long from, long count) throws IOException {
        return remove(tx, inode, from, count, Integer.MAX_VALUE);
    }

    /**
     * Unmaps up to {@code maxExtents} pieces of {@code [from, from + count)}, from the end of the range
     * backwards (so a truncate cut short leaves the file's head mapped), splitting extents at the range
     * edges. Returns the pieces removed, in file order; the caller frees their blocks (or drops their
     * reference counts). Fewer than {@code maxExtents} pieces means the range is now a hole; otherwise
     * call again (in a new handle) with the same range.
     */
    public static List<Extent> remove(Txn tx, Inode inode, long from, long count, int maxExtents) throws IOException {
        checkRange(from, count);
        if (maxExtents < 1) throw new IllegalArgumentException("maxExtents (" + maxExtents + ") must be at least 1");
        Fork f = new Fork(tx, inode);
        List<Extent> pieces = new ArrayList<>();
        long end = from + count;
        while (pieces.size() < maxExtents && end > from) {
            Extent x = f.floor(end - 1);
            if (x == null || x.fileEnd() <= from) break;
            long a = Math.max(x.fileBlock(), from), b = Math.min(x.fileEnd(), end);
            pieces.add(x.slice(a, b));
            if (x.fileBlock() < from) f.replace(x.slice(x.fileBlock(), from));
            else f.delete(x.fileBlock());
            if (x.fileEnd() > end) f.add(x.slice(end, x.fileEnd()));
            end = a;
        }
        f.finish();
        Collections.reverse(pieces);
        return pieces;
    }

    /**
     * Marks the unwritten blocks of {@code [from, from + count)} written (a completed direct write or
     * the end of a zeroing), splitting extents at the range edges and merging with written neighbours.
     * Holes and written extents in the range are left alone.
     */
    public static void markWritten(Txn tx, Inode inode, long from, long count) throws IOException {
        checkRange(from, count);
        Fork f = new Fork(tx, inode);
        long end = from + count;
        for (Extent x : f.scan(from, end)) {
            if (!x.unwritten()) continue;
            long a = Math.max(x.fileBlock(), from), b = Math.min(x.fileEnd(), end);
            f.delete(x.fileBlock());
            if (x.fileBlock() < a) f.add(x.slice(x.fileBlock(), a));
            if (b < x.fileEnd()) f.add(x.slice(b, x.fileEnd()));
            Extent w = x.slice(a, b);
            f.put(new Extent(w.fileBlock(), w.startBlock(), w.length(), false));
        }
        f.finish();
    }

    /**
     * Moves every mapped block at or after {@code from} by {@code delta} file blocks, all in one call:
     * {@code shift(tx, inode, from, MAX_FILE_BLOCKS, delta, Integer.MAX_VALUE)}. Its cost grows with
     * the number of extents moved; bounded callers use the stepwise form.
     */
    public static void shift(Txn tx, Inode inode, long from, long delta) throws IOException {
        shift(tx, inode, from, MAX_FILE_BLOCKS, delta, Integer.MAX_VALUE);
    }

    /**
     * Moves up to {@code maxExtents} of the extents starting in {@code [from, end)} by {@code delta} file
     * blocks, keeping device blocks and state.
     * <ul>
     *   <li>Negative delta (collapse range): {@code [from + delta, from)} must be a hole
     *       (IllegalStateException otherwise) and {@code from + delta >= 0}. Extents move lowest first;
     *       the first one moved merges with the extent before the hole if it continues it. Returns the
     *       new {@code from}: the start of the first extent not yet moved, or {@code end} when done.</li>
     *   <li>Positive delta (insert range): an extent straddling {@code from} is split there first, so
     *       every mapped block at or after {@code from} moves. The moved extents must stay below
     *       {@link #MAX_FILE_BLOCKS} (IllegalArgumentException) and must not reach the first extent at
     *       or after {@code end} (IllegalStateException). Extents move highest first. Returns the new
     *       {@code end}: the start of the last extent moved, or {@code from} when done.</li>
     *   <li>Zero delta: nothing; returns {@code end}.</li>
     * </ul>
     * Between steps the map is consistent (the moved and unmoved extents do not overlap), so each step
     * can be its own transaction: {@code while (from < end) from = shift(..., from, end, -d, n)}, or
     * {@code while (end > from) end = shift(..., from, end, d, n)}.
     */
    public static long shift(Txn tx, Inode inode, long from, long end, long delta, int maxExtents) throws IOException {
        checkBlock("from", from);
        if (end < from || end > MAX_FILE_BLOCKS)
            throw new IllegalArgumentException("end (" + end + ") must be in [from (" + from + "), MAX_FILE_BLOCKS ("
                    + MAX_FILE_BLOCKS + ")]");
        if (maxExtents < 1) throw new IllegalArgumentException("maxExtents (" + maxExtents + ") must be at least 1");
        if (delta <= -MAX_FILE_BLOCKS || delta >= MAX_FILE_BLOCKS)
            throw new IllegalArgumentException("delta (" + delta + ") must be within +-MAX_FILE_BLOCKS (" + MAX_FILE_BLOCKS + ")");
        if (delta == 0 || from == end) return delta > 0 ? from : end;
        Fork f = new Fork(tx, inode);
        if (delta < 0) {
            if (from + delta < 0)
                throw new IllegalArgumentException("shifting extents at " + from + " by " + delta + " moves them before file block 0");
            List<Extent> inHole = f.scan(from + delta, from);
            if (!inHole.isEmpty())
                throw new IllegalStateException("cannot shift extents at " + from + " of inode " + inode.ino + " by " + delta
                        + ": [" + (from + delta) + ", " + from + ") is not a hole, " + inHole.getFirst() + " is mapped there");
            long pos = from;
            for (int moved = 0; moved < maxExtents; moved++) {
                Extent x = f.ceiling(pos);
                if (x == null || x.fileBlock() >= end) { f.finish(); return end; }
                f.delete(x.fileBlock());
                f.put(x.at(x.fileBlock() + delta));
                pos = x.fileEnd();
            }
            Extent x = f.ceiling(pos);
            f.finish();
            return x == null || x.fileBlock() >= end ? end : x.fileBlock();
        }
        Extent last = f.floor(end - 1);
        if (last == null || last.fileEnd() <= from) return from;
        if (last.fileEnd() > MAX_FILE_BLOCKS - delta)
            throw new IllegalArgumentException("shifting " + last + " by " + delta + " moves it beyond the maximum file size of "
                    + MAX_FILE_BLOCKS + " blocks (MAX_FILE_BLOCKS)");
        Extent z = f.ceiling(end);
        if (z != null && last.fileEnd() + delta > z.fileBlock())
            throw new IllegalStateException("cannot shift extents in [" + from + ", " + end + ") of inode " + inode.ino + " by "
                    + delta + ": " + last + " would overlap " + z);
        Extent s = from > 0 ? f.floor(from - 1) : null;
        if (s != null && s.fileEnd() > from) {
            f.replace(s.slice(s.fileBlock(), from));
            f.add(s.slice(from, s.fileEnd()));
        }
        long pos = end;
        for (int moved = 0; moved < maxExtents; moved++) {
            Extent x = f.floor(pos - 1);
            if (x == null || x.fileBlock() < from) { f.finish(); return from; }
            f.delete(x.fileBlock());
            f.put(x.at(x.fileBlock() + delta));
            pos = x.fileBlock();
            if (pos == 0) break;
        }
        Extent x = pos > 0 ? f.floor(pos - 1) : null;
        f.finish();
        return x == null || x.fileBlock() < from ? from : pos;
    }

    /**
     * Frees the fork's B+tree nodes (not the data blocks) and leaves an empty inline map. Frees every
     * node of the tree: empty a big map with bounded {@link #remove} calls first.
     */
    public static void destroy(Txn tx, Inode inode) throws IOException {
        Fork f = new Fork(tx, inode);
        if (f.tree != null) f.freeTree();
        f.tree = null;
        f.list = new ArrayList<>();
        f.finish();
    }

    /**
     * Checks the whole map: format, record plausibility, order, no overlaps, {@code nrecs}, the tree's
     * structure and levels. Throws {@link CorruptMetadataException} naming the block (the inode's inode
     * tree leaf for the inline format, the extent tree node otherwise).
     */
    public static void verify(Txn tx, Inode inode) throws IOException {
        Fork f = new Fork(tx, inode);
        if (f.tree != null) {
            BTree.Shape shape = f.tree.verify();
            if (shape.records() != Integer.toUnsignedLong(inode.nrecs))
                throw MetaBlockLayout.corrupt(inode.forkRoot, MetaType.EXTENT_BTREE, "inode " + inode.ino + " says "
                        + Integer.toUnsignedString(inode.nrecs) + " extents but its tree holds " + shape.records());
            f.scan(0, MAX_FILE_BLOCKS); // checks every record and the order
        } else {
            for (int i = inode.nrecs * INLINE_RECORD; i < Inode.INLINE_SIZE; i++)
                if (inode.inline[i] != 0) throw f.inlineCorrupt("unused inline byte " + i + " is not zero");
        }
    }

    /**
     * A conservative journal reservation for a call making {@code recordChanges} record changes (see
     * the table in the class comment) on {@code inode}'s map: {@code recordChanges * (3 * (L + 1) + 1) + 2}
     * blocks with L the current tree levels (0 inline), covering a level added on the way and a format
     * conversion. The caller adds what it changes itself (the inode's own leaf, data allocations).
     */
    public static int maxBlocksChanged(Inode inode, int recordChanges) {
        if (recordChanges < 0) throw new IllegalArgumentException("recordChanges (" + recordChanges + ") must not be negative");
        int levels = inode.format == Inode.FORMAT_BTREE ? inode.forkLevels : 1;
        long n = (long) recordChanges * (3L * (levels + 1) + 1) + 2;
        return (int) Math.min(n, Integer.MAX_VALUE);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static void checkBlock(String what, long v) {
        if (v < 0 || v >= MAX_FILE_BLOCKS)
            throw new IllegalArgumentException(what + " (" + v + ") must be in [0, MAX_FILE_BLOCKS (" + MAX_FILE_BLOCKS + "))");
    }

    private static void checkRange(long from, long count) {
        if (from < 0 || count < 0 || from > MAX_FILE_BLOCKS - count)
            throw new IllegalArgumentException("range [" + from + ", +" + count + ") must lie in [0, MAX_FILE_BLOCKS ("
                    + MAX_FILE_BLOCKS + "))");
    }

    private static IllegalStateException overlap(Inode inode, Extent e, Extent in) {
        return new IllegalStateException("cannot map " + e + " in inode " + inode.ino + ": it overlaps mapped extent " + in);
    }

    /**
     * The fork being worked on: inline extents as a sorted list (written back, converted to a tree if
     * it outgrew the inline area, by {@link #finish}), or the open B+tree. Charges allocated and freed
     * tree nodes to {@code inode.blocks}.
     */
    private static final class Fork implements MetaStore {
        final Txn tx;
        final Inode inode;
        final long totalBlocks;
        List<Extent> list;
        BTree<ExtentOps.Rec> tree;
        long count;

        Fork(Txn tx, Inode inode) throws IOException {
            this.tx = tx;
            this.inode = inode;
            this.totalBlocks = tx.superblock().totalBlocks();
            if (inode.nrecs < 0) throw inlineCorrupt("extent count " + Integer.toUnsignedString(inode.nrecs) + " is impossible");
            count = inode.nrecs;
            if (inode.format == Inode.FORMAT_INLINE) {
                if (inode.nrecs > INLINE_MAX)
                    throw inlineCorrupt(inode.nrecs + " inline extents, more than the " + INLINE_MAX + " that fit");
                list = new ArrayList<>(INLINE_MAX + 2);
                MemorySegment s = inode.inlineSegment();
                for (int i = 0; i < inode.nrecs; i++) {
                    long off = (long) i * INLINE_RECORD;
                    String what = "inline extent " + i;
                    Extent e = check(-1, what, s.get(U64, off), s.get(U64, off + 8), s.get(U32, off + 16), s.get(U32, off + 20));
                    if (i > 0 && list.getLast().fileEnd() > e.fileBlock())
                        throw inlineCorrupt(what + " " + e + " overlaps or precedes " + list.getLast());
                    list.add(e);
                }
            } else if (inode.format == Inode.FORMAT_BTREE) {
                if (inode.forkLevels < 1 || inode.forkLevels > BTree.MAX_LEVELS)
                    throw inlineCorrupt("extent tree levels " + inode.forkLevels + " outside [1, " + BTree.MAX_LEVELS + "]");
                tree = BTree.open(this, ExtentOps.INSTANCE, inode.ino, inode.forkRoot);
                if (tree.levels() != inode.forkLevels)
                    throw MetaBlockLayout.corrupt(inode.forkRoot, MetaType.EXTENT_BTREE, "root is at level " + (tree.levels() - 1)
                            + " but inode " + inode.ino + " says the tree has " + inode.forkLevels + " levels");
            } else {
                throw inlineCorrupt("fork format " + inode.format + " is not an extent map (INLINE or BTREE)");
            }
        }

        CorruptMetadataException inlineCorrupt(String problem) {
            return MetaBlockLayout.corrupt(Inodes.blockOf(tx, inode.ino), MetaType.INODE_BTREE, "inode " + inode.ino + ": " + problem);
        }

        /** Checks a stored extent; {@code leaf} < 0 means the inline area. */
        Extent check(long leaf, String what, long fileBlock, long start, int length, int flags) throws CorruptMetadataException {
            String problem = null;
            if (fileBlock < 0 || fileBlock >= MAX_FILE_BLOCKS) problem = "file block " + Long.toUnsignedString(fileBlock) + " is beyond MAX_FILE_BLOCKS";
            else if (length <= 0) problem = "length " + Integer.toUnsignedString(length) + " is outside [1, " + Extent.MAX_LENGTH + "]";
            else if (fileBlock + length > MAX_FILE_BLOCKS) problem = "ends beyond MAX_FILE_BLOCKS (" + MAX_FILE_BLOCKS + ")";
            else if ((flags & ~ExtentOps.FLAG_UNWRITTEN) != 0) problem = String.format("unknown flags 0x%x", flags);
            else if (start < 0 || start > totalBlocks - length)
                problem = "device blocks " + Long.toUnsignedString(start) + "+" + length + " lie beyond the volume (" + totalBlocks + " blocks)";
            if (problem != null) {
                String msg = what + " of inode " + inode.ino + " (file " + Long.toUnsignedString(fileBlock) + "): " + problem;
                throw leaf < 0 ? inlineCorrupt(msg) : MetaBlockLayout.corrupt(leaf, MetaType.EXTENT_BTREE, msg);
            }
            return new Extent(fileBlock, start, length, (flags & ExtentOps.FLAG_UNWRITTEN) != 0);
        }

        Extent at(BTree<ExtentOps.Rec>.Cursor c) throws CorruptMetadataException {
            if (!c.valid()) return null;
            ExtentOps.Rec r = c.record();
            return check(c.leaf().blkno(), "extent record", c.key(), r.startBlock(), r.length(), r.flags());
        }

        /** Index of the last inline extent starting at or before {@code fb}, or -1. */
        int lastLE(long fb) {
            int lo = 0, hi = list.size() - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (list.get(mid).fileBlock() <= fb) lo = mid + 1;
                else hi = mid - 1;
            }
            return hi;
        }

        /** The extent with the greatest start {@code <= fb}. */
        Extent floor(long fb) throws IOException {
            if (tree != null) return at(tree.seekLE(fb));
            int i = lastLE(fb);
            return i < 0 ? null : list.get(i);
        }

        /**
         * {prev, x, next}: x the extent with the greatest start {@code <= fb} (null if none), and
         * the extents just before and after it (null where none; both null when x is). One
         * descent of the tree instead of three.
         */
        Extent[] around(long fb) throws IOException {
            if (tree == null) {
                int i = lastLE(fb);
                if (i < 0) return new Extent[3];
                return new Extent[] {i > 0 ? list.get(i - 1) : null, list.get(i), i + 1 < list.size() ? list.get(i + 1) : null};
            }
            BTree<ExtentOps.Rec>.Cursor c = tree.seekLE(fb);
            if (!c.valid()) return new Extent[3];
            Extent x = at(c);
            Extent nxt = c.next() ? at(c) : null;
            Extent prev;
            if (nxt != null) {
                c.prev();
                prev = c.prev() ? at(c) : null;
            } else {
                prev = x.fileBlock() > 0 ? floor(x.fileBlock() - 1) : null;
            }
            return new Extent[] {prev, x, nxt};
        }

        /** The extent with the smallest start {@code >= fb}. */
        Extent ceiling(long fb) throws IOException {
            if (tree != null) return at(tree.seekGE(fb));
            int i = lastLE(fb);
            if (i >= 0 && list.get(i).fileBlock() == fb) return list.get(i);
            return i + 1 < list.size() ? list.get(i + 1) : null;
        }

        /** Extents overlapping {@code [from, to)}, checking order and overlaps on the way. */
        List<Extent> scan(long from, long to) throws IOException {
            List<Extent> out = new ArrayList<>();
            if (from >= to) return out;
            if (tree == null) {
                for (Extent e : list) if (e.fileBlock() < to && e.fileEnd() > from) out.add(e);
                return out;
            }
            BTree<ExtentOps.Rec>.Cursor c = tree.seekLE(from);
            if (!c.valid()) c = tree.seekGE(from);
            Extent prev = null;
            for (boolean more = c.valid(); more; more = c.next()) {
                Extent e = at(c);
                if (prev != null && prev.fileEnd() > e.fileBlock())
                    throw MetaBlockLayout.corrupt(c.leaf().blkno(), MetaType.EXTENT_BTREE, "extent " + e + " of inode "
                            + inode.ino + " overlaps " + prev);
                if (e.fileBlock() >= to) break;
                if (e.fileEnd() > from) out.add(e);
                prev = e;
            }
            return out;
        }

        void add(Extent e) throws IOException {
            if (tree != null) {
                if (!tree.insert(e.fileBlock(), ExtentOps.Rec.of(e)))
                    throw new IllegalStateException("extent at file block " + e.fileBlock() + " of inode " + inode.ino + " already exists");
            } else {
                int i = lastLE(e.fileBlock());
                if (i >= 0 && list.get(i).fileBlock() == e.fileBlock())
                    throw new IllegalStateException("extent at file block " + e.fileBlock() + " of inode " + inode.ino + " already exists");
                list.add(i + 1, e);
            }
            count++;
        }

        void delete(long fb) throws IOException {
            if (tree != null) {
                if (!tree.delete(fb)) throw new IllegalStateException("no extent at file block " + fb + " of inode " + inode.ino);
            } else {
                int i = lastLE(fb);
                if (i < 0 || list.get(i).fileBlock() != fb)
                    throw new IllegalStateException("no extent at file block " + fb + " of inode " + inode.ino);
                list.remove(i);
            }
            count--;
        }

        /** Replaces the extent starting at {@code e.fileBlock()}. */
        void replace(Extent e) throws IOException {
            if (tree != null) {
                if (!tree.update(e.fileBlock(), ExtentOps.Rec.of(e)))
                    throw new IllegalStateException("no extent at file block " + e.fileBlock() + " of inode " + inode.ino);
            } else {
                int i = lastLE(e.fileBlock());
                if (i < 0 || list.get(i).fileBlock() != e.fileBlock())
                    throw new IllegalStateException("no extent at file block " + e.fileBlock() + " of inode " + inode.ino);
                list.set(i, e);
            }
        }

        /** Adds {@code e} (whose range is a hole) merging with the neighbours it continues. */
        void put(Extent e) throws IOException {
            mergeAdd(e, e.fileBlock() > 0 ? floor(e.fileBlock() - 1) : null, ceiling(e.fileBlock()));
        }

        /** At most 2 record changes. */
        void mergeAdd(Extent e, Extent prev, Extent nxt) throws IOException {
            boolean left = prev != null && prev.joins(e) && prev.length() + e.length() <= Extent.MAX_LENGTH;
            Extent m = left ? new Extent(prev.fileBlock(), prev.startBlock(), prev.length() + e.length(), e.unwritten()) : e;
            if (nxt != null && m.joins(nxt) && m.length() + nxt.length() <= Extent.MAX_LENGTH) {
                delete(nxt.fileBlock());
                m = new Extent(m.fileBlock(), m.startBlock(), m.length() + nxt.length(), m.unwritten());
            }
            if (left) replace(m);
            else add(m);
        }

        /** Writes the fork back into the inode, converting between inline and B+tree as needed. */
        void finish() throws IOException {
            if (tree != null && count <= TO_INLINE) {
                list = scan(0, MAX_FILE_BLOCKS);
                if (list.size() != count)
                    throw MetaBlockLayout.corrupt(tree.root(), MetaType.EXTENT_BTREE, "inode " + inode.ino + " counted " + count
                            + " extents but its tree holds " + list.size());
                freeTree();
                tree = null;
            }
            if (tree == null && list.size() > INLINE_MAX) {
                tree = BTree.create(this, ExtentOps.INSTANCE, inode.ino);
                for (Extent e : list) tree.insert(e.fileBlock(), ExtentOps.Rec.of(e));
                list = null;
            }
            java.util.Arrays.fill(inode.inline, (byte) 0);
            if (tree != null) {
                inode.format = Inode.FORMAT_BTREE;
                inode.forkRoot = tree.root();
                inode.forkLevels = tree.levels();
                inode.nrecs = (int) count;
            } else {
                inode.format = Inode.FORMAT_INLINE;
                inode.forkRoot = 0;
                inode.forkLevels = 0;
                inode.nrecs = list.size();
                MemorySegment s = inode.inlineSegment();
                for (int i = 0; i < list.size(); i++) {
                    Extent e = list.get(i);
                    long off = (long) i * INLINE_RECORD;
                    s.set(U64, off, e.fileBlock());
                    s.set(U64, off + 8, e.startBlock());
                    s.set(U32, off + 16, (int) e.length());
                    s.set(U32, off + 20, e.unwritten() ? ExtentOps.FLAG_UNWRITTEN : 0);
                }
            }
        }

        /** Frees every node of the tree (depth first from the root). */
        void freeTree() throws IOException {
            freeNode(tree.root(), tree.levels() - 1);
        }

        private void freeNode(long blkno, int level) throws IOException {
            if (level > 0) {
                MetaBlock b = tree.node(blkno, level);
                long ptrs = MetaBlockLayout.BTREE_HEADER_SIZE + (long) BTree.KEY_SIZE * tree.nodeCapacity();
                for (int i = 0; i < b.numRecs(); i++) freeNode(b.view().get(U64, ptrs + (long) BTree.PTR_SIZE * i), level - 1);
            }
            free(blkno);
        }

        // ---- MetaStore over the transaction, charging tree nodes to the inode ----

        @Override public int blockSize() { return tx.blockSize(); }
        @Override public UUID volumeUuid() { return tx.volumeUuid(); }
        @Override public MetaBlock read(long blkno, MetaType type, long owner) throws IOException { return tx.read(blkno, type, owner); }
        @Override public void write(MetaBlock block) throws IOException { tx.write(block); }

        @Override
        public MetaBlock allocate(MetaType type, long owner) throws IOException {
            MetaBlock b = tx.allocate(type, owner);
            inode.blocks++;
            return b;
        }

        @Override
        public void free(long blkno) throws IOException {
            tx.free(blkno);
            inode.blocks--;
        }
    }
}
