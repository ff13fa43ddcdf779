package org.foliofs.device;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library calls the device layer needs, bound once through the FFM API (no JNI). Calls that
 * can fail capture errno into a per-thread segment; wrappers return {@code -errno} on failure and
 * the result otherwise, so hot paths never throw or allocate.
 */
final class Native {
    private Native() {}

    // open(2) flags (x86_64)
    static final int O_RDONLY = 0, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_DIRECT = 0x4000, O_CLOEXEC = 0x80000;
    // preadv2/pwritev2 flags
    static final int RWF_DSYNC = 0x2, RWF_ATOMIC = 0x40;
    // fallocate modes
    static final int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;
    // ioctls
    static final long BLKGETSIZE64 = 0x80081272L, BLKSSZGET = 0x1268, BLKPBSZGET = 0x127b, BLKDISCARD = 0x1277;
    // statx
    static final int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000;
    static final int STATX_BASIC_STATS = 0x7ff, STATX_DIOALIGN = 0x2000, STATX_WRITE_ATOMIC = 0x10000;
    static final int S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFBLK = 0x6000;
    // statx buffer offsets (include/uapi/linux/stat.h)
    static final long STX_MASK = 0, STX_BLKSIZE = 4, STX_MODE = 28, STX_SIZE = 40, STX_RDEV_MAJOR = 128,
            STX_RDEV_MINOR = 132, STX_DEV_MAJOR = 136, STX_DEV_MINOR = 140, STX_DIO_MEM_ALIGN = 152,
            STX_DIO_OFFSET_ALIGN = 156, STX_ATOMIC_MIN = 168, STX_ATOMIC_MAX = 172, STX_ATOMIC_SEGMENTS_MAX = 176;
    static final int STATX_SIZE = 256;
    // mmap
    static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_POPULATE = 0x8000;
    // syscall numbers (x86_64)
    static final long SYS_IO_URING_SETUP = 425, SYS_IO_URING_ENTER = 426, SYS_IO_URING_REGISTER = 427;

    /** struct iovec { void *iov_base; size_t iov_len; } */
    static final long IOVEC_SIZE = 16;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayoutPath.ERRNO);
    private static final Linker.Option CCS = Linker.Option.captureCallState("errno");

    private static final ThreadLocal<MemorySegment> CAPTURE_SEGMENT =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE));

    private static final MethodHandle OPEN = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            CCS, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CCS);
    private static final MethodHandle PREADV2 = bind("preadv2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), CCS);
    private static final MethodHandle PWRITEV2 = bind("pwritev2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), CCS);
    private static final MethodHandle FDATASYNC = bind("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CCS);
    private static final MethodHandle FALLOCATE = bind("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), CCS);
    private static final MethodHandle FTRUNCATE = bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), CCS);
    private static final MethodHandle IOCTL = bind("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            CCS, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle STATX = bind("statx",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), CCS);
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), CCS);
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), CCS);
    private static final MethodHandle EVENTFD = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CCS);
    private static final MethodHandle WRITE = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), CCS);
    private static final MethodHandle MADVISE = bind("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CCS);
    private static final MethodHandle STRERROR = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle SYSCALL6 = bind("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            CCS, Linker.Option.firstVariadicArg(1));

    /** Names the layout path of errno inside the capture-state struct. */
    private static final class MemoryLayoutPath {
        static final java.lang.foreign.MemoryLayout.PathElement ERRNO =
                java.lang.foreign.MemoryLayout.PathElement.groupElement("errno");
    }

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment sym = LIBC.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("C library function " + name + " not found"));
        return LINKER.downcallHandle(sym, fd, options);
    }

    private static MemorySegment capture() { return CAPTURE_SEGMENT.get(); }

    private static int errno(MemorySegment cap) { return (int) ERRNO.get(cap, 0L); }

    private static RuntimeException unexpected(Throwable t) {
        return new IllegalStateException("native call failed unexpectedly", t);
    }

    // ---- wrappers: result >= 0, or -errno ---------------------------------------------------

    static int open(String path, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = capture();
            int r = (int) OPEN.invokeExact(cap, a.allocateFrom(path), flags, mode);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int close(int fd) {
        try {
            MemorySegment cap = capture();
            int r = (int) CLOSE.invokeExact(cap, fd);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static long preadv2(int fd, MemorySegment iov, int iovcnt, long offset, int flags) {
        try {
            MemorySegment cap = capture();
            long r = (long) PREADV2.invokeExact(cap, fd, iov, iovcnt, offset, flags);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static long pwritev2(int fd, MemorySegment iov, int iovcnt, long offset, int flags) {
        try {
            MemorySegment cap = capture();
            long r = (long) PWRITEV2.invokeExact(cap, fd, iov, iovcnt, offset, flags);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int fdatasync(int fd) {
        try {
            MemorySegment cap = capture();
            int r = (int) FDATASYNC.invokeExact(cap, fd);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int fallocate(int fd, int mode, long offset, long len) {
        try {
            MemorySegment cap = capture();
            int r = (int) FALLOCATE.invokeExact(cap, fd, mode, offset, len);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int ftruncate(int fd, long len) {
        try {
            MemorySegment cap = capture();
            int r = (int) FTRUNCATE.invokeExact(cap, fd, len);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment cap = capture();
            int r = (int) IOCTL.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** statx on an open fd (AT_EMPTY_PATH) into a 256-byte buffer. */
    static int fstatx(int fd, int mask, MemorySegment buf) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = capture();
            int r = (int) STATX.invokeExact(cap, fd, a.allocateFrom(""), AT_EMPTY_PATH, mask, buf);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** mmap; returns the mapping, or throws DeviceException (cold, setup only). */
    static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String what) throws DeviceException {
        try {
            MemorySegment cap = capture();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(cap, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (p.address() == -1L) throw new DeviceException("mmap of " + what + " (" + length + " bytes)", errno(cap));
            return p.reinterpret(length);
        } catch (DeviceException e) {
            throw e;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static final int MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MADV_HUGEPAGE = 14;

    static int madvise(MemorySegment addr, long length, int advice) {
        try {
            MemorySegment cap = capture();
            int r = (int) MADVISE.invokeExact(cap, addr, length, advice);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static int munmap(MemorySegment addr, long length) {
        try {
            MemorySegment cap = capture();
            int r = (int) MUNMAP.invokeExact(cap, addr, length);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static final int EFD_CLOEXEC = 0x80000;

    static int eventfd(int initval, int flags) {
        try {
            MemorySegment cap = capture();
            int r = (int) EVENTFD.invokeExact(cap, initval, flags);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    static long write(int fd, MemorySegment buf, long len) {
        try {
            MemorySegment cap = capture();
            long r = (long) WRITE.invokeExact(cap, fd, buf, len);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** The raw syscall(2) with up to six arguments; -errno on failure. */
    static long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        try {
            MemorySegment cap = capture();
            long r = (long) SYSCALL6.invokeExact(cap, nr, a1, a2, a3, a4, a5, a6);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** strerror text, or null when it cannot be obtained. */
    static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            return p.address() == 0 ? null : p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    static void putIovec(MemorySegment iovs, int i, MemorySegment buf) {
        iovs.set(JAVA_LONG, i * IOVEC_SIZE, buf.address());
        iovs.set(JAVA_LONG, i * IOVEC_SIZE + 8, buf.byteSize());
    }

}
