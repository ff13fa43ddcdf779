package org.foliofs.pagecache;

import java.util.concurrent.locks.ReentrantLock;

/**
 * CLOCK eviction over every folio of every FileCache of one PageCache: an intrusive circular
 * list (Folio.clockPrev/clockNext) and a hand, under {@code clockLock}. New folios are linked just
 * behind the hand, so they are looked at last.
 *
 * <p>The hand clears REFERENCED on folios that have it (second chance) and freezes the first
 * evictable ones ({@link Folio#tryFreeze()}: no reference, not locked, dirty, under writeback or
 * dead) until the target is met or two full turns are done. Frozen victims are unlinked and
 * chained through clockNext; only after {@code clockLock} is released are they removed from their
 * FileCache (structure lock) and their memory freed: the clock lock nests inside structure locks
 * (link/unlink happen under them) and so must never be held while taking one. Folio locks are
 * never waited for here: freezing is a single CAS.
 *
 * <p>Racy on purpose: the hand reads each folio's state without its lock; a folio referenced or
 * dirtied just after the read is protected anyway because the freeze CAS fails when the word
 * changed.
 */
final class Reclaimer {
    private final ReentrantLock clockLock = new ReentrantLock();
    private Folio hand;
    private long linked;

    void link(Folio f) {
        clockLock.lock();
        try {
            if (hand == null) {
                f.clockNext = f.clockPrev = f;
                hand = f;
            } else {            // insert just before the hand: the last place it reaches
                f.clockNext = hand;
                f.clockPrev = hand.clockPrev;
                hand.clockPrev.clockNext = f;
                hand.clockPrev = f;
            }
            linked++;
        } finally {
            clockLock.unlock();
        }
    }

    void unlink(Folio f) {
        clockLock.lock();
        try {
            unlinkLocked(f);
        } finally {
            clockLock.unlock();
        }
    }

    private void unlinkLocked(Folio f) {
        if (f.clockNext == null) return;
        if (f.clockNext == f) {
            hand = null;
        } else {
            if (hand == f) hand = f.clockNext;
            f.clockPrev.clockNext = f.clockNext;
            f.clockNext.clockPrev = f.clockPrev;
        }
        f.clockNext = f.clockPrev = null;
        linked--;
    }

    long linked() {
        clockLock.lock();
        try {
            return linked;
        } finally {
            clockLock.unlock();
        }
    }

    /**
     * Evicts clean unreferenced folios until at least {@code targetBytes} are freed or the hand has
     * gone round twice. Returns the bytes freed.
     */
    long evict(PageCache cache, long targetBytes) {
        Folio victims = null;
        long frozen = 0;
        clockLock.lock();
        try {
            for (long budget = 2 * linked + 1; frozen < targetBytes && budget > 0 && hand != null; budget--) {
                Folio f = hand;
                hand = f.clockNext;
                if ((f.stateVolatile() & FolioState.REFERENCED) != 0) {
                    f.clearBitsVolatile(FolioState.REFERENCED);
                } else if (f.tryFreeze()) {
                    unlinkLocked(f);
                    f.clockNext = victims;   // reuse the link field to chain victims: no allocation
                    victims = f;
                    frozen += f.size();
                }
            }
        } finally {
            clockLock.unlock();
        }
        while (victims != null) {
            Folio f = victims;
            victims = f.clockNext;
            f.clockNext = null;
            f.owner.removeFrozen(f);
            cache.freeFolio(f);
            cache.countEviction();
        }
        return frozen;
    }
}
