package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * An inode as stored: a fixed {@link #SIZE}-byte record in its allocation group's inode B+tree
 * (key = group-relative inode number). Inode numbers are {@code agno << 32 | local}, local from 1.
 * Mutable; read it in a transaction, change it, write it back.
 *
 * <pre>
 *   0 mode u32 (S_IFMT type bits | permissions)   4 nlink u32
 *   8 uid u32                                    12 gid u32
 *  16 size u64                                   24 blocks u64 (data and fork blocks charged to the file)
 *  32 atime ns i64   40 mtime ns i64   48 ctime ns i64   56 btime ns i64
 *  64 generation u64
 *  72 flags u32 (FLAG_*)                          76 write mode u8, fork format u8, fork levels u16
 *  80 nrecs u32 (extents or directory entries in the fork)   84 reserved u32
 *  88 fork root u64 (B+tree root when the format is BTREE)
 *  96 xattr block u64 (0 = none)                 104 parent hint u64 (directories: parent inode)
 * 112 inline area, 112 bytes: inline extents, inline directory entries or an inline symlink target
 * </pre>
 *
 * The data fork is either {@link #FORMAT_INLINE} (its records live in the inline area) or
 * {@link #FORMAT_BTREE} ({@code forkRoot}/{@code forkLevels} root an extent or directory B+tree owned by
 * this inode). Symlink targets longer than the inline area live in {@link MetaType#SYMLINK} blocks
 * whose numbers the inline area lists (format {@link #FORMAT_BLOCKS}).
 */
public final class Inode {
    public static final int SIZE = 224;
    public static final int INLINE_OFFSET = 112, INLINE_SIZE = SIZE - INLINE_OFFSET;

    public static final int S_IFMT = 0170000, S_IFREG = 0100000, S_IFDIR = 0040000, S_IFLNK = 0120000,
            S_IFIFO = 0010000, S_IFCHR = 0020000, S_IFBLK = 0060000, S_IFSOCK = 0140000;

    public static final int FORMAT_INLINE = 0, FORMAT_BTREE = 1, FORMAT_BLOCKS = 2;

    /** Flags (like FS_IOC_GETFLAGS): SYNC = chattr +S, IMMUTABLE, APPEND, NOATIME. */
    public static final int FLAG_SYNC = 0x8, FLAG_IMMUTABLE = 0x10, FLAG_APPEND = 0x20, FLAG_NOATIME = 0x80;

    /** Per-file write mode: 0 = the volume default, then writeback, write-through, write-through + DSYNC. */
    public static final int WMODE_DEFAULT = 0, WMODE_WRITEBACK = 1, WMODE_WRITETHROUGH = 2, WMODE_WRITETHROUGH_DSYNC = 3;

    public long ino;
    public int mode, nlink, uid, gid;
    public long size, blocks;
    public long atime, mtime, ctime, btime;
    public long generation;
    public int flags, writeMode, format, forkLevels, nrecs;
    public long forkRoot, xattrBlock, parent;
    public final byte[] inline = new byte[INLINE_SIZE];

    public Inode() {}

    public Inode(long ino) { this.ino = ino; }

    public static int agOf(long ino) { return (int) (ino >>> 32); }
    public static long localOf(long ino) { return ino & 0xffff_ffffL; }
    public static long make(int agno, long local) { return (long) agno << 32 | local; }

    public int type() { return mode & S_IFMT; }
    public boolean isDir() { return type() == S_IFDIR; }
    public boolean isReg() { return type() == S_IFREG; }
    public boolean isSymlink() { return type() == S_IFLNK; }

    public MemorySegment inlineSegment() { return MemorySegment.ofArray(inline); }

    /** The record as {@link #encode} stores it. */
    byte[] encoded() {
        byte[] b = new byte[SIZE];
        encode(MemorySegment.ofArray(b), 0);
        return b;
    }

    public void encode(MemorySegment s, long off) {
        s.set(U32, off, mode);
        s.set(U32, off + 4, nlink);
        s.set(U32, off + 8, uid);
        s.set(U32, off + 12, gid);
        s.set(U64, off + 16, size);
        s.set(U64, off + 24, blocks);
        s.set(U64, off + 32, atime);
        s.set(U64, off + 40, mtime);
        s.set(U64, off + 48, ctime);
        s.set(U64, off + 56, btime);
        s.set(U64, off + 64, generation);
        s.set(U32, off + 72, flags);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 76, (byte) writeMode);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 77, (byte) format);
        s.set(MetaBlockLayout.U16, off + 78, (short) forkLevels);
        s.set(U32, off + 80, nrecs);
        s.set(U32, off + 84, 0);
        s.set(U64, off + 88, forkRoot);
        s.set(U64, off + 96, xattrBlock);
        s.set(U64, off + 104, parent);
        MemorySegment.copy(inline, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, off + INLINE_OFFSET, INLINE_SIZE);
    }

    public static Inode decode(long ino, MemorySegment s, long off) {
        Inode i = new Inode(ino);
        i.mode = s.get(U32, off);
        i.nlink = s.get(U32, off + 4);
        i.uid = s.get(U32, off + 8);
        i.gid = s.get(U32, off + 12);
        i.size = s.get(U64, off + 16);
        i.blocks = s.get(U64, off + 24);
        i.atime = s.get(U64, off + 32);
        i.mtime = s.get(U64, off + 40);
        i.ctime = s.get(U64, off + 48);
        i.btime = s.get(U64, off + 56);
        i.generation = s.get(U64, off + 64);
        i.flags = s.get(U32, off + 72);
        i.writeMode = s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 76) & 0xff;
        i.format = s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 77) & 0xff;
        i.forkLevels = Short.toUnsignedInt(s.get(MetaBlockLayout.U16, off + 78));
        i.nrecs = s.get(U32, off + 80);
        i.forkRoot = s.get(U64, off + 88);
        i.xattrBlock = s.get(U64, off + 96);
        i.parent = s.get(U64, off + 104);
        MemorySegment.copy(s, java.lang.foreign.ValueLayout.JAVA_BYTE, off + INLINE_OFFSET, i.inline, 0, INLINE_SIZE);
        return i;
    }

    public Inode copy() {
        MemorySegment s = MemorySegment.ofArray(new byte[SIZE]);
        encode(s, 0);
        return decode(ino, s, 0);
    }

    @Override
    public String toString() {
        return "Inode[" + ino + " mode 0" + Integer.toOctalString(mode) + " nlink " + nlink + " size " + size + " format " + format
                + " nrecs " + nrecs + "]";
    }
}
