package org.foliofs.nio;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Set;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;

/**
 * The path operations of a {@link FolioFileSystem}: resolves paths to inodes (following symbolic
 * links, at most {@value #MAX_LINKS} of them) and calls {@link FolioFs}, translating its errors to the
 * standard exceptions naming the path ({@link Errors}). Each public method is one bracket of
 * {@link FolioFileSystem#begin()}/{@link FolioFileSystem#end()}.
 */
final class PathOps {
    static final int MAX_LINKS = 40;
    static final long ROOT = FolioFs.ROOT_INO;

    private final FolioFileSystem fs;
    private final FolioFs folio;

    PathOps(FolioFileSystem fs) {
        this.fs = fs;
        this.folio = fs.folio();
    }

    /** An inode with its attributes as a path resolved to it. */
    record Node(long ino, FolioFs.Attr attr) {}

    /** A directory entry a path names: the directory's inode and the last name. */
    record Entry(long dir, String name, FolioPath path) {}

    @FunctionalInterface
    interface Call<T> {
        T run() throws IOException;
    }

    /** Runs {@code c} as one operation; errors naming inodes are translated to name {@code path} (and {@code other}). */
    <T> T call(boolean write, Object path, Object other, Call<T> c) throws IOException {
        if (write) fs.beginWrite(); else fs.begin();
        try {
            return c.run();
        } catch (IOException e) {
            throw Errors.names(e, path, other) ? e : Errors.translate(e, path, other);
        } finally {
            fs.end();
        }
    }


    // ---- resolution -----------------------------------------------------------------------------

    /** Resolves {@code path} (relative to the root); {@code followLast}: follow a symbolic link at the end. */
    Node resolve(FolioPath path, boolean followLast) throws IOException {
        Deque<String> todo = new ArrayDeque<>(Arrays.asList(path.toAbsolutePath().names()));
        long cur = ROOT;
        FolioFs.Attr curAttr = null;
        int links = 0;
        while (!todo.isEmpty()) {
            String n = todo.pollFirst();
            if (n.equals(".")) continue;
            long child;
            try {
                child = folio.lookup(cur, n);
            } catch (IOException e) {
                throw Errors.translate(e, path, null);
            }
            FolioFs.Attr a = folio.getattr(child);
            if (a.isSymlink() && (!todo.isEmpty() || followLast)) {
                if (++links > MAX_LINKS) throw Errors.fsException(path, "Too many levels of symbolic links");
                String target = folio.readlink(child);
                if (target.startsWith("/")) cur = ROOT;
                String[] t = FolioPath.parse(fs, target).names();
                for (int i = t.length - 1; i >= 0; i--) if (!t[i].isEmpty()) todo.addFirst(t[i]);
                continue;
            }
            if (!todo.isEmpty() && !a.isDir()) throw new NotDirectoryException(path.toString());
            cur = child;
            curAttr = a;
        }
        return new Node(cur, curAttr != null && curAttr.ino() == cur ? curAttr : folio.getattr(cur));
    }

    /** The directory and name {@code path} names (the directory resolved with links followed). */
    Entry entry(FolioPath path, boolean forCreate) throws IOException {
        FolioPath abs = path.toAbsolutePath();
        String[] names = abs.names();
        if (names.length == 0) {
            if (forCreate) throw new FileAlreadyExistsException(path.toString());
            throw Errors.fsException(path, "Device or resource busy: the root directory");
        }
        String name = names[names.length - 1];
        if (name.equals(".") || name.equals("..")) {
            if (forCreate) throw new FileAlreadyExistsException(path.toString());
            throw Errors.fsException(path, "Invalid argument: path ends in " + name);
        }
        Node parent = resolve(abs.getParent(), true);
        if (!parent.attr().isDir()) throw new NotDirectoryException(path.toString());
        return new Entry(parent.ino(), name, path);
    }

    /** The inode an entry names, or -1. */
    long lookup(Entry e) throws IOException {
        try {
            return folio.lookup(e.dir(), e.name());
        } catch (NoSuchFileException x) {
            return -1;
        }
    }

    // ---- attributes and access -------------------------------------------------------------------

    FolioFs.Attr attr(FolioPath path, LinkOption... options) throws IOException {
        boolean follow = LinkOptions.follow(options);
        return call(false, path, null, () -> resolve(path, follow).attr());
    }

    FolioPath realPath(FolioPath path, boolean follow) throws IOException {
        return call(false, path, null, () -> {
            if (!follow) {
                resolve(path, false);
                return path.toAbsolutePath().normalize();
            }
            // walk the normalised-by-resolution path: rebuild it from the inodes' names
            Deque<String> todo = new ArrayDeque<>(Arrays.asList(path.toAbsolutePath().names()));
            Deque<String> out = new ArrayDeque<>();
            long cur = ROOT;
            int links = 0;
            while (!todo.isEmpty()) {
                String n = todo.pollFirst();
                if (n.equals(".")) continue;
                if (n.equals("..")) {
                    cur = folio.lookup(cur, "..");
                    if (!out.isEmpty()) out.removeLast();
                    continue;
                }
                long child = folio.lookup(cur, n);
                FolioFs.Attr a = folio.getattr(child);
                if (a.isSymlink()) {
                    if (++links > MAX_LINKS) throw Errors.fsException(path, "Too many levels of symbolic links");
                    String target = folio.readlink(child);
                    if (target.startsWith("/")) { cur = ROOT; out.clear(); }
                    String[] t = FolioPath.parse(fs, target).names();
                    for (int i = t.length - 1; i >= 0; i--) if (!t[i].isEmpty()) todo.addFirst(t[i]);
                    continue;
                }
                if (!todo.isEmpty() && !a.isDir()) throw new NotDirectoryException(path.toString());
                out.addLast(n);
                cur = child;
            }
            return FolioPath.parse(fs, "/" + String.join("/", out));
        });
    }

    void checkAccess(FolioPath path, AccessMode... modes) throws IOException {
        call(false, path, null, () -> {
            FolioFs.Attr a = resolve(path, true).attr();
            for (AccessMode m : modes) {
                if (m == AccessMode.WRITE && fs.isReadOnly())
                    throw new AccessDeniedException(path.toString(), null, "Read-only file system");
                int bit = switch (m) { case READ -> 4; case WRITE -> 2; case EXECUTE -> 1; };
                checkMode(path, a, bit, m.name().toLowerCase(java.util.Locale.ROOT));
            }
            return null;
        });
    }

    /** Throws {@link AccessDeniedException} unless the mode bits grant {@code bit} (4 r, 2 w, 1 x) to the JVM's ids. */
    void checkMode(FolioPath path, FolioFs.Attr a, int bit, String what) throws AccessDeniedException {
        Principals p = fs.principals();
        int shift = a.uid() == p.uid ? 6 : a.gid() == p.gid ? 3 : 0;
        if ((a.mode() >> shift & bit) == 0)
            throw new AccessDeniedException(path.toString(), null, "mode 0" + Integer.toOctalString(a.mode() & 07777) + " does not grant "
                    + what + " to uid " + p.uid + " gid " + p.gid);
    }

    boolean isSameFile(FolioPath a, FolioPath b) throws IOException {
        if (a.equals(b)) return true;
        if (a.getFileSystem() != b.getFileSystem()) return false;
        return call(false, a, b, () -> resolve(a, true).ino() == resolve(b, true).ino());
    }

    // ---- create ---------------------------------------------------------------------------------

    /** The permission bits asked for by {@code attrs} ({@code posix:permissions} only), or {@code dflt}. */
    static int permissions(int dflt, FileAttribute<?>... attrs) {
        int perm = dflt;
        for (FileAttribute<?> a : attrs) {
            if (a.name().equals("posix:permissions") || a.name().equals("unix:permissions")) {
                @SuppressWarnings("unchecked") Set<PosixFilePermission> s = (Set<PosixFilePermission>) a.value();
                perm = Attributes.toMode(s);
            } else {
                throw new UnsupportedOperationException("file attribute '" + a.name() + "' cannot be set at creation"
                        + " (only posix:permissions)");
            }
        }
        return perm;
    }

    void createDirectory(FolioPath path, FileAttribute<?>... attrs) throws IOException {
        int perm = permissions(0755, attrs);
        call(true, path, null, () -> {
            Entry e = entry(path, true);
            Principals p = fs.principals();
            return folio.mkdir(e.dir(), e.name(), perm, p.uid, p.gid);
        });
    }

    void createSymbolicLink(FolioPath link, FolioPath target, FileAttribute<?>... attrs) throws IOException {
        if (attrs.length > 0) throw new UnsupportedOperationException("file attribute '" + attrs[0].name()
                + "' cannot be set on a symbolic link");
        call(true, link, null, () -> {
            Entry e = entry(link, true);
            Principals p = fs.principals();
            return folio.symlink(e.dir(), e.name(), target.toString(), p.uid, p.gid);
        });
    }

    void createLink(FolioPath link, FolioPath existing) throws IOException {
        call(true, link, existing, () -> {
            long ino = resolve(existing, false).ino();
            Entry e = entry(link, true);
            try {
                return folio.link(ino, e.dir(), e.name());
            } catch (FileSystemException x) {
                if (x instanceof FileAlreadyExistsException) throw Errors.translate(x, link, null);
                throw Errors.translate(x, existing, link);
            }
        });
    }

    FolioPath readSymbolicLink(FolioPath link) throws IOException {
        return call(false, link, null, () -> {
            Node n = resolve(link, false);
            if (!n.attr().isSymlink()) throw new NotLinkException(link.toString(), null, "not a symbolic link");
            return FolioPath.parse(fs, folio.readlink(n.ino()));
        });
    }

    // ---- delete ---------------------------------------------------------------------------------

    void delete(FolioPath path) throws IOException {
        call(true, path, null, () -> {
            deleteEntry(entry(path, false));
            return null;
        });
    }

    boolean deleteIfExists(FolioPath path) throws IOException {
        return call(true, path, null, () -> {
            Entry e = entry(path, false);
            if (lookup(e) < 0) return false;
            deleteEntry(e);
            return true;
        });
    }

    private void deleteEntry(Entry e) throws IOException {
        long ino = lookup(e);
        if (ino < 0) throw new NoSuchFileException(e.path().toString());
        if (folio.getattr(ino).isDir()) folio.rmdir(e.dir(), e.name());
        else folio.unlink(e.dir(), e.name());
    }

    // ---- move and copy --------------------------------------------------------------------------

    void move(FolioPath src, FolioPath dst, CopyOption... options) throws IOException {
        boolean replace = false, atomic = false;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) replace = true;
            else if (o == StandardCopyOption.ATOMIC_MOVE) atomic = true;
            else if (o != LinkOption.NOFOLLOW_LINKS) throw new UnsupportedOperationException("unsupported move option " + o);
        }
        if (src.getFileSystem() != dst.getFileSystem()) {
            if (atomic) throw new AtomicMoveNotSupportedException(src.toString(), dst.toString(), "different foliofs file systems");
            CrossCopy.copy(src, dst, replace, true, false);
            src.getFileSystem().core().delete(src);
            return;
        }
        boolean rep = replace, atom = atomic;
        call(true, src, dst, () -> {
            Entry s = entry(src, false), d = entry(dst, false);
            long sIno = lookup(s);
            if (sIno < 0) throw new NoSuchFileException(src.toString());
            long dIno = lookup(d);
            if (dIno == sIno) return null;                   // same file: nothing to do
            int flags = FolioFs.RENAME_NOREPLACE;
            if (atom) flags = 0;                               // rename(2): replaces atomically
            else if (rep && dIno >= 0) {
                boolean sDir = folio.getattr(sIno).isDir(), dDir = folio.getattr(dIno).isDir();
                if (sDir != dDir) deleteEntry(d);              // as the JDK: delete the target, then rename
                flags = 0;
            }
            try {
                folio.rename(s.dir(), s.name(), d.dir(), d.name(), flags);
            } catch (FileSystemException x) {
                boolean aboutTarget = x instanceof FileAlreadyExistsException || x instanceof NotDirectoryException
                        || x instanceof DirectoryNotEmptyException || "Is a directory".equals(x.getReason());
                throw aboutTarget ? Errors.translate(x, dst, null) : Errors.translate(x, src, dst);
            }
            return null;
        });
    }

    void copy(FolioPath src, FolioPath dst, CopyOption... options) throws IOException {
        boolean replace = false, attrs = false, follow = true;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) replace = true;
            else if (o == StandardCopyOption.COPY_ATTRIBUTES) attrs = true;
            else if (o == LinkOption.NOFOLLOW_LINKS) follow = false;
            else throw new UnsupportedOperationException("unsupported copy option " + o);
        }
        if (src.getFileSystem() != dst.getFileSystem()) {
            CrossCopy.copy(src, dst, replace, attrs, follow);
            return;
        }
        boolean rep = replace, copyAttrs = attrs, fol = follow;
        call(true, src, dst, () -> {
            Node s = resolve(src, fol);
            Entry d = entry(dst, true);
            long dIno = lookup(d);
            if (dIno == s.ino()) return null;
            if (dIno >= 0) {
                if (!rep) throw new FileAlreadyExistsException(dst.toString());
                try {
                    deleteEntry(d);
                } catch (IOException x) {
                    throw Errors.names(x, dst, null) ? x : Errors.translate(x, dst, null);
                }
            }
            Principals p = fs.principals();
            FolioFs.Attr a = s.attr();
            FolioFs.Attr made;
            try {
                if (a.isDir()) made = folio.mkdir(d.dir(), d.name(), a.mode() & 07777, p.uid, p.gid);
                else if (a.isSymlink()) made = folio.symlink(d.dir(), d.name(), folio.readlink(s.ino()), p.uid, p.gid);
                else if (a.isRegular()) made = folio.create(d.dir(), d.name(), a.mode() & 07777, p.uid, p.gid);
                else throw Errors.fsException(src, "cannot copy a special file");
            } catch (IOException x) {
                throw Errors.names(x, src, dst) ? x : Errors.translate(x, dst, null);
            }
            if (a.isRegular()) copyData(s.ino(), made.ino(), src, dst);
            if (copyAttrs && !a.isSymlink())
                folio.setattr(made.ino(), new FolioFs.SetAttr(a.mode() & 07777, a.uid(), a.gid(), null, a.atime(), a.mtime(), null,
                        a.writeMode()));
            return null;
        });
    }

    /**
     * Copies the bytes of one regular file into another (new, empty) one with
     * {@link FolioFile#copyRangeFrom}: the whole file is a reflink (shared blocks, copy-on-write
     * later, as {@code cp --reflink=auto}).
     */
    private void copyData(long from, long to, FolioPath src, FolioPath dst) throws IOException {
        try (FolioFile in = folio.openFile(from); FolioFile out = folio.openFile(to)) {
            long size = in.size(), pos = 0;
            while (pos < size) {
                long n = out.copyRangeFrom(in, pos, pos, size - pos);
                if (n <= 0) break;
                pos += n;
            }
        } catch (IOException x) {
            throw Errors.translate(x, dst, null);
        }
    }
}
