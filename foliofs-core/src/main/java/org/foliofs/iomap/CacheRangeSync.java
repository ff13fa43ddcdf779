package org.foliofs.iomap;

import java.io.IOException;

/**
 * Keeps the page cache coherent with direct I/O on one file (the page cache wires it in through
 * {@link IoInode#cache()}). The direct I/O engine calls, for a file range {@code [pos, pos + len)}:
 * <ul>
 *   <li>read: {@link #writeAndWait} before, so dirty cached data is on the device first;</li>
 *   <li>write: {@link #writeAndWait} then {@link #invalidate} before (no dirty folio can later
 *       overwrite the new data), and {@link #invalidate} again after the device requests and the
 *       end-of-I/O work (readahead may have cached the old data meanwhile), whatever the outcome.</li>
 * </ul>
 * Like Linux's kiocb_invalidate_pages / kiocb_invalidate_post_direct_write; Linux falls back to
 * buffered I/O when a folio cannot be invalidated; here {@code invalidate} must drop or wait.
 */
public interface CacheRangeSync {
    /** Nothing cached: both calls do nothing. */
    CacheRangeSync NONE = new CacheRangeSync() {
        @Override public void writeAndWait(long pos, long len) {}
        @Override public void invalidate(long pos, long len) {}
    };

    /** Writes back dirty cached data overlapping the range and waits for that writeback. */
    void writeAndWait(long pos, long len) throws IOException;

    /**
     * Drops cached folios overlapping the range (after waiting for their writeback). A folio that
     * stays dirty because its writeback keeps failing cannot be dropped without losing data, nor
     * kept without a later writeback overwriting the direct write: that is an IOException naming
     * the range, so the direct write fails (before it issues anything, or reports it after). A
     * folio kept dirty by concurrent buffered writers is left to them (their data is newer).
     */
    void invalidate(long pos, long len) throws IOException;
}
