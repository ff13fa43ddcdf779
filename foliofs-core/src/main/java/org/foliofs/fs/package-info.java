/**
 * The FolioFS filesystem (issue 4), built bottom-up. So far: the self-describing metadata block format
 * ({@link org.foliofs.fs.MetaBlockLayout}: magic, CRC32C, block number, owner, volume UUID; verified on
 * every read, {@link org.foliofs.fs.CorruptMetadataException} naming the block otherwise), where metadata
 * blocks live ({@link org.foliofs.fs.MetaStore}), and the one generic B+tree all trees use
 * ({@link org.foliofs.fs.BTree}); the superblock with backups ({@link org.foliofs.fs.SuperblockLayout}), allocation
 * group headers with their free-space trees ({@link org.foliofs.fs.AgHeader}), a store over a BlockDevice
 * ({@link org.foliofs.fs.DeviceMetaStore}), {@link org.foliofs.fs.Mkfs} and {@link org.foliofs.fs.Volume#open}.
 * On-disk format: docs/FORMAT.md.
 *
 * <p>Locking: none inside; a tree and its store are used by one thread at a time, the caller holding
 * the owner's lock (allocation group or inode). Invariants of the tree: see {@link org.foliofs.fs.BTree}
 * and {@link org.foliofs.fs.BTree#verify()}.
 */
package org.foliofs.fs;
