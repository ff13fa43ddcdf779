package org.foliofs.fuse;

import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import org.foliofs.device.DeviceException;
import org.foliofs.fs.CorruptMetadataException;
import org.foliofs.fs.NoSpaceException;
import org.foliofs.fs.NoSuchAttributeException;
import org.foliofs.fs.NoSuchInodeException;
import org.foliofs.fs.ReadOnlyVolumeException;
import org.foliofs.fs.Xattrs;

/**
 * The one place where the file system's exceptions become errno values (Linux x86_64 numbers).
 * {@link FolioFs}'s {@link FileSystemException}s carry the errno's text at the start of their reason
 * ("Is a directory (use rmdir)", "Invalid argument: ..."), which is matched here; anything not
 * recognised is {@link #EIO}, and {@link #unexpected} tells the caller to log it.
 */
final class Errnos {
    private Errnos() {}

    static final int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, EAGAIN = 11, EACCES = 13, EBUSY = 16,
            EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENOTTY = 25, EFBIG = 27, ENOSPC = 28,
            EROFS = 30, EMLINK = 31, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ENODATA = 61,
            EOPNOTSUPP = 95, EUCLEAN = 117;

    /** The errno for {@code t}. */
    static int of(Throwable t) {
        return switch (t) {
            case NoSuchFileException e -> ENOENT;
            case NoSuchInodeException e -> ENOENT;
            case FileAlreadyExistsException e -> EEXIST;
            case DirectoryNotEmptyException e -> ENOTEMPTY;
            case NotDirectoryException e -> ENOTDIR;
            case AccessDeniedException e -> EACCES;
            case NoSpaceException e -> ENOSPC;
            case ReadOnlyVolumeException e -> EROFS;   // a change asked of a read-only mount (-o ro)
            case NoSuchAttributeException e -> ENODATA;
            case Xattrs.UnsupportedNamespaceException e -> EOPNOTSUPP;
            case UnsupportedOperationException e -> EOPNOTSUPP;
            case FileSystemException e when e.getReason() != null -> fromReason(e.getReason());
            case IllegalArgumentException e when e.getMessage() != null && e.getMessage().contains(" allowed") -> ENAMETOOLONG;
            case IllegalArgumentException e -> EINVAL;
            case CorruptMetadataException e -> EIO;
            case DeviceException e -> EIO;
            default -> EIO;
        };
    }

    /** Whether {@code t} is not an expected outcome of a call (the caller logs it): EIO and anything unknown. */
    static boolean unexpected(Throwable t) {
        return of(t) == EIO;
    }

    private static int fromReason(String r) {
        if (r.startsWith("Is a directory")) return EISDIR;
        if (r.startsWith("Not a directory")) return ENOTDIR;
        if (r.startsWith("Invalid argument")) return EINVAL;
        if (r.startsWith("Operation not permitted")) return EPERM;
        if (r.startsWith("Too many links")) return EMLINK;
        if (r.startsWith("File too large")) return EFBIG;
        if (r.startsWith("Directory not empty")) return ENOTEMPTY;
        if (r.startsWith("No space")) return ENOSPC;
        if (r.startsWith("File exists")) return EEXIST;
        if (r.startsWith("Read-only")) return EROFS;
        if (r.startsWith("Permission denied")) return EACCES;
        if (r.startsWith("No such")) return ENOENT;
        if (r.startsWith("file has been deleted") || r.startsWith("directory has been removed")) return ENOENT;
        return EIO;
    }
}
