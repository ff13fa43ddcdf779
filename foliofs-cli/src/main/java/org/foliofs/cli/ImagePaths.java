package org.foliofs.cli;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.RecoveryNeededException;

/**
 * Paths inside an image, as the commands take them: absolute from the volume's root ("/a/b"; a
 * relative path is taken from the root too), no symlinks followed. Errors name the user's path.
 */
final class ImagePaths {
    private ImagePaths() {}

    /** A mounted image: the device and the volume, closed together (the volume first, cleanly). */
    record Mounted(FileDevice dev, FolioFs fs) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                fs.close();
            } finally {
                dev.close();
            }
        }
    }

    /**
     * Opens {@code image} and mounts its volume (replaying the journal if needed). A null engine
     * means io_uring where the kernel allows it, else the synchronous engine.
     */
    static Mounted mount(Path image, FileDevice.Engine engine) throws IOException {
        FileDevice dev;
        if (engine != null) {
            dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(engine));
        } else {
            try {
                dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.IO_URING));
            } catch (IOException | RuntimeException e) {
                if (!java.nio.file.Files.exists(image)) throw e;
                dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC));
            }
        }
        try {
            return new Mounted(dev, FolioFs.mount(dev));
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /**
     * Opens {@code image} to read it (ls, cat, cp out of it): a read-only device and
     * {@link FolioFs#mountReadOnly}, so nothing is written and an image that is not writable works.
     * An image left by a crash (its journal needs recovery) is mounted read-write instead, which
     * replays the journal, as every command did before; if it cannot be opened for writing, the
     * read-only refusal is thrown.
     */
    static Mounted mountForReading(Path image) throws IOException {
        FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC).withReadOnly(true));
        try {
            return new Mounted(dev, FolioFs.mountReadOnly(dev));
        } catch (RecoveryNeededException e) {
            dev.close();
            try {
                return mount(image, FileDevice.Engine.SYNC);
            } catch (java.nio.file.AccessDeniedException denied) {
                e.addSuppressed(denied);
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /** The inode at {@code path}; {@link NoSuchFileException} naming {@code path} when a component is missing. */
    static long resolve(FolioFs fs, String path) throws IOException {
        long ino = FolioFs.ROOT_INO;
        String walked = "";
        for (String part : path.split("/")) {
            if (part.isEmpty()) continue;
            walked += "/" + part;
            if (!fs.getattr(ino).isDir()) throw new NotDirectoryException(walked.substring(0, walked.lastIndexOf('/')));
            try {
                ino = fs.lookup(ino, part);
            } catch (NoSuchFileException e) {
                throw new NoSuchFileException(path);
            }
        }
        return ino;
    }

    /** "/a/b" to {"/a", "b"}; the root has no name. */
    static String[] split(String path) throws FileSystemException {
        String p = path.replaceAll("/+$", "");
        int slash = p.lastIndexOf('/');
        String name = p.substring(slash + 1);
        if (name.isEmpty() || name.equals(".") || name.equals(".."))
            throw new FileSystemException(path, null, "not a file name");
        return new String[] {slash <= 0 ? "/" : p.substring(0, slash), name};
    }

    /** Opens the regular file at {@code path}; with {@code create}, makes it (mode 0644) if missing. */
    static long regularFile(FolioFs fs, String path, boolean create) throws IOException {
        String[] pn = split(path);
        long dir = resolve(fs, pn[0]);
        if (!fs.getattr(dir).isDir()) throw new NotDirectoryException(pn[0]);
        long ino;
        try {
            ino = fs.lookup(dir, pn[1]);
        } catch (NoSuchFileException e) {
            if (!create) throw new NoSuchFileException(path);
            return fs.create(dir, pn[1], 0644, 0, 0).ino();
        }
        FolioFs.Attr a = fs.getattr(ino);
        if (a.isDir()) throw new FileSystemException(path, null, "is a directory");
        if (!a.isRegular()) throw new FileSystemException(path, null, "not a regular file");
        return ino;
    }
}
