/**
 * The NIO.2 provider: a FolioFS image as a {@link java.nio.file.FileSystem} ({@code foliofs:} URIs,
 * registered in META-INF/services). Public surface: {@link org.foliofs.nio.FolioFileSystemProvider},
 * {@link org.foliofs.nio.FolioFileChannel} (the per-call write flags API),
 * {@link org.foliofs.nio.FolioOpenOption} and {@link org.foliofs.nio.WriteFlag}; everything else is
 * package-private and reached through the standard {@code Files}/{@code FileChannel} API.
 *
 * <p>Shape: the provider checks the path and delegates; {@code PathOps} resolves paths to inodes
 * (following symbolic links) and calls {@link org.foliofs.fs.FolioFs}; {@code Errors} is the only
 * place exceptions are translated (inode names to paths, ENOSPC and I/O errors to
 * {@link java.nio.file.FileSystemException} with a reason); {@code IoFlags} is the only place options
 * become {@link org.foliofs.fs.FolioFile} flags.
 *
 * <p>Locks, outermost first: the file system's close lock (read side per operation, write side in
 * close), a channel's I/O lock (read side per call, write side in close), the channel's position
 * lock, an inode's append lock, then the FolioFs/FolioFile locks (journal, inode). A channel call never
 * takes the file system's close lock, so closing the file system (which closes channels) cannot
 * deadlock with a channel call. Details: docs/ARCHITECTURE.md, "NIO.2 layer".
 */
package org.foliofs.nio;
