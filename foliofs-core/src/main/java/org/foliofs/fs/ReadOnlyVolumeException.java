package org.foliofs.fs;

import java.nio.file.FileSystemException;

/**
 * A change was asked of a volume mounted read-only ({@link FolioFs#mountReadOnly}): EROFS. The
 * reason starts with {@code "Read-only file system"} (the errno's text, as the FUSE layer expects);
 * the NIO layer turns it into {@link java.nio.file.ReadOnlyFileSystemException}.
 */
public final class ReadOnlyVolumeException extends FileSystemException {
    private static final long serialVersionUID = 1L;

    /** {@code file}: what the change was for (e.g. "inode 5/a"); {@code detail}: what was refused. */
    public ReadOnlyVolumeException(String file, String detail) {
        super(file, null, "Read-only file system: " + detail);
    }
}
