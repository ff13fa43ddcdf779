/**
 * The folio page cache: cached file data in off-heap folios of 2^order 4 KiB pages (order 0..9),
 * a per-file index with DIRTY/WRITEBACK tags, a global memory budget with CLOCK eviction, dirty
 * throttling and background writeback. The design (state machine, bit layout, lock order, what
 * is deliberately racy) is in {@code docs/ARCHITECTURE.md}, section "Page cache"; change it with
 * the code.
 *
 * <h2>Public surface</h2>
 * <ul>
 *   <li>{@link org.foliofs.pagecache.PageCache} (one per stack; {@link org.foliofs.pagecache.PageCache.Config}
 *       with a checking builder; {@link org.foliofs.pagecache.PageCache.Stats}).</li>
 *   <li>{@link org.foliofs.pagecache.FileCache} (one per open inode): lookup, getOrCreate, remove,
 *       truncate, nextTagged; {@link org.foliofs.pagecache.WritebackTarget}, the owner's writeback hook.</li>
 *   <li>{@link org.foliofs.pagecache.Folio}: lock, references, writeback, per-block uptodate/dirty.</li>
 *   <li>{@link org.foliofs.pagecache.CacheFullException}: no memory could be reclaimed in time.</li>
 * </ul>
 *
 * <h2>Rules</h2>
 * <ul>
 *   <li>Lock order: inode (iomap) locks, folio lock, FileCache structure lock, clock lock, leaves
 *       (tag lock, buddy allocator, writeback list, wait-table buckets). Never wait for a folio lock
 *       while holding a structure lock or the clock lock; call {@code balanceDirty} with no folio
 *       locked; device completions only call {@code endWriteback} (and unlock).</li>
 *   <li>markDirty, clearDirty, startWriteback and remove need the folio lock (markDirty also works
 *       while WRITEBACK is set: a failed writeback re-dirties from its completion without the lock,
 *       since a writer may hold the lock while waiting for that writeback); a folio is evicted only
 *       when unreferenced, unlocked, clean and not under writeback.</li>
 *   <li>Every {@code lookup}/{@code getOrCreate} result holds a reference: {@code put()} it. After
 *       {@code lock()} on a looked-up folio check {@code isRemoved()}.</li>
 * </ul>
 */
package org.foliofs.pagecache;
