package org.foliofs.fuse;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A libfuse low-level session: the {@code fuse_lowlevel_ops} table of upcall stubs bound to a
 * {@link FuseOps}, the mount, and our own multi-threaded request loop.
 *
 * <p>The loop is ours rather than {@code fuse_session_loop_mt}: that one cancels its worker threads
 * with {@code pthread_cancel} at exit, which must never hit a thread running Java code. Here each of
 * {@link MountOptions#threads()} Java platform threads calls {@code fuse_session_receive_buf} (a
 * blocking read of /dev/fuse, all threads on the one descriptor as libfuse's own loop does without
 * clone_fd) and {@code fuse_session_process_buf}, which calls the upcall on that same thread. When the
 * file system is unmounted (fusermount3 -u, umount, or {@link #requestUnmount}) every read fails with
 * ENODEV, receive returns 0 and the threads end; {@link #awaitEnd} joins them.
 *
 * <p>Lifetime: the stubs live in this session's arena, closed by {@link #close()} only after every
 * thread has ended and the session is destroyed (no upcall can come any more).
 */
final class FuseSession implements AutoCloseable {
    private static final int MNT_FORCE = 1, MNT_DETACH = 2;

    private final Arena arena = Arena.ofShared();
    private final FuseOps ops;
    private final Path mountpoint;
    private final MountOptions opts;
    private final PrintStream log;
    private final List<Thread> threads = new ArrayList<>();
    private MemorySegment se = MemorySegment.NULL;
    private boolean mounted;
    private volatile int loopError;

    private FuseSession(FuseOps ops, Path mountpoint, MountOptions opts, PrintStream log) {
        this.ops = ops;
        this.mountpoint = mountpoint;
        this.opts = opts;
        this.log = log;
    }

    /** Creates the session and mounts it on {@code mountpoint} (no request is served before {@link #start()}). */
    static FuseSession mount(FuseOps ops, Path mountpoint, MountOptions opts, String fsname, PrintStream log) throws IOException {
        String why = FuseLib.unavailable();
        if (why != null) throw new IOException(why);
        FuseSession s = new FuseSession(ops, mountpoint, opts, log);
        try {
            s.create(fsname);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void create(String fsname) throws IOException {
        MemorySegment table = arena.allocate(FuseLayout.OPS_SIZE, 8);   // zeroed: unset ops are ENOSYS
        for (FuseLayout.Op op : FuseLayout.Op.values()) {
            FunctionDescriptor fd = descriptor(op);
            if (fd == null) continue;
            String name = op.name().toLowerCase(Locale.ROOT);
            MethodHandle target;
            try {
                target = MethodHandles.lookup().findVirtual(FuseOps.class, name, fd.toMethodType()).bindTo(ops);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError("FuseOps has no method " + name + fd.toMethodType(), e);
            }
            table.set(ADDRESS, op.offset(), Linker.nativeLinker().upcallStub(target, fd, arena));
        }
        List<String> argv = new ArrayList<>(List.of("foliofs", "-o", opts.kernelOptions(fsname)));
        if (opts.debug()) argv.add("-d");
        MemorySegment args = arena.allocate(FuseLayout.ARGS_SIZE, 8);
        MemorySegment argvSeg = arena.allocate(ADDRESS, argv.size() + 1);
        for (int i = 0; i < argv.size(); i++) argvSeg.setAtIndex(ADDRESS, i, arena.allocateFrom(argv.get(i)));
        args.set(JAVA_INT, FuseLayout.ARGS_ARGC, argv.size());
        args.set(ADDRESS, FuseLayout.ARGS_ARGV, argvSeg);
        try {
            se = (MemorySegment) FuseLib.SESSION_NEW.invokeExact(args, table, FuseLayout.OPS_SIZE, MemorySegment.NULL);
        } catch (Throwable t) {
            throw FuseLib.bug(t);
        }
        if (se.address() == 0)
            throw new IOException("fuse_session_new failed for options " + String.join(" ", argv.subList(1, argv.size()))
                    + " (libfuse printed the reason above)");
        int r;
        try {
            r = (int) FuseLib.SESSION_MOUNT.invokeExact(se, arena.allocateFrom(mountpoint.toAbsolutePath().toString()));
        } catch (Throwable t) {
            throw FuseLib.bug(t);
        }
        if (r != 0) {
            String hint = Files.exists(Path.of("/dev/fuse")) ? "" : " (/dev/fuse does not exist: load the fuse module)";
            throw new IOException("cannot mount FUSE on " + mountpoint + hint + " (libfuse printed the reason above)");
        }
        mounted = true;
    }

    /** The upcall signature of each op we serve; null leaves the slot empty (the kernel gets ENOSYS). */
    private static FunctionDescriptor descriptor(FuseLayout.Op op) {
        MemoryLayout P = ADDRESS, L = JAVA_LONG, I = JAVA_INT;
        return switch (op) {
            case INIT -> FunctionDescriptor.ofVoid(P, P);
            case DESTROY -> FunctionDescriptor.ofVoid(P);
            case LOOKUP, UNLINK, RMDIR -> FunctionDescriptor.ofVoid(P, L, P);
            case FORGET -> FunctionDescriptor.ofVoid(P, L, L);
            case FORGET_MULTI -> FunctionDescriptor.ofVoid(P, L, P);
            case GETATTR, OPEN, FLUSH, RELEASE, OPENDIR, RELEASEDIR -> FunctionDescriptor.ofVoid(P, L, P);
            case SETATTR -> FunctionDescriptor.ofVoid(P, L, P, I, P);
            case READLINK, STATFS -> FunctionDescriptor.ofVoid(P, L);
            case MKNOD -> FunctionDescriptor.ofVoid(P, L, P, I, L);
            case MKDIR -> FunctionDescriptor.ofVoid(P, L, P, I);
            case SYMLINK -> FunctionDescriptor.ofVoid(P, P, L, P);
            case RENAME -> FunctionDescriptor.ofVoid(P, L, P, L, P, I);
            case LINK -> FunctionDescriptor.ofVoid(P, L, L, P);
            case READ, READDIR, READDIRPLUS -> FunctionDescriptor.ofVoid(P, L, L, L, P);
            case WRITE -> FunctionDescriptor.ofVoid(P, L, P, L, L, P);
            case FSYNC, FSYNCDIR -> FunctionDescriptor.ofVoid(P, L, I, P);
            case SETXATTR -> FunctionDescriptor.ofVoid(P, L, P, P, L, I);
            case GETXATTR -> FunctionDescriptor.ofVoid(P, L, P, L);
            case LISTXATTR -> FunctionDescriptor.ofVoid(P, L, L);
            case REMOVEXATTR -> FunctionDescriptor.ofVoid(P, L, P);
            case CREATE -> FunctionDescriptor.ofVoid(P, L, P, I, P);
            case FALLOCATE -> FunctionDescriptor.ofVoid(P, L, I, L, L, P);
            case LSEEK -> FunctionDescriptor.ofVoid(P, L, L, I, P);
            case IOCTL -> FunctionDescriptor.ofVoid(P, L, I, P, P, I, P, L, L);
            case COPY_FILE_RANGE -> FunctionDescriptor.ofVoid(P, L, L, P, L, L, P, L, I);
            // access: default_permissions makes the kernel check; locks are local (the kernel's);
            // poll, bmap, write_buf, retrieve_reply, flock: not served (the kernel's defaults apply).
            case ACCESS, GETLK, SETLK, BMAP, POLL, WRITE_BUF, RETRIEVE_REPLY, FLOCK -> null;
        };
    }

    /** Starts the request threads. */
    void start() {
        for (int i = 0; i < opts.threads(); i++) {
            Thread t = Thread.ofPlatform().name("foliofs-fuse-" + i).daemon(true).unstarted(this::loop);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void loop() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(FuseLayout.BUF_SIZE, 8);
            try {
                while (true) {
                    int r = FuseLib.receiveBuf(se, buf);
                    if (r == -Errnos.EINTR || r == -Errnos.EAGAIN) continue;
                    if (r <= 0) {
                        if (r < 0) {
                            loopError = -r;
                            log.println("foliofs: reading /dev/fuse failed: errno " + (-r));
                        }
                        return;
                    }
                    FuseLib.processBuf(se, buf);
                }
            } finally {
                MemorySegment mem = buf.get(ADDRESS, FuseLayout.BUF_MEM);
                if (mem.address() != 0) FuseLib.free(mem);
            }
        }
    }

    /** Waits until every request thread has ended (the file system was unmounted); false on timeout. */
    boolean awaitEnd(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !t.join(java.time.Duration.ofNanos(left))) return false;
        }
        return true;
    }

    /** The errno that ended the loop abnormally, or 0. */
    int loopError() { return loopError; }

    /**
     * Unmounts the file system, so that the session ends. Plain ({@code force} false): as
     * {@code fusermount3 -u}, which fails while files are open on the mount (returns false then). Forced:
     * as root {@code umount2(MNT_FORCE | MNT_DETACH)}, which aborts the connection (programs still using
     * the mount get ENOTCONN) and detaches it; not root, {@code fusermount3 -u -z} (lazy: the session
     * ends when the last file on it is closed). Directly with umount2 when we are root, else through
     * fusermount3. True also when it is not mounted any more.
     */
    boolean requestUnmount(boolean force) throws IOException {
        if (!mounted) return true;
        String mp = mountpoint.toAbsolutePath().toString();
        if (FuseLib.geteuid() == 0) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment errno = FuseLib.errnoSegment(a);
                int r = (int) FuseLib.UMOUNT2.invokeExact(errno, a.allocateFrom(mp), force ? MNT_FORCE | MNT_DETACH : 0);
                if (r == 0) return true;
                int e = FuseLib.errno(errno);
                if (e == Errnos.EINVAL || e == Errnos.ENOENT) return true;   // not mounted (any more)
                if (e == Errnos.EBUSY && !force) return false;
                throw new IOException("umount2 of " + mp + " failed: errno " + e);
            } catch (IOException e) {
                throw e;
            } catch (Throwable t) {
                throw FuseLib.bug(t);
            }
        }
        try {
            List<String> cmd = new ArrayList<>(List.of("fusermount3", "-u", "-q"));
            if (force) cmd.add("-z");
            cmd.add(mp);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() == 0) return true;
            if (out.contains("not found") || out.contains("not mounted")) return true;
            if (!force && out.contains("busy")) return false;
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + mp, e);
        }
    }

    /** Unmounts (if still mounted), destroys the session and frees the stubs. Call after {@link #awaitEnd}. */
    @Override
    public void close() {
        try {
            if (se.address() != 0) {
                if (mounted) FuseLib.SESSION_UNMOUNT.invokeExact(se);
                mounted = false;
                FuseLib.SESSION_DESTROY.invokeExact(se);
                se = MemorySegment.NULL;
            }
        } catch (Throwable t) {
            throw FuseLib.bug(t);
        }
        if (threads.stream().noneMatch(Thread::isAlive) && arena.scope().isAlive()) arena.close();   // never free stubs in use
    }
}
