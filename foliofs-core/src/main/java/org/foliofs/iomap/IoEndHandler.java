package org.foliofs.iomap;

import java.io.IOException;

/**
 * The file system's end-of-I/O work for direct writes: convert UNWRITTEN extents to written,
 * finish copy-on-write remaps, move the file size. Runs after every device request of the call
 * has completed, in a context that may block: the calling thread for a synchronous call, the
 * engine's executor for an asynchronous one. One exception, as in Linux: an asynchronous write
 * whose mappings are all pure overwrites (MAPPED, none of NEW/SHARED/DIRTY) inside the file size,
 * without DSYNC, on a file with nothing cached, finishes on the device's completion thread; for
 * such a write there is nothing to convert or extend, and ioEnd must not block then.
 */
public interface IoEndHandler {
    /** No end-of-I/O work (e.g. a file system that only ever returns MAPPED, non-NEW mappings). */
    IoEndHandler NONE = new IoEndHandler() {
        @Override public void ioEnd(IoInode inode, long pos, long length, IoMap map, int error) {}
        @Override public boolean completesInline(IoInode inode, long pos, long length, IoMap map) { return true; }
        @Override public String toString() { return "IoEndHandler.NONE"; }
    };

    /**
     * Called once per mapping the write issued requests for. On success ({@code error == 0})
     * {@code [pos, pos + length)} is the part of the user's range in that mapping the device
     * wrote (never beyond what the call reports as written; the zero padding of partial blocks is
     * not included): convert and extend the size to {@code pos + length} at most. On failure
     * {@code error} is the positive errno of the first failed request of the call, the range is
     * what was issued for the mapping, and nothing may be converted or exposed (undo only).
     * An exception fails the call (the first one wins; the remaining mappings get error EIO).
     */
    void ioEnd(IoInode inode, long pos, long length, IoMap map, int error) throws IOException;

    /**
     * DSYNC: called once per successful DSYNC write that could not be made durable by FUA alone
     * (it touched NEW, UNWRITTEN, SHARED or DIRTY mappings), after every {@link #ioEnd}. Write
     * the metadata the range depends on (e.g. the journal commit) and wait for it; the engine
     * then issues one device FLUSH (on a device with a volatile write cache) before it reports
     * success, unless this returns true: the metadata write itself drained the device's cache
     * after the data completed (a journal commit whose first write carried PREFLUSH, issued by
     * this call, after the data I/O and its end-of-I/O work), so the data is durable already and
     * a second flush would only cost time. Like Linux's generic_write_sync, where XFS's log force
     * with its PREFLUSH is what makes fdatasync's data durable.
     */
    default boolean sync(IoInode inode, long pos, long length) throws IOException { return false; }

    /**
     * Writeback: true when {@link #ioEnd} for this successfully written range has no work that
     * may block (no unwritten conversion, no copy-on-write remap, no on-disk size update), so the
     * engine may run it and end writeback on the device's completion thread instead of handing
     * it to the executor; like XFS, which queues ioend work only when an ioend needs it. Called on
     * the completion thread: must itself be cheap and non-blocking. Default false (always hand off).
     */
    default boolean completesInline(IoInode inode, long pos, long length, IoMap map) { return false; }

    /**
     * Writeback: called after each writeback request of {@code inode} finished (its {@link #ioEnd}
     * ran and its folios ended writeback, or were re-dirtied after a failure), on the device's
     * completion thread or the engine's executor. Lets a file system notice that a file it keeps
     * only for its dirty data (a closed file, FolioFS's lazy last close) may now be clean. Must be
     * cheap and must not block (no locks that may be held across I/O). Default: nothing.
     */
    default void writebackDone(IoInode inode) {}

    /**
     * Atomic (untorn) writes: called once per successful or failed atomic write, after its one
     * device request completed, with every mapping it wrote (in file order; together they cover
     * {@code [pos, pos + length)}). On success the file system must make the whole range's new
     * mapping (copy-on-write remap of NEW|SHARED mappings, size) take effect in ONE transaction, so
     * that after a crash the range reads all old or all new; on failure ({@code error != 0}) undo
     * only (free the out-of-place blocks). A MAPPED mapping without NEW/SHARED was written in place
     * with the device's ATOMIC flag and needs only the size update. {@code data} holds the bytes the
     * call wrote for {@code [pos, pos + length)} (valid during this call), so that the file system
     * can checksum what its transaction exposes.
     *
     * @return true when, on success, every byte of the call was written out of place and is exposed
     *         only by the metadata this method logged (then a DSYNC goes to {@link #syncLogged});
     *         false when some of it was written in place (its durability needs a flush after it)
     */
    default boolean ioEndAtomic(IoInode inode, long pos, long length, java.util.List<IoMap> maps, int error,
                                java.lang.foreign.MemorySegment data) throws IOException {
        throw new UnsupportedOperationException(getClass().getName() + " does not support atomic writes");
    }

    /**
     * An atomic write-through's {@link IoMap#LOGGED} mapping, instead of its device request: the
     * file system logs {@code segs} (the folio slices holding the new data of device range
     * {@code [deviceOffset, +total)}, whole blocks, stable until {@code homeDone} runs) in its
     * journal, where the whole call's data becomes durable at once; it writes them home after that
     * commit and then runs {@code homeDone}: {@code (null, true)}; {@code (e, false)} when the
     * commit failed (the data may not be durable); {@code (e, true)} when the home write failed
     * (the journal holds the data). A throw means nothing was logged ({@code homeDone} never runs). {@code dsync}: the
     * caller will wait for the commit ({@link #syncLogged}); without it the file system should
     * still commit soon, since the folios stay under writeback until their home write.
     */
    default void logAtomic(IoInode inode, long deviceOffset, java.lang.foreign.MemorySegment[] segs, boolean dsync,
                           java.util.function.BiConsumer<Throwable, Boolean> homeDone) throws IOException {
        throw new UnsupportedOperationException(getClass().getName() + " does not log atomic writes");
    }

    /**
     * DSYNC of an atomic call whose {@link #ioEndAtomic} returned true: its data was complete before
     * the metadata that exposes it was logged, so the data is durable once that metadata's commit
     * is, if the commit drains the device's cache after it was gathered (a commit already in flight
     * counts: it was gathered after the data completed). Return true when so, as {@link #sync}.
     * Default: {@link #sync}.
     */
    default boolean syncLogged(IoInode inode, long pos, long length) throws IOException { return sync(inode, pos, length); }

    /**
     * {@link #syncLogged} for an asynchronous call, without a thread waiting: returns false when
     * not supported (the default; the engine then calls {@link #syncLogged} on a virtual thread),
     * else true, and later runs {@code done} with null once the data is durable (no FLUSH of the
     * engine's follows), or with the failure. {@code done} may run on any thread, possibly under
     * the file system's locks; the engine's only hands the rest of the call to its executor.
     */
    default boolean syncLoggedAsync(IoInode inode, long pos, long length, java.util.function.Consumer<Throwable> done) {
        return false;
    }
}
