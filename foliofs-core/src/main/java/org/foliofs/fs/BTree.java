package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ConcurrentModificationException;

import static org.foliofs.fs.MetaBlockLayout.BTREE_HEADER_SIZE;
import static org.foliofs.fs.MetaBlockLayout.NIL;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The one B+tree all FolioFS trees use: free space by block and by size, inodes, extent maps,
 * refcounts, directories. Nodes are {@link MetaStore} blocks with the {@link MetaBlockLayout} header.
 *
 * <h2>Keys</h2>
 * Every key is an unsigned 64-bit integer, compared with {@link Long#compareUnsigned}, and unique within
 * a tree. That is allocation-free and covers every planned tree because group-relative block and inode
 * numbers are 32 bits: by-block and refcount trees key on the start block, the by-size tree on
 * {@code length << 32 | start}, the inode tree on the first inode of a chunk, an extent map on the file
 * block offset, a directory on {@code hash << 32 | collision index}. A tree that ever needs wider keys
 * gets a second key word then; the layout below has room for it (key size is one constant).
 *
 * <h2>Node layout (after the 64-byte header)</h2>
 * <pre>
 *  64                     64 + 8*max
 *  +---------+---------+--+---------+---------+--+
 *  | key 0   | key 1   |..| value 0 | value 1 |..|     max = (blockSize - 64) / (8 + valueSize)
 *  +---------+---------+--+---------+---------+--+
 *  leaf (level 0):     value = record, recordSize bytes (BTreeOps)
 *  internal (level>0): value = child block number, u64
 * </pre>
 * In an internal node, key i is a lower bound of every key in child i's subtree and key i+1 is
 * greater than all of them (key i is exact after inserts and rebalancing, but is not lowered again
 * when the smallest record of a subtree is deleted). Slots at and past nrecs are zero.
 *
 * <h2>Fill rules</h2>
 * Every node but the root holds at least {@code max/2} entries; the root leaf may be empty, an internal
 * root has at least two children (a root with one child is collapsed). Inserting into a full node
 * splits it in half; a node that drops below the minimum borrows one entry from a sibling under the
 * same parent that has more than the minimum, or else is merged with it. Sibling pointers link every
 * level left to right.
 *
 * <p>Not thread-safe: callers serialise access to a tree (the filesystem holds the owning group's or
 * inode's lock). A {@link Cursor} is invalidated by any change to the tree.
 */
public final class BTree<R> {
    /** More levels than any tree of 2^64 keys with a fan-out of at least 4 can have, plus margin. */
    public static final int MAX_LEVELS = 32;
    static final int KEY_SIZE = 8, PTR_SIZE = 8;
    /** How many internal nodes' children {@link #verify} hints at once ({@link MetaStore#prefetchChildren}). */
    static final int LOOKAHEAD_NODES = 16;

    private static final int INSERTED = 0, DUPLICATE = 1, SPLIT = 2;
    private static final int NOT_FOUND = 0, DELETED = 1, UNDERFLOW = 2;

    private final MetaStore store;
    private final BTreeOps<R> ops;
    private final MetaType type;
    private final long owner;
    private final int recSize, leafMax, nodeMax, leafMin, nodeMin;
    private long root;
    private int rootLevel;
    private long modCount;
    // Out-values of the recursive helpers (the tree is single-threaded), so they return an int.
    private long splitKey, splitBlk, splitLeftKey;
    private int lastCount;
    private MetaBlock lastBlock;
    private long vRecords, vNodes;
    private LeafVisitor visitor;

    private BTree(MetaStore store, BTreeOps<R> ops, long owner) {
        this.store = store;
        this.ops = ops;
        this.type = ops.type();
        this.owner = owner;
        this.recSize = ops.recordSize();
        int payload = store.blockSize() - BTREE_HEADER_SIZE;
        if (recSize < 1) throw new IllegalArgumentException("recordSize (" + recSize + ") must be at least 1");
        this.leafMax = Math.min(payload / (KEY_SIZE + recSize), 0xffff);
        this.nodeMax = Math.min(payload / (KEY_SIZE + PTR_SIZE), 0xffff);
        if (leafMax < 4)
            throw new IllegalArgumentException("recordSize (" + recSize + ") is too large for blockSize ("
                    + store.blockSize() + "): a leaf must hold at least 4 records");
        this.leafMin = leafMax / 2;
        this.nodeMin = nodeMax / 2;
    }

    /** Creates an empty tree: one empty leaf as the root. */
    public static <R> BTree<R> create(MetaStore store, BTreeOps<R> ops, long owner) throws IOException {
        BTree<R> t = new BTree<>(store, ops, owner);
        MetaBlock r = store.allocate(t.type, owner);
        store.write(r);
        t.root = r.blkno();
        t.rootLevel = 0;
        return t;
    }

    /** Opens the tree whose root is block {@code root} (as recorded by its owner, e.g. a group header). */
    public static <R> BTree<R> open(MetaStore store, BTreeOps<R> ops, long owner, long root) throws IOException {
        BTree<R> t = new BTree<>(store, ops, owner);
        MetaBlock r = store.read(root, t.type, owner);
        int level = r.level();
        if (level >= MAX_LEVELS) throw t.corrupt(root, "root level " + level + " is not below " + MAX_LEVELS);
        t.checkNode(r, level);
        t.root = root;
        t.rootLevel = level;
        return t;
    }

    /**
     * Opens a tree whose number of levels its owner records (a group header's roots, an inode's
     * fork) without reading the root: the first descent reads it and checks that its level is
     * {@code levels - 1}, so a wrong count is still a {@link CorruptMetadataException} naming the
     * root block. Saves one block read per open on the hot paths (allocation, refcounts, inodes).
     */
    public static <R> BTree<R> open(MetaStore store, BTreeOps<R> ops, long owner, long root, int levels) throws IOException {
        BTree<R> t = new BTree<>(store, ops, owner);
        if (levels < 1 || levels > MAX_LEVELS)
            throw t.corrupt(root, "the owner records " + levels + " levels for this tree, outside [1, " + MAX_LEVELS + "]");
        t.root = root;
        t.rootLevel = levels - 1;
        return t;
    }

    /** Block number of the root; it changes when the root splits or collapses. */
    public long root() { return root; }
    /** Number of levels, 1 for a tree that is a single leaf. */
    public int levels() { return rootLevel + 1; }
    /** Most records a leaf holds. */
    public int leafCapacity() { return leafMax; }
    /** Most children an internal node holds. */
    public int nodeCapacity() { return nodeMax; }

    // ---- lookups ---------------------------------------------------------------------------------

    /** The record with exactly this key, or null. */
    public R lookup(long key) throws IOException {
        MetaBlock b = leafFor(key);
        int i = lastLE(b, key);
        return i >= 0 && key(b, i) == key ? ops.readRecord(b.view(), valOff(0, i)) : null;
    }

    /** The entry with the greatest key {@code <= key}, or null. */
    public Entry<R> lookupLE(long key) throws IOException {
        Cursor c = seekLE(key);
        return c.valid() ? new Entry<>(c.key(), c.record()) : null;
    }

    /** The entry with the smallest key {@code >= key}, or null. */
    public Entry<R> lookupGE(long key) throws IOException {
        Cursor c = seekGE(key);
        return c.valid() ? new Entry<>(c.key(), c.record()) : null;
    }

    /** A cursor on the smallest key {@code >= key} (not valid if there is none). */
    public Cursor seekGE(long key) throws IOException {
        MetaBlock b = leafFor(key);
        int i = lastLE(b, key);
        if (i < 0 || key(b, i) != key) i++;
        Cursor c = new Cursor(b, i);
        c.settleForward();
        return c;
    }

    /** A cursor on the greatest key {@code <= key} (not valid if there is none). */
    public Cursor seekLE(long key) throws IOException {
        MetaBlock b = leafFor(key);
        Cursor c = new Cursor(b, lastLE(b, key));
        c.settleBackward();
        return c;
    }

    /** A cursor on the smallest key. */
    public Cursor first() throws IOException {
        return seekGE(0);
    }

    /** Number of records, by walking the leaf level (one read per leaf). */
    public long count() throws IOException {
        MetaBlock b = node(root, rootLevel);
        for (int level = rootLevel; level > 0; level--) b = node(ptr(b, 0), level - 1);
        long n = 0;
        while (true) {
            n += b.numRecs();
            if (b.right() == NIL) return n;
            b = node(b.right(), 0);
        }
    }

    private MetaBlock leafFor(long key) throws IOException {
        MetaBlock b = node(root, rootLevel);
        for (int level = rootLevel; level > 0; level--) {
            int i = Math.max(lastLE(b, key), 0);
            b = node(ptr(b, i), level - 1);
        }
        return b;
    }

    // ---- insert / update -------------------------------------------------------------------------

    /** Inserts a record; returns false (and changes nothing) if the key is already present. */
    public boolean insert(long key, R record) throws IOException {
        int r = insertRec(root, rootLevel, key, record);
        if (r == DUPLICATE) return false;
        modCount++;
        if (r == SPLIT) {
            if (rootLevel + 1 >= MAX_LEVELS) throw new IllegalStateException("tree is " + MAX_LEVELS + " levels deep");
            MetaBlock nr = store.allocate(type, owner);
            nr.level(rootLevel + 1);
            putEntry(nr, rootLevel + 1, 0, splitLeftKey, null, root);
            putEntry(nr, rootLevel + 1, 1, splitKey, null, splitBlk);
            nr.numRecs(2);
            store.write(nr);
            root = nr.blkno();
            rootLevel++;
        }
        return true;
    }

    private int insertRec(long blkno, int level, long key, R rec) throws IOException {
        MetaBlock b = node(blkno, level);
        int i = lastLE(b, key);
        if (level == 0) {
            if (i >= 0 && key(b, i) == key) return DUPLICATE;
            return insertEntry(b, 0, i + 1, key, rec, 0);
        }
        boolean lowered = i < 0; // a new smallest key: it lowers key 0 on the way down
        if (lowered) i = 0;
        int r = insertRec(ptr(b, i), level - 1, key, rec);
        if (r == DUPLICATE) return DUPLICATE;
        if (lowered) setKey(b, 0, key);
        if (r == SPLIT) return insertEntry(b, level, i + 1, splitKey, null, splitBlk);
        if (lowered) store.write(b);
        return INSERTED;
    }

    /** Puts an entry at {@code pos}, splitting the node in half if it is full (then returns SPLIT). */
    private int insertEntry(MetaBlock b, int level, int pos, long key, R rec, long ptr) throws IOException {
        int n = b.numRecs();
        if (n < max(level)) {
            shift(b, level, pos, pos + 1, n - pos);
            putEntry(b, level, pos, key, rec, ptr);
            b.numRecs(n + 1);
            store.write(b);
            return INSERTED;
        }
        MetaBlock r = store.allocate(type, owner);
        r.level(level);
        int mid = n / 2; // left keeps [0, mid), right takes [mid, n); both end with at least max/2
        copyEntries(b, mid, r, 0, n - mid, level);
        clearEntries(b, level, mid, n);
        b.numRecs(mid);
        r.numRecs(n - mid);
        MetaBlock into = pos <= mid ? b : r;
        int at = pos <= mid ? pos : pos - mid, cnt = into.numRecs();
        shift(into, level, at, at + 1, cnt - at);
        putEntry(into, level, at, key, rec, ptr);
        into.numRecs(cnt + 1);

        long oldRight = b.right();
        r.left(b.blkno());
        r.right(oldRight);
        b.right(r.blkno());
        if (oldRight != NIL) {
            MetaBlock nb = node(oldRight, level);
            nb.left(r.blkno());
            store.write(nb);
        }
        store.write(r);
        store.write(b);
        splitKey = key(r, 0);
        splitBlk = r.blkno();
        splitLeftKey = key(b, 0);
        return SPLIT;
    }

    /** Replaces the record of an existing key; returns false if the key is absent. */
    public boolean update(long key, R record) throws IOException {
        MetaBlock b = leafFor(key);
        int i = lastLE(b, key);
        if (i < 0 || key(b, i) != key) return false;
        // A record that does not change is not written: its block is neither copied nor logged
        // (an atomic overwrite's remap puts an inode whose size and block count stay the same).
        MemorySegment rec = MemorySegment.ofArray(new byte[recSize]);
        ops.writeRecord(rec, 0, record);
        if (MemorySegment.mismatch(rec, 0, recSize, b.view(), valOff(0, i), valOff(0, i) + recSize) == -1) return true;
        MemorySegment.copy(rec, 0, b.segment(), valOff(0, i), recSize);
        store.write(b);
        modCount++;
        return true;
    }

    // ---- delete ----------------------------------------------------------------------------------

    /** Deletes the record with this key; returns false if it is absent. */
    public boolean delete(long key) throws IOException {
        int r = deleteRec(root, rootLevel, key);
        if (r == NOT_FOUND) return false;
        modCount++;
        while (rootLevel > 0 && lastCount == 1) { // root with one child: the child becomes the root
            MetaBlock rb = lastBlock;
            long child = ptr(rb, 0);
            store.free(root);
            root = child;
            rootLevel--;
            lastBlock = node(root, rootLevel);
            lastCount = lastBlock.numRecs();
        }
        return true;
    }

    private int deleteRec(long blkno, int level, long key) throws IOException {
        MetaBlock b = node(blkno, level);
        int i = lastLE(b, key);
        if (level == 0) {
            if (i < 0 || key(b, i) != key) return NOT_FOUND;
            removeEntry(b, 0, i);
            store.write(b);
        } else {
            if (i < 0) return NOT_FOUND;
            int r = deleteRec(ptr(b, i), level - 1, key);
            if (r == NOT_FOUND) return NOT_FOUND;
            if (r == UNDERFLOW) {
                fixChild(b, level, i, lastBlock);
                store.write(b);
            }
        }
        lastCount = b.numRecs();
        lastBlock = b;
        return lastCount < min(level) ? UNDERFLOW : DELETED;
    }

    /** Child i of {@code p} fell below the minimum: borrow one entry from a sibling, or merge. */
    private void fixChild(MetaBlock p, int level, int i, MetaBlock c) throws IOException {
        int cl = level - 1, min = min(cl), pn = p.numRecs();
        MetaBlock left = null, right = null;
        if (i > 0) {
            left = node(ptr(p, i - 1), cl);
            if (left.numRecs() > min) {
                int ln = left.numRecs();
                shift(c, cl, 0, 1, c.numRecs());
                copyEntries(left, ln - 1, c, 0, 1, cl);
                c.numRecs(c.numRecs() + 1);
                removeEntry(left, cl, ln - 1);
                setKey(p, i, key(c, 0));
                store.write(left);
                store.write(c);
                return;
            }
        }
        if (i + 1 < pn) {
            right = node(ptr(p, i + 1), cl);
            if (right.numRecs() > min) {
                copyEntries(right, 0, c, c.numRecs(), 1, cl);
                c.numRecs(c.numRecs() + 1);
                removeEntry(right, cl, 0);
                setKey(p, i + 1, key(right, 0));
                store.write(right);
                store.write(c);
                return;
            }
        }
        if (left != null) {
            merge(left, c, cl);
            removeEntry(p, level, i);
        } else if (right != null) {
            merge(c, right, cl);
            removeEntry(p, level, i + 1);
        }
        // else: p has a single child, which only a root can have; delete() collapses it.
    }

    /** Appends all of {@code r} to {@code l}, unlinks and frees {@code r}. */
    private void merge(MetaBlock l, MetaBlock r, int level) throws IOException {
        int ln = l.numRecs(), rn = r.numRecs();
        copyEntries(r, 0, l, ln, rn, level);
        l.numRecs(ln + rn);
        l.right(r.right());
        if (r.right() != NIL) {
            MetaBlock nb = node(r.right(), level);
            nb.left(l.blkno());
            store.write(nb);
        }
        store.write(l);
        store.free(r.blkno());
    }

    // ---- verification (fsck and tests) -----------------------------------------------------------

    /** What {@link #verify()} found. */
    public record Shape(long records, long nodes, int levels) {}

    /**
     * Reads every node and checks every structural invariant: levels, fill (minimum entries, root with
     * at least two children), strictly ascending keys, separator keys bounding their subtrees, sibling
     * links on every level. Throws {@link CorruptMetadataException} naming the first bad block.
     */
    public Shape verify() throws IOException {
        return verify(null);
    }

    /** What {@link #verify(LeafVisitor)} hands every leaf to. */
    public interface LeafVisitor {
        void leaf(MetaBlock leaf) throws IOException;
    }

    /**
     * {@link #verify()} that also hands every leaf, in key order, to {@code visitor} once the leaf's own
     * checks passed, so a caller can read the records in the same pass (fsck reads each node once).
     * The tree as a whole is only known to be sound when this returns: a caller that must not act on a
     * tree that fails keeps what it saw until then. Before descending into an internal node's children
     * it asks the store to {@link MetaStore#prefetch prefetch} them all, and above the lowest internal
     * level to {@link MetaStore#prefetchChildren prefetch the children} of the next
     * {@link #LOOKAHEAD_NODES} of them (so leaves are read in batches of many nodes' worth).
     */
    public Shape verify(LeafVisitor visitor) throws IOException {
        this.visitor = visitor;
        long[] prev = new long[rootLevel + 1], prevRight = new long[rootLevel + 1];
        java.util.Arrays.fill(prev, NIL);
        java.util.Arrays.fill(prevRight, NIL);
        vRecords = 0;
        vNodes = 0;
        try {
            verifyNode(root, rootLevel, true, 0, false, 0, false, prev, prevRight);
        } finally {
            this.visitor = null;
        }
        for (int l = 0; l <= rootLevel; l++)
            if (prevRight[l] != NIL)
                throw corrupt(prev[l], "right sibling " + prevRight[l] + " at the right end of level " + l);
        return new Shape(vRecords, vNodes, rootLevel + 1);
    }

    private void verifyNode(long blkno, int level, boolean isRoot, long lo, boolean hasLo, long hi, boolean hasHi,
                            long[] prev, long[] prevRight) throws IOException {
        MetaBlock b = node(blkno, level);
        int n = b.numRecs();
        vNodes++;
        if (!isRoot && n < min(level)) throw corrupt(blkno, n + " entries, fewer than the minimum " + min(level));
        if (isRoot && level > 0 && n < 2) throw corrupt(blkno, "root node with " + n + " children");
        if (b.left() != prev[level])
            throw corrupt(blkno, "left sibling " + b.left() + " where " + prev[level] + " expected");
        if (prev[level] != NIL && prevRight[level] != blkno)
            throw corrupt(prev[level], "right sibling " + prevRight[level] + " where " + blkno + " expected");
        prev[level] = blkno;
        prevRight[level] = b.right();
        for (int j = 0; j < n; j++) {
            long k = key(b, j);
            if (j > 0 && Long.compareUnsigned(key(b, j - 1), k) >= 0)
                throw corrupt(blkno, "key " + j + " (" + Long.toUnsignedString(k) + ") is not above key " + (j - 1)
                        + " (" + Long.toUnsignedString(key(b, j - 1)) + ")");
            if (hasLo && Long.compareUnsigned(k, lo) < 0)
                throw corrupt(blkno, "key " + Long.toUnsignedString(k) + " below the parent's separator "
                        + Long.toUnsignedString(lo));
            if (hasHi && Long.compareUnsigned(k, hi) >= 0)
                throw corrupt(blkno, "key " + Long.toUnsignedString(k) + " not below the next separator "
                        + Long.toUnsignedString(hi));
        }
        if (level == 0) {
            vRecords += n;
            if (visitor != null) visitor.leaf(b);
            return;
        }
        long[] children = new long[n];
        for (int j = 0; j < n; j++) children[j] = ptr(b, j);
        store.prefetch(children, n);
        int ahead = 0;   // children whose own children were hinted: a window of LOOKAHEAD_NODES ahead
        for (int j = 0; j < n; j++) {
            if (level >= 2 && j >= ahead) {
                ahead = Math.min(n, j + LOOKAHEAD_NODES);
                store.prefetchChildren(children, j, ahead);
            }
            boolean last = j + 1 == n;
            verifyNode(ptr(b, j), level - 1, false, key(b, j), true, last ? hi : key(b, j + 1), !last || hasHi,
                    prev, prevRight);
        }
    }

    // ---- nodes -----------------------------------------------------------------------------------

    /** Reads a node expected at {@code level}; checks what the checksum cannot (level, count, reserved). */
    MetaBlock node(long blkno, int level) throws IOException {
        MetaBlock b = store.read(blkno, type, owner);
        checkNode(b, level);
        return b;
    }

    private void checkNode(MetaBlock b, int level) throws CorruptMetadataException {
        if (b.level() != level) throw corrupt(b.blkno(), "level " + b.level() + " where " + level + " expected");
        if (b.numRecs() > max(level))
            throw corrupt(b.blkno(), b.numRecs() + " entries, more than the " + max(level) + " that fit");
        if (level > 0 && b.numRecs() == 0) throw corrupt(b.blkno(), "internal node with no children");
        if (b.reserved() != 0) throw corrupt(b.blkno(), String.format("reserved field 0x%08x is not zero", b.reserved()));
    }

    private CorruptMetadataException corrupt(long blkno, String problem) {
        return new CorruptMetadataException(blkno, type.name(), problem);
    }

    private int max(int level) { return level == 0 ? leafMax : nodeMax; }
    private int min(int level) { return level == 0 ? leafMin : nodeMin; }
    private int valSize(int level) { return level == 0 ? recSize : PTR_SIZE; }
    private static long keyOff(int i) { return BTREE_HEADER_SIZE + (long) KEY_SIZE * i; }
    private long valOff(int level, int i) {
        return BTREE_HEADER_SIZE + (long) KEY_SIZE * max(level) + (long) valSize(level) * i;
    }

    static long key(MetaBlock b, int i) { return b.view().get(U64, keyOff(i)); }
    /** Offset of record {@code i} in a leaf of this tree. */
    long recordOffset(int i) { return valOff(0, i); }

    /**
     * Child pointer {@code i} of an internal node of any tree with {@code blockSize} blocks (the
     * internal layout does not depend on the record type); for readahead of unverified images.
     */
    static long childPointer(MemorySegment node, int blockSize, int i) {
        int nodeMax = Math.min((blockSize - BTREE_HEADER_SIZE) / (KEY_SIZE + PTR_SIZE), 0xffff);
        return node.get(U64, BTREE_HEADER_SIZE + (long) KEY_SIZE * nodeMax + (long) PTR_SIZE * i);
    }

    /** Most children an internal node of a {@code blockSize} tree holds. */
    static int nodeCapacity(int blockSize) {
        return Math.min((blockSize - BTREE_HEADER_SIZE) / (KEY_SIZE + PTR_SIZE), 0xffff);
    }
    private static void setKey(MetaBlock b, int i, long k) { b.segment().set(U64, keyOff(i), k); }
    private long ptr(MetaBlock b, int i) { return b.view().get(U64, valOff(b.level(), i)); }

    /** Index of the last key {@code <= key}, or -1. */
    private static int lastLE(MetaBlock b, long key) {
        int lo = 0, hi = b.numRecs() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(key(b, mid), key) <= 0) lo = mid + 1;
            else hi = mid - 1;
        }
        return hi;
    }

    private void putEntry(MetaBlock b, int level, int pos, long key, R rec, long ptr) {
        setKey(b, pos, key);
        if (level == 0) ops.writeRecord(b.segment(), valOff(0, pos), rec);
        else b.segment().set(U64, valOff(level, pos), ptr);
    }

    /** Moves {@code count} entries from {@code from} to {@code to} within one node (overlap-safe). */
    private void shift(MetaBlock b, int level, int from, int to, int count) {
        if (count <= 0) return;
        MemorySegment s = b.segment();
        int vs = valSize(level);
        MemorySegment.copy(s, keyOff(from), s, keyOff(to), (long) KEY_SIZE * count);
        MemorySegment.copy(s, valOff(level, from), s, valOff(level, to), (long) vs * count);
    }

    private void copyEntries(MetaBlock src, int from, MetaBlock dst, int to, int count, int level) {
        if (count <= 0) return;
        MemorySegment.copy(src.view(), keyOff(from), dst.segment(), keyOff(to), (long) KEY_SIZE * count);
        MemorySegment.copy(src.view(), valOff(level, from), dst.segment(), valOff(level, to),
                (long) valSize(level) * count);
    }

    private void clearEntries(MetaBlock b, int level, int from, int to) {
        if (to <= from) return;
        b.segment().asSlice(keyOff(from), (long) KEY_SIZE * (to - from)).fill((byte) 0);
        b.segment().asSlice(valOff(level, from), (long) valSize(level) * (to - from)).fill((byte) 0);
    }

    private void removeEntry(MetaBlock b, int level, int pos) {
        int n = b.numRecs();
        shift(b, level, pos + 1, pos, n - pos - 1);
        clearEntries(b, level, n - 1, n);
        b.numRecs(n - 1);
    }

    // ---- iteration -------------------------------------------------------------------------------

    /** A key and its record. */
    public record Entry<R>(long key, R record) {}

    /**
     * A position in the leaf level; moves along the sibling links. Any change to the tree invalidates it
     * (its methods then throw {@link ConcurrentModificationException}).
     */
    public final class Cursor {
        private MetaBlock leaf;
        private int idx;
        private final long expectedModCount = modCount;

        private Cursor(MetaBlock leaf, int idx) {
            this.leaf = leaf;
            this.idx = idx;
        }

        /** Whether the cursor is on a record (false once it has moved past either end). */
        public boolean valid() {
            return leaf != null && idx >= 0 && idx < leaf.numRecs();
        }

        public long key() {
            checkValid();
            return BTree.key(leaf, idx);
        }

        public R record() {
            checkValid();
            return ops.readRecord(leaf.view(), valOff(0, idx));
        }

        /** The leaf block the cursor is in and the record's offset there, for allocation-free reads. */
        public MetaBlock leaf() { checkValid(); return leaf; }
        public long recordOffset() { checkValid(); return valOff(0, idx); }

        /** Moves to the next key; returns whether there is one. */
        public boolean next() throws IOException {
            checkValid();
            idx++;
            return settleForward();
        }

        /** Moves to the previous key; returns whether there is one. */
        public boolean prev() throws IOException {
            checkValid();
            idx--;
            return settleBackward();
        }

        private boolean settleForward() throws IOException {
            while (idx >= leaf.numRecs()) {
                if (leaf.right() == NIL) {
                    leaf = null;
                    return false;
                }
                leaf = node(leaf.right(), 0);
                idx = 0;
            }
            return true;
        }

        private boolean settleBackward() throws IOException {
            while (idx < 0) {
                if (leaf.left() == NIL) {
                    leaf = null;
                    return false;
                }
                leaf = node(leaf.left(), 0);
                idx = leaf.numRecs() - 1;
            }
            return true;
        }

        private void checkValid() {
            if (modCount != expectedModCount)
                throw new ConcurrentModificationException("the tree changed since this cursor was positioned");
            if (!valid()) throw new IllegalStateException("cursor is past the end of the tree");
        }
    }
}
