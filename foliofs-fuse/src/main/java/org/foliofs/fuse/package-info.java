/**
 * FolioFS mounted through FUSE: libfuse 3's low-level API ({@code fuse_lowlevel.h}) bound through the
 * FFM API, no JNI and no native code of our own.
 *
 * <ul>
 *   <li>{@link org.foliofs.fuse.FolioMount}: the life of one mount (image lock, checks, volume mount,
 *       FUSE session, clean unmount).</li>
 *   <li>{@code FuseSession}: the ops table of upcall stubs, mount/unmount, and our own request loop on
 *       N platform threads ({@code fuse_session_receive_buf}/{@code process_buf}).</li>
 *   <li>{@code FuseOps}: one method per operation: normalise, call {@link org.foliofs.fs.FolioFs} /
 *       {@link org.foliofs.fs.FolioFile}, reply once. Errors become errno values in {@code Errnos}
 *       only.</li>
 *   <li>{@code FuseLib}, {@code FuseLayout}: the bound functions and the C structures as named
 *       offsets (written from the headers, checked with offsetof).</li>
 * </ul>
 *
 * <p>Locks: this package holds no lock across a call into the file system. The handle table is a
 * concurrent map; the file system serialises metadata under its journal lock and file I/O under the
 * inode lock. Per-thread scratch memory is confined to the thread that uses it. See docs/ARCHITECTURE.md
 * ("FUSE mount").
 */
package org.foliofs.fuse;
