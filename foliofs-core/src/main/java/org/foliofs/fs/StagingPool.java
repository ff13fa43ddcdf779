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
 * <p>Only for volumes whose atomic writes need no device alignment ({@link FsIoMapOps#atomicAlignBlocks}
 * is 1; on a device with an atomic unit each staging extent is allocated aligned, as before) and
 * writes of at most a quarter chunk.
 *
 * <p>Locking: the pool's monitor, then the journal lock (a refill or drain runs a handle while
 * holding the monitor); nothing takes the monitor under the journal lock ({@link #held} takes
 * no lock).
 */
final class StagingPool {
    /** Blocks per chunk (1 MiB of 4 KiB blocks). */
    static final long CHUNK_BLOCKS = 256;
    /** The pool serves only while this many chunks' worth of blocks are available on the volume. */
    static final long MIN_AVAILABLE_CHUNKS = 16;

    private final FolioFs fs;
    private final long[] next, end;   // per allocation group (of the inode): the chunk's unused blocks [next, end)
    private long refills, served;
    private volatile long held;        // sum of end - next (written under the monitor, read without it)

    StagingPool(FolioFs fs, int agCount) {
        this.fs = fs;
        this.next = new long[agCount];
        this.end = new long[agCount];
    }

    /**
     * The first of {@code n} contiguous staged blocks for an atomic write of an inode in group
     * {@code ag}, or -1 when the pool does not serve this write (too large, or space is short):
     * the caller then allocates and stages its own extent.
     */
    synchronized long take(int ag, long n) throws IOException {
        if (n > CHUNK_BLOCKS / 4) return -1;
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
        held -= n;
        served++;
        return s;
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
        held += got[1] - (end[ag] - next[ag]);
        next[ag] = got[0];
        end[ag] = got[0] + got[1];
        refills++;
    }

    private void release(Txn h, long start, long len) throws IOException {
        fs.refcounts().removeCowStaging(h, start, len);
        fs.allocator().freeData(h, start, len);
    }

    /** Frees every staged block the pool holds (one handle); returns how many. */
    synchronized long drain() throws IOException {
        long total = held;
        if (total == 0) return 0;
        fs.op(h -> {
            for (int ag = 0; ag < next.length; ag++)
                if (end[ag] > next[ag]) release(h, next[ag], end[ag] - next[ag]);
            return null;
        });
        java.util.Arrays.fill(next, 0);
        java.util.Arrays.fill(end, 0);
        held = 0;
        return total;
    }

    /** Blocks the pool holds unused (staged, in no file). Takes no lock: callable under the journal lock. */
    long held() { return held; }

    /** Chunks allocated and writes served so far (for tests and statistics). */
    synchronized long[] counts() { return new long[] {refills, served}; }
}
