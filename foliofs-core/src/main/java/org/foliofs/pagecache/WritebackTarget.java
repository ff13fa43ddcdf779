package org.foliofs.pagecache;

/**
 * The owner of a {@link FileCache} (the iomap layer): writes dirty folios back. Called by the
 * PageCache's writeback workers, never with a page-cache lock held.
 */
@FunctionalInterface
public interface WritebackTarget {
    /**
     * Starts writeback of up to about {@code maxBytes} of {@code cache}'s dirty data
     * ({@code Long.MAX_VALUE}: all of it): for each folio found with
     * {@code nextTagged(Tag.DIRTY, ...)}, lock it, startWriteback(), clear the dirty blocks it writes,
     * unlock, submit; the I/O completion calls endWriteback() (and re-dirties on error).
     *
     * @return bytes whose writeback was started (0 when nothing could be started now)
     */
    long writeback(FileCache cache, long maxBytes);
}
