package org.foliofs.fuse;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Fsck;
import org.foliofs.fs.FsckReport;
import org.foliofs.fs.RecoveryNeededException;
import org.foliofs.fs.Volume;
import org.foliofs.pagecache.PageCache;

/**
 * A FolioFS image mounted through FUSE: the whole life of a mount.
 *
 * <p>{@link #mount}: lock the image ({@link ImageLock}), check that it is FolioFS and (unless
 * {@code nocheck}) that a read-only {@link Fsck} finds no problem (a journal that needs recovery is
 * fine: mount replays it) — none of which writes anything — then mount the volume
 * ({@link FolioFs#mount}, which replays the journal), mount FUSE and start serving.
 *
 * <p>{@link #awaitUnmounted}: returns when the file system was unmounted (fusermount3 -u, umount, or
 * {@link #unmount}) and everything is closed: handles left open are released, dirty data written
 * back, the journal checkpointed ({@link FolioFs#close}), the device closed and the lock dropped, so the
 * image is fsck-clean without recovery. {@link #unmount} is what SIGINT/SIGTERM call.
 *
 * <p>Read-only ({@link MountOptions#readOnly}, {@code -o ro}): a shared image lock, the device opened
 * {@code O_RDONLY}, {@link FolioFs#mountReadOnly} (refused, naming the image, when the journal needs
 * recovery: no replay), the kernel mounts {@code ro}; the unmount's {@link FolioFs#close} writes nothing.
 */
public final class FolioMount implements AutoCloseable {
    /** How long {@link #unmount()} waits for programs to close their files on the mount before forcing it. */
    public static final Duration DEFAULT_GRACE = Duration.ofSeconds(10);

    private final Path image, mountpoint;
    private final PrintStream log;
    private final ImageLock lock;
    private final FileDevice dev;
    private final FolioFs fs;
    private final FuseOps ops;
    private final FuseSession session;
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile IOException closeError;
    private boolean closing;

    private FolioMount(Path image, Path mountpoint, PrintStream log, ImageLock lock, FileDevice dev, FolioFs fs, FuseOps ops,
                       FuseSession session) {
        this.image = image;
        this.mountpoint = mountpoint;
        this.log = log;
        this.lock = lock;
        this.dev = dev;
        this.fs = fs;
        this.ops = ops;
        this.session = session;
    }

    /** Why FUSE mounts cannot work on this machine (library, /dev/fuse, fusermount3), or null. */
    public static String unavailable() {
        String why = FuseLib.unavailable();
        if (why != null) return why;
        if (!Files.exists(Path.of("/dev/fuse"))) return "/dev/fuse does not exist (no FUSE in this kernel or container)";
        if (FuseLib.geteuid() != 0 && !Files.isExecutable(Path.of("/usr/bin/fusermount3")) && !Files.isExecutable(Path.of("/bin/fusermount3")))
            return "fusermount3 is not installed (package fuse3) and we are not root";
        return null;
    }

    /** Mounts {@code image} on {@code mountpoint} and starts serving; messages (mount log, errors) go to {@code log}. */
    public static FolioMount mount(Path image, Path mountpoint, MountOptions opts, PrintStream log) throws IOException {
        String why = unavailable();
        if (why != null) throw new IOException("cannot mount FUSE: " + why);
        if (!Files.exists(image)) throw new java.nio.file.NoSuchFileException(image.toString(), null, "image does not exist");
        if (!Files.isDirectory(mountpoint))
            throw new java.nio.file.NotDirectoryException(mountpoint + " (the mount point must be an existing directory)");
        boolean ro = opts.readOnly();
        ImageLock lock = ro ? ImageLock.acquireShared(image) : ImageLock.acquire(image);
        FileDevice dev = null;
        FolioFs fs = null;
        try {
            dev = FileDevice.open(image, FileDevice.Options.defaults().withReadOnly(ro));
            if (!Volume.hasPrimaryMagic(dev))
                throw new IOException(image + " is not a FolioFS volume (no FolioFS superblock in block 0); make one with foliofs mkfs");
            if (opts.check()) check(image, dev);
            try {
                fs = ro ? FolioFs.mountReadOnly(dev) : FolioFs.mount(dev);
            } catch (RecoveryNeededException e) {
                throw needsRecovery(image, e.transactions(), e);
            }
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(opts.cacheBytes()).build());
            fs.setDefaultWriteMode(opts.writeMode().fsMode());
            for (String m : fs.mountLog()) log.println("foliofs: " + image + ": " + m);
            FuseOps ops = new FuseOps(fs, opts, log);
            FuseSession session = FuseSession.mount(ops, mountpoint, opts, "foliofs:" + image.toAbsolutePath(), log);
            FolioMount m = new FolioMount(image, mountpoint, log, lock, dev, fs, ops, session);
            session.start();
            return m;
        } catch (IOException | RuntimeException | Error e) {
            if (fs != null) {
                try { fs.close(); } catch (IOException | RuntimeException c) { e.addSuppressed(c); }
            }
            if (dev != null) dev.close();
            lock.close();
            throw e;
        }
    }

    /**
     * A read-only fsck; a log that needs recovery passes (a read-write mount replays it, a read-only one
     * refuses it with {@link #needsRecovery}), any other problem refuses.
     */
    private static void check(Path image, FileDevice dev) throws IOException {
        FsckReport r = Fsck.check(dev, false);
        if (r.clean()) return;
        if (r.needsRecovery() && r.problems().size() == 1) return;
        StringBuilder b = new StringBuilder(image + " fails its checks (" + r.problems().size() + " problem"
                + (r.problems().size() == 1 ? "" : "s") + "); not mounting it. Run foliofs fsck " + image + ". First problems:");
        r.problems().stream().limit(5).forEach(p -> b.append("\n  ").append(p));
        throw new IOException(b.toString());
    }

    /** The refusal of a read-only mount of an image whose journal must be replayed first. */
    private static IOException needsRecovery(Path image, long transactions, Throwable cause) {
        return new IOException(image + " needs journal recovery (" + transactions + " transactions)"
                + ": it was not unmounted cleanly, and a read-only mount does not replay the journal. Mount it read-write once"
                + " (foliofs mount " + image + " DIR, then unmount) or run foliofs fsck " + image + ", then mount it with -o ro", cause);
    }

    public Path image() { return image; }
    public Path mountpoint() { return mountpoint; }
    public FolioFs fileSystem() { return fs; }

    /**
     * Waits for the unmount, then closes everything (once; later calls wait for that close). Rethrows a
     * failure of the close.
     */
    public void awaitUnmounted() throws IOException, InterruptedException {
        synchronized (this) {
            if (closing) {
                closed.await();
                if (closeError != null) throw closeError;
                return;
            }
            closing = true;
        }
        try {
            while (!session.awaitEnd(1, TimeUnit.DAYS)) { /* keep waiting */ }
            shutDown();
        } finally {
            closed.countDown();
        }
        if (closeError != null) throw closeError;
    }

    private void shutDown() {
        try {
            if (ops.openHandles() > 0) log.println("foliofs: releasing " + ops.openHandles() + " files left open at unmount");
            ops.releaseAll();
            session.close();
            fs.close();
        } catch (IOException e) {
            closeError = new IOException("unmount of " + image + " did not finish cleanly: " + e.getMessage(), e);
            fs.abandon();
        } catch (RuntimeException e) {
            closeError = new IOException("unmount of " + image + " did not finish cleanly: " + e, e);
            fs.abandon();
        } finally {
            dev.close();
            lock.close();
        }
        if (session.loopError() != 0 && closeError == null)
            log.println("foliofs: the FUSE connection ended with errno " + session.loopError());
    }

    /** {@link #unmount(Duration)} with a grace of {@link #DEFAULT_GRACE}. */
    public void unmount() throws IOException, InterruptedException {
        unmount(DEFAULT_GRACE);
    }

    /**
     * Unmounts and waits until everything is closed: a plain unmount, retried for up to {@code grace}
     * while programs have files open on the mount, then a forced one (the connection is aborted: those
     * programs get ENOTCONN; their files are still released and written back here).
     */
    public void unmount(Duration grace) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        while (!session.requestUnmount(false)) {
            if (System.nanoTime() - deadline >= 0) {
                log.println("foliofs: " + mountpoint + " is still busy after " + grace.toMillis() + " ms; forcing the unmount");
                session.requestUnmount(true);
                break;
            }
            Thread.sleep(100);
        }
        awaitUnmounted();
    }

    /** {@link #unmount(Duration)} with half of {@code timeout} as the grace; false if it did not finish within {@code timeout}. */
    public boolean unmount(long timeout, TimeUnit unit) throws IOException, InterruptedException {
        IOException[] failure = {null};
        Thread t = Thread.ofPlatform().name("foliofs-unmount").daemon(true).start(() -> {
            try {
                unmount(Duration.ofNanos(unit.toNanos(timeout) / 2));
            } catch (IOException e) {
                failure[0] = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (!t.join(Duration.ofNanos(unit.toNanos(timeout)))) return false;
        if (failure[0] != null) throw failure[0];
        return true;
    }

    @Override
    public void close() throws IOException {
        try {
            unmount();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + mountpoint, e);
        }
    }

    @Override
    public String toString() { return "FolioMount[" + image + " on " + mountpoint + "]"; }
}
