package org.foliofs.device;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A bounded many-producer, single-consumer queue of requests (Vyukov's sequenced array). Each
 * cell carries a sequence number: a producer claims position t with getAndIncrement on the tail,
 * waits until cell (t & mask) says t (free for this lap), stores the item, then publishes t + 1
 * with a volatile store; the consumer reads the sequence with an <b>acquire</b> load, takes
 * the item and frees the cell for the next lap (t + capacity). No allocation after construction.
 *
 * <p>Callers bound the number of queued items by the capacity (the engine's permits), so a
 * producer only ever waits for a consumer that is in the middle of freeing its cell.
 */
final class MpscRing {
    private final IoRequest[] items;
    private final AtomicLongArray seq;
    private final int mask;
    private final AtomicLong tail = new AtomicLong();
    private long head; // consumer only

    MpscRing(int minCapacity) {
        int cap = Integer.highestOneBit(Math.max(minCapacity, 2) - 1) << 1;
        this.items = new IoRequest[cap];
        this.seq = new AtomicLongArray(cap);
        this.mask = cap - 1;
        for (int i = 0; i < cap; i++) seq.set(i, i);
    }

    void offer(IoRequest r) {
        long t = tail.getAndIncrement();
        int i = (int) (t & mask);
        while (seq.getAcquire(i) != t) Thread.onSpinWait(); // only while the consumer frees this cell
        items[i] = r;
        seq.set(i, t + 1); // volatile, not just release: the wake-up protocol needs store-load order
                           // between this publication and the producer's read of `sleeping`
    }

    /** Next item or null; consumer thread only. */
    IoRequest poll() {
        long h = head;
        int i = (int) (h & mask);
        if (seq.getAcquire(i) != h + 1) return null;
        IoRequest r = items[i];
        items[i] = null;
        seq.setRelease(i, h + mask + 1);
        head = h + 1;
        return r;
    }

    /** True when a producer has published an item the consumer has not taken. */
    boolean hasItems() {
        return seq.get((int) (head & mask)) == head + 1; // volatile: pairs with the ring thread's write of `sleeping`
    }
}
