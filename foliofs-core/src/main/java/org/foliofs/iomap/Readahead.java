package org.foliofs.iomap;

/**
 * Read-ahead state of one file (the idea of Linux's file_ra_state and ondemand_readahead; kept
 * per inode here, so two interleaved sequential readers of one file may look random to it). In
 * pages: the current window {@code [start, start + size)} and its {@code marker}, the page whose
 * hit starts the asynchronous read of the next window (Linux's PG_readahead folio).
 *
 * <ul>
 *   <li>A miss that continues the previous read, or hits the end of the current window, or is at
 *       page 0 is sequential: the window doubles (from {@code initPages} up to {@code maxPages})
 *       and the whole window is read synchronously; the marker is put half way into it.</li>
 *   <li>Any other miss reads just the request (random I/O gets no read-ahead).</li>
 *   <li>A hit on the marker reads the next window (double the size) asynchronously and puts the
 *       marker on its first page.</li>
 * </ul>
 * Guarded by its monitor (short critical sections); {@link #marker} is also read racily, without
 * the monitor, on every cache hit: a stale value only delays or skips one asynchronous
 * read-ahead (the next miss reads synchronously instead), it never affects data.
 */
final class Readahead {
    private final long initPages, maxPages;
    private long start = -1, size;  // monitor
    private volatile long prevLast = -1; // last page of the previous read: a hint, written without the monitor
    volatile long marker = -1;      // racy hint, written under the monitor

    Readahead(long initPages, long maxPages) {
        this.initPages = initPages;
        this.maxPages = maxPages;
    }

    /**
     * A synchronous fill at page {@code idx} for a read needing pages up to {@code needEnd}
     * (exclusive); returns the end (exclusive) of the range to read, at least {@code needEnd},
     * at most {@code eofPages}.
     */
    synchronized long onMiss(long idx, long needEnd, long eofPages) {
        boolean sequential = idx == 0 || idx == prevLast + 1 || idx == prevLast || (start >= 0 && idx == start + size);
        if (!sequential) {
            start = idx;
            size = needEnd - idx;
            marker = -1;
            return needEnd;
        }
        long want = Math.max(needEnd - idx, start >= 0 && idx == start + size ? 2 * size : initPages);
        size = Math.min(Math.max(want, needEnd - idx), Math.max(maxPages, needEnd - idx));
        start = idx;
        long end = Math.min(start + size, Math.max(eofPages, needEnd));
        marker = size >= 4 && start + size / 2 < end ? start + size / 2 : -1;
        return end;
    }

    /**
     * A cache hit on the folio {@code [first, first + pages)} that holds the marker: returns the
     * first page of the next window to read asynchronously and sets its size into
     * {@code sizeOut[0]}, or -1 when another reader already took this marker or it moved.
     */
    synchronized long onMarkerHit(long first, long pages, long eofPages, long[] sizeOut) {
        long m = marker;
        if (m < first || m >= first + pages) return -1;
        long next = start + size;
        if (next >= eofPages) {
            marker = -1;
            return -1;
        }
        size = Math.min(2 * size, maxPages);
        start = next;
        marker = start;      // hitting the first page of the new window reads the one after it
        sizeOut[0] = Math.min(size, eofPages - start);
        return start;
    }

    /** Records the last page a read touched (sequential detection). */
    /**
     * Called on every read, cache hits included, so it takes no lock: prevLast is only a hint for
     * sequential detection (deliberately racy: two readers may overwrite each other's value, which
     * at worst makes one miss look random or sequential).
     */
    void noteRead(long lastPage) { prevLast = lastPage; }
}
