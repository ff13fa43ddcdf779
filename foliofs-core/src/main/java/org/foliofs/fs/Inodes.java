package org.foliofs.fs;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.function.Consumer;

/**
 * Inode allocation and lookup. Every inode is a {@link Inode#SIZE}-byte record in the inode B+tree of
 * its allocation group ({@link InodeOps}; root and levels in {@link AgHeader#inoRoot}/{@code inoLevels},
 * an empty root leaf made by mkfs at group block {@link AgHeader#INODE_ROOT}):
 *
 * <pre>
 *   inode number (u64) = agno (high 32 bits) | local (low 32 bits)
 *
 *   AG header: inoRoot, inoLevels, nextIno, inoCount
 *        |
 *        v
 *   inode B+tree of group agno:  key = local (u64, 1 .. 0xFFFF_FFFE)  ->  record = Inode (224 bytes)
 * </pre>
 *
 * Local numbers are handed out in increasing order from {@link AgHeader#nextIno} (which starts at 1)
 * and never reused within the volume's life, so a stale handle can never name a newer file; the
 * {@link Inode#generation} (random, nonzero) tells a re-formatted volume's inodes apart.
 * {@code nextIno == }{@link #LOCAL_LIMIT} marks a group whose inode numbers are used up.
 * {@code inoCount} counts live records.
 *
 * <p>Every method works in the caller's transaction and changes a bounded number of blocks: the
 * group header plus one tree operation, which changes at most {@code 3 * levels + 1} blocks (path,
 * split partners and sibling links, a new root). A group's inode tree holds at most 2^32 records; with
 * 1 KiB blocks (4 records a leaf, at least 2; 60 children a node, at least 30) that is at most 8
 * levels, hence the reservations {@link #ALLOCATE_BLOCKS}, {@link #REMOVE_BLOCKS}, {@link #PUT_BLOCKS}.
 * {@link #allocate} may read every group's header when the hinted groups are exhausted. {@link #get}
 * and {@link #forEach} only read.
 */
public final class Inodes {
    private Inodes() {}

    /** Largest group-relative inode number; {@code nextIno} reaching {@link #LOCAL_LIMIT} means the group is full. */
    public static final long MAX_LOCAL = 0xFFFF_FFFEL, LOCAL_LIMIT = MAX_LOCAL + 1;

    /** Journal reservations (distinct blocks changed) of {@link #allocate}/{@link #allocateAt}, {@link #remove}, {@link #put}. */
    public static final int ALLOCATE_BLOCKS = 30, REMOVE_BLOCKS = 30, PUT_BLOCKS = 1;

    private static final SecureRandom RANDOM = new SecureRandom();

    /**
     * Allocates a new inode in group {@code agHint} (or the next group with inode numbers left),
     * stores it and returns it: {@code nlink} 0 (the caller sets it), all four times {@code nowNanos},
     * a random nonzero generation, format {@link Inode#FORMAT_INLINE} with an empty fork.
     *
     * @throws NoSpaceException when every group's inode numbers are used up
     */
    public static Inode allocate(Txn tx, int agHint, int mode, long nowNanos) throws IOException {
        int agCount = tx.superblock().agCount();
        if (agHint < 0 || agHint >= agCount)
            throw new IllegalArgumentException("agHint (" + agHint + ") must be in [0, " + agCount + ")");
        checkMode(mode);
        for (int i = 0; i < agCount; i++) {
            int agno = (agHint + i) % agCount;
            AgHeader h = tx.agHeader(agno);
            checkNextIno(tx, h);
            if (h.nextIno >= LOCAL_LIMIT) continue;
            long local = h.nextIno;
            Inode ino = fresh(Inode.make(agno, local), mode, nowNanos);
            h.nextIno = local + 1;
            insert(tx, h, local, ino);
            return ino;
        }
        throw new NoSpaceException("no inode numbers left: all " + agCount + " allocation groups have used "
                + MAX_LOCAL + " inode numbers");
    }

    /**
     * Creates the inode with the given number (mkfs: the root directory {@link Mkfs#ROOT_INO}); bumps
     * the group's {@code nextIno} past it.
     *
     * @throws IllegalStateException if it exists
     */
    public static Inode allocateAt(Txn tx, long ino, int mode, long nowNanos) throws IOException {
        int agno = Inode.agOf(ino);
        long local = Inode.localOf(ino);
        if (agno >= tx.superblock().agCount() || local < 1 || local > MAX_LOCAL)
            throw new IllegalArgumentException("inode number " + ino + " (group " + agno + ", local " + local
                    + ") is not valid: the group must be below " + tx.superblock().agCount() + " and local in [1, " + MAX_LOCAL + "]");
        checkMode(mode);
        AgHeader h = tx.agHeader(agno);
        checkNextIno(tx, h);
        Inode inode = fresh(ino, mode, nowNanos);
        if (tree(tx, h).lookup(local) != null) throw new IllegalStateException("inode " + ino + " already exists");
        h.nextIno = Math.max(h.nextIno, local + 1);
        insert(tx, h, local, inode);
        return inode;
    }

    /**
     * Reads inode {@code ino}.
     *
     * @throws NoSuchInodeException     if there is no such inode (or no such group)
     * @throws CorruptMetadataException if its record is implausible (naming the tree leaf holding it)
     */
    public static Inode get(Txn tx, long ino) throws IOException {
        int agno = Inode.agOf(ino);
        long local = Inode.localOf(ino);
        if (agno >= tx.superblock().agCount())
            throw new NoSuchInodeException(ino, "does not exist: the volume has " + tx.superblock().agCount() + " groups");
        BTree<Inode>.Cursor c = tree(tx, tx.agHeader(agno)).seekGE(local);
        if (!c.valid() || c.key() != local) throw new NoSuchInodeException(ino, "does not exist");
        return decode(agno, c);
    }

    /** Writes back {@code inode} (which must exist). */
    public static void put(Txn tx, Inode inode) throws IOException {
        int agno = Inode.agOf(inode.ino);
        if (agno >= tx.superblock().agCount())
            throw new NoSuchInodeException(inode.ino, "does not exist: the volume has " + tx.superblock().agCount() + " groups");
        checkMode(inode.mode);
        if (inode.format < Inode.FORMAT_INLINE || inode.format > Inode.FORMAT_BLOCKS)
            throw new IllegalArgumentException("format (" + inode.format + ") of inode " + inode.ino + " must be 0, 1 or 2");
        if (!tree(tx, tx.agHeader(agno)).update(Inode.localOf(inode.ino), inode))
            throw new NoSuchInodeException(inode.ino, "does not exist");
    }

    /** Deletes inode {@code ino}'s record; the caller has freed its forks and xattr block. */
    public static void remove(Txn tx, long ino) throws IOException {
        int agno = Inode.agOf(ino);
        if (agno >= tx.superblock().agCount())
            throw new NoSuchInodeException(ino, "does not exist: the volume has " + tx.superblock().agCount() + " groups");
        AgHeader h = tx.agHeader(agno);
        BTree<Inode> t = tree(tx, h);
        if (!t.delete(Inode.localOf(ino))) throw new NoSuchInodeException(ino, "does not exist");
        h = tx.agHeader(agno);   // the delete may have freed nodes: the allocator rewrote the header
        if (h.inoCount <= 0)
            throw MetaBlockLayout.corrupt(AgHeader.blockOf(tx.superblock(), agno), AgHeader.TYPE,
                    "inode count " + h.inoCount + " while inode " + ino + " existed");
        h.inoCount--;
        h.inoRoot = t.root();
        h.inoLevels = t.levels();
        tx.writeAgHeader(h);
    }

    /**
     * Calls {@code action} with every inode of group {@code agno} in inode number order, each checked
     * as {@link #get} checks it. The action must not change the group's inode tree (collect first).
     */
    public static void forEach(Txn tx, int agno, Consumer<Inode> action) throws IOException {
        if (agno < 0 || agno >= tx.superblock().agCount())
            throw new IllegalArgumentException("agno (" + agno + ") must be in [0, " + tx.superblock().agCount() + ")");
        BTree<Inode>.Cursor c = tree(tx, tx.agHeader(agno)).first();
        for (boolean more = c.valid(); more; more = c.next()) action.accept(decode(agno, c));
    }

    /** The inode tree of group {@code agno} (for fsck and tests: verify, count). */
    public static BTree<Inode> tree(Txn tx, int agno) throws IOException {
        return tree(tx, tx.agHeader(agno));
    }

    /** The leaf block holding inode {@code ino}'s record, or -1 if there is none (to name it in errors). */
    static long blockOf(Txn tx, long ino) {
        try {
            int agno = Inode.agOf(ino);
            if (agno >= tx.superblock().agCount()) return -1;
            BTree<Inode>.Cursor c = tree(tx, tx.agHeader(agno)).seekGE(Inode.localOf(ino));
            return c.valid() && c.key() == Inode.localOf(ino) ? c.leaf().blkno() : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static BTree<Inode> tree(Txn tx, AgHeader h) throws IOException {
        if (h.inoLevels < 1 || h.inoLevels > BTree.MAX_LEVELS)
            throw MetaBlockLayout.corrupt(AgHeader.blockOf(tx.superblock(), h.agno), AgHeader.TYPE,
                    "inode tree levels " + h.inoLevels + " outside [1, " + BTree.MAX_LEVELS + "]");
        BTree<Inode> t = BTree.open(tx, InodeOps.INSTANCE, h.agno, h.inoRoot, h.inoLevels);
        if (t.levels() != h.inoLevels)
            throw MetaBlockLayout.corrupt(h.inoRoot, MetaType.INODE_BTREE, "root is at level " + (t.levels() - 1)
                    + " but the group header says the tree has " + h.inoLevels + " levels");
        return t;
    }

    private static void insert(Txn tx, AgHeader h, long local, Inode inode) throws IOException {
        BTree<Inode> t = tree(tx, h);
        if (!t.insert(local, inode))
            throw MetaBlockLayout.corrupt(AgHeader.blockOf(tx.superblock(), h.agno), AgHeader.TYPE,
                    "next inode number " + local + " is already in use");
        // The insert may have allocated nodes, which rewrites the header (free counts, AGFL):
        // re-read it and apply only this change, never write back the stale copy.
        AgHeader f = tx.agHeader(h.agno);
        f.nextIno = Math.max(f.nextIno, h.nextIno);
        f.inoCount++;
        f.inoRoot = t.root();
        f.inoLevels = t.levels();
        tx.writeAgHeader(f);
    }

    private static void checkNextIno(Txn tx, AgHeader h) throws CorruptMetadataException {
        if (h.nextIno < 1 || h.nextIno > LOCAL_LIMIT)
            throw MetaBlockLayout.corrupt(AgHeader.blockOf(tx.superblock(), h.agno), AgHeader.TYPE,
                    "next inode number " + h.nextIno + " outside [1, " + LOCAL_LIMIT + "]");
    }

    private static Inode fresh(long ino, int mode, long now) {
        Inode i = new Inode(ino);
        i.mode = mode;
        i.atime = i.mtime = i.ctime = i.btime = now;
        long g;
        do g = RANDOM.nextLong(); while (g == 0);
        i.generation = g;
        i.format = Inode.FORMAT_INLINE;
        return i;
    }

    /** Whether {@code type} (mode & S_IFMT) is a known file type. */
    public static boolean knownType(int type) {
        return switch (type) {
            case Inode.S_IFREG, Inode.S_IFDIR, Inode.S_IFLNK, Inode.S_IFIFO, Inode.S_IFCHR, Inode.S_IFBLK, Inode.S_IFSOCK -> true;
            default -> false;
        };
    }

    private static void checkMode(int mode) {
        if ((mode & ~0177777) != 0 || !knownType(mode & Inode.S_IFMT))
            throw new IllegalArgumentException("mode (0" + Integer.toOctalString(mode)
                    + ") must be a file type (S_IFREG, S_IFDIR, ...) with permission bits, nothing else");
    }

    /** Decodes and checks the record under {@code c}; names the leaf block when it is implausible. */
    private static Inode decode(int agno, BTree<Inode>.Cursor c) throws CorruptMetadataException {
        return decode(agno, c.leaf(), c.recordOffset(), c.key());
    }

    /**
     * Record {@code i} of leaf {@code leaf} of group {@code agno}'s inode tree {@code t}, checked as
     * {@link #get} checks it (fsck decodes the leaves {@link BTree#verify(BTree.LeafVisitor)} hands it).
     */
    static Inode decode(BTree<Inode> t, int agno, MetaBlock leaf, int i) throws CorruptMetadataException {
        return decode(agno, leaf, t.recordOffset(i), BTree.key(leaf, i));
    }

    private static Inode decode(int agno, MetaBlock leaf, long off, long key) throws CorruptMetadataException {
        long ino = Inode.make(agno, key);
        Inode i = Inode.decode(ino, leaf.view(), off);
        String problem = null;
        if (key < 1 || key > MAX_LOCAL) problem = "key " + Long.toUnsignedString(key) + " is not a valid inode number";
        else if ((i.mode & ~0177777) != 0 || !knownType(i.type()))
            problem = "mode 0" + Integer.toOctalString(i.mode) + " has unknown type bits";
        else if (i.format < Inode.FORMAT_INLINE || i.format > Inode.FORMAT_BLOCKS) problem = "fork format " + i.format + " is unknown";
        else if (i.format == Inode.FORMAT_BLOCKS && !i.isSymlink()) problem = "fork format BLOCKS on a non-symlink";
        else if (i.format == Inode.FORMAT_BTREE && (i.forkLevels < 1 || i.forkLevels > BTree.MAX_LEVELS))
            problem = "fork levels " + i.forkLevels + " outside [1, " + BTree.MAX_LEVELS + "]";
        else if (i.nrecs < 0) problem = "record count " + Integer.toUnsignedString(i.nrecs) + " is impossible";
        else if (i.writeMode > Inode.WMODE_WRITETHROUGH_DSYNC) problem = "write mode " + i.writeMode + " is unknown";
        else if (leaf.view().get(MetaBlockLayout.U32, off + 84) != 0) problem = "reserved field is not zero";
        if (problem != null) throw MetaBlockLayout.corrupt(leaf.blkno(), MetaType.INODE_BTREE, "inode " + ino + ": " + problem);
        return i;
    }
}
