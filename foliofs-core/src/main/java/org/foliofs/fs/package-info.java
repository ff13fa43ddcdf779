/**
 * The FolioFS filesystem (issue 4): self-describing metadata blocks
 * ({@link org.foliofs.fs.MetaBlockLayout}: magic, CRC32C, block number, owner, volume UUID; verified on
 * every read, {@link org.foliofs.fs.CorruptMetadataException} naming the block otherwise), one generic
 * B+tree for every tree ({@link org.foliofs.fs.BTree}), allocation groups with free-space, inode and
 * refcount trees, the metadata journal ({@link org.foliofs.fs.Journal}), the namespace API
 * ({@link org.foliofs.fs.FolioFs}), file data through the iomap engine ({@link org.foliofs.fs.FolioFile},
 * {@link org.foliofs.fs.FsIoMapOps}, {@link org.foliofs.fs.FsIoEnd}), reflink, {@link org.foliofs.fs.Mkfs}
 * and {@link org.foliofs.fs.Fsck}. On-disk format: docs/FORMAT.md; design: docs/ARCHITECTURE.md section 7.
 *
 * <p>Locking (docs/ARCHITECTURE.md 7.2): inode lock, then the open-file table, then the atomic
 * writes' {@link org.foliofs.fs.StagingPool} monitor, then the journal lock
 * (every metadata change is one handle under it; handles run one at a time), then the FsInode and
 * Allocator monitors. A commit gathers the running transaction under the journal lock and writes
 * the log with it released (one commit in flight; the next commit and checkpoints wait for it;
 * a block's records after its first since a checkpoint carry only its changed bytes, so replay
 * never reads a home block it did not write);
 * {@link org.foliofs.fs.Journal#force()} waits for a commit gathered after it; callers whose data
 * completed before their handles ({@link org.foliofs.fs.Journal#forceCommitted},
 * {@link org.foliofs.fs.Journal#forceCommittedAsync}) wait as queued waiters when a commit is in flight,
 * and the journal's log thread leads the next commit for them. A transaction whose
 * handles declared the data they expose ({@link org.foliofs.fs.Journal.Handle#dataDependency},
 * {@link org.foliofs.fs.Journal.Handle#exposesNoData}) is written without PREFLUSH, its last record
 * with POSTFLUSH; recovery replays the last transaction only if that data is on the device, and an
 * in-place write over such blocks first calls {@link org.foliofs.fs.Journal#barrier()}. An atomic
 * write holds the inode lock exclusively only while it copies and submits, and waits only for the
 * asynchronous calls overlapping its range ({@code FsInode.waitIo(pos, len)}); a small one takes
 * its staging blocks from the pool without a handle, and its remap stages the old blocks again
 * for the pool (handed out once that commit is durable; the recycled list's monitor is a leaf,
 * taken under the journal lock). A small buffered atomic overwrite of blocks the file owns is
 * logged instead ({@link org.foliofs.fs.Journal.Handle#logData}): its data goes into the commit
 * record and home after the commit, from folios kept under writeback until then; an in-place
 * write over blocks whose logged data the log still holds checkpoints first
 * ({@link org.foliofs.fs.Journal#checkpointLoggedData}), and their frees stay busy until a
 * checkpoint. Home writes complete without the journal lock (their own monitor; a checkpoint
 * waits for them under it). A synchronous atomic write that finds another in progress runs
 * as an asynchronous call and waits, except on an engine thread; the step after its commit then
 * runs on that waiting thread ({@link org.foliofs.iomap.CallerRuns}). Metadata blocks are copy-on-write in memory
 * ({@link org.foliofs.fs.MetaBlock}): reads share the cached image, a change copies it.
 */
package org.foliofs.fs;
