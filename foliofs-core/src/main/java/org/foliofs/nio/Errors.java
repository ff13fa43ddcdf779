package org.foliofs.nio;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.ReadOnlyFileSystemException;
import org.foliofs.device.DeviceException;
import org.foliofs.fs.CorruptMetadataException;
import org.foliofs.fs.NoSpaceException;
import org.foliofs.fs.NoSuchAttributeException;
import org.foliofs.fs.NoSuchInodeException;
import org.foliofs.fs.ReadOnlyVolumeException;

/**
 * Translates what {@link org.foliofs.fs.FolioFs} and {@link org.foliofs.fs.FolioFile} throw (exceptions
 * naming inodes, like {@code "inode 5/a"}) into the standard NIO exceptions naming the user's path.
 * The original is kept as the cause. This is the only place errors are translated. A
 * {@link ReadOnlyVolumeException} is thrown as {@link ReadOnlyFileSystemException} (unchecked, as NIO specifies).
 */
final class Errors {
    private Errors() {}

    static IOException translate(IOException e, Object path, Object other) {
        String p = path == null ? null : path.toString(), o = other == null ? null : other.toString();
        IOException r;
        if (e instanceof ClosedChannelException) return e;
        if (e instanceof ReadOnlyVolumeException) {   // the volume's own read-only guard (beginWrite catches most first)
            ReadOnlyFileSystemException ro = new ReadOnlyFileSystemException();
            ro.initCause(e);
            throw ro;
        }
        else if (e instanceof NoSpaceException) r = new FileSystemException(p, o, "No space left on device: " + e.getMessage());
        else if (e instanceof NoSuchInodeException) r = new NoSuchFileException(p, o, e.getMessage());
        else if (e instanceof NoSuchAttributeException a) r = new FileSystemException(p, o, "No such attribute: " + a.attribute());
        else if (e instanceof CorruptMetadataException) r = new FileSystemException(p, o, "Structure needs cleaning: " + e.getMessage());
        else if (e instanceof DeviceException) r = new FileSystemException(p, o, "Input/output error: " + e.getMessage());
        else if (e instanceof NoSuchFileException f) r = new NoSuchFileException(p, o, null);   // as the JDK: the path only
        else if (e instanceof FileAlreadyExistsException f) r = new FileAlreadyExistsException(p, o, null);
        else if (e instanceof DirectoryNotEmptyException) r = new DirectoryNotEmptyException(p);
        else if (e instanceof NotDirectoryException) r = new NotDirectoryException(p);
        else if (e instanceof AccessDeniedException f) r = new AccessDeniedException(p, o, f.getReason());
        else if (e instanceof NotLinkException f) r = new NotLinkException(p, o, f.getReason());
        else if (e instanceof FileSystemException f) r = new FileSystemException(p, o, f.getReason());
        else r = new FileSystemException(p, o, "Input/output error: " + e.getMessage());
        r.initCause(e);
        return r;
    }

    /** Whether {@code e} already names {@code path} or {@code other} (made by this layer), so needs no translation. */
    static boolean names(IOException e, Object path, Object other) {
        if (!(e instanceof FileSystemException f) || f.getFile() == null) return false;
        return f.getFile().equals(String.valueOf(path)) || f.getFile().equals(String.valueOf(other));
    }

    static FileSystemException fsException(Object path, String reason) {
        return new FileSystemException(path == null ? null : path.toString(), null, reason);
    }
}
