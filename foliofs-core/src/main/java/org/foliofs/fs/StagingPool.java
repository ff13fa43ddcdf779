package org.foliofs.fs;

import java.io.IOException;

/**
 * CoW staging space for out-of-place atomic writes, allocated a chunk at a time: one journal
 * handle allocates {@link #CHUNK_BLOCKS} blocks and records them as one CoW staging extent; the
 * atomic writes of the inodes of that allocation group then take their blocks from the chunk in
 * memory, without a handle each. Each write's end-of-I/O remap takes its blocks off the staging
 * records ({@link Refcounts#removeCowStaging}), as before; a failed write frees them.
 *
 * <p>Crash safety is unchanged: staged blocks the pool still holds are CoW staging on disk, which
 * mount frees like any interrupted copy-on-write. {@link #drain} gives the unused rest back (clean
 * unmount, and {@link FolioFs#op} before it reports ENOSPC), so the pool never makes space
 * unavailable: it serves only while the volume has {@link #MIN_AVAILABLE_CHUNKS} chunks available.
 *
 * <p><b>Recycling.</b> The blocks an atomic write's remap unmaps (the range's old blocks) are not
 * freed but staged again in the same handle ({@link #recycle}: a CoW staging record instead of
 * two free-space tree inserts and a group header), and once that handle's commit is durable the
 * pool hands them to the next atomic write of the same length. A steady stream of small atomic
 * overwrites then never touches the free-space trees: a remap changes the file's extent leaf,
 * its inode and the staging records' leaf. Waiting for the commit is the rule for any freed data
 * block (busy until committed, {@link Allocator}): before it, a crash brings the old mapping back.
 * At most {@link #RECYCLE_MAX_BLOCKS} blocks wait recycled; past that, or when space is short,
 * the remap frees as before.
 *
 * <p>Only for volumes whose atomic writes need no device alignment ({@link FsIoMapOps#atomicAlignBlocks}
 * is 1; on a device with an atomic unit each staging extent is allocated aligned, as before) and
 * writes of at most a quarter chunk.
 *
 * <p>Locking: the pool's monitor, then the journal lock (a refill or drain runs a handle while
 * holding the monitor); nothing takes the monitor under the journal lock ({@link #held} takes
 * no lock). The recycled extents have a lock of their own ({@code recycled}'s monitor), a leaf:
 * {@link #recycle} and its commit callback take it under the journal lock, {@link #take} under
 * the pool's monitor.
 */
final class StagingPool {
    /** Blocks per chunk (1 MiB of 4 KiB blocks). */
    static final long CHUNK_BLOCKS = 256;
    /** The pool serves only while this many chunks' worth of blocks are available on the volume. */
    static final long MIN_AVAILABLE_CHUNKS = 16;

    /** Most blocks kept recycled (staged, waiting for an atomic write of their length). */
    static final long RECYCLE_MAX_BLOCKS = 4 * CHUNK_BLOCKS;

    private final FolioFs fs;
    private final long[] next, end;   // per allocation group (of the inode): the chunk's unused blocks [next, end)
    private long refills, served;
    private final java.util.concurrent.atomic.AtomicLong held = new java.util.concurrent.atomic.AtomicLong();   // chunk rests + recycled extents
    // per allocation group (of the blocks): length -> starts of recycled extents whose staging is durable
    private final java.util.List<java.util.Map<Long, java.util.ArrayDeque<Long>>> recycled;
    private long recycledBlocks, recycling, recycledServed;   // under recycled's monitor; recycling: in handles not yet committed

    StagingPool(FolioFs fs, int agCount) {
        this.fs = fs;
        this.next = new long[agCount];
        this.end = new long[agCount];
        this.recycled = new java.util.ArrayList<>(agCount);
        for (int i = 0; i < agCount; i++) recycled.add(new java.util.HashMap<>());
    }

    /**
     * The first of {@code n} contiguous staged blocks for an atomic write of an inode in group
     * {@code ag}, or -1 when the pool does not serve this write (too large, or space is short):
     * the caller then allocates and stages its own extent.
     */
    synchronized long take(int ag, long n) throws IOException {
        if (n > CHUNK_BLOCKS / 4) return -1;
        synchronized (recycled) {
            for (int i = 0; i < recycled.size() && recycledBlocks > 0; i++) {   // the inode's group first (a file's blocks need not all lie in it)
                java.util.ArrayDeque<Long> q = recycled.get((ag + i) % recycled.size()).get(n);
                if (q != null && !q.isEmpty()) {
                    long s = q.poll();
                    recycledBlocks -= n;
                    recycledServed++;
                    served++;
                    held.addAndGet(-n);
                    return s;
                }
            }
        }
        if (end[ag] - next[ag] < n) {
            if (fs.allocator().available() < MIN_AVAILABLE_CHUNKS * CHUNK_BLOCKS) {
                drain();   // reentrant: this thread holds the monitor
                return -1;
            }
            try {
                refill(ag, n);
            } catch (NoSpaceException e) {   // the write's own allocation, after a drain, may still fit (or reports ENOSPC)
                drain();   // reentrant: this thread holds the monitor
                return -1;
            }
        }
        long s = next[ag];
        next[ag] += n;
        held.addAndGet(-n);
        served++;
        return s;
    }

    /**
     * In the remap handle {@code h} (under the journal lock), for data blocks {@code [start,
     * start+len)} that the remap of an atomic write just unmapped and would free: stages them
     * again instead (one CoW staging record), to be handed out once {@code h}'s commit is durable.
     * Returns false, having changed nothing, when they should be freed instead (too long, enough
     * recycled already, space short, or logged data the journal may still replay over them: a
     * free keeps those busy until a checkpoint).
     */
    boolean recycle(Txn h, long start, long len) throws IOException {
        if (len > CHUNK_BLOCKS / 4 || fs.allocator().available() < MIN_AVAILABLE_CHUNKS * CHUNK_BLOCKS
                || fs.journal().loggedDataOverlaps(start, len)) return false;
        synchronized (recycled) {   // checked and counted at once: concurrent remaps cannot pass the cap together
            if (recycledBlocks + recycling + len > RECYCLE_MAX_BLOCKS) return false;
            recycling += len;
        }
        int ag = fs.allocator().agOf(start);
        // Registered before the staging record: a failure there aborts the handle, which uncounts them.
        h.onAbort(() -> {
            synchronized (recycled) {
                recycling -= len;
            }
        });
        h.onCommitted(() -> {
            synchronized (recycled) {
                recycling -= len;
                recycledBlocks += len;
                recycled.get(ag).computeIfAbsent(len, k -> new java.util.ArrayDeque<>()).add(start);
                held.addAndGet(len);
            }
        });
        fs.refcounts().addCowStaging(h, start, len);
        return true;
    }

    /** One handle: the old chunk's unused rest freed, a new chunk allocated and staged. */
    private void refill(int ag, long n) throws IOException {
        long rs = next[ag], rl = end[ag] - next[ag];
        long[] got = fs.op(h -> {
            if (rl > 0) release(h, rs, rl);
            // a whole chunk if one is free anywhere (best fit would hand back the small holes
            // earlier remaps freed), else whatever still fits the write
            long[] g = fs.allocator().longest(h) >= CHUNK_BLOCKS
                    ? fs.allocator().allocData(h, ag, -1, CHUNK_BLOCKS, CHUNK_BLOCKS)
                    : fs.allocator().allocData(h, ag, -1, n, CHUNK_BLOCKS);
            fs.refcounts().addCowStaging(h, g[0], g[1]);
            h.exposesNoData();
            return g;
        });
        held.addAndGet(got[1] - (end[ag] - next[ag]));
        next[ag] = got[0];
        end[ag] = got[0] + got[1];
        refills++;
    }

    private void release(Txn h, long start, long len) throws IOException {
        fs.refcounts().removeCowStaging(h, start, len);
        fs.allocator().freeData(h, start, len);
    }

    /**
     * Frees every staged block the pool holds; returns how many. First commits the journal, so
     * that the extents recycled by handles not yet committed are in the pool too; then one handle
     * per batch (each release changes a few blocks).
     */
    synchronized long drain() throws IOException {
        boolean pending;
        synchronized (recycled) {
            pending = recycling > 0;
        }
        if (pending) fs.commit();
        java.util.ArrayDeque<long[]> all = new java.util.ArrayDeque<>();
        for (int ag = 0; ag < next.length; ag++)
            if (end[ag] > next[ag]) all.add(new long[] {next[ag], end[ag] - next[ag]});
        synchronized (recycled) {
            for (java.util.Map<Long, java.util.ArrayDeque<Long>> m : recycled) {
                for (java.util.Map.Entry<Long, java.util.ArrayDeque<Long>> e : m.entrySet())
                    for (long st : e.getValue()) all.add(new long[] {st, e.getKey()});
                m.clear();
            }
            recycledBlocks = 0;
        }
        java.util.Arrays.fill(next, 0);
        java.util.Arrays.fill(end, 0);
        long total = 0;
        for (long[] r : all) total += r[1];
        if (total == 0) return 0;
        held.addAndGet(-total);
        long[][] list = all.toArray(new long[0][]);
        for (int k = 0; k < list.length; ) {
            int from = k;   // a handle's body may run twice (FolioFs.op retries): it starts from here each time
            k = fs.op(h -> {
                // a release changes a leaf or two of the staging records and of each free-space
                // tree, and the group header: keep well inside the handle's reservation
                int i = from;
                do release(h, list[i][0], list[i][1]);
                while (++i < list.length && h.reserveLeft() > 16);
                return i;
            });
        }
        return total;
    }

    /** Blocks the pool holds unused (staged, in no file). Takes no lock: callable under the journal lock. */
    long held() { return held.get(); }

    /** Chunks allocated and writes served so far (for tests and statistics). */
    synchronized long[] counts() { return new long[] {refills, served}; }

    /** Writes served with recycled blocks, and the recycled blocks waiting now (for tests and statistics). */
    long[] recycledCounts() {
        synchronized (recycled) {
            return new long[] {recycledServed, recycledBlocks};
        }
    }
}
