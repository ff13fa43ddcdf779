package org.foliofs.fs;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The space allocator of a mounted volume: file data extents and metadata blocks from the
 * allocation groups' free-space trees, the AGFL for the free-space trees' own nodes, busy extents,
 * and the in-memory free-space counters with reservations for delayed allocation.
 *
 * <h2>Free space</h2>
 * Every group has two free-space B+trees ({@link FreeSpaceOps}, group-relative): by block
 * (start -&gt; length) and by size ({@code length << 32 | start} -&gt; length). They always describe
 * the same set of extents, which never overlap or touch (adjacent free extents are merged), and the
 * group header's free block count, free extent count and longest free extent are exact after every
 * operation. Free extents never include the group's fixed blocks ({@link AgHeader#RESERVED_BLOCKS})
 * or, in group 0, the journal.
 * <pre>
 *  allocData: goal given: the extent holding goal, else the next extents after it (by block)
 *             else best fit (by size: smallest extent &gt;= maxLen, else the largest &gt;= minLen)
 *             in agHint's group, then the following groups in order
 *  carve [x, x+n) out of free extent [s, s+m):
 *     by block: update s -&gt; x-s (or delete s), insert x+n -&gt; rest      (&lt;= 1 insert)
 *     by size:  delete (m, s), insert (x-s, s), insert (rest, x+n)     (&lt;= 2 inserts)
 *  free [x, x+n): merge with the free extent ending at x and the one starting at x+n
 *     by block: &lt;= 1 insert, &lt;= 1 delete; by size: &lt;= 2 deletes, 1 insert
 * </pre>
 *
 * <h2>AGFL and its invariant</h2>
 * Changing a free-space tree can split nodes, which needs new blocks, and the new blocks cannot
 * come from the free-space trees while they are being changed. So, as XFS does, every group keeps
 * a small free list of blocks ({@link AgHeader#agfl}, at most {@link AgHeader#AGFL_MAX}) that only
 * the two free-space trees use: {@link #allocMeta} of a free-space node pops it, {@link #freeMeta}
 * of a free-space node pushes it. AGFL blocks are allocated space (not counted free). With
 * {@code B} and {@code S} the levels of the by-block and by-size trees, one carve needs at most
 * {@code need = (B + 1) + (2S + 3)} new nodes (one insert into a B-level tree, two into an S-level
 * one, the second possibly after a root split) and one free at most {@code (B + 1) + (S + 1)}; the
 * deletes of one operation release at most {@code B + 2S} nodes.
 * <p><b>Invariant:</b> every tree-changing operation on a group (allocData, freeData, non-AGFL
 * metadata alloc/free) starts with a fix-up that brings the AGFL to
 * {@code low <= agflCount <= high}, {@code low = min(need, AGFL_MAX - 2)},
 * {@code high = max(low, AGFL_MAX - (B + 2S))}, and fails (for an allocation) if it cannot reach
 * {@code need}; it ends with the same fix-up (failures to refill are then tolerated: the next
 * operation retries). Re-entrancy is avoided by construction:
 * <ul>
 *   <li>While an operation runs (field {@code op} set), the only allocations and frees that can reach
 *       this class are those of the two free-space trees, and they only pop and push the AGFL array
 *       of the in-memory header; they never touch the trees. Any other call is a bug
 *       ({@link IllegalStateException}).</li>
 *   <li>A refill stocks the AGFL <em>first</em> with the blocks it takes (the tail of a free
 *       extent, so the trees change by one by-block update and one by-size delete+insert), then
 *       changes the trees: the by-size insert draws from blocks already on the AGFL. A tail is taken
 *       only if it is the whole extent (no insert) or the AGFL then holds at least {@code S + 1}.</li>
 *   <li>A node freed into a full AGFL is queued and inserted into the trees after the current tree
 *       change, as is a drained AGFL block; each such insert is one more free, done by the same
 *       fix-up loop (which refills first). Queued and drained blocks are busy until checkpoint.</li>
 *   <li>Blocks in the group's reserved area (the mkfs roots at group blocks 2..5) are never put in
 *       the trees: when freed they go to the AGFL (displacing another block to the queue if full)
 *       and are used again as free-space nodes.</li>
 *   <li>A free that finds the AGFL short and no free space to refill it from stocks the AGFL from
 *       the range being freed, so freeing never fails for lack of space.</li>
 * </ul>
 * Callers must not hold an {@link AgHeader} copy across a call that may allocate or free: this
 * class reads the header at the start of each operation and writes it at the end.
 *
 * <h2>Busy extents</h2>
 * Freed ranges stay in {@link #busy()} until they may be reused: data frees until the freeing
 * transaction is committed ({@link Txn#onCommitted}), metadata frees (and AGFL blocks returned to
 * the trees) until the log tail has passed it ({@link Txn#onCheckpointed}): before that, recovery
 * could replay an old metadata image over new file data; so do data frees of blocks whose logged
 * data the journal may replay ({@link #replayedRanges}). Aborting the freeing handle drops the
 * entry. Allocation uses only non-busy parts of free extents; if only busy space could satisfy a
 * request, it throws {@link BusyException}.
 *
 * <h2>Counters and reservations</h2>
 * {@link #freeBlocks()} is the sum of the group headers' free counts, kept in memory (changes of an
 * aborted handle are undone by its abort actions). Delayed allocation {@link #reserve}s blocks when
 * a buffered write is accepted; writeback allocates the real extent after
 * {@link #consumeReservationOfNextAlloc}, and the extent's reservation ends in the same step as
 * the free count drops (never counted twice: a false ENOSPC near full). allocData itself does not
 * check reservations. reserve/unreserve/freeBlocks/available are thread-safe; everything else
 * runs under the journal's lock (one handle at a time).
 */
public final class Allocator implements MetaSpace {
    private static final long REL_MASK = 0xffff_ffffL;
    /** Most free extents one search step looks at before giving up on a group. */
    static final int SCAN_LIMIT = 256;
    static final int GOAL_SCAN = 64;

    private final Superblock sb;
    private final BusyExtents busy = new BusyExtents();
    private final long[] agFree;
    private long totalFree, reserved;      // guarded by this
    private boolean initialized;
    private Op op;                         // the running tree operation (journal lock)

    /** State of one operation on one group's free-space trees. */
    private final class Op {
        final Txn tx;
        final AgHeader h;
        final BTree<Long> bb, bs;
        final long agStart, beforeFree;
        final ArrayDeque<Long> pending = new ArrayDeque<>();
        boolean dirty, sawBusy;
        long consumed;   // reserved blocks this op's data extent came out of (delalloc writeback)

        Op(Txn tx, AgHeader h) throws IOException {
            this.tx = tx;
            this.h = h;
            this.agStart = sb.agStart(h.agno);
            this.beforeFree = h.freeBlocks;
            this.bb = BTree.open(tx, FreeSpaceOps.BY_BLOCK, h.agno, h.byBlockRoot, h.byBlockLevels);
            this.bs = BTree.open(tx, FreeSpaceOps.BY_SIZE, h.agno, h.bySizeRoot, h.bySizeLevels);
        }

        int allocNeed() { return bb.levels() + 1 + 2 * bs.levels() + 3; }
        int freeNeed() { return bb.levels() + 1 + bs.levels() + 1; }
        int low() { return Math.min(allocNeed(), AgHeader.AGFL_MAX - 2); }
        int high() { return Math.max(low(), AgHeader.AGFL_MAX - (bb.levels() + 2 * bs.levels())); }
    }

    public Allocator(Superblock sb) {
        if (sb == null) throw new IllegalArgumentException("superblock must not be null");
        this.sb = sb;
        this.agFree = new long[sb.agCount()];
    }

    /** Reads every group header and sets the in-memory counters; call once after mounting. */
    public void init(Txn tx) throws IOException {
        long total = 0;
        long[] free = new long[sb.agCount()];
        for (int g = 0; g < sb.agCount(); g++) {
            AgHeader h = readHeader(tx, g);
            free[g] = h.freeBlocks;
            total += h.freeBlocks;
        }
        synchronized (this) {
            System.arraycopy(free, 0, agFree, 0, free.length);
            totalFree = total;
            initialized = true;
        }
    }

    /** The busy extents (for tests and statistics). */
    public BusyExtents busy() { return busy; }

    // ------------------------------------------------------------------ counters and reservations

    /** Free blocks on the volume (the groups' free-space trees; AGFL blocks are not counted). */
    public synchronized long freeBlocks() { return totalFree; }

    public synchronized long reserved() { return reserved; }

    /** Free blocks not promised to reservations. */
    public synchronized long available() { return Math.max(0, totalFree - reserved); }

    /** Promises {@code blocks} free blocks to a later allocation (delayed allocation). */
    public synchronized void reserve(long blocks) throws NoSpaceException {
        if (blocks < 0) throw new IllegalArgumentException("blocks to reserve (" + blocks + ") must not be negative");
        if (totalFree - reserved < blocks)
            throw new NoSpaceException("cannot reserve " + blocks + " blocks: " + totalFree + " blocks free, "
                    + reserved + " already reserved");
        reserved += blocks;
    }

    /** Gives back a reservation (the blocks were allocated, or the write was dropped). */
    public synchronized void unreserve(long blocks) {
        if (blocks < 0 || blocks > reserved)
            throw new IllegalArgumentException("blocks to unreserve (" + blocks + ") must be in [0, " + reserved
                    + "] (the blocks reserved)");
        reserved -= blocks;
    }

    /** Whether the next data extent allocated comes out of reservations; guarded by the journal lock, as {@link #op}. */
    private boolean consumeNext;

    /**
     * The next data extent allocated was reserved (delayed allocation at writeback): its
     * reservation ends in the same step as the free count drops, so {@link #available()} and
     * {@link #reserve} never see the blocks both allocated and still reserved (a false ENOSPC near
     * full). Undone with the allocation if the handle aborts. Call {@link #consumeNone()} after
     * the allocation (it may have failed).
     */
    void consumeReservationOfNextAlloc() { consumeNext = true; }

    void consumeNone() { consumeNext = false; }

    private synchronized void adjust(int agno, long delta, long consumed) {
        agFree[agno] += delta;
        totalFree += delta;
        if (consumed > reserved)
            throw new IllegalStateException("allocation consumes " + consumed + " reserved blocks, only " + reserved + " are reserved");
        reserved -= consumed;
    }

    // ------------------------------------------------------------------ data extents

    /**
     * Allocates one contiguous extent of {@code minLen..maxLen} blocks and returns
     * {@code {absoluteStart, length}}. See the class comment for the search order.
     *
     * @param agHint group to search first after the goal (0..agCount-1)
     * @param goal   absolute block the extent should start at or after, or -1
     * @throws BusyException    if only space freed by transactions not yet durable could satisfy it
     * @throws NoSpaceException if no free extent of {@code minLen} exists
     */
    public long[] allocData(Txn tx, int agHint, long goal, long minLen, long maxLen) throws IOException {
        checkInit();
        checkAgno(agHint);
        if (goal < -1 || goal >= sb.totalBlocks())
            throw new IllegalArgumentException("goal (" + goal + ") must be -1 or a block in [0, " + sb.totalBlocks() + ")");
        if (minLen < 1 || maxLen < minLen)
            throw new IllegalArgumentException("extent length range [" + minLen + ", " + maxLen
                    + "] is invalid: need 1 <= minLen <= maxLen");
        if (op != null)
            throw new IllegalStateException("allocData called during an operation on group " + op.h.agno + "'s free-space trees");
        maxLen = Math.min(maxLen, Integer.MAX_VALUE);
        boolean sawBusy = false;
        if (minLen <= Integer.MAX_VALUE) {
            if (goal >= 0) {
                long[] r = tryGroup(tx, agOf(goal), goal, minLen, maxLen);
                if (r != null && r.length == 2) return r;
                sawBusy |= r != null;
            }
            for (int i = 0; i < sb.agCount(); i++) {
                long[] r = tryGroup(tx, (agHint + i) % sb.agCount(), -1, minLen, maxLen);
                if (r != null && r.length == 2) return r;
                sawBusy |= r != null;
            }
        }
        if (sawBusy)
            throw new BusyException("no free extent of " + minLen + " blocks that is not busy: " + freeBlocks()
                    + " blocks free on the volume, " + busy.blocks() + " of them busy (freed by transactions not yet"
                    + " committed or checkpointed); checkpoint the journal and retry");
        long longest = longestFree(tx);
        throw new NoSpaceException("no free extent of " + minLen + " blocks: " + freeBlocks()
                + " blocks free on the volume, longest free extent " + longest + " blocks"
                + (longest >= minLen ? " (kept to refill the free-space trees' AGFL)" : ""));
    }

    /**
     * {@link #allocData} with an alignment hint (XFS's extent size hint for atomic writes): prefers
     * an extent whose absolute start {@code s} has {@code s % align == phase}, so that file blocks
     * congruent to {@code phase - start + fileBlock} land on device blocks aligned to {@code align}
     * (a device's atomic write unit). The goal is used only when it is itself congruent; then the
     * groups are searched (by size) for an aligned fit, taken from inside a free extent if need be.
     * If nothing aligned of {@code minLen} fits (or only busy space would), it falls back to plain
     * {@link #allocData}: a hint, not a promise.
     *
     * @param align a power of two; 1 means no alignment
     * @param phase 0..align-1
     */
    public long[] allocDataAligned(Txn tx, int agHint, long goal, long minLen, long maxLen, long align, long phase) throws IOException {
        if (align < 1 || Long.bitCount(align) != 1)
            throw new IllegalArgumentException("alignment (" + align + " blocks) must be a power of two");
        if (phase < 0 || phase >= align)
            throw new IllegalArgumentException("alignment phase (" + phase + ") must be in [0, " + align + ")");
        if (align == 1 || minLen > Integer.MAX_VALUE || minLen < 1 || maxLen < minLen) return allocData(tx, agHint, goal, minLen, maxLen);
        checkInit();
        checkAgno(agHint);
        if (op != null)
            throw new IllegalStateException("allocData called during an operation on group " + op.h.agno + "'s free-space trees");
        long max = Math.min(maxLen, Integer.MAX_VALUE);
        if (goal >= 0 && goal < sb.totalBlocks() && goal % align == phase) {
            long[] r = tryGroup(tx, agOf(goal), goal, minLen, max, align, phase);
            if (r != null && r.length == 2) return r;
        }
        for (int i = 0; i < sb.agCount(); i++) {
            long[] r = tryGroup(tx, (agHint + i) % sb.agCount(), -1, minLen, max, align, phase);
            if (r != null && r.length == 2) return r;
        }
        return allocData(tx, agHint, goal, minLen, maxLen);
    }

    /** The smallest {@code y >= x} with {@code y % align == phase}. */
    private static long alignUp(long x, long align, long phase) {
        if (align <= 1) return x;
        long r = Math.floorMod(x - phase, align);
        return r == 0 ? x : x + (align - r);
    }

    /** The longest free extent of any group (its header's figure). */
    long longest(Txn tx) throws IOException { return longestFree(tx); }

    private long longestFree(Txn tx) throws IOException {
        long l = 0;
        for (int g = 0; g < sb.agCount(); g++) l = Math.max(l, readHeader(tx, g).longestFree);
        return l;
    }

    private static final long[] BUSY = new long[0];

    /** {start, len} on success, {@link #BUSY} if busy space was all that fit, null if nothing fit. */
    private long[] tryGroup(Txn tx, int agno, long goal, long minLen, long maxLen) throws IOException {
        return tryGroup(tx, agno, goal, minLen, maxLen, 1, 0);
    }

    private long[] tryGroup(Txn tx, int agno, long goal, long minLen, long maxLen, long align, long phase) throws IOException {
        AgHeader peek = readHeader(tx, agno);
        if (peek.longestFree < minLen) return null;
        Op o = begin(tx, agno, peek);
        try {
            settle(o);
            long[] r = null;
            if (o.h.agflCount >= o.allocNeed()) {
                r = goal >= 0 ? searchGoal(o, goal - o.agStart, minLen, maxLen, align, phase)
                        : searchBySize(o, minLen, maxLen, align, phase);
            }
            if (r != null && consumeNext) {
                o.consumed = r[1];
                consumeNext = false;
            }
            end(o);
            return r != null ? r : o.sawBusy ? BUSY : null;
        } finally {
            op = null;
        }
    }

    /** The extent holding the goal or the next ones after it; takes from the goal or the first idle run. */
    private long[] searchGoal(Op o, long gr, long minLen, long maxLen, long align, long phase) throws IOException {
        BTree<Long>.Cursor c = o.bb.seekLE(gr);
        if (!c.valid()) c = o.bb.seekGE(gr);
        for (int n = 0; c.valid() && n < GOAL_SCAN; n++, c.next()) {
            long s = c.key(), m = c.record();
            checkExtent(o, s, m, c.leaf().blkno());
            if (s + m <= gr) continue;
            long from = Math.max(s, gr);
            if (s + m - from < minLen) continue;
            for (long[] p : busy.idle(o.agStart + from, s + m - from)) {
                long a = alignUp(p[0], align, phase), avail = p[0] + p[1] - a;
                if (avail >= minLen) {
                    long x = a - o.agStart, len = Math.min(avail, maxLen);
                    carve(o, s, m, x, len);
                    return new long[] {a, len};
                }
            }
            o.sawBusy = true;     // long enough, but not without busy blocks
        }
        return null;
    }

    /** Best fit: the smallest extent of at least maxLen, else the largest of at least minLen. */
    private long[] searchBySize(Op o, long minLen, long maxLen, long align, long phase) throws IOException {
        int scanned = 0;
        long bestS = -1, bestM = 0, bestX = 0, bestLen = 0;
        for (BTree<Long>.Cursor c = o.bs.seekGE(FreeSpaceOps.sizeKey(0, maxLen)); c.valid() && scanned < SCAN_LIMIT; c.next(), scanned++) {
            long s = c.key() & REL_MASK, m = c.record();
            checkSizeRecord(o, c.key(), m, c.leaf().blkno());
            boolean any = false;
            for (long[] p : busy.idle(o.agStart + s, m)) {
                long a = alignUp(p[0], align, phase), avail = p[0] + p[1] - a;
                if (avail >= maxLen) {
                    carve(o, s, m, a - o.agStart, maxLen);
                    return new long[] {a, maxLen};
                }
                if (avail >= minLen) {
                    any = true;
                    if (avail > bestLen) { bestS = s; bestM = m; bestX = a - o.agStart; bestLen = avail; }
                }
            }
            if (!any) o.sawBusy = true;
        }
        if (bestS < 0 && maxLen > minLen) {
            for (BTree<Long>.Cursor c = o.bs.seekLE(FreeSpaceOps.sizeKey(0, maxLen) - 1);
                 c.valid() && (c.key() >>> 32) >= minLen && scanned < 2 * SCAN_LIMIT; c.prev(), scanned++) {
                long s = c.key() & REL_MASK, m = c.record();
                checkSizeRecord(o, c.key(), m, c.leaf().blkno());
                for (long[] p : busy.idle(o.agStart + s, m)) {
                    long a = alignUp(p[0], align, phase), avail = p[0] + p[1] - a;
                    if (avail >= minLen && avail > bestLen) { bestS = s; bestM = m; bestX = a - o.agStart; bestLen = avail; }
                }
                if (bestS >= 0) break;
                o.sawBusy = true;
            }
        }
        if (bestS < 0) return null;
        long len = Math.min(bestLen, maxLen);
        carve(o, bestS, bestM, bestX, len);
        return new long[] {o.agStart + bestX, len};
    }

    /**
     * Frees data extent {@code [start, start+len)}: it joins the free-space trees at once and can be
     * allocated again once the freeing transaction is committed.
     *
     * @throws CorruptMetadataException if any of it is already free (or on the AGFL)
     * @throws IllegalStateException    if it crosses a group boundary or covers fixed blocks or the journal
     */
    public void freeData(Txn tx, long start, long len) throws IOException {
        freeRange(tx, start, len, false);
    }

    /** Whether recovery may still write a device range (a {@link Journal#loggedDataOverlaps} test). */
    @FunctionalInterface
    public interface ReplayedRanges {
        boolean overlaps(long start, long len);
    }

    private volatile ReplayedRanges replayed = (start, len) -> false;

    /**
     * Data frees of ranges {@code r} reports (logged data the journal may replay) stay busy until
     * the log tail passes them, as metadata frees do; set by the file system at mount.
     */
    public void replayedRanges(ReplayedRanges r) { this.replayed = java.util.Objects.requireNonNull(r, "r"); }

    // ------------------------------------------------------------------ metadata blocks

    @Override
    public long allocMeta(Txn tx, MetaType type, long owner) throws IOException {
        if (isFreeSpace(type)) {
            if (owner < 0 || owner >= sb.agCount())
                throw new IllegalArgumentException("owner (" + owner + ") of a " + type.name() + " must be a group number in [0, "
                        + sb.agCount() + ")");
            int agno = (int) owner;
            if (op != null) {
                if (op.h.agno != agno)
                    throw new IllegalStateException("a " + type.name() + " of group " + agno + " allocated during an operation on group "
                            + op.h.agno);
                return popAgfl(op);
            }
            checkInit();
            Op o = begin(tx, agno, readHeader(tx, agno));
            try {
                settle(o);
                long b = popAgfl(o);
                end(o);
                return b;
            } finally {
                op = null;
            }
        }
        if (op != null)
            throw new IllegalStateException("a " + type.name() + " (owner " + owner + ") allocated during an operation on group "
                    + op.h.agno + "'s free-space trees");
        int agno = inodeOwned(type) ? (int) (owner >>> 32) : (int) Math.min(Math.max(owner, -1), Integer.MAX_VALUE);
        if (owner < 0 || agno >= sb.agCount())
            throw new IllegalArgumentException("owner (" + owner + ") of a " + type.name() + " names group " + agno
                    + ", not in [0, " + sb.agCount() + ")");
        return allocData(tx, agno, -1, 1, 1)[0];
    }

    @Override
    public void freeMeta(Txn tx, long blkno, MetaType type) throws IOException {
        if (blkno < 0 || blkno >= sb.totalBlocks())
            throw new IllegalArgumentException("metadata block " + blkno + " is outside the volume (" + sb.totalBlocks() + " blocks)");
        int agno = agOf(blkno);
        if (op != null) {   // only the free-space trees of op's group can free while it runs
            if (op.h.agno != agno)
                throw new IllegalStateException("block " + blkno + " (group " + agno + ") freed during an operation on group "
                        + op.h.agno + "'s free-space trees");
            pushAgfl(op, blkno);
            return;
        }
        long rel = blkno - sb.agStart(agno);
        if (isFreeSpace(type) || rel < AgHeader.RESERVED_BLOCKS) {
            if (rel < AgHeader.HEADER_BLOCK + 1)
                throw new IllegalStateException("block " + blkno + " is group " + agno + "'s " + (rel == 0 ? "superblock" : "header")
                        + " and is never freed");
            checkInit();
            Op o = begin(tx, agno, readHeader(tx, agno));
            try {
                checkNotFree(o, rel, 1);
                pushAgfl(o, blkno);
                end(o);
            } finally {
                op = null;
            }
            return;
        }
        freeRange(tx, blkno, 1, true);
    }

    private static boolean isFreeSpace(MetaType t) {
        return t.magic() == MetaType.FREE_BY_BLOCK.magic() || t.magic() == MetaType.FREE_BY_SIZE.magic();
    }

    private static boolean inodeOwned(MetaType t) {
        int m = t.magic();
        return m == MetaType.EXTENT_BTREE.magic() || m == MetaType.DIR_BTREE.magic() || m == MetaType.XATTR.magic()
                || m == MetaType.SYMLINK.magic();
    }

    // ------------------------------------------------------------------ frees

    private void freeRange(Txn tx, long start, long len, boolean meta) throws IOException {
        checkInit();
        if (len < 1) throw new IllegalArgumentException("length to free (" + len + ") must be at least 1");
        if (start < 0 || start > sb.totalBlocks() - len)
            throw new IllegalArgumentException("range [" + start + ", +" + len + ") to free is outside the volume ("
                    + sb.totalBlocks() + " blocks)");
        if (op != null)
            throw new IllegalStateException("free of [" + start + ", +" + len + ") during an operation on group " + op.h.agno
                    + "'s free-space trees");
        int agno = agOf(start);
        if (agOf(start + len - 1) != agno)
            throw new IllegalStateException("range [" + start + ", +" + len + ") to free crosses the boundary of allocation group "
                    + agno + " at block " + (sb.agStart(agno) + sb.agLength(agno)));
        long agStart = sb.agStart(agno), rel = start - agStart;
        if (rel < AgHeader.RESERVED_BLOCKS)
            throw new IllegalStateException("range [" + start + ", +" + len + ") to free covers fixed blocks of allocation group "
                    + agno + " [" + agStart + ", +" + AgHeader.RESERVED_BLOCKS + ")");
        if (start < sb.logStart() + sb.logBlocks() && start + len > sb.logStart())
            throw new IllegalStateException("range [" + start + ", +" + len + ") to free overlaps the journal [" + sb.logStart()
                    + ", +" + sb.logBlocks() + ")");
        Op o = begin(tx, agno, readHeader(tx, agno));
        try {
            checkNotFree(o, rel, len);
            settle(o);
            int need = o.freeNeed() - o.h.agflCount;
            if (need > 0) {     // no space to refill from: the range stocks the AGFL itself
                int t = (int) Math.min(need, len);
                for (int i = 0; i < t; i++) pushAgfl(o, start + len - t + i);
                len -= t;
            }
            if (len > 0) {
                insertFree(o, rel, len);
                markBusy(tx, start, len, meta || replayed.overlaps(start, len));
            }
            end(o);
        } finally {
            op = null;
        }
    }

    private void markBusy(Txn tx, long start, long len, boolean meta) {
        busy.add(start, len);
        Runnable rm = () -> busy.remove(start, len);
        if (meta) tx.onCheckpointed(rm);
        else tx.onCommitted(rm);
        tx.onAbort(rm);
    }

    /** Refuses a free of {@code [rel, rel+len)} that overlaps free space or the AGFL. */
    private void checkNotFree(Op o, long rel, long len) throws IOException {
        BTree.Entry<Long> e = o.bb.lookupLE(rel + len - 1);
        if (e != null && e.key() + e.record() > rel)
            throw corrupt(o, "free of [" + (o.agStart + rel) + ", +" + len + ") overlaps free extent [" + (o.agStart + e.key())
                    + ", +" + e.record() + ") (double free)");
        for (int i = 0; i < o.h.agflCount; i++) {
            long b = o.h.agfl[i] - o.agStart;
            if (b >= rel && b < rel + len)
                throw corrupt(o, "free of [" + (o.agStart + rel) + ", +" + len + ") covers block " + o.h.agfl[i]
                        + ", which is on the AGFL (double free)");
        }
    }

    // ------------------------------------------------------------------ operations on one group

    private Op begin(Txn tx, int agno, AgHeader h) throws IOException {
        if (op != null)
            throw new IllegalStateException("re-entrant allocator operation on group " + agno + " during one on group " + op.h.agno);
        op = new Op(tx, h);
        return op;
    }

    /** Final fix-up, then the header (roots, levels, exact longest extent) and the counters. */
    private void end(Op o) throws IOException {
        settle(o);
        if (!o.dirty) return;
        AgHeader h = o.h;
        h.byBlockRoot = o.bb.root();
        h.byBlockLevels = o.bb.levels();
        h.bySizeRoot = o.bs.root();
        h.bySizeLevels = o.bs.levels();
        BTree<Long>.Cursor last = o.bs.seekLE(-1L);
        h.longestFree = last.valid() ? last.key() >>> 32 : 0;
        o.tx.writeAgHeader(h);
        long delta = h.freeBlocks - o.beforeFree, consumed = o.consumed;
        if (delta != 0 || consumed != 0) {
            int agno = h.agno;
            adjust(agno, delta, consumed);
            o.tx.onAbort(() -> adjust(agno, -delta, -consumed));
        }
    }

    /**
     * The AGFL fix-up loop: refill up to {@code low}, put queued freed nodes into the trees, drain down
     * to {@code high}. Each step is one complete tree change with the AGFL stocked for it.
     */
    private void settle(Op o) throws IOException {
        boolean refillFailed = false;
        for (int guard = 0; ; guard++) {
            if (guard > 100_000)
                throw new IllegalStateException("AGFL fix-up of group " + o.h.agno + " does not converge: " + o.h);
            if (!refillFailed && o.h.agflCount < o.low()) {
                if (refill(o, o.low() - o.h.agflCount)) continue;
                refillFailed = true;
            }
            if (!o.pending.isEmpty()) {
                long b = o.pending.poll();
                insertFree(o, b - o.agStart, 1);
                markBusy(o.tx, b, 1, true);
                continue;
            }
            if (o.h.agflCount > o.high()) {
                long b = takeDrainable(o);
                if (b >= 0) {
                    insertFree(o, b - o.agStart, 1);
                    markBusy(o.tx, b, 1, true);
                    continue;
                }
            }
            return;
        }
    }

    /** Moves up to {@code k} blocks from the tail of one free extent to the AGFL; false if none could be taken. */
    private boolean refill(Op o, int k) throws IOException {
        int s1 = o.bs.levels() + 1, count = o.h.agflCount;
        int scanned = 0;
        // Best fit first (smallest extent with an idle tail of k), then the largest extents downwards.
        for (BTree<Long>.Cursor c = o.bs.seekGE(FreeSpaceOps.sizeKey(0, k)); c.valid() && scanned < SCAN_LIMIT; c.next(), scanned++) {
            long s = c.key() & REL_MASK, m = c.record();
            checkSizeRecord(o, c.key(), m, c.leaf().blkno());
            if (idleTail(o, s, m) >= k) {
                takeTail(o, s, m, k);
                return true;
            }
            o.sawBusy = true;
        }
        for (BTree<Long>.Cursor c = o.bs.seekLE(FreeSpaceOps.sizeKey(0, k) - 1); c.valid() && scanned < 2 * SCAN_LIMIT; c.prev(), scanned++) {
            long s = c.key() & REL_MASK, m = c.record();
            checkSizeRecord(o, c.key(), m, c.leaf().blkno());
            long t = Math.min(k, idleTail(o, s, m));
            if (t > 0 && (t == m || count + t >= s1)) {
                takeTail(o, s, m, t);
                return true;
            }
            if (t < m) o.sawBusy = true;
        }
        return false;
    }

    private long idleTail(Op o, long s, long m) {
        List<long[]> idle = busy.idle(o.agStart + s, m);
        if (idle.isEmpty()) return 0;
        long[] p = idle.getLast();
        return p[0] + p[1] == o.agStart + s + m ? p[1] : 0;
    }

    private void takeTail(Op o, long s, long m, long t) throws IOException {
        for (long b = s + m - t; b < s + m; b++) pushAgfl(o, o.agStart + b);
        o.dirty = true;
        if (t == m) {
            deleteBB(o, s);
            deleteBS(o, s, m);
            o.h.freeExtents--;
        } else {
            o.bb.update(s, m - t);
            deleteBS(o, s, m);
            o.bs.insert(FreeSpaceOps.sizeKey(s, m - t), m - t);
        }
        o.h.freeBlocks -= t;
    }

    /** Takes an AGFL block that may go to the trees (not in the group's reserved area), or -1. */
    private long takeDrainable(Op o) {
        AgHeader h = o.h;
        for (int i = h.agflCount - 1; i >= 0; i--) {
            if (h.agfl[i] - o.agStart >= AgHeader.RESERVED_BLOCKS) {
                long b = h.agfl[i];
                System.arraycopy(h.agfl, i + 1, h.agfl, i, h.agflCount - i - 1);
                h.agfl[--h.agflCount] = 0;
                o.dirty = true;
                return b;
            }
        }
        return -1;
    }

    private long popAgfl(Op o) {
        AgHeader h = o.h;
        if (h.agflCount == 0)
            throw new IllegalStateException("the AGFL of group " + h.agno + " is empty: a free-space tree needs a node"
                    + " the fix-up did not provide");
        long b = h.agfl[--h.agflCount];
        h.agfl[h.agflCount] = 0;
        o.dirty = true;
        return b;
    }

    private void pushAgfl(Op o, long blkno) {
        AgHeader h = o.h;
        o.dirty = true;
        if (h.agflCount < AgHeader.AGFL_MAX) {
            h.agfl[h.agflCount++] = blkno;
            return;
        }
        if (blkno - o.agStart < AgHeader.RESERVED_BLOCKS) {   // must stay on the AGFL: displace another block
            long other = takeDrainable(o);
            if (other < 0)
                throw new IllegalStateException("the AGFL of group " + h.agno + " is full of reserved-area blocks");
            o.pending.add(other);
            h.agfl[h.agflCount++] = blkno;
            return;
        }
        o.pending.add(blkno);
    }

    /** Removes {@code [x, x+n)} from free extent {@code [s, s+m)} (group-relative). */
    private void carve(Op o, long s, long m, long x, long n) throws IOException {
        if (x < s || x + n > s + m || n < 1)
            throw new IllegalStateException("carve [" + x + ", +" + n + ") is not inside free extent [" + s + ", +" + m + ")");
        o.dirty = true;
        long right = s + m - (x + n);
        if (x == s) deleteBB(o, s);
        else if (!o.bb.update(s, x - s))
            throw corrupt(o, "free extent [" + (o.agStart + s) + ", +" + m + ") is in the by-size tree but not the by-block tree");
        if (right > 0) insertBB(o, x + n, right);
        deleteBS(o, s, m);
        if (x > s) insertBS(o, s, x - s);
        if (right > 0) insertBS(o, x + n, right);
        o.h.freeBlocks -= n;
        o.h.freeExtents += (x > s ? 1 : 0) + (right > 0 ? 1 : 0) - 1;
    }

    /** Adds {@code [x, x+n)} (group-relative, known not free) to the trees, merging with its neighbours. */
    private void insertFree(Op o, long x, long n) throws IOException {
        o.dirty = true;
        BTree.Entry<Long> l = o.bb.lookupLE(x);
        if (l != null && l.key() + l.record() > x)
            throw corrupt(o, "free of [" + (o.agStart + x) + ", +" + n + ") overlaps free extent [" + (o.agStart + l.key()) + ", +"
                    + l.record() + ")");
        BTree.Entry<Long> r = o.bb.lookupGE(x);
        if (r != null && r.key() < x + n)
            throw corrupt(o, "free of [" + (o.agStart + x) + ", +" + n + ") overlaps free extent [" + (o.agStart + r.key()) + ", +"
                    + r.record() + ")");
        boolean ml = l != null && l.key() + l.record() == x, mr = r != null && r.key() == x + n;
        long ns = ml ? l.key() : x, nl = n + (ml ? l.record() : 0) + (mr ? r.record() : 0);
        if (ml) {
            o.bb.update(l.key(), nl);
            if (mr) deleteBB(o, r.key());
        } else {
            if (mr) deleteBB(o, r.key());
            insertBB(o, x, nl);
        }
        if (ml) deleteBS(o, l.key(), l.record());
        if (mr) deleteBS(o, r.key(), r.record());
        insertBS(o, ns, nl);
        o.h.freeBlocks += n;
        o.h.freeExtents += 1 - (ml ? 1 : 0) - (mr ? 1 : 0);
    }

    private void deleteBB(Op o, long s) throws IOException {
        if (!o.bb.delete(s))
            throw corrupt(o, "free extent at " + (o.agStart + s) + " is missing from the by-block tree");
    }

    private void deleteBS(Op o, long s, long m) throws IOException {
        if (!o.bs.delete(FreeSpaceOps.sizeKey(s, m)))
            throw corrupt(o, "free extent [" + (o.agStart + s) + ", +" + m + ") is missing from the by-size tree");
    }

    private void insertBB(Op o, long s, long m) throws IOException {
        if (!o.bb.insert(s, m))
            throw corrupt(o, "free extent at " + (o.agStart + s) + " is already in the by-block tree");
    }

    private void insertBS(Op o, long s, long m) throws IOException {
        if (!o.bs.insert(FreeSpaceOps.sizeKey(s, m), m))
            throw corrupt(o, "free extent [" + (o.agStart + s) + ", +" + m + ") is already in the by-size tree");
    }

    private void checkExtent(Op o, long s, long m, long leaf) throws CorruptMetadataException {
        if (m < 1 || s < AgHeader.RESERVED_BLOCKS || s + m > o.h.length)
            throw MetaBlockLayout.corrupt(leaf, MetaType.FREE_BY_BLOCK, "free extent [" + s + ", +" + m
                    + ") (group-relative) is not inside the group's free area [" + AgHeader.RESERVED_BLOCKS + ", " + o.h.length + ")");
    }

    private void checkSizeRecord(Op o, long key, long m, long leaf) throws CorruptMetadataException {
        long s = key & REL_MASK;
        if (key >>> 32 != m || m < 1 || s < AgHeader.RESERVED_BLOCKS || s + m > o.h.length)
            throw MetaBlockLayout.corrupt(leaf, MetaType.FREE_BY_SIZE, "record " + m + " under key (" + (key >>> 32) + ", " + s
                    + ") is not a free extent inside the group's free area [" + AgHeader.RESERVED_BLOCKS + ", " + o.h.length + ")");
    }

    private CorruptMetadataException corrupt(Op o, String problem) {
        return MetaBlockLayout.corrupt(AgHeader.blockOf(sb, o.h.agno), AgHeader.TYPE, problem);
    }

    // ------------------------------------------------------------------ helpers

    private AgHeader readHeader(Txn tx, int agno) throws IOException {
        AgHeader h = tx.agHeader(agno);
        long hb = AgHeader.blockOf(sb, agno);
        if (h.agno != agno)
            throw MetaBlockLayout.corrupt(hb, AgHeader.TYPE, "group number " + h.agno + " where " + agno + " expected");
        if (h.length != sb.agLength(agno))
            throw MetaBlockLayout.corrupt(hb, AgHeader.TYPE, "length " + h.length + " blocks where the superblock implies "
                    + sb.agLength(agno));
        return h;
    }

    /** Group of absolute block {@code blkno} (the last group may be longer than agBlocks). */
    public int agOf(long blkno) {
        return (int) Math.min(blkno / sb.agBlocks(), sb.agCount() - 1);
    }

    private void checkAgno(int agno) {
        if (agno < 0 || agno >= sb.agCount())
            throw new IllegalArgumentException("allocation group " + agno + " is not in [0, " + sb.agCount() + ")");
    }

    private void checkInit() {
        if (!initialized) throw new IllegalStateException("Allocator.init(tx) was not called for volume " + sb.uuid());
    }

    // ------------------------------------------------------------------ verification (fsck and tests)

    /** What {@link #verify} found in one group. */
    public record GroupShape(int agno, long freeBlocks, long freeExtents, long longest, int agflCount,
                             long byBlockNodes, long bySizeNodes, int byBlockLevels, int bySizeLevels) {}

    /**
     * Checks every group: the free-space trees as fsck checks them ({@link FreeSpaceCheck}: structure,
     * the same extents in both, ascending, not touching, inside the group's free area; the header's
     * counts, longest extent and levels; the first problem is thrown); the AGFL (inside the group, not
     * the header or superblock, not free, no duplicates); and the in-memory counters.
     */
    public List<GroupShape> verify(Txn tx) throws IOException {
        if (op != null) throw new IllegalStateException("verify during an operation on group " + op.h.agno);
        List<GroupShape> out = new java.util.ArrayList<>();
        long total = 0;
        for (int g = 0; g < sb.agCount(); g++) {
            AgHeader h = readHeader(tx, g);
            long hb = AgHeader.blockOf(sb, g), agStart = sb.agStart(g);
            java.util.TreeMap<Long, Long> ext = new java.util.TreeMap<>();
            FreeSpaceCheck.Result fr = FreeSpaceCheck.check(tx, sb, g, h, new FreeSpaceCheck.Sink() {
                @Override public void problem(FreeSpaceCheck.Problem p) throws CorruptMetadataException { throw p.exception(); }
                @Override public void free(long start, long length) { ext.put(start, length); }
            });
            long free = fr.freeBlocks(), extents = fr.extents(), longest = fr.longest();
            java.util.HashSet<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < h.agflCount; i++) {
                long b = h.agfl[i], rel = b - agStart;
                if (rel <= AgHeader.HEADER_BLOCK || rel >= h.length || !seen.add(b)
                        || (b >= sb.logStart() && b < sb.logStart() + sb.logBlocks()))
                    throw MetaBlockLayout.corrupt(hb, AgHeader.TYPE, "AGFL entry " + i + " (block " + b
                            + ") is outside the group's usable blocks or listed twice");
                var e = ext.floorEntry(rel);
                if (e != null && e.getKey() + e.getValue() > rel)
                    throw MetaBlockLayout.corrupt(hb, AgHeader.TYPE, "AGFL block " + b + " is also in free extent ["
                            + (agStart + e.getKey()) + ", +" + e.getValue() + ")");
            }
            synchronized (this) {
                if (initialized && agFree[g] != h.freeBlocks)
                    throw new IllegalStateException("in-memory free count of group " + g + " is " + agFree[g] + ", header says "
                            + h.freeBlocks);
            }
            total += free;
            out.add(new GroupShape(g, free, extents, longest, h.agflCount, fr.byBlock().nodes(), fr.bySize().nodes(),
                    fr.byBlock().levels(), fr.bySize().levels()));
        }
        synchronized (this) {
            if (initialized && total != totalFree)
                throw new IllegalStateException("in-memory free count is " + totalFree + ", the groups hold " + total);
        }
        return out;
    }
}
