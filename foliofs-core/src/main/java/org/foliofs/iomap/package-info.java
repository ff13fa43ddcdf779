/**
 * The iomap engine: maps file ranges to device extents and owns every I/O loop over them
 * (modelled on Linux's fs/iomap). Part 1: the mapping record, the ops interfaces, the loop,
 * direct I/O (sync and async), seek data/hole and fiemap. Part 2: buffered I/O over the page
 * cache ({@link org.foliofs.iomap.BufferedIo}, {@link org.foliofs.iomap.BufferedFile},
 * {@link org.foliofs.iomap.ErrSeq}): reads with read-ahead, writes with delayed allocation,
 * writeback with request merging and errseq error reporting, fsync, truncate, zero range; the
 * design and lock order are in {@code docs/ARCHITECTURE.md}, "### Buffered I/O".
 *
 * <h2>Who does what</h2>
 * <ul>
 *   <li>The file system implements {@link org.foliofs.iomap.IoMapOps} (begin/end: "what is at
 *       this offset?"), optionally {@link org.foliofs.iomap.IoMapValidity} (cookie check), and
 *       {@link org.foliofs.iomap.IoEndHandler} (unwritten conversion, size update, DSYNC metadata
 *       sync); its inode implements {@link org.foliofs.iomap.IoInode}.</li>
 *   <li>The engine ({@link org.foliofs.iomap.DirectIo}, {@link org.foliofs.iomap.IoMapReport})
 *       runs the one loop, {@code while (iter.next(ops)) iter.advance(chunk(iter))}: end() for the
 *       previous mapping, begin() for the next, stop at the end of the range, on 0 progress or on
 *       an exception (end() is still called, with 0 written); a chunk that finds its mapping
 *       invalid marks it STALE, and the loop remaps the same position.</li>
 * </ul>
 *
 * <h2>Locking and threads</h2>
 * <ul>
 *   <li>The engine takes no inode lock. The caller (fs / nio layer) holds the inode lock
 *       ({@link org.foliofs.iomap.InodeLock}, which encodes these rules) for the whole call: shared for direct reads and for direct writes that are block aligned and do
 *       not extend the file; exclusive for direct writes that are not aligned to the file system
 *       block (the zero padding of two such writes to one block would race) or that extend the
 *       file (the size update), and for anything that changes the size or the mappings
 *       (truncate, punch). For an asynchronous call the lock must be held until the future
 *       completes if the write extends the file; otherwise it may be dropped once the call returns
 *       (the mappings are then the file system's to protect, as XFS does with its iolock and
 *       inode dio count).</li>
 *   <li>begin/end and the chunk work run on the calling thread; device completions only count
 *       and record errors (they never block, never call the file system); end-of-I/O work and the
 *       DSYNC sync run on the calling thread (synchronous) or the executor (asynchronous), never
 *       on a device completion thread; an asynchronous call's DSYNC FLUSH is submitted, not waited
 *       for, and the rest of its finish goes back to the executor from the FLUSH's completion
 *       (IoCall.syncThen); no FLUSH follows a sync whose journal commit covered the data; a call
 *       whose submitter waits for it may take a {@link org.foliofs.iomap.CallerRuns}, and the rest
 *       after its journal commit then runs on that waiting thread. Do not hold a lock that ioEnd needs
 *       while waiting for a synchronous direct write.</li>
 *   <li>Buffered I/O: same caller locking (shared inode lock for reads and writes inside the size,
 *       exclusive for extending writes, truncate, zero range); folio locks inside, one at a time
 *       except for read fills (ascending); never across balanceDirty; writeback end-of-I/O work
 *       on the executor, ending folio writeback only after it.</li>
 *   <li>DirectIo and IoMapReport are thread-safe and stateless between calls; a call's context
 *       ({@code DioCall}) and its iterator are confined to the call.</li>
 *   <li>Never block waiting for another call's end on a thread the engines need to finish calls
 *       ({@link org.foliofs.iomap.BufferedIo#onEngineThread}: their {@code foliofs-...} threads,
 *       and a thread while it runs a call's end or its future's callbacks on the executor).</li>
 * </ul>
 */
package org.foliofs.iomap;
