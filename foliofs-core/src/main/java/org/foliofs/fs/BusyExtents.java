package org.foliofs.fs;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Ranges that are free in the free-space trees but must not be handed out yet, because the
 * transaction that freed them is not durable (data frees: until commit) or because the journal may
 * still replay an old image onto them (metadata frees: until the log tail has passed the freeing
 * transaction). The idea is XFS's busy extent list ({@code xfs_extent_busy}); this one is in memory
 * only: after a crash or a clean mount every committed free is durable and nothing is busy.
 *
 * <p>Absolute block numbers; entries never overlap (a busy range is in the free-space trees, so it
 * cannot be allocated and freed again while busy). The allocator adds an entry when it frees and
 * removes it from a commit, checkpoint or abort action of the freeing handle. Synchronised, so
 * tests and statistics may look from any thread.
 */
public final class BusyExtents {
    private final TreeMap<Long, Long> map = new TreeMap<>();   // start -> length
    private long blocks;

    /** Marks {@code [start, start+len)} busy. */
    public synchronized void add(long start, long len) {
        if (len < 1) throw new IllegalArgumentException("busy length (" + len + ") must be at least 1");
        if (overlapsLocked(start, len))
            throw new IllegalStateException("busy range [" + start + ", +" + len + ") overlaps a busy range already listed");
        map.put(start, len);
        blocks += len;
    }

    /** Removes exactly the entry {@code [start, start+len)}; returns whether it was there. */
    public synchronized boolean remove(long start, long len) {
        Long l = map.get(start);
        if (l == null || l != len) return false;
        map.remove(start);
        blocks -= len;
        return true;
    }

    /** Whether any block of {@code [start, start+len)} is busy. */
    public synchronized boolean overlaps(long start, long len) {
        return overlapsLocked(start, len);
    }

    private boolean overlapsLocked(long start, long len) {
        Map.Entry<Long, Long> e = map.floorEntry(start);
        if (e != null && e.getKey() + e.getValue() > start) return true;
        Long next = map.higherKey(start);
        return next != null && next < start + len;
    }

    /** The non-busy parts of {@code [start, start+len)}, ascending, each {@code {start, length}}. */
    public synchronized List<long[]> idle(long start, long len) {
        List<long[]> out = new ArrayList<>(2);
        long pos = start, end = start + len;
        Map.Entry<Long, Long> e = map.floorEntry(start);
        if (e != null && e.getKey() + e.getValue() > pos) pos = e.getKey() + e.getValue();
        for (Map.Entry<Long, Long> b : map.subMap(start, true, end, false).entrySet()) {
            if (b.getKey() > pos) out.add(new long[] {pos, b.getKey() - pos});
            pos = Math.max(pos, b.getKey() + b.getValue());
        }
        if (pos < end) out.add(new long[] {pos, end - pos});
        return out;
    }

    /** Number of busy blocks. */
    public synchronized long blocks() { return blocks; }

    /** Number of busy ranges. */
    public synchronized int size() { return map.size(); }

    @Override
    public synchronized String toString() {
        StringBuilder b = new StringBuilder("BusyExtents[");
        int n = 0;
        for (var e : map.entrySet()) {
            if (n++ == 8) { b.append(" ..."); break; }
            b.append(n > 1 ? " " : "").append('[').append(e.getKey()).append(", +").append(e.getValue()).append(')');
        }
        return b.append("]").toString();
    }
}
