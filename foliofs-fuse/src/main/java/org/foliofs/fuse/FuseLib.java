package org.foliofs.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libfuse 3 low-level functions the mount calls, bound once through the FFM API from the system
 * library {@code libfuse3.so.3} (package fuse3 / libfuse3-3), plus the few libc calls the mount needs.
 * Reply functions return 0 or {@code -errno} (a failed reply means the request was interrupted or the
 * connection is gone; there is nobody to tell). Use {@link #unavailable()} before touching anything else.
 */
final class FuseLib {
    private FuseLib() {}

    static final String LIBRARY = "libfuse3.so.3";
    private static final Linker LINKER = Linker.nativeLinker();
    private static final String LOAD_ERROR;
    private static final SymbolLookup LIB;

    static {
        String err = null;
        SymbolLookup lib = null;
        if (!"amd64".equals(System.getProperty("os.arch")) || !System.getProperty("os.name").equals("Linux")) {
            err = "the FUSE mount supports Linux on x86_64 only (this is " + System.getProperty("os.name") + " on "
                    + System.getProperty("os.arch") + ")";
        } else {
            try {
                lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            } catch (IllegalArgumentException e) {
                err = "cannot load " + LIBRARY + " (" + e.getMessage() + "); install the fuse3 package (apt-get install fuse3)";
            }
        }
        LOAD_ERROR = err;
        LIB = lib;
    }

    /** Why libfuse cannot be used here, or null when it can. */
    static String unavailable() { return LOAD_ERROR; }

    private static MethodHandle fuse(String name, FunctionDescriptor fd) {
        if (LIB == null) return null;
        Optional<MemorySegment> sym = LIB.find(name);
        if (sym.isEmpty()) throw new UnsatisfiedLinkError(LIBRARY + " has no symbol " + name + " (libfuse 3.2 or newer is needed)");
        return LINKER.downcallHandle(sym.get(), fd);
    }

    private static MethodHandle libc(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options);
    }

    // ---- session --------------------------------------------------------------------------------
    static final MethodHandle SESSION_NEW = fuse("fuse_session_new", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    static final MethodHandle SESSION_MOUNT = fuse("fuse_session_mount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle SESSION_UNMOUNT = fuse("fuse_session_unmount", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle SESSION_DESTROY = fuse("fuse_session_destroy", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle SESSION_EXIT = fuse("fuse_session_exit", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle SESSION_RECEIVE_BUF = fuse("fuse_session_receive_buf", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle SESSION_PROCESS_BUF = fuse("fuse_session_process_buf", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));

    // ---- replies --------------------------------------------------------------------------------
    static final MethodHandle REPLY_ERR = fuse("fuse_reply_err", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle REPLY_NONE = fuse("fuse_reply_none", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle REPLY_ENTRY = fuse("fuse_reply_entry", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle REPLY_CREATE = fuse("fuse_reply_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle REPLY_ATTR = fuse("fuse_reply_attr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_DOUBLE));
    static final MethodHandle REPLY_READLINK = fuse("fuse_reply_readlink", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle REPLY_OPEN = fuse("fuse_reply_open", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle REPLY_WRITE = fuse("fuse_reply_write", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle REPLY_BUF = fuse("fuse_reply_buf", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle REPLY_STATFS = fuse("fuse_reply_statfs", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle REPLY_XATTR = fuse("fuse_reply_xattr", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle REPLY_LSEEK = fuse("fuse_reply_lseek", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle REPLY_IOCTL = fuse("fuse_reply_ioctl", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle ADD_DIRENTRY = fuse("fuse_add_direntry",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle ADD_DIRENTRY_PLUS = fuse("fuse_add_direntry_plus",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle REQ_CTX = fuse("fuse_req_ctx", FunctionDescriptor.of(ADDRESS, ADDRESS));

    // ---- libc -----------------------------------------------------------------------------------
    static final MethodHandle FREE = libc("free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    static final MethodHandle OPEN = libc("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO,
            Linker.Option.firstVariadicArg(2));
    static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    static final MethodHandle FLOCK = libc("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    static final MethodHandle UMOUNT2 = libc("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    static final MethodHandle GETEUID = libc("geteuid", FunctionDescriptor.of(JAVA_INT));

    private static final java.lang.invoke.VarHandle ERRNO_VH =
            Linker.Option.captureStateLayout().varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    /** A segment for {@link Linker.Option#captureCallState}. */
    static MemorySegment errnoSegment(Arena arena) { return arena.allocate(Linker.Option.captureStateLayout()); }

    static int errno(MemorySegment capture) { return (int) ERRNO_VH.get(capture, 0L); }

    // ---- thin wrappers (the reply calls never throw: a Throwable here is a binding bug) ----------

    static int replyErr(MemorySegment req, int errno) {
        try { return (int) REPLY_ERR.invokeExact(req, errno); } catch (Throwable t) { throw bug(t); }
    }

    static void replyNone(MemorySegment req) {
        try { REPLY_NONE.invokeExact(req); } catch (Throwable t) { throw bug(t); }
    }

    static int replyEntry(MemorySegment req, MemorySegment e) {
        try { return (int) REPLY_ENTRY.invokeExact(req, e); } catch (Throwable t) { throw bug(t); }
    }

    static int replyCreate(MemorySegment req, MemorySegment e, MemorySegment fi) {
        try { return (int) REPLY_CREATE.invokeExact(req, e, fi); } catch (Throwable t) { throw bug(t); }
    }

    static int replyAttr(MemorySegment req, MemorySegment st, double timeout) {
        try { return (int) REPLY_ATTR.invokeExact(req, st, timeout); } catch (Throwable t) { throw bug(t); }
    }

    static int replyReadlink(MemorySegment req, MemorySegment target) {
        try { return (int) REPLY_READLINK.invokeExact(req, target); } catch (Throwable t) { throw bug(t); }
    }

    static int replyOpen(MemorySegment req, MemorySegment fi) {
        try { return (int) REPLY_OPEN.invokeExact(req, fi); } catch (Throwable t) { throw bug(t); }
    }

    static int replyWrite(MemorySegment req, long count) {
        try { return (int) REPLY_WRITE.invokeExact(req, count); } catch (Throwable t) { throw bug(t); }
    }

    static int replyBuf(MemorySegment req, MemorySegment buf, long size) {
        try { return (int) REPLY_BUF.invokeExact(req, buf, size); } catch (Throwable t) { throw bug(t); }
    }

    static int replyStatfs(MemorySegment req, MemorySegment st) {
        try { return (int) REPLY_STATFS.invokeExact(req, st); } catch (Throwable t) { throw bug(t); }
    }

    static int replyXattr(MemorySegment req, long count) {
        try { return (int) REPLY_XATTR.invokeExact(req, count); } catch (Throwable t) { throw bug(t); }
    }

    static int replyLseek(MemorySegment req, long off) {
        try { return (int) REPLY_LSEEK.invokeExact(req, off); } catch (Throwable t) { throw bug(t); }
    }

    static int replyIoctl(MemorySegment req, int result, MemorySegment buf, long size) {
        try { return (int) REPLY_IOCTL.invokeExact(req, result, buf, size); } catch (Throwable t) { throw bug(t); }
    }

    static long addDirentry(MemorySegment req, MemorySegment buf, long size, MemorySegment name, MemorySegment st, long off) {
        try { return (long) ADD_DIRENTRY.invokeExact(req, buf, size, name, st, off); } catch (Throwable t) { throw bug(t); }
    }

    static long addDirentryPlus(MemorySegment req, MemorySegment buf, long size, MemorySegment name, MemorySegment e, long off) {
        try { return (long) ADD_DIRENTRY_PLUS.invokeExact(req, buf, size, name, e, off); } catch (Throwable t) { throw bug(t); }
    }

    static MemorySegment reqCtx(MemorySegment req) {
        try { return ((MemorySegment) REQ_CTX.invokeExact(req)).reinterpret(FuseLayout.CTX_SIZE); } catch (Throwable t) { throw bug(t); }
    }

    static int receiveBuf(MemorySegment se, MemorySegment buf) {
        try { return (int) SESSION_RECEIVE_BUF.invokeExact(se, buf); } catch (Throwable t) { throw bug(t); }
    }

    static void processBuf(MemorySegment se, MemorySegment buf) {
        try { SESSION_PROCESS_BUF.invokeExact(se, buf); } catch (Throwable t) { throw bug(t); }
    }

    static void free(MemorySegment p) {
        try { FREE.invokeExact(p); } catch (Throwable t) { throw bug(t); }
    }

    static int geteuid() {
        try { return (int) GETEUID.invokeExact(); } catch (Throwable t) { throw bug(t); }
    }

    static AssertionError bug(Throwable t) {
        return new AssertionError("FFM call failed: " + t, t);
    }
}
