package org.foliofs.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A {@code flock(2)} on an image, held for as long as a FolioFS process has it mounted. Exclusive
 * ({@link #acquire}) for a read-write mount, fsck and mkfs; shared ({@link #acquireShared}) for a
 * read-only mount, so read-only mounts may coexist but never with a read-write mount (or fsck, mkfs),
 * whichever came first. A mount that conflicts (in any process) fails at once instead of corrupting the
 * volume or reading it while it changes; the kernel drops the
 * lock when the holder dies, even by kill -9. The lock is taken through a read-only descriptor of its
 * own, so taking it writes nothing, and flock locks (unlike POSIX record locks) survive the closing of
 * other descriptors of the file in this process.
 */
public final class ImageLock implements AutoCloseable {
    private static final int O_RDONLY = 0, O_CLOEXEC = 0x80000, LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;

    private final Path image;
    private int fd;

    private ImageLock(Path image, int fd) {
        this.image = image;
        this.fd = fd;
    }

    /**
     * Locks {@code image} exclusively; throws naming the image when another process (or another mount in
     * this one) holds it, shared or exclusive.
     */
    public static ImageLock acquire(Path image) throws IOException {
        return acquire(image, false);
    }

    /**
     * Locks {@code image} shared (a read-only mount); throws naming the image when another process (or
     * another mount in this one) holds it exclusively.
     */
    public static ImageLock acquireShared(Path image) throws IOException {
        return acquire(image, true);
    }

    private static ImageLock acquire(Path image, boolean shared) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment errno = FuseLib.errnoSegment(a);
            int fd = (int) FuseLib.OPEN.invokeExact(errno, a.allocateFrom(image.toAbsolutePath().toString()), O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) {
                int e = FuseLib.errno(errno);
                if (e == Errnos.ENOENT) throw new java.nio.file.NoSuchFileException(image.toString(), null, "image does not exist");
                throw new IOException("cannot open " + image + " to lock it: errno " + e);
            }
            int r = (int) FuseLib.FLOCK.invokeExact(errno, fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
            if (r != 0) {
                int e = FuseLib.errno(errno);
                int ignored = (int) FuseLib.CLOSE.invokeExact(fd);
                if (e == Errnos.EAGAIN)
                    throw new IOException(image + " is in use by another FolioFS process (it holds the image lock"
                            + (shared ? " for writing" : "") + "); unmount it there first");
                throw new IOException("cannot lock " + image + ": errno " + e);
            }
            return new ImageLock(image, fd);
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw FuseLib.bug(t);
        }
    }

    public Path image() { return image; }

    @Override
    public void close() {
        if (fd < 0) return;
        try {
            int ignored = (int) FuseLib.CLOSE.invokeExact(fd);   // drops the lock
        } catch (Throwable t) {
            throw FuseLib.bug(t);
        }
        fd = -1;
    }
}
