package org.foliofs.fuse;

import java.lang.foreign.MemorySegment;
import org.foliofs.fs.FolioFs;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C structures of libfuse 3 (fuse_lowlevel.h, fuse_common.h; checked against libfuse 3.14 on
 * x86_64 / glibc with offsetof) and of glibc that the binding reads or writes, as named offsets.
 * Everything here is little-endian x86_64 LP64; {@link FuseLib} refuses other platforms.
 *
 * <pre>
 * struct stat (144)            0 st_dev u64        8 st_ino u64      16 st_nlink u64
 *                             24 st_mode u32      28 st_uid u32     32 st_gid u32
 *                             40 st_rdev u64      48 st_size i64    56 st_blksize i64
 *                             64 st_blocks i64    72 st_atim {sec, nsec}  88 st_mtim  104 st_ctim
 * struct fuse_entry_param (176) 0 ino u64  8 generation u64  16 attr (struct stat)
 *                            160 attr_timeout double  168 entry_timeout double
 * struct fuse_file_info (40)   0 flags i32   4 bit field word (bit 0 writepage, 1 direct_io,
 *                              2 keep_cache, 3 flush, 4 nonseekable, 5 flock_release,
 *                              6 cache_readdir, 7 noflush)   8 padding2   16 fh u64
 *                             24 lock_owner u64   32 poll_events u32
 * struct fuse_conn_info (128)  8 max_write u32  12 max_read  16 max_readahead  20 capable
 *                             24 want  28 max_background  32 congestion_threshold  36 time_gran
 * struct fuse_buf (40)         0 size u64   8 flags i32   16 mem ptr   24 fd i32   32 pos i64
 * struct fuse_ctx (16)         0 uid  4 gid  8 pid  12 umask
 * struct statvfs (112)         0 f_bsize  8 f_frsize  16 f_blocks  24 f_bfree  32 f_bavail
 *                             40 f_files  48 f_ffree  56 f_favail  64 f_fsid  72 f_flag  80 f_namemax
 * struct fuse_args (24)        0 argc i32   8 argv ptr   16 allocated i32
 * struct fuse_lowlevel_ops    44 function pointers, in {@link Op} order (352 bytes)
 * </pre>
 */
final class FuseLayout {
    private FuseLayout() {}

    static final long STAT_SIZE = 144;
    static final long ST_INO = 8, ST_NLINK = 16, ST_MODE = 24, ST_UID = 28, ST_GID = 32, ST_RDEV = 40, ST_SIZE = 48,
            ST_BLKSIZE = 56, ST_BLOCKS = 64, ST_ATIM = 72, ST_MTIM = 88, ST_CTIM = 104;

    static final long ENTRY_SIZE = 176;
    static final long E_INO = 0, E_GENERATION = 8, E_ATTR = 16, E_ATTR_TIMEOUT = 160, E_ENTRY_TIMEOUT = 168;

    static final long FI_SIZE = 40;
    static final long FI_FLAGS = 0, FI_BITS = 4, FI_FH = 16;
    static final int FI_DIRECT_IO = 1 << 1, FI_KEEP_CACHE = 1 << 2, FI_NONSEEKABLE = 1 << 4, FI_CACHE_READDIR = 1 << 6;

    static final long CONN_SIZE = 128;
    static final long CONN_MAX_WRITE = 8, CONN_MAX_READ = 12, CONN_MAX_READAHEAD = 16, CONN_CAPABLE = 20, CONN_WANT = 24,
            CONN_TIME_GRAN = 36;

    static final long BUF_SIZE = 40, BUF_MEM = 16;

    static final long CTX_SIZE = 16, CTX_UID = 0, CTX_GID = 4;

    static final long STATVFS_SIZE = 112;
    static final long SV_BSIZE = 0, SV_FRSIZE = 8, SV_BLOCKS = 16, SV_BFREE = 24, SV_BAVAIL = 32, SV_FILES = 40,
            SV_FFREE = 48, SV_FAVAIL = 56, SV_NAMEMAX = 80;

    static final long ARGS_SIZE = 24, ARGS_ARGC = 0, ARGS_ARGV = 8;

    /** fuse_conn_info capability bits (FUSE_CAP_*). */
    static final int CAP_SPLICE_WRITE = 0x80, CAP_SPLICE_MOVE = 0x100, CAP_SPLICE_READ = 0x200, CAP_IOCTL_DIR = 0x800,
            CAP_AUTO_INVAL_DATA = 0x1000, CAP_READDIRPLUS = 0x2000, CAP_READDIRPLUS_AUTO = 0x4000,
            CAP_WRITEBACK_CACHE = 0x10000, CAP_POSIX_ACL = 0x80000, CAP_HANDLE_KILLPRIV = 0x100000;

    /** setattr's to_set bits (FUSE_SET_ATTR_*). */
    static final int SET_MODE = 0x1, SET_UID = 0x2, SET_GID = 0x4, SET_SIZE = 0x8, SET_ATIME = 0x10, SET_MTIME = 0x20,
            SET_ATIME_NOW = 0x80, SET_MTIME_NOW = 0x100;

    /** The slots of struct fuse_lowlevel_ops, in declaration order (the ordinal is the slot). */
    enum Op {
        INIT, DESTROY, LOOKUP, FORGET, GETATTR, SETATTR, READLINK, MKNOD, MKDIR, UNLINK, RMDIR, SYMLINK, RENAME, LINK,
        OPEN, READ, WRITE, FLUSH, RELEASE, FSYNC, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, STATFS, SETXATTR, GETXATTR,
        LISTXATTR, REMOVEXATTR, ACCESS, CREATE, GETLK, SETLK, BMAP, IOCTL, POLL, WRITE_BUF, RETRIEVE_REPLY, FORGET_MULTI,
        FLOCK, FALLOCATE, READDIRPLUS, COPY_FILE_RANGE, LSEEK;

        long offset() { return ordinal() * 8L; }
    }

    static final long OPS_SIZE = Op.values().length * 8L;   // 352

    /** Fills {@code st} (a struct stat) from {@code a}; {@code st_blocks} is in 512-byte units. */
    static void putStat(MemorySegment st, FolioFs.Attr a, int blockSize) {
        st.fill((byte) 0);
        st.set(JAVA_LONG, ST_INO, a.ino());
        st.set(JAVA_LONG, ST_NLINK, Integer.toUnsignedLong(a.nlink()));
        st.set(JAVA_INT, ST_MODE, a.mode());
        st.set(JAVA_INT, ST_UID, a.uid());
        st.set(JAVA_INT, ST_GID, a.gid());
        st.set(JAVA_LONG, ST_SIZE, a.size());
        st.set(JAVA_LONG, ST_BLKSIZE, blockSize);
        st.set(JAVA_LONG, ST_BLOCKS, a.blocks() * (blockSize / 512));
        putTime(st, ST_ATIM, a.atime());
        putTime(st, ST_MTIM, a.mtime());
        putTime(st, ST_CTIM, a.ctime());
    }

    /** Only the inode number and the type bits, as readdir needs. */
    static void putDirentStat(MemorySegment st, long ino, int dtType) {
        st.set(JAVA_LONG, ST_INO, ino);
        st.set(JAVA_INT, ST_MODE, dtType << 12);
    }

    private static void putTime(MemorySegment st, long off, long ns) {
        st.set(JAVA_LONG, off, Math.floorDiv(ns, 1_000_000_000L));
        st.set(JAVA_LONG, off + 8, Math.floorMod(ns, 1_000_000_000L));
    }

    /** A struct timespec at {@code off} in nanoseconds. */
    static long getTime(MemorySegment st, long off) {
        return st.get(JAVA_LONG, off) * 1_000_000_000L + st.get(JAVA_LONG, off + 8);
    }

    /** Fills {@code e} (a struct fuse_entry_param). */
    static void putEntry(MemorySegment e, FolioFs.Attr a, int blockSize, double attrTimeout, double entryTimeout) {
        e.set(JAVA_LONG, E_INO, a.ino());
        e.set(JAVA_LONG, E_GENERATION, a.generation());
        putStat(e.asSlice(E_ATTR, STAT_SIZE), a, blockSize);
        e.set(JAVA_DOUBLE, E_ATTR_TIMEOUT, attrTimeout);
        e.set(JAVA_DOUBLE, E_ENTRY_TIMEOUT, entryTimeout);
    }
}
