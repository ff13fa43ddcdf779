package org.foliofs.fuse;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.foliofs.fs.DirEntry;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Inode;
import org.foliofs.fs.NoSuchAttributeException;
import org.foliofs.fs.ReadOnlyVolumeException;
import org.foliofs.iomap.IoMapReport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.foliofs.fuse.FuseLayout.*;

/**
 * The FUSE low-level operations on a {@link FolioFs}: each method is the target of one upcall stub
 * ({@link FuseSession} binds them by name, in {@link FuseLayout.Op} order), checks and normalises its
 * arguments, calls the file system, and replies exactly once. Every method catches everything: an
 * exception escaping an upcall would kill the JVM. Errors become errno values in {@link Errnos} only;
 * unexpected ones (EIO) are logged with their stack trace.
 *
 * <p>Threads: the session's worker threads call these methods concurrently. The file system serialises
 * its metadata operations itself (journal lock) and file data I/O takes the inode's lock; this class
 * adds only the handle table ({@link ConcurrentHashMap}, no lock of its own is held across a call into
 * the file system) and per-thread native scratch memory.
 *
 * <p>Open files: a FUSE file handle ({@code fh}) names one {@link FolioFile}; {@link #openInodes} counts
 * the handles per inode so that getattr reports the in-memory size of an open file (buffered writes
 * grow it before writeback reaches the on-disk inode) and so that writes move mtime/ctime at most once
 * a second per inode (a journal operation each time).
 */
final class FuseOps {
    static final int O_ACCMODE = 3, O_TRUNC = 0x200, O_DSYNC = 0x1000, O_DIRECT = 0x4000, O_SYNC_ONLY = 0x100000;
    static final int SEEK_DATA = 3, SEEK_HOLE = 4;
    /** ioctl commands (x86_64 numbers; the 32-bit-sized FLAGS variants are what the kernel's fileattr code sends). */
    static final int FICLONE = 0x40049409, FICLONERANGE = 0x4020940d, FS_IOC_GETFLAGS = 0x80086601, FS_IOC_SETFLAGS = 0x40086602,
            FS_IOC32_GETFLAGS = 0x80046601, FS_IOC32_SETFLAGS = 0x40046602, FS_IOC_FSGETXATTR = 0x801c581f,
            FS_IOC_FSSETXATTR = 0x401c5820;
    static final int FS_SYNC_FL = 0x8, FS_XFLAG_SYNC = 0x20;
    static final long FSXATTR_SIZE = 28;
    /** copy_file_range's reply is a 32-bit count (fuse_write_out.size): one request copies at most this. */
    static final long COPY_MAX = 0xFFFF_F000L;
    private static final long MTIME_GRANULARITY_NS = 1_000_000_000L;

    private final FolioFs fs;
    private final MountOptions opts;
    private final PrintStream log;
    private final int blockSize, lbs;
    private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
    private final Map<Long, OpenInode> openInodes = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /** One open file handle. */
    private record Handle(long ino, FolioFile file) {}

    /** The open handles of one inode (guarded by the map's compute). */
    private static final class OpenInode {
        int count;
        volatile long mtimeSetAt;   // System.nanoTime() of the last mtime update by a write
    }

    /** Per-thread native memory for the structures replies point to. */
    private static final class Scratch {
        final Arena arena = Arena.ofAuto();
        final MemorySegment stat = arena.allocate(STAT_SIZE, 8);
        final MemorySegment entry = arena.allocate(ENTRY_SIZE, 8);
        final MemorySegment statvfs = arena.allocate(STATVFS_SIZE, 8);
        final MemorySegment name = arena.allocate(4096);
        final MemorySegment dir = arena.allocate(128 << 10, 8);
        final MemorySegment small = arena.allocate(64, 8);
        MemorySegment io = arena.allocate(1 << 20, 4096);

        /** An aligned buffer of {@code size} bytes (grown on demand). */
        MemorySegment io(long size) {
            if (size > io.byteSize()) io = arena.allocate((size + 4095) & ~4095L, 4096);
            return io.asSlice(0, size);
        }

        /** {@code bytes} as a NUL-terminated C string. */
        MemorySegment cString(byte[] bytes) {
            MemorySegment s = bytes.length < name.byteSize() ? name : arena.allocate(bytes.length + 1);
            MemorySegment.copy(bytes, 0, s, JAVA_BYTE, 0, bytes.length);
            s.set(JAVA_BYTE, bytes.length, (byte) 0);
            return s;
        }
    }

    FuseOps(FolioFs fs, MountOptions opts, PrintStream log) {
        this.fs = fs;
        this.opts = opts;
        this.log = log;
        this.blockSize = fs.blockSize();
        this.lbs = fs.device().logicalBlockSize();
    }

    /** Open handles left when the connection ended (a lazy unmount, a killed client). */
    int openHandles() { return handles.size(); }

    /** Closes every handle still open (after the session ended: no request can race). */
    void releaseAll() {
        for (Long fh : List.copyOf(handles.keySet())) {
            try {
                closeHandle(fh);
            } catch (IOException | RuntimeException e) {
                log.println("foliofs: closing a file left open at unmount failed: " + e.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String str(MemorySegment cstr) {
        return cstr.reinterpret(Long.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
    }

    private static boolean isNull(MemorySegment p) { return p.address() == 0; }

    private void fail(MemorySegment req, Throwable t, String op, Object... args) {
        int errno = Errnos.of(t);
        if (Errnos.unexpected(t)) {
            StringBuilder b = new StringBuilder("foliofs: ").append(op);
            for (Object a : args) b.append(' ').append(a);
            log.println(b.append(": ").append(t));
            t.printStackTrace(log);
        }
        FuseLib.replyErr(req, errno);
    }

    /**
     * The attributes; an open file's size is its in-memory size (FolioFs.getattr), so a getattr
     * served while a RELEASE still writes back (the kernel does not wait for it) sees the written
     * size, and an O_APPEND write after it lands at the end.
     */
    private FolioFs.Attr attr(long ino) throws IOException {
        return fs.getattr(ino);
    }

    private void replyEntry(MemorySegment req, FolioFs.Attr a) {
        Scratch s = scratch.get();
        putEntry(s.entry, a, blockSize, opts.attrTimeout(), opts.entryTimeout());
        FuseLib.replyEntry(req, s.entry);
    }

    private Handle handle(MemorySegment fi) throws IOException {
        if (isNull(fi)) throw new java.nio.file.FileSystemException(null, null, "Invalid argument: no file handle");
        long fh = fi.reinterpret(FI_SIZE).get(JAVA_LONG, FI_FH);
        Handle h = handles.get(fh);
        if (h == null) throw new IOException("unknown file handle " + fh);
        return h;
    }

    private long register(long ino, FolioFile f) {
        long fh = nextFh.getAndIncrement();
        handles.put(fh, new Handle(ino, f));
        openInodes.compute(ino, (k, o) -> {
            if (o == null) o = new OpenInode();
            o.count++;
            return o;
        });
        return fh;
    }

    /** Closes a handle (the last close leaves dirty data to background writeback, see FolioFile#close). */
    private void closeHandle(long fh) throws IOException {
        Handle h = handles.remove(fh);
        if (h == null) return;
        try {
            h.file.close();
        } finally {
            openInodes.computeIfPresent(h.ino, (k, o) -> {
                return --o.count == 0 ? null : o;
            });
        }
    }

    private void setFh(MemorySegment fi, long fh) {
        MemorySegment f = fi.reinterpret(FI_SIZE);
        f.set(JAVA_LONG, FI_FH, fh);
        int bits = f.get(JAVA_INT, FI_BITS);
        bits = opts.directIo() ? bits | FI_DIRECT_IO : bits | FI_KEEP_CACHE;
        f.set(JAVA_INT, FI_BITS, bits);
    }

    private static int[] ctx(MemorySegment req) {
        MemorySegment c = FuseLib.reqCtx(req);
        return new int[] {c.get(JAVA_INT, CTX_UID), c.get(JAVA_INT, CTX_GID)};
    }

    private static long now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    /** A write changes mtime and ctime: at most once per {@link #MTIME_GRANULARITY_NS} per inode. */
    private void touchForWrite(long ino) throws IOException {
        OpenInode o = openInodes.get(ino);
        long t = System.nanoTime();
        if (o != null && o.mtimeSetAt != 0 && t - o.mtimeSetAt < MTIME_GRANULARITY_NS) return;
        if (o != null) o.mtimeSetAt = t == 0 ? 1 : t;
        fs.setattr(ino, new FolioFs.SetAttr(null, null, null, null, null, now(), null, null));
    }

    // ---------------------------------------------------------------- connection

    void init(MemorySegment userdata, MemorySegment conn) {
        try {
            MemorySegment c = conn.reinterpret(CONN_SIZE);
            int capable = c.get(JAVA_INT, CONN_CAPABLE);
            int want = c.get(JAVA_INT, CONN_WANT);
            // Our page cache is the cache: no kernel write-back cache, no splice; the kernel clears
            // set-user-ID bits itself (no HANDLE_KILLPRIV); no POSIX ACLs.
            want &= ~(CAP_WRITEBACK_CACHE | CAP_SPLICE_READ | CAP_SPLICE_WRITE | CAP_SPLICE_MOVE | CAP_HANDLE_KILLPRIV | CAP_POSIX_ACL);
            if ((capable & CAP_READDIRPLUS) != 0) want |= CAP_READDIRPLUS;
            if ((capable & CAP_READDIRPLUS_AUTO) != 0) want |= CAP_READDIRPLUS_AUTO;
            if ((capable & CAP_IOCTL_DIR) != 0) want |= CAP_IOCTL_DIR;   // lsattr -d / chattr on a directory
            if (!opts.directIo() && (capable & CAP_AUTO_INVAL_DATA) != 0) want |= CAP_AUTO_INVAL_DATA;
            c.set(JAVA_INT, CONN_WANT, want & capable);
            c.set(JAVA_INT, CONN_TIME_GRAN, 1);
        } catch (Throwable t) {
            log.println("foliofs: FUSE init failed: " + t);
        }
    }

    void destroy(MemorySegment userdata) {}

    // ---------------------------------------------------------------- names

    void lookup(MemorySegment req, long parent, MemorySegment name) {
        String n = null;
        try {
            n = str(name);
            replyEntry(req, attr(fs.lookup(parent, n)));
        } catch (Throwable t) {
            fail(req, t, "lookup", parent, n);
        }
    }

    void forget(MemorySegment req, long ino, long nlookup) {
        FuseLib.replyNone(req);   // inode numbers live as long as the inode; nothing is counted
    }

    void forget_multi(MemorySegment req, long count, MemorySegment forgets) {
        FuseLib.replyNone(req);
    }

    void getattr(MemorySegment req, long ino, MemorySegment fi) {
        try {
            Scratch s = scratch.get();
            putStat(s.stat, attr(ino), blockSize);
            FuseLib.replyAttr(req, s.stat, opts.attrTimeout());
        } catch (Throwable t) {
            fail(req, t, "getattr", ino);
        }
    }

    void setattr(MemorySegment req, long ino, MemorySegment attr, int toSet, MemorySegment fi) {
        try {
            MemorySegment st = attr.reinterpret(STAT_SIZE);
            if ((toSet & SET_SIZE) != 0) {
                long size = st.get(JAVA_LONG, ST_SIZE);
                Handle h = isNull(fi) ? null : handles.get(fi.reinterpret(FI_SIZE).get(JAVA_LONG, FI_FH));
                if (h != null) {
                    h.file.truncate(size);
                } else {
                    try (FolioFile f = fs.openFile(ino)) {
                        f.truncate(size);
                    }
                }
            }
            long now = now();
            Integer mode = (toSet & SET_MODE) != 0 ? st.get(JAVA_INT, ST_MODE) & 07777 : null;
            Integer uid = (toSet & SET_UID) != 0 ? st.get(JAVA_INT, ST_UID) : null;
            Integer gid = (toSet & SET_GID) != 0 ? st.get(JAVA_INT, ST_GID) : null;
            Long atime = (toSet & SET_ATIME_NOW) != 0 ? (Long) now : (toSet & SET_ATIME) != 0 ? (Long) getTime(st, ST_ATIM) : null;
            Long mtime = (toSet & SET_MTIME_NOW) != 0 ? (Long) now : (toSet & SET_MTIME) != 0 ? (Long) getTime(st, ST_MTIM) : null;
            if (mode != null || uid != null || gid != null || atime != null || mtime != null)
                fs.setattr(ino, new FolioFs.SetAttr(mode, uid, gid, null, atime, mtime, null, null));
            Scratch s = scratch.get();
            putStat(s.stat, attr(ino), blockSize);
            FuseLib.replyAttr(req, s.stat, opts.attrTimeout());
        } catch (Throwable t) {
            fail(req, t, "setattr", ino, "0x" + Integer.toHexString(toSet));
        }
    }

    void readlink(MemorySegment req, long ino) {
        try {
            FuseLib.replyReadlink(req, scratch.get().cString(fs.readlink(ino).getBytes(StandardCharsets.UTF_8)));
        } catch (Throwable t) {
            fail(req, t, "readlink", ino);
        }
    }

    void mknod(MemorySegment req, long parent, MemorySegment name, int mode, long rdev) {
        String n = null;
        try {
            n = str(name);
            int type = mode & Inode.S_IFMT;
            if (type == Inode.S_IFCHR || type == Inode.S_IFBLK)
                throw new java.nio.file.FileSystemException(n, null, "Operation not permitted: FolioFS does not store device nodes");
            if (type == 0) mode |= Inode.S_IFREG;
            int[] c = ctx(req);
            replyEntry(req, fs.mknod(parent, n, mode, c[0], c[1]));
        } catch (Throwable t) {
            fail(req, t, "mknod", parent, n);
        }
    }

    void mkdir(MemorySegment req, long parent, MemorySegment name, int mode) {
        String n = null;
        try {
            n = str(name);
            int[] c = ctx(req);
            replyEntry(req, fs.mkdir(parent, n, mode & 07777, c[0], c[1]));
        } catch (Throwable t) {
            fail(req, t, "mkdir", parent, n);
        }
    }

    void unlink(MemorySegment req, long parent, MemorySegment name) {
        String n = null;
        try {
            n = str(name);
            fs.unlink(parent, n);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "unlink", parent, n);
        }
    }

    void rmdir(MemorySegment req, long parent, MemorySegment name) {
        String n = null;
        try {
            n = str(name);
            fs.rmdir(parent, n);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "rmdir", parent, n);
        }
    }

    void symlink(MemorySegment req, MemorySegment link, long parent, MemorySegment name) {
        String n = null;
        try {
            n = str(name);
            int[] c = ctx(req);
            replyEntry(req, fs.symlink(parent, n, str(link), c[0], c[1]));
        } catch (Throwable t) {
            fail(req, t, "symlink", parent, n);
        }
    }

    void rename(MemorySegment req, long parent, MemorySegment name, long newParent, MemorySegment newName, int flags) {
        String a = null, b = null;
        try {
            a = str(name);
            b = str(newName);
            fs.rename(parent, a, newParent, b, flags);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "rename", parent, a, newParent, b, flags);
        }
    }

    void link(MemorySegment req, long ino, long newParent, MemorySegment newName) {
        String n = null;
        try {
            n = str(newName);
            fs.link(ino, newParent, n);
            replyEntry(req, attr(ino));
        } catch (Throwable t) {
            fail(req, t, "link", ino, newParent, n);
        }
    }

    // ---------------------------------------------------------------- files

    void open(MemorySegment req, long ino, MemorySegment fi) {
        try {
            int flags = fi.reinterpret(FI_SIZE).get(JAVA_INT, FI_FLAGS);
            if ((flags & O_ACCMODE) != 0 && fs.isReadOnly())   // the kernel's ro mount refuses this first
                throw new ReadOnlyVolumeException("inode " + ino, "open for writing refused: the volume is mounted read-only");
            FolioFile f = fs.openFile(ino);
            long fh;
            try {
                if ((flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != 0 && f.size() != 0) f.truncate(0);
                fh = register(ino, f);
            } catch (Throwable t) {
                f.close();
                throw t;
            }
            setFh(fi, fh);
            if (FuseLib.replyOpen(req, fi) != 0) closeHandle(fh);   // interrupted: no release will come
        } catch (Throwable t) {
            fail(req, t, "open", ino);
        }
    }

    void create(MemorySegment req, long parent, MemorySegment name, int mode, MemorySegment fi) {
        String n = null;
        try {
            n = str(name);
            int[] c = ctx(req);
            FolioFs.Attr a = fs.create(parent, n, mode & 07777, c[0], c[1]);
            FolioFile f = fs.openFile(a.ino());
            long fh = register(a.ino(), f);
            setFh(fi, fh);
            Scratch s = scratch.get();
            putEntry(s.entry, a, blockSize, opts.attrTimeout(), opts.entryTimeout());
            if (FuseLib.replyCreate(req, s.entry, fi) != 0) closeHandle(fh);
        } catch (Throwable t) {
            fail(req, t, "create", parent, n);
        }
    }

    void read(MemorySegment req, long ino, long size, long off, MemorySegment fi) {
        try {
            Handle h = handle(fi);
            int flags = fi.reinterpret(FI_SIZE).get(JAVA_INT, FI_FLAGS);
            MemorySegment buf = scratch.get().io(size);
            long n;
            if ((flags & O_DIRECT) != 0) {
                checkDirect("read", off, size);
                n = h.file.readDirect(off, buf, 0);
            } else {
                n = h.file.read(off, buf);
            }
            FuseLib.replyBuf(req, buf, Math.max(0, n));
        } catch (Throwable t) {
            fail(req, t, "read", ino, off, size);
        }
    }

    void write(MemorySegment req, long ino, MemorySegment buf, long size, long off, MemorySegment fi) {
        try {
            Handle h = handle(fi);
            int flags = fi.reinterpret(FI_SIZE).get(JAVA_INT, FI_FLAGS);
            boolean dsync = (flags & O_DSYNC) != 0, sync = (flags & O_SYNC_ONLY) != 0;
            MemorySegment src = buf.reinterpret(size);
            long n;
            if ((flags & O_DIRECT) != 0) {
                checkDirect("write", off, size);
                MemorySegment aligned = scratch.get().io(size);
                MemorySegment.copy(src, 0, aligned, 0, size);
                n = h.file.writeDirect(off, aligned, dsync && !sync ? FolioFile.DSYNC : 0);
                if (sync) h.file.fsync(false);
            } else {
                n = h.file.write(off, src);
                if (sync || dsync) h.file.fsync(!sync);
            }
            touchForWrite(ino);
            FuseLib.replyWrite(req, n);
        } catch (Throwable t) {
            fail(req, t, "write", ino, off, size);
        }
    }

    /** O_DIRECT I/O must be aligned to the device's logical block size, as on any Linux file system. */
    private void checkDirect(String op, long off, long size) throws java.nio.file.FileSystemException {
        if (off % lbs != 0 || size % lbs != 0)
            throw new java.nio.file.FileSystemException(null, null, "Invalid argument: O_DIRECT " + op + " of " + size + " bytes at "
                    + off + " is not aligned to the logical block size " + lbs);
    }

    void flush(MemorySegment req, long ino, MemorySegment fi) {
        FuseLib.replyErr(req, 0);   // close(2) of one descriptor: nothing to do (as release, no writeback)
    }

    void release(MemorySegment req, long ino, MemorySegment fi) {
        try {
            closeHandle(fi.reinterpret(FI_SIZE).get(JAVA_LONG, FI_FH));
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "release", ino);
        }
    }

    void fsync(MemorySegment req, long ino, int datasync, MemorySegment fi) {
        try {
            handle(fi).file.fsync(datasync != 0);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "fsync", ino);
        }
    }

    void fallocate(MemorySegment req, long ino, int mode, long off, long len, MemorySegment fi) {
        try {
            handle(fi).file.fallocate(mode, off, len);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "fallocate", ino, "mode 0x" + Integer.toHexString(mode), off, len);
        }
    }

    void lseek(MemorySegment req, long ino, long off, int whence, MemorySegment fi) {
        try {
            FolioFile f = handle(fi).file;
            long r = switch (whence) {
                case SEEK_DATA -> f.seekData(off);
                case SEEK_HOLE -> f.seekHole(off);
                default -> throw new IllegalArgumentException("lseek whence " + whence + " is not SEEK_DATA or SEEK_HOLE");
            };
            if (r == IoMapReport.NOT_FOUND || r < 0) FuseLib.replyErr(req, Errnos.ENXIO);
            else FuseLib.replyLseek(req, r);
        } catch (Throwable t) {
            fail(req, t, "lseek", ino, off, whence);
        }
    }

    /**
     * copy_file_range(2) within the mount (the kernel sends it only when both files are ours). The
     * block-aligned part is a reflink ({@link FolioFile#cloneRange}): the copy shares the source's
     * blocks; the rest is read and written through the files (the destination's write mode applies;
     * its O_DSYNC/O_SYNC open flags add an fsync). See {@link FolioFile#copyRangeFrom}. Overlapping ranges of one file
     * are EINVAL, as Linux's own check; a count past the source's EOF is cut there (0 at or past it).
     * A failure after some progress replies the bytes done, as write(2).
     */
    void copy_file_range(MemorySegment req, long inoIn, long offIn, MemorySegment fiIn, long inoOut, long offOut,
                         MemorySegment fiOut, long len, int flags) {
        try {
            if (flags != 0) throw new IllegalArgumentException("copy_file_range flags (" + flags + ") must be 0");
            Handle in = handle(fiIn), out = handle(fiOut);
            int outFlags = fiOut.reinterpret(FI_SIZE).get(JAVA_INT, FI_FLAGS);
            long n = copyRange(in.file, offIn, out.file, offOut, len);
            if (n > 0) {
                if ((outFlags & (O_DSYNC | O_SYNC_ONLY)) != 0) out.file.fsync((outFlags & O_SYNC_ONLY) == 0);
                touchForWrite(inoOut);
            }
            FuseLib.replyWrite(req, n);
        } catch (Throwable t) {
            fail(req, t, "copy_file_range", inoIn, offIn, inoOut, offOut, len);
        }
    }

    /** Copies up to {@code len} bytes (unsigned: cut to {@link #COPY_MAX}) from {@code src} at {@code offIn} to {@code dst} at {@code offOut}. */
    long copyRange(FolioFile src, long offIn, FolioFile dst, long offOut, long len) throws IOException {
        if (offIn < 0 || offOut < 0)
            throw new IllegalArgumentException("copy_file_range offsets " + offIn + " and " + offOut + " must not be negative");
        if (len < 0 || len > COPY_MAX) len = COPY_MAX;
        return dst.copyRangeFrom(src, offIn, offOut, len);
    }

    /**
     * ioctl. The kernel sends us only what it does not handle itself: FS_IOC_GETFLAGS/SETFLAGS arrive
     * from its fileattr code (chattr, lsattr) with a 4-byte flags word, FS_IOC_FSGETXATTR/FSSETXATTR
     * likewise with a struct fsxattr; unknown commands (a terminal probe, say) get ENOTTY. FICLONE and
     * FICLONERANGE never arrive from a mainline kernel: the VFS handles them before any file system's
     * ioctl and, FUSE having no remap_file_range, answers EOPNOTSUPP itself (their argument is also a
     * descriptor of the calling process, which we could not use); should one arrive, it is EOPNOTSUPP.
     * Reflinks through the mount come by copy_file_range instead ({@link #copy_file_range}).
     *
     * <p>Flags: only FS_SYNC_FL ('S', FS_XFLAG_SYNC): set, the file's own write mode is write-through +
     * DSYNC; cleared, the volume default; it reads as set exactly when the file's own mode is
     * write-through + DSYNC. Setting any other flag is EOPNOTSUPP; S on a non-regular file too.
     */
    void ioctl(MemorySegment req, long ino, int cmd, MemorySegment arg, MemorySegment fi, int flags, MemorySegment inBuf,
               long inSize, long outSize) {
        try {
            switch (cmd) {
                case FS_IOC_GETFLAGS, FS_IOC32_GETFLAGS -> {
                    MemorySegment out = scratch.get().small;
                    out.set(JAVA_LONG, 0, fsFlags(fs.getattr(ino)));   // little-endian: the int is the first 4 bytes
                    FuseLib.replyIoctl(req, 0, out, Math.min(outSize, 8));
                }
                case FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS -> {
                    if (inSize < 4) throw new IllegalArgumentException("FS_IOC_SETFLAGS with " + inSize + " bytes of flags (4 needed)");
                    int f = inBuf.reinterpret(4).get(JAVA_INT, 0);
                    if ((f & ~FS_SYNC_FL) != 0)
                        throw new UnsupportedOperationException("file flags 0x" + Integer.toHexString(f & ~FS_SYNC_FL)
                                + " are not supported (FolioFS has only FS_SYNC_FL 0x8, chattr +S)");
                    setSync(ino, (f & FS_SYNC_FL) != 0);
                    FuseLib.replyIoctl(req, 0, MemorySegment.NULL, 0);
                }
                case FS_IOC_FSGETXATTR -> {
                    MemorySegment out = scratch.get().small;
                    out.fill((byte) 0);
                    out.set(JAVA_INT, 0, (fsFlags(fs.getattr(ino)) & FS_SYNC_FL) != 0 ? FS_XFLAG_SYNC : 0);
                    FuseLib.replyIoctl(req, 0, out, Math.min(outSize, FSXATTR_SIZE));
                }
                case FS_IOC_FSSETXATTR -> {
                    if (inSize < FSXATTR_SIZE)
                        throw new IllegalArgumentException("FS_IOC_FSSETXATTR with " + inSize + " bytes (" + FSXATTR_SIZE + " needed)");
                    MemorySegment x = inBuf.reinterpret(FSXATTR_SIZE);
                    int xflags = x.get(JAVA_INT, 0), extsize = x.get(JAVA_INT, 4), projid = x.get(JAVA_INT, 12),
                            cowextsize = x.get(JAVA_INT, 16);
                    if ((xflags & ~FS_XFLAG_SYNC) != 0 || extsize != 0 || projid != 0 || cowextsize != 0)
                        throw new UnsupportedOperationException("fsxattr xflags 0x" + Integer.toHexString(xflags) + ", extsize " + extsize
                                + ", projid " + projid + ", cowextsize " + cowextsize
                                + ": FolioFS supports only FS_XFLAG_SYNC (0x20) and zeros elsewhere");
                    setSync(ino, (xflags & FS_XFLAG_SYNC) != 0);
                    FuseLib.replyIoctl(req, 0, MemorySegment.NULL, 0);
                }
                case FICLONE, FICLONERANGE -> FuseLib.replyErr(req, Errnos.EOPNOTSUPP);
                default -> FuseLib.replyErr(req, Errnos.ENOTTY);
            }
        } catch (Throwable t) {
            fail(req, t, "ioctl", ino, "0x" + Integer.toHexString(cmd));
        }
    }

    /** The FS_IOC_GETFLAGS word of a file: FS_SYNC_FL when its own write mode is write-through + DSYNC. */
    static int fsFlags(FolioFs.Attr a) {
        return a.isRegular() && a.writeMode() == Inode.WMODE_WRITETHROUGH_DSYNC ? FS_SYNC_FL : 0;
    }

    /** chattr +S / -S: the file's own write mode becomes write-through + DSYNC / the volume default (the inode's SYNC flag follows). */
    private void setSync(long ino, boolean on) throws IOException {
        FolioFs.Attr a = fs.getattr(ino);
        if (on == ((fsFlags(a) & FS_SYNC_FL) != 0)) return;
        if (!a.isRegular())
            throw new UnsupportedOperationException("the sync flag (chattr +S) applies to regular files only; inode " + ino + " is not one");
        int flags = on ? a.flags() | Inode.FLAG_SYNC : a.flags() & ~Inode.FLAG_SYNC;
        fs.setattr(ino, new FolioFs.SetAttr(null, null, null, null, null, null, flags,
                on ? Inode.WMODE_WRITETHROUGH_DSYNC : Inode.WMODE_DEFAULT));
    }

    // ---------------------------------------------------------------- directories

    void opendir(MemorySegment req, long ino, MemorySegment fi) {
        try {
            if (!fs.getattr(ino).isDir()) throw new java.nio.file.NotDirectoryException("inode " + ino);
            fi.reinterpret(FI_SIZE).set(JAVA_LONG, FI_FH, 0);
            FuseLib.replyOpen(req, fi);
        } catch (Throwable t) {
            fail(req, t, "opendir", ino);
        }
    }

    void releasedir(MemorySegment req, long ino, MemorySegment fi) {
        FuseLib.replyErr(req, 0);
    }

    void fsyncdir(MemorySegment req, long ino, int datasync, MemorySegment fi) {
        try {
            fs.syncMetadata();
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "fsyncdir", ino);
        }
    }

    void readdir(MemorySegment req, long ino, long size, long off, MemorySegment fi) {
        readdir(req, ino, size, off, false);
    }

    void readdirplus(MemorySegment req, long ino, long size, long off, MemorySegment fi) {
        readdir(req, ino, size, off, true);
    }

    /**
     * Directory offsets: 0 the start, 1 after ".", 2 after "..", and {@code 3 + k} after the entry with
     * key {@code hash << 32 | index}, where {@code k = hash << 30 | index} (positive, so telldir/seekdir
     * work; collision indexes stay far below 2^30).
     */
    static long offsetOf(long cookie) {
        long key = cookie - 1, index = key & 0xffff_ffffL;
        if (index >= (1L << 30)) throw new IllegalStateException("directory entry collision index " + index + " does not fit an offset");
        return ((key >>> 32) << 30 | index) + 3;
    }

    /** The FolioFs cookie to continue after directory offset {@code off} (at least 3). */
    static long cookieAfter(long off) {
        long k = off - 3;
        return ((k >>> 30) << 32 | (k & ((1L << 30) - 1))) + 1;
    }

    private void readdir(MemorySegment req, long ino, long size, long off, boolean plus) {
        try {
            Scratch s = scratch.get();
            long cap = Math.min(size, s.dir.byteSize());
            long used = 0;
            if (off < 0) throw new IllegalArgumentException("directory offset " + off + " is negative");
            if (off == 0) {
                long n = addEntry(req, s, used, cap, ".".getBytes(StandardCharsets.US_ASCII), ino, DirEntry.DT_DIR, 1, plus);
                if (n < 0) { FuseLib.replyBuf(req, s.dir, used); return; }
                used += n;
            }
            if (off <= 1) {
                long parent = fs.lookup(ino, "..");
                long n = addEntry(req, s, used, cap, "..".getBytes(StandardCharsets.US_ASCII), parent, DirEntry.DT_DIR, 2, plus);
                if (n < 0) { FuseLib.replyBuf(req, s.dir, used); return; }
                used += n;
            }
            long cookie = off <= 2 ? 0 : cookieAfter(off);
            int max = (int) Math.min(4096, cap / 24 + 1);
            List<DirEntry> entries = new ArrayList<>();
            fs.readdir(ino, cookie, e -> {
                entries.add(e);
                return entries.size() < max;
            });
            for (DirEntry e : entries) {
                long n = addEntry(req, s, used, cap, e.name(), e.ino(), e.type(), offsetOf(e.cookie()), plus);
                if (n == 0) continue;     // gone meanwhile
                if (n < 0) break;         // full
                used += n;
            }
            FuseLib.replyBuf(req, s.dir, used);
        } catch (Throwable t) {
            fail(req, t, plus ? "readdirplus" : "readdir", ino, off);
        }
    }

    /** Adds one entry at {@code used}; its size, -1 if it does not fit, 0 if it was skipped (plus: inode gone). */
    private long addEntry(MemorySegment req, Scratch s, long used, long cap, byte[] name, long ino, int type, long next,
                          boolean plus) throws IOException {
        MemorySegment cname = s.cString(name);
        MemorySegment at = s.dir.asSlice(used);
        long room = cap - used, n;
        if (plus) {
            FolioFs.Attr a;
            try {
                a = attr(ino);
            } catch (java.nio.file.NoSuchFileException | org.foliofs.fs.NoSuchInodeException e) {
                return 0;
            }
            putEntry(s.entry, a, blockSize, opts.attrTimeout(), opts.entryTimeout());
            n = FuseLib.addDirentryPlus(req, at, room, cname, s.entry, next);
        } else {
            s.stat.fill((byte) 0);
            putDirentStat(s.stat, ino, type);
            n = FuseLib.addDirentry(req, at, room, cname, s.stat, next);
        }
        return n > room ? -1 : n;
    }

    // ---------------------------------------------------------------- file system

    void statfs(MemorySegment req, long ino) {
        try {
            FolioFs.StatFs st = fs.statfs();
            MemorySegment v = scratch.get().statvfs;
            v.fill((byte) 0);
            v.set(JAVA_LONG, SV_BSIZE, st.blockSize());
            v.set(JAVA_LONG, SV_FRSIZE, st.blockSize());
            v.set(JAVA_LONG, SV_BLOCKS, st.totalBlocks());
            v.set(JAVA_LONG, SV_BFREE, st.freeBlocks());
            v.set(JAVA_LONG, SV_BAVAIL, st.availableBlocks());
            v.set(JAVA_LONG, SV_FILES, st.inodes() + st.freeBlocks());   // inodes are allocated on demand
            v.set(JAVA_LONG, SV_FFREE, st.freeBlocks());
            v.set(JAVA_LONG, SV_FAVAIL, st.freeBlocks());
            v.set(JAVA_LONG, SV_NAMEMAX, st.nameMax());
            FuseLib.replyStatfs(req, v);
        } catch (Throwable t) {
            fail(req, t, "statfs");
        }
    }

    // ---------------------------------------------------------------- xattrs

    void setxattr(MemorySegment req, long ino, MemorySegment name, MemorySegment value, long size, int flags) {
        String n = null;
        try {
            n = str(name);
            byte[] v = value.reinterpret(size).toArray(JAVA_BYTE);
            fs.setxattr(ino, n, v, flags & 3);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "setxattr", ino, n);
        }
    }

    void getxattr(MemorySegment req, long ino, MemorySegment name, long size) {
        String n = null;
        try {
            n = str(name);
            byte[] v = fs.getxattr(ino, n);
            if (v == null) throw new NoSuchAttributeException(n, "inode " + ino + " has no xattr " + n);
            replyBytes(req, v, size);
        } catch (Throwable t) {
            fail(req, t, "getxattr", ino, n);
        }
    }

    void listxattr(MemorySegment req, long ino, long size) {
        try {
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            for (String n : fs.listxattr(ino)) {
                b.writeBytes(n.getBytes(StandardCharsets.UTF_8));
                b.write(0);
            }
            replyBytes(req, b.toByteArray(), size);
        } catch (Throwable t) {
            fail(req, t, "listxattr", ino);
        }
    }

    /** getxattr/listxattr: size 0 asks for the length; a smaller buffer is ERANGE. */
    private void replyBytes(MemorySegment req, byte[] v, long size) {
        if (size == 0) {
            FuseLib.replyXattr(req, v.length);
        } else if (v.length > size) {
            FuseLib.replyErr(req, Errnos.ERANGE);
        } else {
            MemorySegment buf = scratch.get().io(Math.max(1, v.length));
            MemorySegment.copy(v, 0, buf, JAVA_BYTE, 0, v.length);
            FuseLib.replyBuf(req, buf, v.length);
        }
    }

    void removexattr(MemorySegment req, long ino, MemorySegment name) {
        String n = null;
        try {
            n = str(name);
            if (!fs.removexattr(ino, n)) throw new NoSuchAttributeException(n, "inode " + ino + " has no xattr " + n);
            FuseLib.replyErr(req, 0);
        } catch (Throwable t) {
            fail(req, t, "removexattr", ino, n);
        }
    }
}

