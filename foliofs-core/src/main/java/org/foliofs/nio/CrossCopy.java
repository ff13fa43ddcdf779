package org.foliofs.nio;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;

/** Copy between two foliofs file systems (two images): through the Files API, a plain byte copy. */
final class CrossCopy {
    private CrossCopy() {}

    static void copy(FolioPath src, FolioPath dst, boolean replace, boolean attrs, boolean follow) throws IOException {
        LinkOption[] lo = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
        PosixFileAttributes a = Files.readAttributes(src, PosixFileAttributes.class, lo);
        if (Files.exists(dst, LinkOption.NOFOLLOW_LINKS)) {
            if (!replace) throw new FileAlreadyExistsException(dst.toString());
            Files.delete(dst);
        }
        if (a.isDirectory()) Files.createDirectory(dst);
        else if (a.isSymbolicLink()) Files.createSymbolicLink(dst, dst.getFileSystem().getPath(Files.readSymbolicLink(src).toString()));
        else try (InputStream in = Files.newInputStream(src)) {
            Files.copy(in, dst, StandardCopyOption.REPLACE_EXISTING);
        }
        if (attrs && !a.isSymbolicLink()) {
            PosixFileAttributeView v = Files.getFileAttributeView(dst, PosixFileAttributeView.class);
            v.setPermissions(a.permissions());
            BasicFileAttributes b = a;
            v.setTimes(b.lastModifiedTime(), b.lastAccessTime(), null);
        }
    }
}
