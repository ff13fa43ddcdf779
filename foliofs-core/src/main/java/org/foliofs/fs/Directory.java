package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import java.util.zip.CRC32C;

import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * Directory contents: the entries of one directory inode, kept either inline in the inode or in a
 * hashed B+tree owned by it. All methods work on an in-memory {@link Inode} and a {@link Txn}; they
 * change the inode's fork fields ({@code format, nrecs, forkRoot, forkLevels, inline}) and the caller
 * writes the inode record afterwards. "." and ".." are not stored: the caller synthesises them
 * ({@code dir.parent} holds the parent inode).
 *
 * <h2>Keys and cookies</h2>
 * Every entry has a 64-bit key {@code hash32(name) << 32 | collision index}. {@code hash32} is CRC32C
 * (Castagnoli, {@code java.util.zip.CRC32C}, initial value and final xor all ones) of the name bytes.
 * Entries whose names hash alike get the lowest collision index not in use by another entry with that
 * hash; an entry keeps its key for as long as it exists. Entries are kept and listed in unsigned key
 * order, and an entry's readdir cookie is {@code key + 1} (so 0 can mean "from the start"; collision
 * indexes stop at {@code 0xFFFF_FFFE} so a cookie never wraps to 0). A cookie stays valid across
 * inserts and deletes of other entries and across the inline/B+tree conversions, which keep keys.
 *
 * <h2>Inline form ({@code format = FORMAT_INLINE})</h2>
 * Entries packed from byte 0 of the inode's 112-byte inline area in ascending key order, {@code nrecs}
 * of them, the rest of the area zero:
 * <pre>
 *  0            8            16     17        18
 *  +------------+------------+------+---------+----------------+
 *  | key    u64 | ino    u64 | type | namelen | name (namelen) |  next entry ...
 *  |            |            |  u8  |   u8    |                |
 *  +------------+------------+------+---------+----------------+
 * </pre>
 * When an add does not fit, all entries move to a B+tree; when a remove leaves a single-leaf tree
 * whose entries fit the inline area again, they move back and the leaf is freed.
 *
 * <h2>B+tree form ({@code format = FORMAT_BTREE})</h2>
 * A {@link BTree} of {@link MetaType#DIR_BTREE} nodes owned by the directory inode, rooted at
 * {@code forkRoot} with {@code forkLevels} levels; records as in {@link DirOps}.
 *
 * <h2>Names</h2>
 * Non-empty byte strings without '/' or NUL, not "." or "..", at most {@link #nameMax(int)} bytes:
 * 255, or 222 with 1 KiB blocks (a record must leave room for four per leaf). A bad name is an
 * {@link IllegalArgumentException} naming it and the rule (the caller maps length to ENAMETOOLONG,
 * the rest to EINVAL).
 *
 * <h2>Cost per operation</h2>
 * A lookup reads {@code levels} blocks plus the leaves the entries sharing the name's hash span
 * (normally none beyond the first). An add or remove also changes at most
 * {@link #maxBlocksChanged(Inode)} = {@code 3 * levels + 2} blocks (a split or merge at every level
 * touches the node, its sibling and the sibling's neighbour's back link; a new root; an
 * inline-to-tree conversion builds a tree of at most three blocks). {@link #destroy} frees every
 * block of the tree, one for an empty directory.
 *
 * <p>On an exception the inode is unchanged but blocks may have been changed: the caller aborts the
 * journal handle, which undoes them.
 */
public final class Directory {
    private Directory() {}

    /** Longest name any block size allows. */
    public static final int NAME_MAX = 255;
    /** Bytes of an inline entry before its name: key u64, ino u64, type u8, namelen u8. */
    static final int INLINE_HEADER = 18;
    /** Largest collision index (so that {@code key + 1} never wraps to the cookie 0). */
    static final long MAX_COLLISION_INDEX = 0xffff_fffeL;
    /** Most entries the inline area can hold (one-byte names). */
    static final int INLINE_MAX_ENTRIES = Inode.INLINE_SIZE / (INLINE_HEADER + 1);

    /** Tests only: replaces the name hash (to force collisions). Always reset to null afterwards. */
    static volatile ToIntFunction<byte[]> hashForTests;

    // ---- names and keys --------------------------------------------------------------------------

    /** Longest name (bytes) a directory on a volume of {@code blockSize}-byte blocks can hold. */
    public static int nameMax(int blockSize) {
        MetaBlockLayout.checkBlockSize(blockSize);
        return Math.min(NAME_MAX, (blockSize - MetaBlockLayout.BTREE_HEADER_SIZE) / 4 - BTree.KEY_SIZE - DirOps.FIXED);
    }

    /** The 32-bit name hash (CRC32C of the name bytes), the high half of an entry's key. */
    public static int hash(byte[] name) {
        ToIntFunction<byte[]> h = hashForTests;
        if (h != null) return h.applyAsInt(name);
        CRC32C c = new CRC32C();
        c.update(name);
        return (int) c.getValue();
    }

    /** UTF-8 bytes of a name given as a String. */
    public static byte[] bytes(String name) {
        return name.getBytes(StandardCharsets.UTF_8);
    }

    /** Throws IllegalArgumentException naming the name and the rule it breaks. */
    public static void checkName(byte[] name, int blockSize) {
        String problem = nameProblem(name, nameMax(blockSize));
        if (problem != null) throw new IllegalArgumentException(problem + (problem.contains("allowed")
                ? " with " + blockSize + "-byte blocks" : ""));
    }

    private static String nameProblem(byte[] name, int nameMax) {
        if (name == null) return "directory entry name must not be null";
        if (name.length == 0) return "directory entry name must not be empty";
        if (name.length > nameMax)
            return "directory entry name " + show(name) + " is " + name.length + " bytes, more than the "
                    + nameMax + " allowed";
        if ((name.length == 1 && name[0] == '.') || (name.length == 2 && name[0] == '.' && name[1] == '.'))
            return "directory entry name " + show(name) + " is reserved (\".\" and \"..\" are not stored)";
        for (byte b : name) {
            if (b == '/') return "directory entry name " + show(name) + " must not contain '/'";
            if (b == 0) return "directory entry name " + show(name) + " must not contain NUL";
        }
        return null;
    }

    /** A name for messages: quoted, control bytes escaped, long names shortened. */
    static String show(byte[] name) {
        if (name == null) return "null";
        String s = new String(name, 0, Math.min(name.length, 64), StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
            else if (c == '"' || c == '\\') sb.append('\\').append(c);
            else sb.append(c);
        }
        sb.append('"');
        if (name.length > 64) sb.append("...");
        return sb.toString();
    }

    private static long hashKey(int h) {
        return Integer.toUnsignedLong(h) << 32;
    }

    // ---- public operations -----------------------------------------------------------------------

    /** The entry named {@code name}, or null. */
    public static DirEntry lookup(Txn tx, Inode dir, byte[] name) throws IOException {
        checkDir(dir);
        checkName(name, tx.blockSize());
        return find(tx, dir, name, hash(name)).entry;
    }

    public static DirEntry lookup(Txn tx, Inode dir, String name) throws IOException {
        return lookup(tx, dir, bytes(name));
    }

    /**
     * Adds an entry. Throws {@link FileAlreadyExistsException} (naming it) if the name exists,
     * IllegalArgumentException for a bad name, inode number or type.
     */
    public static void add(Txn tx, Inode dir, byte[] name, long ino, int type) throws IOException {
        checkDir(dir);
        checkName(name, tx.blockSize());
        checkTarget(ino, type);
        int h = hash(name);
        Found f = find(tx, dir, name, h);
        if (f.entry != null)
            throw new FileAlreadyExistsException(show(name), null, "directory " + dir.ino + " already has an entry "
                    + show(name) + " (inode " + f.entry.ino() + ")");
        if (f.freeIndex > MAX_COLLISION_INDEX)
            throw new NoSpaceException("directory " + dir.ino + " has " + (MAX_COLLISION_INDEX + 1)
                    + " names with the hash 0x" + Integer.toHexString(h) + " of " + show(name));
        DirEntry ne = new DirEntry(name, ino, type, (hashKey(h) | f.freeIndex) + 1);
        if (dir.format == Inode.FORMAT_INLINE) {
            List<DirEntry> ents = f.inline;
            int at = 0;
            while (at < ents.size() && Long.compareUnsigned(ents.get(at).key(), ne.key()) < 0) at++;
            ents.add(at, ne);
            if (inlineSize(ents) <= Inode.INLINE_SIZE) {
                writeInline(dir, ents);
                dir.nrecs = ents.size();
                return;
            }
            BTree<DirEntry> t = BTree.create(tx, DirOps.forBlockSize(tx.blockSize()), dir.ino);
            for (DirEntry e : ents) insertNew(t, e, dir);
            Arrays.fill(dir.inline, (byte) 0);
            dir.format = Inode.FORMAT_BTREE;
            setRoot(dir, t);
            dir.nrecs = ents.size();
            return;
        }
        BTree<DirEntry> t = open(tx, dir);
        insertNew(t, ne, dir);
        setRoot(dir, t);
        dir.nrecs++;
    }

    public static void add(Txn tx, Inode dir, String name, long ino, int type) throws IOException {
        add(tx, dir, bytes(name), ino, type);
    }

    /** Removes the entry named {@code name} and returns it; returns null (changing nothing) if there is none. */
    public static DirEntry remove(Txn tx, Inode dir, byte[] name) throws IOException {
        checkDir(dir);
        checkName(name, tx.blockSize());
        Found f = find(tx, dir, name, hash(name));
        if (f.entry == null) return null;
        if (dir.format == Inode.FORMAT_INLINE) {
            f.inline.remove(f.entry);
            writeInline(dir, f.inline);
            dir.nrecs = f.inline.size();
            return f.entry;
        }
        BTree<DirEntry> t = open(tx, dir);
        if (!t.delete(f.entry.key()))
            throw new IllegalStateException("entry " + f.entry + " vanished from directory " + dir.ino);
        setRoot(dir, t);
        dir.nrecs--;
        maybeShrinkToInline(tx, dir, t);
        return f.entry;
    }

    public static DirEntry remove(Txn tx, Inode dir, String name) throws IOException {
        return remove(tx, dir, bytes(name));
    }

    /**
     * Points the existing entry {@code name} at another inode (rename over an existing name); its
     * cookie stays. Returns the old entry; throws {@link NoSuchFileException} if there is none.
     */
    public static DirEntry replace(Txn tx, Inode dir, byte[] name, long newIno, int newType) throws IOException {
        checkDir(dir);
        checkName(name, tx.blockSize());
        checkTarget(newIno, newType);
        Found f = find(tx, dir, name, hash(name));
        if (f.entry == null)
            throw new NoSuchFileException(show(name), null, "directory " + dir.ino + " has no entry " + show(name));
        DirEntry ne = new DirEntry(name, newIno, newType, f.entry.cookie());
        if (dir.format == Inode.FORMAT_INLINE) {
            f.inline.set(f.inline.indexOf(f.entry), ne);
            writeInline(dir, f.inline);
        } else if (!open(tx, dir).update(ne.key(), ne)) {
            throw new IllegalStateException("entry " + f.entry + " vanished from directory " + dir.ino);
        }
        return f.entry;
    }

    public static DirEntry replace(Txn tx, Inode dir, String name, long newIno, int newType) throws IOException {
        return replace(tx, dir, bytes(name), newIno, newType);
    }

    /** Whether the directory has no entries (besides the synthesised "." and ".."). */
    public static boolean isEmpty(Txn tx, Inode dir) throws IOException {
        checkDir(dir);
        if (dir.format == Inode.FORMAT_INLINE) return parseInline(tx.blockSize(), dir).isEmpty();
        return !open(tx, dir).first().valid();
    }

    /**
     * Lists entries in key order, starting with the first whose cookie is greater than {@code cookie}
     * (0 = from the start; pass the cookie of the last entry consumed to continue), and passes each
     * to {@code consumer} until it returns false. The consumer must not change the directory (a
     * B+tree cursor would throw ConcurrentModificationException); changes between calls are fine:
     * every entry present throughout is listed exactly once.
     */
    public static void readdir(Txn tx, Inode dir, long cookie, Predicate<DirEntry> consumer) throws IOException {
        checkDir(dir);
        // Entries after cookie c are those with key >= c (the cookie of key k is k + 1).
        if (dir.format == Inode.FORMAT_INLINE) {
            for (DirEntry e : parseInline(tx.blockSize(), dir))
                if (Long.compareUnsigned(e.key(), cookie) >= 0 && !consumer.test(e)) return;
            return;
        }
        BTree<DirEntry> t = open(tx, dir);
        int nameMax = nameMax(tx.blockSize());
        for (BTree<DirEntry>.Cursor c = t.seekGE(cookie); c.valid(); c.next())
            if (!consumer.test(decode(c.leaf(), c.recordOffset(), c.key(), nameMax, dir.ino))) return;
    }

    /**
     * Frees the directory's B+tree blocks (all of them; one for an empty directory) and leaves an
     * empty inline directory. The caller checks {@link #isEmpty} first for rmdir.
     */
    public static void destroy(Txn tx, Inode dir) throws IOException {
        checkDir(dir);
        if (dir.format == Inode.FORMAT_BTREE) {
            BTree<DirEntry> t = open(tx, dir);
            freeTree(tx, t, dir.ino, dir.forkRoot, dir.forkLevels);
        }
        Arrays.fill(dir.inline, (byte) 0);
        dir.format = Inode.FORMAT_INLINE;
        dir.forkRoot = 0;
        dir.forkLevels = 0;
        dir.nrecs = 0;
    }

    /**
     * Checks everything (fsck and tests): the tree's structure ({@link BTree#verify()}), every
     * record (name rules, hash matching the key, inode number, type) and that {@code nrecs} matches.
     * Returns the number of entries; throws {@link CorruptMetadataException} on the first problem.
     */
    public static long verify(Txn tx, Inode dir) throws IOException {
        return verify(tx, dir, e -> {});
    }

    /**
     * {@link #verify(Txn, Inode)} that also hands every entry, in readdir order, to {@code entries}
     * (fsck: one pass over the tree). Entries are handed over only once the whole directory verified.
     */
    public static long verify(Txn tx, Inode dir, java.util.function.Consumer<DirEntry> entries) throws IOException {
        checkDir(dir);
        List<DirEntry> all;
        if (dir.format == Inode.FORMAT_INLINE) {
            all = parseInline(tx.blockSize(), dir);
        } else {
            // The records are decoded as verify hands over each leaf; a bad record is thrown once the
            // structure verified, so a structural problem is still the one reported first.
            BTree<DirEntry> t = open(tx, dir);
            int nameMax = nameMax(tx.blockSize());
            List<DirEntry> got = new ArrayList<>();
            CorruptMetadataException[] bad = {null};
            BTree.Shape s = t.verify(leaf -> {
                for (int i = 0; i < leaf.numRecs() && bad[0] == null; i++) {
                    try {
                        got.add(decode(leaf, t.recordOffset(i), BTree.key(leaf, i), nameMax, dir.ino));
                    } catch (CorruptMetadataException e) {
                        bad[0] = e;
                    }
                }
            });
            if (bad[0] != null) throw bad[0];
            if (got.size() != s.records())
                throw new IllegalStateException("readdir saw " + got.size() + " of " + s.records() + " records");
            long n = got.size();
            if (n != Integer.toUnsignedLong(dir.nrecs))
                throw MetaBlockLayout.corrupt(dir.forkRoot, MetaType.DIR_BTREE, "tree holds " + n
                        + " entries but directory inode " + dir.ino + " says " + Integer.toUnsignedString(dir.nrecs));
            all = got;
        }
        for (DirEntry e : all) entries.accept(e);
        return all.size();
    }

    /** Most blocks one add, remove or replace can change in this directory (for journal reservations). */
    public static int maxBlocksChanged(Inode dir) {
        return 3 * Math.max(1, dir.format == Inode.FORMAT_BTREE ? dir.forkLevels : 1) + 2;
    }

    // ---- internals -------------------------------------------------------------------------------

    /** What a search for a name found: the entry (or null) and the lowest collision index free. */
    private record Found(DirEntry entry, long freeIndex, List<DirEntry> inline) {}

    private static Found find(Txn tx, Inode dir, byte[] name, int h) throws IOException {
        long hk = hashKey(h);
        long expect = 0, free = -1;
        DirEntry hit = null;
        if (dir.format == Inode.FORMAT_INLINE) {
            List<DirEntry> ents = parseInline(tx.blockSize(), dir);
            for (DirEntry e : ents) {
                if ((e.key() & 0xffff_ffff_0000_0000L) != hk) continue;
                long idx = e.key() & 0xffff_ffffL;
                if (free < 0 && idx != expect) free = expect;
                expect = idx + 1;
                if (Arrays.equals(e.name(), name)) hit = e;
            }
            return new Found(hit, free < 0 ? expect : free, ents);
        }
        BTree<DirEntry> t = open(tx, dir);
        int nameMax = nameMax(tx.blockSize());
        for (BTree<DirEntry>.Cursor c = t.seekGE(hk); c.valid(); c.next()) {
            long key = c.key();
            if ((key & 0xffff_ffff_0000_0000L) != hk) break;
            long idx = key & 0xffff_ffffL;
            if (free < 0 && idx != expect) free = expect;
            expect = idx + 1;
            if (hit == null && nameEquals(c.leaf().view(), c.recordOffset(), name))
                hit = decode(c.leaf(), c.recordOffset(), key, nameMax, dir.ino);
        }
        return new Found(hit, free < 0 ? expect : free, null);
    }

    private static boolean nameEquals(MemorySegment s, long off, byte[] name) {
        if (Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + DirOps.NAMELEN)) != name.length) return false;
        for (int i = 0; i < name.length; i++)
            if (s.get(ValueLayout.JAVA_BYTE, off + DirOps.NAME + i) != name[i]) return false;
        return true;
    }

    /** Decodes and checks a leaf record; a bad one is corruption of the leaf. */
    private static DirEntry decode(MetaBlock leaf, long off, long key, int nameMax, long dirIno)
            throws CorruptMetadataException {
        MemorySegment s = leaf.view();
        int len = Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + DirOps.NAMELEN));
        if (len == 0 || len > nameMax)
            throw MetaBlockLayout.corrupt(leaf.blkno(), MetaType.DIR_BTREE, where(key) + "name length " + len
                    + " outside 1.." + nameMax);
        byte[] name = new byte[len];
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + DirOps.NAME, name, 0, len);
        DirEntry e = new DirEntry(name, s.get(U64, off + DirOps.INO),
                Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + DirOps.TYPE)), key + 1);
        String problem = entryProblem(e, key, nameMax);
        if (problem != null) throw MetaBlockLayout.corrupt(leaf.blkno(), MetaType.DIR_BTREE, where(key) + problem);
        return e;
    }

    private static String where(long key) {
        return "entry with key 0x" + Long.toHexString(key) + ": ";
    }

    /** What is wrong with a stored entry, or null. */
    private static String entryProblem(DirEntry e, long key, int nameMax) {
        String p = nameProblem(e.name(), nameMax);
        if (p != null) return p;
        if (e.ino() <= 0 || Inode.localOf(e.ino()) == 0) return "entry " + show(e.name()) + " names inode " + e.ino();
        if (!DirEntry.validType(e.type())) return "entry " + show(e.name()) + " has file type " + e.type();
        int h = hash(e.name());
        if ((key >>> 32) != Integer.toUnsignedLong(h))
            return "entry " + show(e.name()) + " has hash 0x" + Integer.toHexString(h) + ", not the key's 0x"
                    + Long.toHexString(key >>> 32);
        if ((key & 0xffff_ffffL) > MAX_COLLISION_INDEX) return "collision index 0xffffffff";
        return null;
    }

    private static void insertNew(BTree<DirEntry> t, DirEntry e, Inode dir) throws IOException {
        if (!t.insert(e.key(), e))
            throw MetaBlockLayout.corrupt(t.root(), MetaType.DIR_BTREE, "key 0x" + Long.toHexString(e.key())
                    + " of new entry " + show(e.name()) + " in directory " + dir.ino + " is already in use");
    }

    private static void setRoot(Inode dir, BTree<DirEntry> t) {
        dir.forkRoot = t.root();
        dir.forkLevels = t.levels();
    }

    private static BTree<DirEntry> open(Txn tx, Inode dir) throws IOException {
        if (dir.forkRoot == 0)
            throw MetaBlockLayout.corrupt(0, MetaType.DIR_BTREE, "directory inode " + dir.ino
                    + " has format BTREE but no root block");
        BTree<DirEntry> t = BTree.open(tx, DirOps.forBlockSize(tx.blockSize()), dir.ino, dir.forkRoot);
        if (t.levels() != dir.forkLevels)
            throw MetaBlockLayout.corrupt(dir.forkRoot, MetaType.DIR_BTREE, "root has " + t.levels()
                    + " levels but directory inode " + dir.ino + " says " + dir.forkLevels);
        return t;
    }

    /** After a remove: a single-leaf tree whose entries fit inline goes back inline. */
    private static void maybeShrinkToInline(Txn tx, Inode dir, BTree<DirEntry> t) throws IOException {
        if (t.levels() != 1 || Integer.toUnsignedLong(dir.nrecs) > INLINE_MAX_ENTRIES) return;
        List<DirEntry> ents = new ArrayList<>();
        readdir(tx, dir, 0, e -> ents.add(e));
        if (inlineSize(ents) > Inode.INLINE_SIZE) return;
        tx.free(t.root());
        writeInline(dir, ents);
        dir.format = Inode.FORMAT_INLINE;
        dir.forkRoot = 0;
        dir.forkLevels = 0;
        dir.nrecs = ents.size();
    }

    /** Frees every node, level by level along the sibling links. */
    private static void freeTree(Txn tx, BTree<DirEntry> t, long owner, long root, int levels) throws IOException {
        long first = root;
        for (int level = levels - 1; level >= 0; level--) {
            List<Long> nodes = new ArrayList<>();
            long next = first, leftmostChild = 0;
            while (next != MetaBlockLayout.NIL) {
                MetaBlock b = tx.read(next, MetaType.DIR_BTREE, owner);
                if (b.level() != level)
                    throw MetaBlockLayout.corrupt(next, MetaType.DIR_BTREE, "level " + b.level() + " where "
                            + level + " expected");
                if (nodes.isEmpty() && level > 0) {
                    if (b.numRecs() == 0) throw MetaBlockLayout.corrupt(next, MetaType.DIR_BTREE, "internal node with no children");
                    leftmostChild = b.view().get(U64, MetaBlockLayout.BTREE_HEADER_SIZE
                            + (long) BTree.KEY_SIZE * t.nodeCapacity());
                }
                nodes.add(next);
                if (nodes.size() > tx.superblock().totalBlocks())   // more nodes than blocks: a sibling cycle
                    throw MetaBlockLayout.corrupt(next, MetaType.DIR_BTREE, "sibling chain does not end");
                next = b.right();
            }
            for (long blk : nodes) tx.free(blk);
            first = leftmostChild;
        }
    }

    private static void checkDir(Inode dir) {
        if (dir == null) throw new NullPointerException("dir");
        if (!dir.isDir())
            throw new IllegalArgumentException("inode " + dir.ino + " (mode 0" + Integer.toOctalString(dir.mode)
                    + ") is not a directory");
        if (dir.format != Inode.FORMAT_INLINE && dir.format != Inode.FORMAT_BTREE)
            throw new IllegalArgumentException("directory inode " + dir.ino + " has fork format " + dir.format
                    + ", neither INLINE nor BTREE");
    }

    private static void checkTarget(long ino, int type) {
        if (ino <= 0 || Inode.localOf(ino) == 0)
            throw new IllegalArgumentException("inode number " + ino + " (0x" + Long.toHexString(ino)
                    + ") is not valid for a directory entry");
        if (!DirEntry.validType(type))
            throw new IllegalArgumentException("file type " + type + " is not a DT_* type (1, 2, 4, 6, 8, 10 or 12)");
    }

    // ---- inline form -----------------------------------------------------------------------------

    private static int inlineSize(List<DirEntry> ents) {
        int n = 0;
        for (DirEntry e : ents) n += INLINE_HEADER + e.name().length;
        return n;
    }

    private static void writeInline(Inode dir, List<DirEntry> ents) {
        MemorySegment s = dir.inlineSegment();
        s.fill((byte) 0);
        long off = 0;
        for (DirEntry e : ents) {
            s.set(U64, off, e.key());
            s.set(U64, off + 8, e.ino());
            s.set(ValueLayout.JAVA_BYTE, off + 16, (byte) e.type());
            s.set(ValueLayout.JAVA_BYTE, off + 17, (byte) e.name().length);
            MemorySegment.copy(e.name(), 0, s, ValueLayout.JAVA_BYTE, off + INLINE_HEADER, e.name().length);
            off += INLINE_HEADER + e.name().length;
        }
    }

    /**
     * Decodes and checks the inline entries. Corruption is reported as block -1 (the inode record's
     * block is known only to the inode store) with the structure "inline directory of inode N".
     */
    private static List<DirEntry> parseInline(int blockSize, Inode dir) throws CorruptMetadataException {
        int nameMax = nameMax(blockSize);
        String structure = "inline directory of inode " + dir.ino;
        if (dir.nrecs < 0 || dir.nrecs > INLINE_MAX_ENTRIES)
            throw new CorruptMetadataException(-1, structure, "nrecs " + Integer.toUnsignedString(dir.nrecs)
                    + " is more than the " + INLINE_MAX_ENTRIES + " entries that fit");
        MemorySegment s = dir.inlineSegment();
        List<DirEntry> ents = new ArrayList<>(dir.nrecs + 1);
        long off = 0;
        for (int i = 0; i < dir.nrecs; i++) {
            if (off + INLINE_HEADER > Inode.INLINE_SIZE)
                throw new CorruptMetadataException(-1, structure, "entry " + i + " at byte " + off + " runs past the inline area");
            int len = Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + 17));
            if (len == 0 || off + INLINE_HEADER + len > Inode.INLINE_SIZE)
                throw new CorruptMetadataException(-1, structure, "entry " + i + " at byte " + off + " has name length "
                        + len + (len == 0 ? "" : ", past the inline area"));
            long key = s.get(U64, off);
            byte[] name = new byte[len];
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + INLINE_HEADER, name, 0, len);
            DirEntry e = new DirEntry(name, s.get(U64, off + 8), Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, off + 16)), key + 1);
            String p = entryProblem(e, key, nameMax);
            if (p == null && !ents.isEmpty() && Long.compareUnsigned(ents.getLast().key(), key) >= 0)
                p = "key 0x" + Long.toHexString(key) + " is not above the previous 0x" + Long.toHexString(ents.getLast().key());
            if (p != null) throw new CorruptMetadataException(-1, structure, "entry " + i + ": " + p);
            ents.add(e);
            off += INLINE_HEADER + len;
        }
        for (long j = off; j < Inode.INLINE_SIZE; j++)
            if (s.get(ValueLayout.JAVA_BYTE, j) != 0)
                throw new CorruptMetadataException(-1, structure, "byte " + j + " after the last entry is not zero");
        return ents;
    }
}
