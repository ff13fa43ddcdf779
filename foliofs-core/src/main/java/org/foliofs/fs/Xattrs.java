package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.foliofs.fs.MetaBlockLayout.U16;
import static org.foliofs.fs.MetaBlockLayout.U32;

/**
 * Extended attributes: all of an inode's attributes live in one {@link MetaType#XATTR} block owned by
 * the inode ({@code inode.xattrBlock}, 0 = none), like ext4's one-block limit. The block exists only
 * while the inode has at least one attribute. Methods change {@code inode.xattrBlock}; the caller
 * writes the inode record afterwards.
 *
 * <pre>
 *  0                                                      40
 *  +------------------------------------------------------+   common metadata header
 *  | magic 'FXAT' | crc32c | blkno | owner = ino | uuid   |   (MetaBlockLayout)
 *  +------------+------------+----------------------------+
 * 40           42           44                           48
 *  | count  u16 | reserved 0 | used u32 (entry bytes)     |
 *  +------------+------------+----------------------------+
 * 48
 *  | namelen u8 | valuelen u16 | name (namelen) | value (valuelen) |  entry 0
 *  | namelen u8 | valuelen u16 | name           | value            |  entry 1 ...
 *  +----------------------------------------------------------------
 *  entries sorted by name (unsigned bytes), packed; bytes past 48 + used are zero
 * </pre>
 *
 * Names are stored in full ("user.comment"), 1..255 bytes, no NUL, with one of the prefixes "user.",
 * "trusted.", "security.", "system." followed by at least one byte; another prefix is an
 * {@link UnsupportedNamespaceException} (ENOTSUP), any other bad name an IllegalArgumentException
 * (a name over 255 bytes: ERANGE). Values are 0..65535 bytes (a longer one is an
 * IllegalArgumentException, E2BIG); all entries together must fit the block
 * ({@code 48 + sum(3 + namelen + valuelen) <= blockSize}), or the set fails with
 * {@link NoSpaceException} (ENOSPC) naming the sizes and changing nothing.
 *
 * <p>Each operation reads at most one block and changes at most one block.
 */
public final class Xattrs {
    private Xattrs() {}

    /** Flags of {@link #set}: fail if the attribute exists (XATTR_CREATE) / is missing (XATTR_REPLACE). */
    public static final int CREATE = 1, REPLACE = 2;
    public static final int NAME_MAX = 255, VALUE_MAX = 0xffff;
    public static final List<String> PREFIXES = List.of("user.", "trusted.", "security.", "system.");

    static final long COUNT = 40, RESERVED = 42, USED = 44;
    static final int HEADER = 48, ENTRY_HEADER = 3;

    /** A name whose namespace prefix is not supported (ENOTSUP). */
    public static final class UnsupportedNamespaceException extends IllegalArgumentException {
        public UnsupportedNamespaceException(String message) { super(message); }
    }

    private record Attr(byte[] name, byte[] value) {}

    /** The value of {@code name}, or null if the inode has no such attribute. */
    public static byte[] get(Txn tx, Inode inode, String name) throws IOException {
        byte[] n = checkName(name);
        if (inode.xattrBlock == 0) return null;
        List<Attr> attrs = load(tx, inode);
        int i = indexOf(attrs, n);
        return i < 0 ? null : attrs.get(i).value().clone();
    }

    /**
     * Sets {@code name} to {@code value}. {@code flags}: 0, {@link #CREATE} (an existing attribute is a
     * FileAlreadyExistsException) or {@link #REPLACE} (a missing one is a
     * {@link NoSuchAttributeException}).
     */
    public static void set(Txn tx, Inode inode, String name, byte[] value, int flags) throws IOException {
        byte[] n = checkName(name);
        if (value == null) throw new NullPointerException("value of xattr " + name);
        if (value.length > VALUE_MAX)
            throw new IllegalArgumentException("value of xattr " + name + " is " + value.length
                    + " bytes, more than the " + VALUE_MAX + " allowed");
        if (flags != 0 && flags != CREATE && flags != REPLACE)
            throw new IllegalArgumentException("xattr set flags (" + flags + ") must be 0, CREATE (1) or REPLACE (2)");
        List<Attr> attrs = inode.xattrBlock == 0 ? new ArrayList<>() : load(tx, inode);
        int i = indexOf(attrs, n);
        if (i >= 0 && flags == CREATE)
            throw new FileAlreadyExistsException(name, null, "inode " + inode.ino + " already has xattr " + name);
        if (i < 0 && flags == REPLACE)
            throw new NoSuchAttributeException(name, "inode " + inode.ino + " has no xattr " + name + " to replace");
        Attr a = new Attr(n, value.clone());
        if (i >= 0) attrs.set(i, a);
        else attrs.add(-i - 1, a);
        int need = HEADER + used(attrs), bs = tx.blockSize();
        if (need > bs)
            throw new NoSpaceException("xattr " + name + " (" + n.length + "-byte name, " + value.length
                    + "-byte value) does not fit: the attributes of inode " + inode.ino + " would need " + need
                    + " bytes, more than the " + bs + "-byte xattr block holds");
        MetaBlock b = inode.xattrBlock == 0 ? tx.allocate(MetaType.XATTR, inode.ino)
                : tx.read(inode.xattrBlock, MetaType.XATTR, inode.ino);
        store(tx, b, attrs);
        inode.xattrBlock = b.blkno();
    }

    /** Removes {@code name}; returns false if there was no such attribute. Frees the block with the last one. */
    public static boolean remove(Txn tx, Inode inode, String name) throws IOException {
        byte[] n = checkName(name);
        if (inode.xattrBlock == 0) return false;
        List<Attr> attrs = load(tx, inode);
        int i = indexOf(attrs, n);
        if (i < 0) return false;
        attrs.remove(i);
        if (attrs.isEmpty()) {
            tx.free(inode.xattrBlock);
            inode.xattrBlock = 0;
        } else {
            store(tx, tx.read(inode.xattrBlock, MetaType.XATTR, inode.ino), attrs);
        }
        return true;
    }

    /** The names of all attributes, in byte order. */
    public static List<String> list(Txn tx, Inode inode) throws IOException {
        if (inode.xattrBlock == 0) return List.of();
        List<String> out = new ArrayList<>();
        for (Attr a : load(tx, inode)) out.add(new String(a.name(), StandardCharsets.UTF_8));
        return out;
    }

    /** Frees the attribute block (when the inode is freed). */
    public static void destroy(Txn tx, Inode inode) throws IOException {
        if (inode.xattrBlock == 0) return;
        load(tx, inode); // a corrupt or misowned block is reported, not freed
        tx.free(inode.xattrBlock);
        inode.xattrBlock = 0;
    }

    // ---- internals -------------------------------------------------------------------------------

    static byte[] checkName(String name) {
        if (name == null) throw new NullPointerException("xattr name");
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        String p = nameProblem(n);
        if (p == null) return n;
        String msg = "xattr name " + Directory.show(n) + " " + p;
        if (p.startsWith("has no supported")) throw new UnsupportedNamespaceException(msg);
        throw new IllegalArgumentException(msg);
    }

    private static String nameProblem(byte[] n) {
        if (n.length == 0) return "must not be empty";
        if (n.length > NAME_MAX) return "is " + n.length + " bytes, more than the " + NAME_MAX + " allowed";
        for (byte b : n) if (b == 0) return "must not contain NUL";
        String s = new String(n, StandardCharsets.UTF_8);
        for (String prefix : PREFIXES) {
            if (s.startsWith(prefix)) {
                if (s.length() == prefix.length()) return "has nothing after the prefix " + prefix;
                return null;
            }
        }
        return "has no supported namespace prefix (" + String.join(", ", PREFIXES) + ")";
    }

    private static int used(List<Attr> attrs) {
        int n = 0;
        for (Attr a : attrs) n += ENTRY_HEADER + a.name().length + a.value().length;
        return n;
    }

    /** Binary search by unsigned name bytes: the index, or {@code -(insertion point) - 1}. */
    private static int indexOf(List<Attr> attrs, byte[] name) {
        int lo = 0, hi = attrs.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = Arrays.compareUnsigned(attrs.get(mid).name(), name);
            if (c < 0) lo = mid + 1;
            else if (c > 0) hi = mid - 1;
            else return mid;
        }
        return -lo - 1;
    }

    private static void store(Txn tx, MetaBlock b, List<Attr> attrs) throws IOException {
        MemorySegment s = b.segment();
        s.asSlice(COUNT).fill((byte) 0);
        s.set(U16, COUNT, (short) attrs.size());
        s.set(U32, USED, used(attrs));
        long off = HEADER;
        for (Attr a : attrs) {
            s.set(ValueLayout.JAVA_BYTE, off, (byte) a.name().length);
            s.set(U16, off + 1, (short) a.value().length);
            MemorySegment.copy(a.name(), 0, s, ValueLayout.JAVA_BYTE, off + ENTRY_HEADER, a.name().length);
            off += ENTRY_HEADER + a.name().length;
            MemorySegment.copy(a.value(), 0, s, ValueLayout.JAVA_BYTE, off, a.value().length);
            off += a.value().length;
        }
        tx.write(b);
    }

    /** Reads and checks the inode's block; anything inconsistent is corruption of that block. */
    private static List<Attr> load(Txn tx, Inode inode) throws IOException {
        MetaBlock b = tx.read(inode.xattrBlock, MetaType.XATTR, inode.ino);
        MemorySegment s = b.view();
        int count = Short.toUnsignedInt(s.get(U16, COUNT));
        long used = Integer.toUnsignedLong(s.get(U32, USED));
        int bs = b.size();
        if (s.get(U16, RESERVED) != 0) throw corrupt(b, "reserved field is not zero");
        if (count == 0) throw corrupt(b, "no attributes (an empty block should have been freed)");
        if (used > bs - HEADER) throw corrupt(b, "used " + used + " bytes, more than the " + (bs - HEADER) + " that fit");
        List<Attr> attrs = new ArrayList<>(count + 1);
        long off = HEADER, end = HEADER + used;
        for (int i = 0; i < count; i++) {
            if (off + ENTRY_HEADER > end) throw corrupt(b, "entry " + i + " at byte " + off + " is past the used bytes (" + end + ")");
            int nl = Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off));
            int vl = Short.toUnsignedInt(s.get(U16, off + 1));
            if (off + ENTRY_HEADER + nl + vl > end)
                throw corrupt(b, "entry " + i + " at byte " + off + " (" + nl + "-byte name, " + vl
                        + "-byte value) runs past the used bytes (" + end + ")");
            byte[] name = new byte[nl], value = new byte[vl];
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + ENTRY_HEADER, name, 0, nl);
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + ENTRY_HEADER + nl, value, 0, vl);
            String p = nameProblem(name);
            if (p != null) throw corrupt(b, "entry " + i + ": name " + Directory.show(name) + " " + p);
            if (!attrs.isEmpty() && Arrays.compareUnsigned(attrs.getLast().name(), name) >= 0)
                throw corrupt(b, "entry " + i + ": name " + Directory.show(name) + " is not after "
                        + Directory.show(attrs.getLast().name()));
            attrs.add(new Attr(name, value));
            off += ENTRY_HEADER + nl + vl;
        }
        if (off != end) throw corrupt(b, count + " entries end at byte " + off + " but used says " + end);
        for (long j = end; j < bs; j++)
            if (s.get(ValueLayout.JAVA_BYTE, j) != 0) throw corrupt(b, "byte " + j + " after the entries is not zero");
        return attrs;
    }

    private static CorruptMetadataException corrupt(MetaBlock b, String problem) {
        return MetaBlockLayout.corrupt(b.blkno(), MetaType.XATTR, problem);
    }
}
