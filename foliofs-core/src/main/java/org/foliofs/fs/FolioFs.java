package org.foliofs.fs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;

/**
 * A mounted FolioFS volume: the namespace (by inode number, like FUSE's low-level API) on top of the
 * journal, the allocator, inodes, extent maps and directories.
 *
 * <p>Every operation is one journal handle (or, for freeing a large file, a sequence of handles each
 * leaving a consistent state), so each is atomic across a crash; {@link #sync()} makes every finished
 * operation durable. Operations run one at a time under the journal lock (the metadata lock; data
 * I/O does not take it).
 *
 * <p>Orphans: an inode whose last link goes while it is open stays allocated, listed in the hidden
 * orphan directory (inode {@link #ORPHANAGE_INO}); the last {@link #close(long)} frees it, and so does
 * the next mount after a crash.
 *
 * <p>Errors: the standard {@code java.nio.file} exceptions naming the file ({@link NoSuchFileException},
 * {@link FileAlreadyExistsException}, {@link DirectoryNotEmptyException}, {@link NotDirectoryException},
 * {@link FileSystemException} with a reason), {@link NoSpaceException} for ENOSPC,
 * {@link CorruptMetadataException} for corruption. A device error while writing metadata shuts the
 * file system down: every later call fails, and the next mount recovers from the journal.
 */
public final class FolioFs implements AutoCloseable {
    public static final long ROOT_INO = Mkfs.ROOT_INO;
    /** Hidden directory of orphaned inodes (entries named by inode number in hex). */
    public static final long ORPHANAGE_INO = 2;
    /** rename flags (as renameat2). */
    public static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;

    private final BlockDevice dev;
    private final Superblock sb;
    private final Journal journal;
    private final Allocator alloc;
    private final StagingPool staging;
    /** Synchronous atomic writes in progress (FolioFile.write: with others in progress, one runs as an asynchronous call and waits). */
    final java.util.concurrent.atomic.AtomicInteger atomicCallers = new java.util.concurrent.atomic.AtomicInteger();
    /** Synchronous atomic writes that ran as asynchronous calls (for tests and statistics). */
    final java.util.concurrent.atomic.LongAdder atomicHandedOff = new java.util.concurrent.atomic.LongAdder();
    private final Refcounts refs;
    private final int reserve;
    private final boolean readOnly;
    private final Map<Long, Integer> openCount = new HashMap<>();   // guarded by journal lock
    private volatile IOException shutdown;
    private final List<String> mountLog = new ArrayList<>();
    private FolioFile.VolumeIo fileIo;                                  // file data I/O, made by the first openFile
    private org.foliofs.pagecache.PageCache.Config pageCacheConfig =
            org.foliofs.pagecache.PageCache.Config.builder().memoryBytes(64L << 20).build();

    /** Attributes of an inode (a snapshot). */
    public record Attr(long ino, int mode, int nlink, int uid, int gid, long size, long blocks, long atime, long mtime,
                       long ctime, long btime, int flags, long generation, int writeMode) {
        public boolean isDir() { return (mode & Inode.S_IFMT) == Inode.S_IFDIR; }
        public boolean isRegular() { return (mode & Inode.S_IFMT) == Inode.S_IFREG; }
        public boolean isSymlink() { return (mode & Inode.S_IFMT) == Inode.S_IFLNK; }

        Attr withSize(long s) {
            return new Attr(ino, mode, nlink, uid, gid, s, blocks, atime, mtime, ctime, btime, flags, generation, writeMode);
        }

        static Attr of(Inode i) {
            return new Attr(i.ino, i.mode, i.nlink, i.uid, i.gid, i.size, i.blocks, i.atime, i.mtime, i.ctime, i.btime, i.flags,
                    i.generation, i.writeMode);
        }
    }

    /** statfs. */
    public record StatFs(int blockSize, long totalBlocks, long freeBlocks, long availableBlocks, long inodes, int nameMax) {}

    private FolioFs(BlockDevice dev, Superblock sb, Journal journal, Allocator alloc) {
        this.dev = dev;
        this.sb = sb;
        this.journal = journal;
        this.alloc = alloc;
        alloc.replayedRanges(journal::loggedDataOverlaps);   // freed logged blocks stay busy until a checkpoint
        this.readOnly = journal.isReadOnly();
        this.refs = new Refcounts(sb);
        this.staging = new StagingPool(this, sb.agCount());
        this.reserve = (int) Math.max(1, Math.min(64, journal.maxTransactionBlocks() / 4));
    }

    /** Formats {@code dev} (mkfs), creates the root directory and returns the mounted volume. */
    public static FolioFs format(BlockDevice dev, Mkfs.Options opts) throws IOException {
        Superblock sb = Mkfs.format(dev, opts);
        return setUp(open(dev, sb), fs -> {
            fs.op(h -> {
                long now = now();
                Inode root = Inodes.allocateAt(h, ROOT_INO, Inode.S_IFDIR | 0755, now);
                root.nlink = 2;
                root.parent = ROOT_INO;
                Inodes.put(h, root);
                Inode orph = Inodes.allocateAt(h, ORPHANAGE_INO, Inode.S_IFDIR | 0700, now);
                orph.nlink = 1;
                orph.parent = ORPHANAGE_INO;
                Inodes.put(h, orph);
                return null;
            });
            fs.journal.checkpoint();
        });
    }

    /**
     * Mounts the volume on {@code dev}: reads the superblock (falling back to a backup), replays the
     * journal, loads the allocator's counters and frees orphans left by a crash.
     */
    public static FolioFs mount(BlockDevice dev) throws IOException {
        List<String> warnings = new ArrayList<>();
        Superblock sb = Volume.readSuperblock(dev, warnings);
        return setUp(open(dev, sb), fs -> {
            fs.mountLog.addAll(warnings);
            Journal.Recovery r = fs.journal.recovery();
            if (r.transactions() > 0)
                fs.mountLog.add("journal recovery replayed " + r.transactions() + " transactions (" + r.blocks() + " blocks)");
            int freed = fs.freeOrphans();
            if (freed > 0) fs.mountLog.add("freed " + freed + " orphaned inodes");
            long staged = fs.freeCowStaging();
            if (staged > 0) fs.mountLog.add("freed " + staged + " blocks of interrupted copy-on-write");
        });
    }

    /**
     * Mounts the volume on {@code dev} read-only: nothing is ever written to the device (it may be
     * opened read-only, e.g. {@code FileDevice.Options.withReadOnly}). Reads the superblock and
     * scans the journal without replaying it; a volume whose journal holds committed transactions
     * (it was not unmounted cleanly) is refused with an {@link IOException} naming the device and the
     * count ({@link RecoveryNeededException}), since its home blocks are older than what was committed: mount it read-write once
     * first. Orphaned inodes and interrupted copy-on-write staging a crash left are left alone
     * (noted in {@link #mountLog()}): they are invisible to reads. Every change throws
     * {@link ReadOnlyVolumeException}: the namespace and attribute calls before they start, file
     * writes in {@link FolioFile}, and any other metadata change in the journal's handles (the
     * choke point); {@link #sync()} does nothing and {@link #close()} writes nothing.
     */
    public static FolioFs mountReadOnly(BlockDevice dev) throws IOException {
        List<String> warnings = new ArrayList<>();
        Superblock sb = Volume.readSuperblock(dev, warnings);
        atomicHardwareDefault();   // a bad property value is refused before anything is opened
        Allocator alloc = new Allocator(sb);
        Journal j = Journal.openReadOnly(dev, sb, alloc, 16384);
        Journal.Recovery r = j.recovery();
        if (r.transactions() > 0) {
            j.abandon();
            throw new RecoveryNeededException(dev.describe(), r.transactions(), r.blocks());
        }
        return setUp(new FolioFs(dev, sb, j, alloc), fs -> {
            fs.op(h -> { alloc.init(h); return null; });
            fs.mountLog.addAll(warnings);
            fs.mountLog.add("mounted read-only");
            int orphans = fs.op(h -> {
                int[] n = {0};
                Directory.readdir(h, Inodes.get(h, ORPHANAGE_INO), 0, e -> { n[0]++; return true; });
                return n[0];
            });
            if (orphans > 0) fs.mountLog.add(orphans + " orphaned inodes left for the next read-write mount to free");
        });
    }

    private static FolioFs open(BlockDevice dev, Superblock sb) throws IOException {
        atomicHardwareDefault();   // a bad property value is refused before anything is opened
        Allocator alloc = new Allocator(sb);
        Journal j = Journal.open(dev, sb, alloc, 16384);
        return setUp(new FolioFs(dev, sb, j, alloc), fs -> fs.op(h -> { alloc.init(h); return null; }));
    }

    @FunctionalInterface
    private interface Setup {
        void run(FolioFs fs) throws IOException;
    }

    /** Runs a mount step on {@code fs}; on failure drops the volume without writing (as a crash would) and rethrows. */
    private static FolioFs setUp(FolioFs fs, Setup step) throws IOException {
        try {
            step.run(fs);
            return fs;
        } catch (IOException | RuntimeException e) {
            fs.abandon();
            throw e;
        }
    }

    public Superblock superblock() { return sb; }
    public Journal journal() { return journal; }
    public Allocator allocator() { return alloc; }
    public Refcounts refcounts() { return refs; }
    StagingPool staging() { return staging; }
    public BlockDevice device() { return dev; }
    /** Whether the volume was mounted with {@link #mountReadOnly}. */
    public boolean isReadOnly() { return readOnly; }

    /** Throws {@link ReadOnlyVolumeException} on a read-only mount: {@code file} is what the change was for. */
    void checkWritable(String file, String what) throws ReadOnlyVolumeException {
        if (readOnly) throw new ReadOnlyVolumeException(file, what + " refused: " + dev.describe() + " is mounted read-only");
    }
    public int blockSize() { return sb.blockSize(); }
    /** What mount did besides the usual: backup superblock used, journal replayed, orphans freed. */
    public List<String> mountLog() { return List.copyOf(mountLog); }

    private volatile int defaultWriteMode = Inode.WMODE_WRITEBACK;

    /**
     * The volume's default write mode (a mount option): what writes without DIRECT or
     * WRITETHROUGH flags do on files whose own mode ({@link SetAttr#writeMode}) is
     * {@link Inode#WMODE_DEFAULT}: {@link Inode#WMODE_WRITEBACK} (the default),
     * {@link Inode#WMODE_WRITETHROUGH} or {@link Inode#WMODE_WRITETHROUGH_DSYNC}.
     */
    public void setDefaultWriteMode(int mode) {
        if (mode < Inode.WMODE_WRITEBACK || mode > Inode.WMODE_WRITETHROUGH_DSYNC)
            throw new IllegalArgumentException("default write mode (" + mode + ") must be 1 (writeback), 2 (write-through) or "
                    + "3 (write-through + DSYNC)");
        defaultWriteMode = mode;
    }

    public int defaultWriteMode() { return defaultWriteMode; }

    private volatile long atomicUnitMax = -1;   // -1: the default

    /** Smallest atomic (untorn) write: one block. */
    public long atomicWriteUnitMin() { return sb.blockSize(); }

    /**
     * Largest atomic write this volume allows: the largest power of two that one end-of-I/O
     * transaction can remap when every block of it is its own old extent (a quarter of the
     * journal's largest transaction, in blocks), at most 1 MiB (one device request); set lower or
     * higher (up to that bound) with {@link #setAtomicWriteUnitMax}.
     */
    public long atomicWriteUnitMax() {
        long v = atomicUnitMax;
        return v > 0 ? v : atomicWriteUnitLimit();
    }

    /** The bound of {@link #setAtomicWriteUnitMax}. */
    public long atomicWriteUnitLimit() { return atomicWriteUnitLimit(sb); }

    /** The default (and largest) atomic write unit of a volume with superblock {@code sb} (tools that do not mount). */
    public static long atomicWriteUnitLimit(Superblock sb) {
        long maxTxn = (sb.logBlocks() - 2) / 4;   // Journal.maxTransactionBlocks: a quarter of the record area
        long blocks = Math.max(1, maxTxn / 4);
        long bytes = Math.min(1L << 20, blocks * sb.blockSize());
        return Math.max(sb.blockSize(), Long.highestOneBit(bytes));
    }

    /** System property giving {@link #atomicLogMax()}'s value at mount, in bytes (default 65536; 0: never). */
    public static final String ATOMIC_LOG_PROPERTY = "foliofs.atomic.logMax";
    /** {@link #atomicLogMax()} without the property: 64 KiB. */
    public static final long ATOMIC_LOG_DEFAULT = 65536;

    private volatile long atomicLogMax = atomicLogDefault();

    private static long atomicLogDefault() {
        String v = System.getProperty(ATOMIC_LOG_PROPERTY, Long.toString(ATOMIC_LOG_DEFAULT)).trim();
        try {
            long n = Long.parseLong(v);
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("system property " + ATOMIC_LOG_PROPERTY + " is '" + v
                + "': it must be a number of bytes, 0 or more (0: atomic writes are never logged)");
    }

    /**
     * Largest buffered atomic write whose data the journal logs (default 64 KiB, or the system
     * property {@value #ATOMIC_LOG_PROPERTY} at mount; 0: none): an overwrite of blocks the file
     * already owns (one written, unshared extent, inside the on-disk size) goes into the commit
     * record itself and home after the commit, instead of out of place and remapped. Bounded by an
     * eighth of the journal's largest transaction.
     */
    public long atomicLogMax() {
        return Math.min(atomicLogMax, journal.maxTransactionBlocks() / 8 * sb.blockSize());
    }

    /** Sets {@link #atomicLogMax()} (bytes, 0 or more; 0: atomic writes are never logged). */
    public void setAtomicLogMax(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("largest logged atomic write (" + bytes + " bytes) must not be negative");
        atomicLogMax = bytes;
    }

    /** System property giving {@link #atomicHardwarePath()}'s value at mount: {@code true} (default) or {@code false}. */
    public static final String ATOMIC_HARDWARE_PROPERTY = "foliofs.atomic.hardware";

    private volatile boolean atomicHardware = atomicHardwareDefault();

    private static boolean atomicHardwareDefault() {
        String v = System.getProperty(ATOMIC_HARDWARE_PROPERTY, "true");
        return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("system property " + ATOMIC_HARDWARE_PROPERTY + " is '" + v
                    + "': it must be true (atomic writes use the device's atomic unit where it covers them) or false (always out of place)");
        };
    }

    /**
     * Whether atomic writes use the device's atomic write unit where it covers them (the hardware
     * path: one ATOMIC request in place, file data allocated aligned to the unit); default true, or
     * the system property {@value #ATOMIC_HARDWARE_PROPERTY} at mount.
     */
    public boolean atomicHardwarePath() { return atomicHardware; }

    /**
     * Turns the hardware path of atomic writes off (or on again): every atomic write then goes
     * out of place and is remapped in one journal transaction, and new file data is no longer
     * aligned to the device's unit. For a device whose atomic unit is an emulation slower than that:
     * an image on XFS, whose RWF_ATOMIC on a disk without an atomic unit of its own is a
     * copy-on-write through XFS's log (docs/BENCHMARKS.md, atomic writes, "Fourth session").
     * The limits ({@link #atomicWriteUnitMax}) do not change.
     */
    public void setAtomicHardwarePath(boolean on) { atomicHardware = on; }

    /** Atomic write segments per call (statx's atomic_write_segments_max): one buffer. */
    public int atomicWriteSegmentsMax() { return 1; }

    /** Sets the largest atomic write (a power of two from the block size to {@link #atomicWriteUnitLimit()}). */
    public void setAtomicWriteUnitMax(long bytes) {
        long lim = atomicWriteUnitLimit();
        if (Long.bitCount(bytes) != 1 || bytes < sb.blockSize() || bytes > lim)
            throw new IllegalArgumentException("atomic write unit max (" + bytes + ") must be a power of two from the block size "
                    + sb.blockSize() + " to " + lim + " (bounded by the journal's largest transaction and one 1 MiB request)");
        atomicUnitMax = bytes;
    }

    // ------------------------------------------------------------------ operations

    @FunctionalInterface
    public interface Body<T> {
        T run(Journal.Handle h) throws IOException;
    }

    /** Runs {@code body} as one atomic operation (one handle); retries once after a checkpoint on busy extents. */
    public <T> T op(Body<T> body) throws IOException {
        return op(reserve, body);
    }

    public <T> T op(int reserveBlocks, Body<T> body) throws IOException {
        checkAlive();
        for (int attempt = 0; ; attempt++) {
            Journal.Handle h = journal.begin(reserveBlocks);
            try {
                T r = body.run(h);
                h.commit();
                return r;
            } catch (BusyException e) {
                if (attempt > 0) throw e;
            } catch (NoSpaceException e) {
                // Staged blocks the atomic-write pool holds unused are space too: give them back,
                // then retry once (not from the pool's own handles, which hold its monitor).
                // Its frees are busy until durable: the checkpoint below makes them usable.
                if (attempt > 0 || Thread.holdsLock(staging) || staging.held() == 0) throw e;
                h.abort();
                // Never under the journal lock (an op nested in a journal callback): the pool's
                // monitor comes before it.
                if (journal.lock().isHeldByCurrentThread()) throw e;
                staging.drain();
            } catch (DeviceException e) {
                throw shutDown(e);
            } finally {
                h.abort();   // undoes the handle unless it committed (then a no-op)
            }
            journal.checkpoint();   // busy extents: make the frees durable, then retry once
        }
    }

    private IOException shutDown(DeviceException e) {
        if (shutdown == null) shutdown = new IOException("file system on " + dev.describe() + " shut down after a device error: "
                + e.getMessage(), e);
        return e;
    }

    private void checkAlive() throws IOException {
        IOException s = shutdown;
        if (s != null) throw new IOException(s.getMessage(), s);
    }

    /**
     * syncfs(2): makes every finished operation durable: writes back the dirty data of every
     * cached file (open ones, and closed ones whose data the lazy last close left in the page
     * cache, see {@link FolioFile#close}) and waits for it, then commits the journal
     * ({@link #syncMetadata}).
     */
    public void sync() throws IOException {
        checkAlive();
        if (readOnly) return;   // nothing is ever changed, so nothing to make durable
        FolioFile.VolumeIo io;
        synchronized (this) { io = fileIo; }
        if (io != null) io.flushAll();
        syncMetadata();
    }

    /**
     * Makes every finished metadata operation durable (journal commit with PREFLUSH + FUA), and
     * file data whose writeback already completed; cached dirty file data is not written (fsync
     * of a directory; {@link #sync} writes it).
     */
    public void syncMetadata() throws IOException {
        checkAlive();
        if (readOnly) return;
        try {
            // Nothing to commit: no PREFLUSH went out, so completed data writes that needed no
            // metadata (in-place overwrites) would still sit in a volatile cache. Found by
            // AtomicCrashTest ("write + sync" read all old after a crash).
            if (!journal.force() && dev.volatileWriteCache()) dev.flush();
        } catch (DeviceException e) {
            throw shutDown(e);
        }
    }

    /**
     * Commits the journal without the device flush {@link #sync} adds when there is nothing to
     * commit: for callers that flush themselves afterwards (the engine's fsync and DSYNC paths).
     */
    boolean commit() throws IOException {
        checkAlive();
        if (readOnly) return true;   // nothing was written, so nothing needs a flush (a read-only device refuses one)
        try {
            return journal.force();
        } catch (DeviceException e) {
            throw shutDown(e);
        }
    }

    static long now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    private static byte[] name(String n) { return n.getBytes(StandardCharsets.UTF_8); }

    private static String path(long dir, String name) { return "inode " + dir + "/" + name; }

    private static Inode dirInode(Txn h, long dir) throws IOException {
        Inode d = Inodes.get(h, dir);
        if (!d.isDir()) throw new NotDirectoryException("inode " + dir);
        return d;
    }

    public Attr getattr(long ino) throws IOException {
        for (;;) {
            FsInode before = openInode(ino);
            Attr a = op(h -> Attr.of(Inodes.get(h, ino)));
            FsInode open = openInode(ino);
            if (open != null) return a.isRegular() && open.size() != a.size() ? a.withSize(open.size()) : a;
            if (before == null) return a;
            // The last close finished while the inode was read: its writeback may have moved the
            // on-disk size after the read. Read again (the file is not open any more).
        }
    }

    /**
     * The in-memory inode of a regular file, open or closed with data not yet written back
     * (lingering, see {@link FolioFile#close}), or null. Its size is the file's size (stat(2)
     * reports i_size, not the on-disk size that writeback moves later): an inode leaves the table
     * only once its data is written back and its size is on disk, so whoever finds none reads an
     * on-disk size that is up to date.
     */
    private FsInode openInode(long ino) {
        FolioFile.VolumeIo io;
        synchronized (this) { io = fileIo; }
        if (io == null) return null;
        synchronized (io.files) { return io.files.get(ino); }
    }

    /** The inode named {@code name} in directory {@code dir}. */
    public long lookup(long dir, String name) throws IOException {
        return op(h -> {
            Inode d = dirInode(h, dir);
            if (name.equals(".")) return dir;
            if (name.equals("..")) return d.parent;
            DirEntry e = Directory.lookup(h, d, name(name));
            if (e == null) throw new NoSuchFileException(path(dir, name));
            return e.ino();
        });
    }

    /** Resolves an absolute path from the root (no symlinks followed). */
    public long resolve(String path) throws IOException {
        long ino = ROOT_INO;
        for (String part : path.split("/")) {
            if (part.isEmpty()) continue;
            ino = lookup(ino, part);
        }
        return ino;
    }

    public Attr create(long dir, String name, int perm, int uid, int gid) throws IOException {
        return mknod(dir, name, Inode.S_IFREG | (perm & 07777), uid, gid);
    }

    /** Creates a non-directory inode of any type ({@code mode} includes the type bits). */
    public Attr mknod(long dir, String name, int mode, int uid, int gid) throws IOException {
        checkWritable(path(dir, name), "create");
        if ((mode & Inode.S_IFMT) == Inode.S_IFDIR) return mkdir(dir, name, mode, uid, gid);
        return op(h -> {
            Inode d = dirInode(h, dir);
            checkLive(d, dir);
            Inode i = Inodes.allocate(h, Inode.agOf(dir), mode, now());
            i.uid = uid;
            i.gid = gid;
            i.nlink = 1;
            Directory.add(h, d, name(name), i.ino, DirEntry.typeOf(mode));
            touchDir(d);
            Inodes.put(h, i);
            Inodes.put(h, d);
            return Attr.of(i);
        });
    }

    public Attr mkdir(long dir, String name, int perm, int uid, int gid) throws IOException {
        checkWritable(path(dir, name), "mkdir");
        return op(h -> {
            Inode d = dirInode(h, dir);
            checkLive(d, dir);
            int ag = (int) ((Inode.agOf(dir) + 1 + (d.nrecs & 0x7fff_ffff)) % sb.agCount());   // spread directories over groups
            Inode i = Inodes.allocate(h, ag, Inode.S_IFDIR | (perm & 07777), now());
            i.uid = uid;
            i.gid = gid;
            i.nlink = 2;
            i.parent = dir;
            Directory.add(h, d, name(name), i.ino, DirEntry.DT_DIR);
            d.nlink++;
            touchDir(d);
            Inodes.put(h, i);
            Inodes.put(h, d);
            return Attr.of(i);
        });
    }

    public Attr symlink(long dir, String name, String target, int uid, int gid) throws IOException {
        checkWritable(path(dir, name), "symlink");
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        return op(h -> {
            Inode d = dirInode(h, dir);
            checkLive(d, dir);
            Inode i = Inodes.allocate(h, Inode.agOf(dir), Inode.S_IFLNK | 0777, now());
            i.uid = uid;
            i.gid = gid;
            i.nlink = 1;
            Symlinks.write(h, i, t);
            Directory.add(h, d, name(name), i.ino, DirEntry.DT_LNK);
            touchDir(d);
            Inodes.put(h, i);
            Inodes.put(h, d);
            return Attr.of(i);
        });
    }

    public String readlink(long ino) throws IOException {
        return op(h -> {
            Inode i = Inodes.get(h, ino);
            if (!i.isSymlink()) throw new FileSystemException("inode " + ino, null, "Invalid argument: not a symbolic link");
            return new String(Symlinks.read(h, i), StandardCharsets.UTF_8);
        });
    }

    /** A new name {@code newDir/newName} for {@code ino} (not a directory). */
    public Attr link(long ino, long newDir, String newName) throws IOException {
        checkWritable(path(newDir, newName), "link");
        return op(h -> {
            Inode i = Inodes.get(h, ino);
            if (i.isDir()) throw new FileSystemException("inode " + ino, null, "Operation not permitted: hard link to a directory");
            if (i.nlink == 0) throw new NoSuchFileException("inode " + ino, null, "file has been deleted");
            if (Integer.toUnsignedLong(i.nlink) >= 0xffff_fffeL) throw new FileSystemException("inode " + ino, null, "Too many links");
            Inode d = dirInode(h, newDir);
            checkLive(d, newDir);
            Directory.add(h, d, name(newName), ino, DirEntry.typeOf(i.mode));
            i.nlink++;
            i.ctime = now();
            touchDir(d);
            Inodes.put(h, i);
            Inodes.put(h, d);
            return Attr.of(i);
        });
    }

    public void unlink(long dir, String name) throws IOException {
        checkWritable(path(dir, name), "unlink");
        long freed = op(h -> {
            Inode d = dirInode(h, dir);
            DirEntry e = Directory.lookup(h, d, name(name));
            if (e == null) throw new NoSuchFileException(path(dir, name));
            Inode i = Inodes.get(h, e.ino());
            if (i.isDir()) throw new FileSystemException(path(dir, name), null, "Is a directory (use rmdir)");
            Directory.remove(h, d, name(name));
            touchDir(d);
            Inodes.put(h, d);
            return dropLink(h, i);
        });
        if (freed != 0) freeInode(freed);
    }

    public void rmdir(long dir, String name) throws IOException {
        checkWritable(path(dir, name), "rmdir");
        long freed = op(h -> {
            Inode d = dirInode(h, dir);
            if (name.equals(".") || name.equals(".."))
                throw new FileSystemException(path(dir, name), null, "Invalid argument: cannot remove . or ..");
            DirEntry e = Directory.lookup(h, d, name(name));
            if (e == null) throw new NoSuchFileException(path(dir, name));
            Inode i = Inodes.get(h, e.ino());
            if (!i.isDir()) throw new NotDirectoryException(path(dir, name));
            if (!Directory.isEmpty(h, i)) throw new DirectoryNotEmptyException(path(dir, name));
            Directory.remove(h, d, name(name));
            d.nlink--;
            touchDir(d);
            Inodes.put(h, d);
            i.nlink = 1;          // its own "." goes with it
            return dropLink(h, i);
        });
        if (freed != 0) freeInode(freed);
    }

    /**
     * rename / renameat2: {@link #RENAME_NOREPLACE} fails if the target exists, {@link #RENAME_EXCHANGE}
     * swaps two existing names atomically. Without flags an existing target is replaced (a directory
     * only by a directory, and only an empty one).
     */
    public void rename(long srcDir, String srcName, long dstDir, String dstName, int flags) throws IOException {
        checkWritable(path(srcDir, srcName), "rename");
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
            throw new IllegalArgumentException("rename flags (" + flags + ") must be 0, RENAME_NOREPLACE (1) or RENAME_EXCHANGE (2)");
        long freed = op(h -> {
            Inode sd = dirInode(h, srcDir);
            Inode dd = srcDir == dstDir ? sd : dirInode(h, dstDir);
            DirEntry se = Directory.lookup(h, sd, name(srcName));
            if (se == null) throw new NoSuchFileException(path(srcDir, srcName));
            DirEntry de = Directory.lookup(h, dd, name(dstName));
            if ((flags & RENAME_NOREPLACE) != 0 && de != null) throw new FileAlreadyExistsException(path(dstDir, dstName));
            if ((flags & RENAME_EXCHANGE) != 0 && de == null) throw new NoSuchFileException(path(dstDir, dstName));
            if (de != null && de.ino() == se.ino()) return 0L;   // same inode: nothing to do (POSIX)
            Inode src = Inodes.get(h, se.ino());
            if (src.isDir() && srcDir != dstDir) checkNotAncestor(h, src.ino, dstDir, srcName, dstName);
            long now = now();
            if ((flags & RENAME_EXCHANGE) != 0) {
                Inode dst = Inodes.get(h, de.ino());
                if (dst.isDir() && srcDir != dstDir) checkNotAncestor(h, dst.ino, srcDir, dstName, srcName);
                Directory.replace(h, sd, name(srcName), dst.ino, DirEntry.typeOf(dst.mode));
                Directory.replace(h, dd, name(dstName), src.ino, DirEntry.typeOf(src.mode));
                if (srcDir != dstDir) {
                    if (src.isDir()) { src.parent = dstDir; sd.nlink--; dd.nlink++; }
                    if (dst.isDir()) { dst.parent = srcDir; dd.nlink--; sd.nlink++; }
                }
                src.ctime = now;
                dst.ctime = now;
                Inodes.put(h, src);
                Inodes.put(h, dst);
                sd.mtime = sd.ctime = now;
                dd.mtime = dd.ctime = now;
                Inodes.put(h, sd);
                if (dd != sd) Inodes.put(h, dd);
                return 0L;
            }
            long victim = 0;
            if (de != null) {
                Inode dst = Inodes.get(h, de.ino());
                if (src.isDir() && !dst.isDir()) throw new NotDirectoryException(path(dstDir, dstName));
                if (!src.isDir() && dst.isDir()) throw new FileSystemException(path(dstDir, dstName), null, "Is a directory");
                if (dst.isDir() && !Directory.isEmpty(h, dst)) throw new DirectoryNotEmptyException(path(dstDir, dstName));
                Directory.replace(h, dd, name(dstName), src.ino, DirEntry.typeOf(src.mode));
                if (dst.isDir()) { dd.nlink--; dst.nlink = 1; }
                victim = dropLink(h, dst);
            } else {
                Directory.add(h, dd, name(dstName), src.ino, DirEntry.typeOf(src.mode));
            }
            Directory.remove(h, sd, name(srcName));
            if (src.isDir() && srcDir != dstDir) { src.parent = dstDir; sd.nlink--; dd.nlink++; }
            src.ctime = now;
            Inodes.put(h, src);
            sd.mtime = sd.ctime = now;
            dd.mtime = dd.ctime = now;
            Inodes.put(h, sd);
            if (dd != sd) Inodes.put(h, dd);
            return victim;
        });
        if (freed != 0) freeInode(freed);
    }

    private static void checkNotAncestor(Txn h, long moved, long newParent, String from, String to) throws IOException {
        long p = newParent;
        for (int depth = 0; depth < 100_000; depth++) {
            if (p == moved)
                throw new FileSystemException(from, to, "Invalid argument: cannot move a directory into itself");
            if (p == ROOT_INO) return;
            p = Inodes.get(h, p).parent;
        }
        throw new CorruptMetadataException(0, "directory tree", "parent chain from inode " + newParent + " does not reach the root");
    }

    /** Reads directory entries after {@code cookie} (0 = start; "." and ".." are not included). */
    public void readdir(long dir, long cookie, Predicate<DirEntry> consumer) throws IOException {
        op(h -> {
            Directory.readdir(h, dirInode(h, dir), cookie, consumer);
            return null;
        });
    }

    /** All entries of a directory (convenience). */
    public List<DirEntry> list(long dir) throws IOException {
        List<DirEntry> out = new ArrayList<>();
        readdir(dir, 0, out::add);
        return out;
    }

    /** What {@link #setattr} changes: null components stay. */
    public record SetAttr(Integer mode, Integer uid, Integer gid, Long size, Long atime, Long mtime, Integer flags,
                          Integer writeMode) {
        public static SetAttr size(long s) { return new SetAttr(null, null, null, s, null, null, null, null); }
        public static SetAttr mode(int m) { return new SetAttr(m, null, null, null, null, null, null, null); }
    }

    /**
     * chmod/chown/utimens/truncate/flags. Shrinking a regular file removes the blocks beyond the
     * new end; growing keeps preallocated blocks beyond the old end. The page cache's tail zeroing is
     * the I/O layer's (see FolioFile#truncate).
     */
    public Attr setattr(long ino, SetAttr a) throws IOException {
        checkWritable("inode " + ino, "setattr");
        if (a.size() != null) {
            // A closed file's dirty data still in the cache: written back first, so its writeback
            // cannot move the size (or map blocks) past the new size later.
            FolioFile.VolumeIo io;
            synchronized (this) { io = fileIo; }
            if (io != null) io.writeBackAndDrop(ino);
        }
        long[] oldSize = {0};
        Attr r = op(h -> {
            Inode i = Inodes.get(h, ino);
            oldSize[0] = i.size;
            long now = now();
            if (a.mode() != null) i.mode = (i.mode & Inode.S_IFMT) | (a.mode() & 07777);
            if (a.uid() != null) i.uid = a.uid();
            if (a.gid() != null) i.gid = a.gid();
            if (a.atime() != null) i.atime = a.atime();
            if (a.mtime() != null) i.mtime = a.mtime();
            if (a.flags() != null) i.flags = a.flags();
            if (a.writeMode() != null) {
                if (a.writeMode() < Inode.WMODE_DEFAULT || a.writeMode() > Inode.WMODE_WRITETHROUGH_DSYNC)
                    throw new IllegalArgumentException("writeMode (" + a.writeMode() + ") must be in [0, 3]");
                i.writeMode = a.writeMode();
            }
            if (a.size() != null) {
                if (!i.isReg()) throw new FileSystemException("inode " + ino, null, "Invalid argument: size of a non-regular file");
                if (a.size() < 0) throw new IllegalArgumentException("size (" + a.size() + ") must not be negative");
                if (a.size() > maxFileSize())
                    throw new FileSystemException("inode " + ino, null, "File too large: size " + a.size() + " exceeds " + maxFileSize());
                if (a.size() != i.size) i.mtime = now;
                i.size = a.size();
            }
            i.ctime = now;
            Inodes.put(h, i);
            return Attr.of(i);
        });
        if (a.writeMode() != null) {   // an open file picks the new mode up at its next write
            FolioFile.VolumeIo io = fileIo;
            if (io != null) {
                synchronized (io.files) {
                    FsInode fi = io.files.get(ino);
                    if (fi != null) fi.writeMode = a.writeMode();
                }
            }
        }
        if (a.size() != null) {
            long old = oldSize[0];
            if (a.size() < old) truncateBlocks(ino, a.size());
            // Growing keeps preallocated (unwritten) blocks beyond the old end, but never exposes
            // written blocks a crash left there (a shrink is several handles): those go first.
            else if (a.size() > old && writtenBeyond(ino, old)) truncateBlocks(ino, old);
        }
        return r;
    }

    public long maxFileSize() { return ExtentMap.MAX_FILE_BLOCKS * sb.blockSize() - 1; }

    /** Removes the mapped blocks at and after {@code size} (rounded up to a block), in bounded handles. */
    void truncateBlocks(long ino, long size) throws IOException {
        long from = (size + sb.blockSize() - 1) / sb.blockSize();
        punchBlocks(ino, from, ExtentMap.MAX_FILE_BLOCKS - from);
    }

    /** Whether a written extent maps any block at or after byte {@code size}. */
    private boolean writtenBeyond(long ino, long size) throws IOException {
        long from = (size + sb.blockSize() - 1) / sb.blockSize();
        return op(h -> {
            Inode i = Inodes.get(h, ino);
            for (Extent e = ExtentMap.next(h, i, from); e != null; e = ExtentMap.next(h, i, e.fileEnd()))
                if (!e.unwritten()) return true;
            Extent first = ExtentMap.find(h, i, from);
            return first != null && !first.unwritten();
        });
    }

    /** Unmaps and frees file blocks [from, from + count), a few extents per handle. */
    void punchBlocks(long ino, long from, long count) throws IOException {
        while (true) {
            boolean more = op(h -> {
                Inode i = Inodes.get(h, ino);
                List<Extent> gone = ExtentMap.remove(h, i, from, count, 8);
                for (Extent e : gone) freeExtent(h, i, e);
                Inodes.put(h, i);
                return gone.size() >= 8;
            });
            if (!more) return;
        }
    }

    /** Drops one reference to the blocks of {@code e} (shared blocks stay), frees the rest. */
    void freeExtent(Txn h, Inode i, Extent e) throws IOException {
        freeExtent(h, i, e, false);
    }

    /** {@code recycle}: blocks it frees go to the atomic-write staging pool if it takes them ({@link StagingPool#recycle}). */
    void freeExtent(Txn h, Inode i, Extent e, boolean recycle) throws IOException {
        long pos = e.startBlock(), end = e.deviceEnd();
        for (long[] r : refs.decrement(h, e.startBlock(), e.length())) {
            if (!recycle || !staging.recycle(h, r[0], r[1])) alloc.freeData(h, r[0], r[1]);
            if (r[0] > pos) refs.unsharedNotDurable(h, pos, r[0] - pos);   // kept by another owner
            pos = r[0] + r[1];
        }
        if (pos < end) refs.unsharedNotDurable(h, pos, end - pos);
        i.blocks -= e.length();
    }

    public StatFs statfs() throws IOException {
        return op(h -> {
            long inodes = 0;
            for (int g = 0; g < sb.agCount(); g++) inodes += h.agHeader(g).inoCount;
            long pooled = staging.held();   // staged for atomic writes but unused: given back on demand (ENOSPC drains it)
            return new StatFs(sb.blockSize(), sb.totalBlocks(), alloc.freeBlocks() + pooled, alloc.available() + pooled, inodes,
                    Directory.nameMax(sb.blockSize()));
        });
    }

    // ------------------------------------------------------------------ xattrs

    public byte[] getxattr(long ino, String name) throws IOException {
        return op(h -> Xattrs.get(h, Inodes.get(h, ino), name));
    }

    public void setxattr(long ino, String name, byte[] value, int flags) throws IOException {
        checkWritable("inode " + ino, "setxattr " + name);
        op(h -> {
            Inode i = Inodes.get(h, ino);
            Xattrs.set(h, i, name, value, flags);
            i.ctime = now();
            Inodes.put(h, i);
            return null;
        });
    }

    public List<String> listxattr(long ino) throws IOException {
        return op(h -> Xattrs.list(h, Inodes.get(h, ino)));
    }

    public boolean removexattr(long ino, String name) throws IOException {
        checkWritable("inode " + ino, "removexattr " + name);
        return op(h -> {
            Inode i = Inodes.get(h, ino);
            boolean r = Xattrs.remove(h, i, name);
            if (r) { i.ctime = now(); Inodes.put(h, i); }
            return r;
        });
    }

    // ------------------------------------------------------------------ open files and orphans

    /** Notes an open of {@code ino} (an unlinked inode stays until the last {@link #close(long)}). */
    public void open(long ino) throws IOException {
        op(h -> {
            Inode i = Inodes.get(h, ino);
            if (i.nlink == 0) throw new NoSuchFileException("inode " + ino, null, "file has been deleted");
            openCount.merge(ino, 1, Integer::sum);
            return null;
        });
    }

    /** The last close of an unlinked inode frees it. */
    public void close(long ino) throws IOException {
        boolean free = op(h -> {
            Integer n = openCount.get(ino);
            if (n == null) throw new IllegalStateException("close of inode " + ino + ", which is not open");
            if (n > 1) { openCount.put(ino, n - 1); return false; }
            openCount.remove(ino);
            return Inodes.get(h, ino).nlink == 0;
        });
        if (free && !readOnly) freeInode(ino);   // read-only: cannot happen (nothing is unlinked)
    }

    public boolean isOpen(long ino) {
        journal.lock().lock();
        try {
            return openCount.containsKey(ino);
        } finally {
            journal.lock().unlock();
        }
    }

    /** nlink--; at zero the inode goes to the orphanage. Returns the inode to free now (not open), or 0. */
    private long dropLink(Txn h, Inode i) throws IOException {
        i.nlink--;
        i.ctime = now();
        Inodes.put(h, i);
        if (i.nlink > 0) return 0;
        Inode orph = Inodes.get(h, ORPHANAGE_INO);
        Directory.add(h, orph, name(Long.toHexString(i.ino)), i.ino, DirEntry.typeOf(i.mode));
        Inodes.put(h, orph);
        return openCount.containsKey(i.ino) ? 0 : i.ino;
    }

    /** Frees an orphaned inode: its blocks in bounded handles, then the inode and its orphan entry. */
    private void freeInode(long ino) throws IOException {
        FolioFile.VolumeIo io;
        synchronized (this) { io = fileIo; }
        if (io != null) io.discard(ino);   // a closed file's unwritten data: never written now
        punchBlocks(ino, 0, ExtentMap.MAX_FILE_BLOCKS);
        op(h -> {
            Inode i = Inodes.get(h, ino);
            if (i.isDir()) Directory.destroy(h, i);
            else if (i.isSymlink()) Symlinks.destroy(h, i);
            else ExtentMap.destroy(h, i);
            Xattrs.destroy(h, i);
            Inodes.remove(h, ino);
            Inode orph = Inodes.get(h, ORPHANAGE_INO);
            Directory.remove(h, orph, name(Long.toHexString(ino)));
            Inodes.put(h, orph);
            return null;
        });
    }

    /** Frees the CoW staging extents a crash left behind (blocks allocated for writes never remapped). */
    private long freeCowStaging() throws IOException {
        long total = 0;
        for (int g = 0; g < sb.agCount(); g++) {
            int agno = g;
            List<long[]> staged = op(h -> refs.cowStaging(h, agno));
            for (long[] r : staged) {
                op(h -> {
                    refs.removeCowStaging(h, r[0], r[1]);
                    alloc.freeData(h, r[0], r[1]);
                    return null;
                });
                total += r[1];
            }
        }
        return total;
    }

    private int freeOrphans() throws IOException {
        List<Long> orphans = new ArrayList<>();
        op(h -> {
            Directory.readdir(h, Inodes.get(h, ORPHANAGE_INO), 0, e -> orphans.add(e.ino()));
            return null;
        });
        for (long ino : orphans) freeInode(ino);
        return orphans.size();
    }

    private static void touchDir(Inode d) {
        long now = now();
        d.mtime = now;
        d.ctime = now;
    }

    private static void checkLive(Inode d, long dir) throws NoSuchFileException {
        if (d.nlink == 0) throw new NoSuchFileException("inode " + dir, null, "directory has been removed");
    }

    // ------------------------------------------------------------------ file data I/O

    /** Opens regular file {@code ino} for data I/O (see {@link FolioFile}); counts as an {@link #open(long)}. */
    public FolioFile openFile(long ino) throws IOException {
        return FolioFile.open(this, ino);
    }

    /** The page cache configuration used by the first {@link #openFile} (default: 64 MiB). */
    public synchronized void setPageCacheConfig(org.foliofs.pagecache.PageCache.Config config) {
        if (fileIo != null) throw new IllegalStateException("the page cache of " + this + " exists already");
        pageCacheConfig = java.util.Objects.requireNonNull(config, "config");
    }

    /** The buffered I/O engine's options used by the first {@link #openFile} (default: {@link org.foliofs.iomap.BufferedIo.Options#defaults()}). */
    public synchronized void setBufferedIoOptions(org.foliofs.iomap.BufferedIo.Options options) {
        if (fileIo != null) throw new IllegalStateException("the buffered I/O engine of " + this + " exists already");
        bufferedIoOptions = java.util.Objects.requireNonNull(options, "options");
    }

    private org.foliofs.iomap.BufferedIo.Options bufferedIoOptions = org.foliofs.iomap.BufferedIo.Options.defaults();

    /** The page cache of file data (null before the first {@link #openFile}). */
    public synchronized org.foliofs.pagecache.PageCache pageCache() { return fileIo == null ? null : fileIo.pageCache; }

    synchronized FolioFile.VolumeIo fileIo() throws IOException {
        checkAlive();
        if (fileIo == null) fileIo = new FolioFile.VolumeIo(this, pageCacheConfig, bufferedIoOptions);
        return fileIo;
    }

    private synchronized FolioFile.VolumeIo takeFileIo() {
        FolioFile.VolumeIo io = fileIo;
        fileIo = null;
        return io;
    }

    // ------------------------------------------------------------------ unmount

    /** Clean unmount: commits and checkpoints the journal (the next mount replays nothing); read-only: writes nothing. */
    @Override
    public void close() throws IOException {
        FolioFile.VolumeIo io = takeFileIo();
        if (io != null) {
            try {
                if (shutdown == null && !readOnly) io.flushAll();     // dirty file data before the last commit
            } finally {
                io.close();
            }
        }
        if (shutdown != null) { journal.abandon(); return; }
        try {
            if (!readOnly) staging.drain();   // unused atomic-write staging space: free again on a clean volume
        } finally {
            journal.close();   // even if the drain failed: its blocks stay staged, and mount frees them
        }
    }

    /** Drops the volume without writing anything (tests: a crash); dirty cached file data is lost. */
    public void abandon() {
        FolioFile.VolumeIo io = takeFileIo();
        if (io != null) io.close();
        journal.abandon();
    }

    @Override
    public String toString() {
        return "FolioFs[" + dev.describe() + ", " + sb.uuid() + "]";
    }
}
