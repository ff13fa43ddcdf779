package org.foliofs.device;

import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a device must show after a crash, per logical block, from the history of writes: the
 * block's last durable write, or any write to it that was still pending (written after that
 * durable write and not yet flushed). Write number 0 stands for zeros (never written, discarded).
 * Every write fills each of its blocks with bytes that name the write and the block, so a read-back
 * block identifies its write and a block mixing two writes is detected.
 */
final class CrashOracle {
    /** A write that was pending at the last durability point. */
    record PendingWrite(int id, int first, int count, boolean atomic) {}

    final int lbs;
    final int blocks;
    private final int[] durable;
    private final int[] latest;
    private final List<Set<Integer>> candidates = new ArrayList<>();
    private final List<PendingWrite> pending = new ArrayList<>();

    CrashOracle(int lbs, int blocks) {
        this.lbs = lbs;
        this.blocks = blocks;
        this.durable = new int[blocks];
        this.latest = new int[blocks];
        for (int b = 0; b < blocks; b++) candidates.add(new LinkedHashSet<>());
    }

    /** A completed write (id 0: a discard) that is not durable yet. */
    void pendingWrite(int id, int first, int count, boolean atomic) {
        for (int b = first; b < first + count; b++) {
            candidates.get(b).add(id);
            latest[b] = id;
        }
        if (id != 0) pending.add(new PendingWrite(id, first, count, atomic));
    }

    /** A completed write that was durable when it completed (FUA). */
    void durableWrite(int id, int first, int count) {
        for (int b = first; b < first + count; b++) {
            durable[b] = id;
            latest[b] = id;
            candidates.get(b).clear();
        }
    }

    /** A completed FLUSH: everything written so far is durable. */
    void flush() {
        for (int b = 0; b < blocks; b++) {
            durable[b] = latest[b];
            candidates.get(b).clear();
        }
        pending.clear();
    }

    /** After a crash was checked: the observed contents are the new durable state. */
    void reboot(int[] observed) {
        System.arraycopy(observed, 0, durable, 0, blocks);
        System.arraycopy(observed, 0, latest, 0, blocks);
        for (Set<Integer> c : candidates) c.clear();
        pending.clear();
    }

    int latest(int block) { return latest[block]; }

    List<PendingWrite> pendingWrites() { return pending; }

    /** True when no other pending write than {@code w} touched any block of {@code w}. */
    boolean soleWriter(PendingWrite w) {
        for (int b = w.first(); b < w.first() + w.count(); b++) {
            Set<Integer> c = candidates.get(b);
            if (c.size() != 1 || !c.contains(w.id())) return false;
        }
        return true;
    }

    /** Fails naming the first block whose contents no legal crash outcome explains. */
    void checkAfterCrash(int[] observed, String where) {
        for (int b = 0; b < blocks; b++) {
            int o = observed[b];
            if (o != durable[b] && !candidates.get(b).contains(o)) {
                fail("%s: block %d shows %s, but only the durable %s or a later pending write %s may survive",
                        where, b, name(o), name(durable[b]), candidates.get(b));
            }
        }
    }

    static String name(int id) { return id == 0 ? "zeros" : "write #" + id; }

    // ---- block contents --------------------------------------------------------------------

    /** Fills {@code into} (count blocks) with the contents of write {@code id} at blocks first... */
    void fill(MemorySegment into, int id, int first, int count) {
        for (int i = 0; i < count; i++) fillBlock(into.asSlice((long) i * lbs, lbs), id, first + i);
    }

    private void fillBlock(MemorySegment block, int id, int b) {
        long x = ((long) id << 32) ^ b;
        for (int w = 0; w < lbs / 8; w++) {
            block.set(ValueLayout.JAVA_LONG_UNALIGNED, 8L * w, w == 0 ? id : w == 1 ? b : mix(x + w));
        }
    }

    /** Identifies the write whose bytes block {@code b} holds; fails when they are no write's. */
    int decode(MemorySegment block, int b, int maxId, String where) {
        long id = block.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
        if (id == 0) {
            if (block.asSlice(0, lbs).mismatch(MemorySegment.ofArray(new byte[lbs])) != -1) {
                fail("%s: block %d holds bytes of no write", where, b);
            }
            return 0;
        }
        MemorySegment expected = MemorySegment.ofArray(new byte[lbs]);
        if (id > 0 && id <= maxId) fillBlock(expected, (int) id, b);
        if (id < 0 || id > maxId || block.asSlice(0, lbs).mismatch(expected) != -1) {
            fail("%s: block %d is corrupt: torn inside a logical block or misplaced (header says write #%d)",
                    where, b, id);
        }
        return (int) id;
    }

    private static long mix(long z) { // splitmix64 finalizer
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return "durable=" + Arrays.toString(durable) + " pending=" + candidates;
    }
}
