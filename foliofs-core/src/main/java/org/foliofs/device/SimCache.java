package org.foliofs.device;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The volatile write cache model of {@link SimDevice}.
 *
 * <p>Two images: {@code visible} (what reads return: every completed write) and {@code durable}
 * (what survives a power loss), plus the list of pending writes, in completion order, that are
 * visible but not yet durable. The images differ only inside the ranges of pending writes.
 *
 * <ul>
 *   <li>A durable write (FUA, or any write without a volatile cache) goes to both images and
 *       <em>supersedes</em> the blocks it covers in every earlier pending write: those blocks of
 *       the older writes can no longer reappear after a crash.</li>
 *   <li>{@link #flush} makes the visible contents of every pending range durable and empties the
 *       list.</li>
 *   <li>{@link #crash} applies each pending write, in a random order, lost / whole / torn, to the
 *       durable image, then resets the visible image to the durable one.</li>
 * </ul>
 * A DISCARD is a pending write of zeros. Not thread-safe: the device guards it with its lock.
 */
final class SimCache {
    private final int lbs;
    private final SimStorage visible;
    private final SimStorage durable;
    private final List<Pending> pending = new ArrayList<>();

    /** A completed, not yet durable write. data == null means zeros (DISCARD). */
    private static final class Pending {
        final long offset;
        final long length;
        final MemorySegment data;
        final boolean atomic;
        final int blocks;
        BitSet superseded; // blocks overwritten since by a durable write; null = none

        Pending(long offset, long length, MemorySegment data, boolean atomic, int lbs) {
            this.offset = offset;
            this.length = length;
            this.data = data;
            this.atomic = atomic;
            this.blocks = (int) (length / lbs);
        }
    }

    SimCache(long capacity, int lbs) {
        this.lbs = lbs;
        this.visible = new SimStorage(capacity);
        this.durable = new SimStorage(capacity);
    }

    int pendingCount() { return pending.size(); }

    void read(long off, MemorySegment dst, long dstOff, long len) {
        visible.read(off, dst, dstOff, len);
    }

    /** Reads the durable image: what a crash with every pending write lost would leave. */
    /**
     * A completed write. {@code data} must be a private copy that nobody modifies later.
     * @param isDurable true when the write reached stable storage at completion
     */
    void write(long off, MemorySegment data, boolean isDurable, boolean atomic) {
        long len = data.byteSize();
        if (len == 0) return;
        visible.write(off, data, 0, len);
        if (isDurable) {
            durable.write(off, data, 0, len);
            supersede(off, len);
        } else {
            pending.add(new Pending(off, len, data, atomic, lbs));
        }
    }

    /** A completed DISCARD: the range now reads as zeros; durable like a write of zeros. */
    void discard(long off, long len, boolean isDurable) {
        if (len == 0) return;
        visible.zero(off, len);
        if (isDurable) {
            durable.zero(off, len);
            supersede(off, len);
        } else {
            pending.add(new Pending(off, len, null, false, lbs));
        }
    }

    /** Makes every pending write durable. */
    void flush() {
        for (Pending p : pending) durable.copyRange(visible, p.offset, p.length);
        pending.clear();
    }

    private void supersede(long off, long len) {
        long end = off + len;
        for (int i = pending.size() - 1; i >= 0; i--) {
            Pending p = pending.get(i);
            long from = Math.max(off, p.offset), to = Math.min(end, p.offset + p.length);
            if (from >= to) continue;
            if (p.superseded == null) p.superseded = new BitSet(p.blocks);
            p.superseded.set((int) ((from - p.offset) / lbs), (int) ((to - p.offset) / lbs));
            if (p.superseded.cardinality() == p.blocks) pending.remove(i);
        }
    }

    /**
     * Power loss. Pending writes are taken in a random order; each is lost, applied whole, or torn
     * (a random proper, non-empty subset of its logical blocks applied). ATOMIC writes and
     * single-block writes are never torn. Superseded blocks are never applied. The result becomes
     * both the durable and the visible image; the pending list is emptied.
     */
    CrashReport crash(long seed) {
        Random rnd = new Random(seed);
        List<Pending> order = new ArrayList<>(pending);
        Collections.shuffle(order, rnd);
        int lost = 0, applied = 0, torn = 0;
        for (Pending p : order) {
            boolean canTear = !p.atomic && p.blocks >= 2;
            int fate = rnd.nextInt(canTear ? 3 : 2);
            if (fate == 0) {
                lost++;
                continue;
            }
            BitSet apply = new BitSet(p.blocks);
            if (fate == 1) {
                applied++;
                apply.set(0, p.blocks);
            } else {
                torn++;
                for (int b = 0; b < p.blocks; b++) {
                    if (rnd.nextBoolean()) apply.set(b);
                }
                int n = apply.cardinality();
                if (n == 0 || n == p.blocks) apply.flip(rnd.nextInt(p.blocks)); // keep it a proper subset
            }
            if (p.superseded != null) apply.andNot(p.superseded);
            applyBlocks(p, apply);
        }
        for (Pending p : pending) visible.copyRange(durable, p.offset, p.length);
        int n = pending.size();
        pending.clear();
        return new CrashReport(seed, n, lost, applied, torn);
    }

    private void applyBlocks(Pending p, BitSet apply) {
        for (int a = apply.nextSetBit(0); a >= 0; ) {
            int b = apply.nextClearBit(a);
            long rel = (long) a * lbs, len = (long) (b - a) * lbs;
            if (p.data == null) {
                durable.zero(p.offset + rel, len);
            } else {
                durable.write(p.offset + rel, p.data, rel, len);
            }
            a = apply.nextSetBit(b);
        }
    }

    /** Drops everything (device closed). */
    void clear() {
        pending.clear();
        visible.clear();
        durable.clear();
    }
}
