package org.foliofs.fs;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One directory entry as {@link Directory} returns it: the name (raw bytes, UTF-8 when it came from a
 * String), the inode it names, its file type and its readdir cookie.
 *
 * <p>The type is a {@code DT_*} value as in {@code getdents64}, which is the inode's
 * {@code S_IFMT} bits shifted right by 12 ({@link #typeOf(int)}).
 *
 * <p>The cookie is an unsigned 64-bit position: the entry's hash key plus one. Passing it to
 * {@link Directory#readdir} continues with the entries after this one. It never changes while the
 * entry exists (not when other entries are added or removed, not when the directory converts between
 * its inline and B+tree forms), and it is never 0 (0 means "from the start").
 *
 * <p>Do not modify the name array.
 */
public record DirEntry(byte[] name, long ino, int type, long cookie) {
    public static final int DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8,
            DT_LNK = 10, DT_SOCK = 12;

    public DirEntry {
        if (name == null) throw new NullPointerException("name");
    }

    /** The {@code DT_*} type of an inode mode ({@code (mode & S_IFMT) >>> 12}). */
    public static int typeOf(int mode) {
        return (mode & Inode.S_IFMT) >>> 12;
    }

    /** Whether {@code type} is a file type a directory entry may record (not DT_UNKNOWN). */
    public static boolean validType(int type) {
        return switch (type) {
            case DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK -> true;
            default -> false;
        };
    }

    /** The name decoded as UTF-8 (invalid sequences become U+FFFD). */
    public String nameString() {
        return new String(name, StandardCharsets.UTF_8);
    }

    /** The B+tree / inline key of the entry: {@code hash << 32 | collision index}. */
    long key() {
        return cookie - 1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DirEntry e && Arrays.equals(name, e.name) && ino == e.ino && type == e.type
                && cookie == e.cookie;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(name) * 31 + Long.hashCode(ino) * 7 + type + Long.hashCode(cookie);
    }

    @Override
    public String toString() {
        return "DirEntry[" + Directory.show(name) + " ino " + ino + " type " + type + " cookie 0x"
                + Long.toHexString(cookie) + "]";
    }
}
