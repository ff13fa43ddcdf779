package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.foliofs.iomap.BufferedFile;
import org.foliofs.iomap.BufferedIo;
import org.foliofs.iomap.DirectIo;
import org.foliofs.iomap.ErrSeq;
import org.foliofs.iomap.InodeLock;
import org.foliofs.iomap.IoMap;
import org.foliofs.iomap.IoMapReport;
import org.foliofs.pagecache.PageCache;

/**
 * An open regular file of a mounted {@link FolioFs}: data I/O through the iomap engine (buffered
 * through the volume's page cache, or direct), fsync, truncate, fallocate and seek. Made by
 * {@link FolioFs#openFile}; every handle of an inode shares one {@link FsInode} (size, inode lock,
 * delalloc reservations, cache). Each call holds the inode lock as the engine requires: shared for
 * reads, writes inside the size, fsync and seek; exclusive for extending writes, unaligned direct
 * writes, truncate and fallocate; a clone holds both files' locks exclusively ({@link Reflink}). Rules
 * and ordering: docs/FORMAT.md section 9.
 */
public final class FolioFile implements AutoCloseable {
    /** fallocate modes (Linux values). */
    public static final int FALLOC_KEEP_SIZE = 0x01, FALLOC_PUNCH_HOLE = 0x02, FALLOC_COLLAPSE_RANGE = 0x08,
            FALLOC_ZERO_RANGE = 0x10, FALLOC_INSERT_RANGE = 0x20, FALLOC_UNSHARE_RANGE = 0x40;
    /**
     * Per-call flags of {@link #write(long, MemorySegment, int)}, {@link #writeAsync} and (DIRECT
     * only) {@link #read(long, MemorySegment, int)}: {@code DSYNC} (durable before success; RWF_DSYNC),
     * {@code WRITETHROUGH} (buffered write-through, RWF_WRITETHROUGH: the data goes into the cache
     * and to the device at once, with direct-I/O error semantics), {@code ATOMIC} (untorn: all old or all new after a crash; needs
     * WRITETHROUGH or DIRECT; limits in {@link FolioFs#atomicWriteUnitMax()}; a buffered one of at most
     * {@link FolioFs#atomicLogMax()} over blocks the file owns is logged in the journal), {@code DIRECT} (O_DIRECT: no
     * page cache; alignment to the device's logical block).
     */
    public static final int DSYNC = DirectIo.DSYNC, WRITETHROUGH = 0x200, ATOMIC = 0x400, DIRECT = 0x4000;
    private static final int ALL_FLAGS = DSYNC | WRITETHROUGH | ATOMIC | DIRECT;

    /**
     * The per-volume I/O state: page cache, engines and the table of in-memory inodes (open ones,
     * and closed ones still holding dirty or under-writeback data: "lingering", see
     * {@link FolioFile#close}). Owned by FolioFs.
     */
    static final class VolumeIo implements AutoCloseable {
        final PageCache pageCache;
        final BufferedIo bio;
        final DirectIo dio;
        final Map<Long, FsInode> files = new HashMap<>();   // guarded by itself
        /** Lingering inodes whose writeback finished, queued by completions (which must not take {@code files}). */
        final java.util.Queue<FsInode> cleaned = new java.util.concurrent.ConcurrentLinkedQueue<>();
        final long metaReserve;
        final Allocator alloc;

        VolumeIo(FolioFs fs, PageCache.Config config, BufferedIo.Options bioOptions) throws NoSpaceException {
            this.alloc = fs.allocator();
            // blocks buffered writes may never reserve: metadata (extent trees, AGFL refills) written at
            // writeback comes from here, so writeback never meets ENOSPC
            long total = fs.superblock().totalBlocks();
            this.metaReserve = Math.min(alloc.available() / 2, Math.max(64, total / 64));
            alloc.reserve(metaReserve);
            this.pageCache = new PageCache(config);
            this.bio = new BufferedIo(pageCache, fs.device(), bioOptions);
            this.dio = new DirectIo(fs.device());
        }

        /**
         * Writes back the dirty data of every in-memory inode (open or lingering) and waits for it
         * and its end-of-I/O work (sync, clean unmount); then drops the lingering inodes that are
         * clean. The first error is thrown after all were tried.
         */
        void flushAll() throws IOException {
            List<FsInode> all;
            synchronized (files) { all = new ArrayList<>(files.values()); }
            IOException err = null;
            for (FsInode fi : all) {
                try {
                    fi.file.writeAndWait(0, Long.MAX_VALUE);
                } catch (IOException e) {
                    if (err == null) err = e;
                }
            }
            synchronized (files) {
                for (FsInode fi : all) dropIfClean(fi);
            }
            cleaned.clear();
            if (err != null) throw err;
        }

        /**
         * Drops the lingering inodes whose writeback completions queued them, if still closed and
         * clean. Called by opens, last closes and sync: cheap when the queue is empty.
         */
        void dropCleaned() {
            if (cleaned.isEmpty()) return;
            synchronized (files) {
                for (FsInode fi; (fi = cleaned.poll()) != null; ) dropIfClean(fi);
            }
        }

        /** {@link #dropIfClean} for a caller that holds {@code files}. */
        void dropIfCleanLocked(FsInode fi) { dropIfClean(fi); }

        /**
         * Under {@code files}: drops {@code fi} if it is lingering (closed), still this inode's
         * entry and {@link FsInode#clean}: nothing dirty or under writeback and its size on disk,
         * so a later open or getattr reads everything from disk. Its delalloc reservations (none
         * once clean, bar those of failed copies) go back to the allocator.
         */
        private void dropIfClean(FsInode fi) {
            if (!fi.lingering || fi.opens != 0 || files.get(fi.ino) != fi || !fi.clean()) return;
            fi.lingering = false;
            fi.release(alloc, 0, ExtentMap.MAX_FILE_BLOCKS);
            files.remove(fi.ino);
        }

        /** In-memory inodes (open or lingering): tests. */
        int cachedInodes() {
            synchronized (files) { return files.size(); }
        }

        /** The in-memory inode of {@code ino} if it lingers (cached, not open), else null. */
        private FsInode lingering(long ino) {
            synchronized (files) {
                FsInode fi = files.get(ino);
                return fi == null || fi.opens != 0 ? null : fi;
            }
        }

        /**
         * Before inode {@code ino} is freed (its last link gone and no opener left: unlink, rename
         * over it, last close of an unlinked file): drops a lingering in-memory inode without
         * writing its data: dirty folios discarded (after any writeback in flight ends),
         * reservations released. Nothing of it can be written afterwards, so freeing its blocks
         * is safe.
         */
        void discard(long ino) {
            FsInode fi = lingering(ino);
            if (fi == null) return;
            try (InodeLock.Guard g = fi.lock.exclusive()) {
                fi.waitIo();
                fi.file.cache().truncate(0);      // waits for writeback, discards dirty data
                synchronized (files) {
                    if (fi.opens == 0 && files.get(ino) == fi) {
                        fi.lingering = false;
                        fi.release(alloc, 0, ExtentMap.MAX_FILE_BLOCKS);
                        files.remove(ino);
                    }
                }
            }
        }

        /**
         * Before a size change made through {@link FolioFs#setattr} (not through an open file):
         * writes a lingering inode's data back and drops it, so the change is not overtaken by
         * its later writeback. Open inodes are left alone (their owner truncates through
         * {@link FolioFile#truncate}).
         */
        void writeBackAndDrop(long ino) throws IOException {
            FsInode fi = lingering(ino);
            if (fi == null) return;
            try (InodeLock.Guard g = fi.lock.exclusive()) {
                fi.waitIo();
                fi.file.writeAndWait(0, Long.MAX_VALUE);
                synchronized (files) { dropIfClean(fi); }
            }
        }

        @Override
        public void close() { pageCache.close(); }
    }

    private final FolioFs fs;
    private final FsInode fi;
    private final VolumeIo io;
    private final ErrSeq.Cursor errors;
    private boolean closed;

    private FolioFile(FolioFs fs, FsInode fi, VolumeIo io) {
        this.fs = fs;
        this.fi = fi;
        this.io = io;
        this.errors = fi.file.errSeq().cursor();
    }

    static FolioFile open(FolioFs fs, long ino) throws IOException {
        VolumeIo io = fs.fileIo();
        fs.open(ino);
        try {
            FsInode fi;
            synchronized (io.files) {
                fi = io.files.get(ino);   // only regular files have one
                if (fi == null) {
                    // Read under the table's lock: a clean lingering FsInode dropped just before
                    // left its size on disk. (io.files is never taken under the journal lock, so
                    // reading the inode here keeps the lock order.)
                    FolioFs.Attr now = fs.getattr(ino);
                    if (!now.isRegular()) throw new FileSystemException("inode " + ino, null, "Invalid argument: not a regular file");
                    fi = new FsInode(fs, ino, now.size());
                    fi.writeMode = now.writeMode();
                    fi.cleaned = io.cleaned;
                    BufferedFile bf = io.bio.open(fi, FsIoMapOps.WRITEBACK, FsIoEnd.WRITEBACK);
                    fi.file = bf;
                    io.files.put(ino, fi);
                }
                fi.opens++;
                fi.lingering = false;    // a closed file with dirty data is open again
            }
            io.dropCleaned();
            return new FolioFile(fs, fi, io);
        } catch (IOException | RuntimeException e) {
            fs.close(ino);
            throw e;
        }
    }

    public long ino() { return fi.ino; }
    public FsInode inode() { return fi; }
    /** The in-memory file size. */
    public long size() { return fi.size(); }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("file (inode " + fi.ino + ") is closed");
    }

    // ---- read / write -------------------------------------------------------------------------

    /** Buffered read into {@code dst} from {@code pos}; returns the bytes read (short at the size, 0 past it). */
    public long read(long pos, MemorySegment dst) throws IOException {
        checkOpen();
        try (InodeLock.Guard g = fi.lock.shared()) {
            return io.bio.read(fi, FsIoMapOps.READ, pos, dst);
        }
    }

    /** {@link #write(long, MemorySegment, int)} with no flags: the file's write mode decides (writeback by default). */
    public long write(long pos, MemorySegment src) throws IOException {
        return write(pos, src, 0);
    }

    /**
     * Writes {@code src} at {@code pos}; returns the bytes written (short only after a failure that
     * followed progress, or a short device completion). Flags: see {@link #DSYNC}. Without DIRECT
     * or WRITETHROUGH the file's write mode (its inode's, else the volume default) may add
     * WRITETHROUGH (and DSYNC). Buffered: ENOSPC ({@link NoSpaceException}) is reported here,
     * never at writeback; with DSYNC the range is written back and the journal forced before it
     * returns. WRITETHROUGH: the device I/O and its end-of-I/O work complete before it returns and
     * their errors are thrown here.
     */
    public long write(long pos, MemorySegment src, int flags) throws IOException {
        checkOpen();
        checkWritable("write");
        flags = effectiveFlags(flags, true);
        checkWriteRange(pos, src.byteSize());
        if ((flags & ATOMIC) != 0) {
            checkAtomic(pos, src, flags);
            // With other synchronous atomic writes in progress on the volume, this one runs as an
            // asynchronous call and waits for it: its end-of-I/O remap then runs on the engine's
            // end-of-I/O threads (2 threads take the journal lock in turn instead of every caller)
            // and the caller sleeps once, until the commit, instead of for its data, the lock and
            // the commit (8 KiB atomic DSYNC writes from 32 threads: 14.4-17.5k -> 21-23k per second,
            // 88-110 -> 60-70 us of CPU each). A lone writer keeps the synchronous path: no hand-off.
            // Nor does a thread the engines need to finish calls (a future's callback on the
            // end-of-I/O pool, the ring thread): waiting there for a call's end could wait forever.
            boolean handOff = fs.atomicCallers.getAndIncrement() > 0 && !org.foliofs.iomap.BufferedIo.onEngineThread();
            try {
                if (handOff) {
                    fs.atomicHandedOff.increment();
                    // The rest after the commit runs here, where the caller waits anyway: the
                    // commit's end then wakes this thread directly (CallerRuns).
                    org.foliofs.iomap.CallerRuns waiter = new org.foliofs.iomap.CallerRuns();
                    CompletableFuture<Long> call = writeAsync(pos, src, flags, waiter);
                    waiter.await(call);   // runs the call's end here; keeps an interrupt for the caller
                    return outcome(call);
                }
                return writeAtomicHere(pos, src, flags);
            } finally {
                fs.atomicCallers.decrementAndGet();
            }
        }
        if ((flags & DIRECT) != 0) return writeDirect(pos, src, flags & DSYNC);
        if ((flags & WRITETHROUGH) != 0) {
            try (InodeLock.Guard g = fi.lock.forWrite(fi, pos, src.byteSize())) {
                zeroEofBlock(pos);
                return io.bio.writeThrough(fi, FsIoMapOps.WRITETHROUGH, FsIoMapOps.READ, pos, src, flags & DSYNC);
            }
        }
        long n;
        try (InodeLock.Guard g = fi.lock.forWrite(fi, pos, src.byteSize())) {
            zeroEofBlock(pos);
            n = io.bio.write(fi, FsIoMapOps.BUFFERED_WRITE, pos, src);
        }
        if ((flags & DSYNC) != 0 && n > 0) {
            try (InodeLock.Guard g = fi.lock.shared()) {
                io.bio.fsync(fi, pos, n, true, errors);
            }
        }
        return n;
    }

    /** The result of a call that has completed ({@link org.foliofs.iomap.CallerRuns#await}): its failure thrown as itself. */
    private static long outcome(CompletableFuture<Long> done) throws IOException {
        try {
            return done.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) throw io;
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error er) throw er;
            throw new IOException(c);
        }
    }

    /**
     * A synchronous atomic write on this thread. The exclusive inode lock only while the call
     * maps, copies and submits (what readers must not see half done): the call drops it once its
     * requests are issued and then waits and finishes on this thread, so atomic writes to
     * disjoint ranges of one file overlap like any other writes.
     */
    private long writeAtomicHere(long pos, MemorySegment src, int flags) throws IOException {
        boolean direct = (flags & DIRECT) != 0;
        InodeLock.Guard g = fi.lock.exclusive();
        boolean[] held = {true};
        Runnable unlock = () -> {
            if (held[0]) {
                held[0] = false;
                g.close();
            }
        };
        FsInode.InFlight call = null;
        try {
            prepareAtomic(pos, src.byteSize());
            call = fi.ioBegin(pos, src.byteSize());   // overlapping atomic writes, truncate... wait for it
            return direct
                    ? io.dio.write(fi, FsIoMapOps.DIRECT_WRITE, FsIoEnd.DIRECT, pos, src, (flags & DSYNC) | DirectIo.ATOMIC, unlock)
                    : io.bio.writeThrough(fi, FsIoMapOps.WRITETHROUGH, FsIoMapOps.READ, pos, src, (flags & DSYNC) | BufferedIo.ATOMIC,
                            unlock);
        } finally {
            if (call != null) fi.ioDone(call);
            unlock.run();
        }
    }

    /** Reads into {@code dst} at {@code pos}; flags: 0 (buffered) or {@link #DIRECT}. */
    public long read(long pos, MemorySegment dst, int flags) throws IOException {
        if (flags == DIRECT) return readDirect(pos, dst, 0);
        if (flags != 0) throw new IllegalArgumentException("read flags (0x" + Integer.toHexString(flags) + ") must be 0 or DIRECT");
        return read(pos, dst);
    }

    /**
     * Asynchronous write. DIRECT and WRITETHROUGH writes are truly asynchronous: the calling thread
     * maps, copies (write-through) and issues the device requests under the inode lock, then
     * returns; the future completes after the device I/O and the end-of-I/O work (and DSYNC's
     * sync), never on the calling thread. A plain buffered write only copies into the cache, so it
     * runs on the calling thread and returns a completed future (with DSYNC it also writes back
     * and waits). Truncate, fallocate and the last close wait for the asynchronous calls in
     * flight; a call stops counting as in flight before its future completes, so the future's
     * callbacks may truncate or close this file. Bad arguments throw; any later failure completes
     * the future exceptionally.
     */
    public CompletableFuture<Long> writeAsync(long pos, MemorySegment src, int flags) {
        return writeAsync(pos, src, flags, null);
    }

    /** {@link #writeAsync(long, MemorySegment, int)}; {@code waiter}: see {@link BufferedIo#writeThroughAsync(org.foliofs.iomap.IoInode, org.foliofs.iomap.IoMapOps, org.foliofs.iomap.IoMapOps, long, MemorySegment, int, Runnable, org.foliofs.iomap.CallerRuns)}. */
    private CompletableFuture<Long> writeAsync(long pos, MemorySegment src, int flags, org.foliofs.iomap.CallerRuns waiter) {
        checkOpen();
        int f = effectiveFlags(flags, true);
        try {
            checkWritable("write");
            checkWriteRange(pos, src.byteSize());
        } catch (FileSystemException e) {
            return CompletableFuture.failedFuture(e);
        }
        if ((f & (DIRECT | WRITETHROUGH)) == 0) {
            try {
                return CompletableFuture.completedFuture(write(pos, src, f));
            } catch (IOException | RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        if ((f & ATOMIC) != 0) {
            checkAtomic(pos, src, f);
        }
        boolean unaligned = (f & (DIRECT | ATOMIC)) == DIRECT && unalignedForCow(pos, src, f);
        InodeLock.Guard g = (f & ATOMIC) != 0 ? fi.lock.exclusive()
                : (f & DIRECT) != 0 ? fi.lock.forDirectWrite(fi, pos, src.byteSize()) : fi.lock.forWrite(fi, pos, src.byteSize());
        try {
            if ((f & ATOMIC) != 0) prepareAtomic(pos, src.byteSize());   // waits for the calls in flight: before ours counts
        } catch (IOException | RuntimeException e) {
            g.close();
            return CompletableFuture.failedFuture(e);
        }
        FsInode.InFlight call = fi.ioBegin(pos, src.byteSize());
        boolean handed = false;
        try {
            if ((f & ATOMIC) == 0) zeroEofBlock(pos);
            CompletableFuture<Long> r;
            // unaligned over shared blocks: written through the cache instead (see writeDirect)
            if (unaligned && FsIoMapOps.sharedIn(fi, pos, src.byteSize())) f &= ~DIRECT;
            if ((f & DIRECT) != 0) {
                r = io.dio.writeAsync(fi, FsIoMapOps.DIRECT_WRITE, FsIoEnd.DIRECT, pos, src,
                        (f & DSYNC) | ((f & ATOMIC) != 0 ? DirectIo.ATOMIC : 0));
                handed = true;
                r = endsInFlightFirst(r, call);
            } else {
                handed = true;   // from here writeThroughAsync runs ioDone exactly once
                r = io.bio.writeThroughAsync(fi, FsIoMapOps.WRITETHROUGH, FsIoMapOps.READ, pos, src,
                        (f & DSYNC) | ((f & ATOMIC) != 0 ? BufferedIo.ATOMIC : 0), () -> fi.ioDone(call), waiter);
            }
            return r;
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        } finally {
            if (!handed) fi.ioDone(call);
            g.close();
        }
    }

    /**
     * Asynchronous read: DIRECT reads are truly asynchronous (the future completes from the device
     * completion or the executor); buffered reads run on the calling thread (a cache hit is a
     * memory copy; a miss waits for the read) and return a completed future.
     */
    public CompletableFuture<Long> readAsync(long pos, MemorySegment dst, int flags) {
        checkOpen();
        if (flags != 0 && flags != DIRECT) throw new IllegalArgumentException("read flags (0x" + Integer.toHexString(flags) + ") must be 0 or DIRECT");
        if (flags == 0) {
            try {
                return CompletableFuture.completedFuture(read(pos, dst));
            } catch (IOException | RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        try (InodeLock.Guard g = fi.lock.shared()) {
            FsInode.InFlight call = fi.ioBegin(pos, dst.byteSize());
            CompletableFuture<Long> r;
            try {
                r = io.dio.readAsync(fi, FsIoMapOps.READ, pos, dst);
            } catch (RuntimeException e) {
                fi.ioDone(call);
                throw e;
            }
            return endsInFlightFirst(r, call);
        }
    }

    /**
     * The future to hand the caller for a call whose in-flight record {@code call} ends when
     * {@code r} completes: it completes only after the record ended, with r's own result or
     * exception (not wrapped). The caller's callbacks may then truncate or close this file:
     * registered on r itself they would run before the record ended (CompletableFuture runs the
     * last registered first), and a truncate there would wait for its own call.
     */
    private CompletableFuture<Long> endsInFlightFirst(CompletableFuture<Long> r, FsInode.InFlight call) {
        CompletableFuture<Long> out = new CompletableFuture<>();
        r.whenComplete((v, t) -> {
            try {
                fi.ioDone(call);
            } finally {
                if (t != null) out.completeExceptionally(t);
                else out.complete(v);
            }
        });
        return out;
    }

    /**
     * The limits of an atomic write (statx-like: {@link FolioFs#atomicWriteUnitMin()},
     * {@link FolioFs#atomicWriteUnitMax()}, one segment): a power-of-two length within them, at an
     * offset aligned to the length. Checked before anything is copied.
     */
    private void checkAtomic(long pos, MemorySegment src, int flags) {
        checkAtomic(pos, src.byteSize());
        if ((flags & DIRECT) != 0) io.dio.checkWrite(pos, src, (flags & DSYNC) | DirectIo.ATOMIC);   // and the direct-I/O rules
    }

    private void checkAtomic(long pos, long len) {
        long min = fs.atomicWriteUnitMin(), max = fs.atomicWriteUnitMax();
        String why = null;
        if (Long.bitCount(len) != 1 || len < min || len > max) why = "the length must be a power of two from " + min + " to " + max;
        else if (pos % len != 0) why = "the offset must be a multiple of the length (naturally aligned)";
        if (why != null) {
            throw new IllegalArgumentException("atomic write of " + len + " bytes at offset " + pos + " on " + this + " refused: " + why
                    + " (atomic write limits: unit min " + min + ", unit max " + max + ", segments max 1)");
        }
    }

    /**
     * Under the exclusive inode lock, before an atomic write: wait for the asynchronous calls in
     * flight that overlap the range (disjoint ones go on), zero the old EOF block's tail, and write
     * back the range so that its cached blocks equal the device's (a failed atomic write then
     * simply forgets its new bytes).
     */
    private void prepareAtomic(long pos, long len) throws IOException {
        fi.waitIo(pos, len);
        zeroEofBlock(pos);
        fi.file.writeAndWait(pos, len);
    }

    /** Validates {@code flags} and adds WRITETHROUGH/DSYNC from the file's or volume's write mode. */
    private int effectiveFlags(int flags, boolean write) {
        if ((flags & ~ALL_FLAGS) != 0) {
            throw new IllegalArgumentException("write flags (0x" + Integer.toHexString(flags)
                    + ") has unknown bits; allowed are DSYNC (0x1), WRITETHROUGH (0x200), ATOMIC (0x400), DIRECT (0x4000)");
        }
        if ((flags & DIRECT) != 0 && (flags & WRITETHROUGH) != 0) {
            throw new IllegalArgumentException("write flags DIRECT and WRITETHROUGH exclude each other (0x" + Integer.toHexString(flags) + ")");
        }
        if ((flags & (DIRECT | WRITETHROUGH)) == 0) {
            int mode = fi.writeMode != Inode.WMODE_DEFAULT ? fi.writeMode : fs.defaultWriteMode();
            if (mode == Inode.WMODE_WRITETHROUGH) flags |= WRITETHROUGH;
            else if (mode == Inode.WMODE_WRITETHROUGH_DSYNC) flags |= WRITETHROUGH | DSYNC;
        }
        if ((flags & ATOMIC) != 0 && (flags & (WRITETHROUGH | DIRECT)) == 0) {
            throw new IllegalArgumentException("ATOMIC buffered write needs WRITETHROUGH (or DIRECT): flags 0x" + Integer.toHexString(flags)
                    + " on " + this + " (an untorn write must go to the device in the call)");
        }
        return flags;
    }

    /** Direct read (aligned to the device's logical block). */
    public long readDirect(long pos, MemorySegment dst, int flags) throws IOException {
        checkOpen();
        try (InodeLock.Guard g = fi.lock.shared()) {
            return io.dio.read(fi, FsIoMapOps.READ, pos, dst);
        }
    }

    /**
     * Direct write (aligned to the device's logical block); {@code flags}: {@link #DSYNC}. A write
     * not aligned to the file system block over shared blocks (after a clone) cannot copy on write
     * by direct I/O: that range is written through the cache instead ({@link #cowFallback}).
     */
    public long writeDirect(long pos, MemorySegment src, int flags) throws IOException {
        checkOpen();
        checkWritable("direct write");
        checkWriteRange(pos, src.byteSize());
        boolean unaligned = unalignedForCow(pos, src, flags);
        try (InodeLock.Guard g = fi.lock.forDirectWrite(fi, pos, src.byteSize())) {
            zeroEofBlock(pos);
            if (unaligned && FsIoMapOps.sharedIn(fi, pos, src.byteSize()))
                return io.bio.writeThrough(fi, FsIoMapOps.WRITETHROUGH, FsIoMapOps.READ, pos, src, flags & DSYNC);
            return io.dio.write(fi, FsIoMapOps.DIRECT_WRITE, FsIoEnd.DIRECT, pos, src, flags);
        }
    }

    /**
     * Whether a direct write may need the copy-on-write fallback: it is not aligned to the file
     * system block (its lock is then exclusive, {@link InodeLock#forDirectWrite}). Such a write over
     * shared blocks ({@link FsIoMapOps#sharedIn}) would have to copy the old bytes of its partial
     * edge blocks, which direct I/O cannot; like XFS (-ENOTBLK from the direct write, then a
     * buffered write), it goes through the cache as a write-through of the range instead, with
     * what a caller of a direct write sees unchanged: the data and its end-of-I/O work (CoW remap,
     * size) are on the device when it returns, errors are thrown to it, DSYNC makes it durable,
     * and the cache stays coherent (its folios hold the new data, clean). O_DIRECT's alignment
     * rules (logical block, buffer) are checked here first, so the fallback refuses what a direct
     * write refuses.
     */
    private boolean unalignedForCow(long pos, MemorySegment src, int flags) {
        long len = src.byteSize();
        if (len == 0 || (pos % fi.bs == 0 && len % fi.bs == 0)) return false;
        io.dio.checkWrite(pos, src, flags & DSYNC);
        return true;
    }

    /**
     * A write or a size change starting past the size (the caller holds the lock exclusively then):
     * the old last block's bytes past the size may hold old data on the device (a shrink whose tail
     * zeroing never reached it, or a write whose size update was lost, before a crash); zero them
     * first, as XFS zeroes around EOF, and write that block back now, so no size update (a ranged
     * DSYNC writeback, a direct write's or a truncate's) can reach the disk before the zeros.
     */
    private void zeroEofBlock(long pos) throws IOException {
        long size = fi.size();
        if (pos <= size || size % fi.bs == 0) return;
        long end = Math.min(pos, (size / fi.bs + 1) * fi.bs);
        io.bio.zeroRange(fi, FsIoMapOps.READ, size, end - size);
        fi.file.writeAndWait(size, end - size);
    }

    /** Read-only mount: every change of the file is refused ({@link ReadOnlyVolumeException}). */
    private void checkWritable(String what) throws ReadOnlyVolumeException {
        if (fs.isReadOnly()) fs.checkWritable("inode " + fi.ino, what);   // the name is built only to be thrown
    }

    private void checkWriteRange(long pos, long len) throws FileSystemException {
        if (pos < 0 || len < 0 || pos + len < 0)
            throw new IllegalArgumentException("write of " + len + " bytes at " + pos + " is outside the file offset range");
        if (pos + len > fs.maxFileSize() + 1)
            throw new FileSystemException("inode " + fi.ino, null, "File too large: write of " + len + " bytes at " + pos
                    + " ends beyond the maximum file size " + fs.maxFileSize());
    }

    // ---- fsync, truncate ----------------------------------------------------------------------

    /** Writes back the dirty data, waits for it and its end-of-I/O conversions, then forces the journal. */
    public void fsync(boolean dataOnly) throws IOException {
        checkOpen();
        if (fs.isReadOnly()) return;   // read-only mount: nothing dirty, nothing to make durable
        try (InodeLock.Guard g = fi.lock.shared()) {
            io.bio.fsync(fi, 0, Long.MAX_VALUE, dataOnly, errors);
        }
    }

    /** truncate(2): shrinking zeroes the tail of the new last block in the cache and frees blocks and reservations past it. */
    public void truncate(long size) throws IOException {
        checkOpen();
        checkWritable("truncate");
        if (size < 0) throw new IllegalArgumentException("new size (" + size + ") must not be negative");
        if (size > fs.maxFileSize())
            throw new FileSystemException("inode " + fi.ino, null, "File too large: size " + size + " exceeds " + fs.maxFileSize());
        try (InodeLock.Guard g = fi.lock.exclusive()) {
            fi.waitIo();
            truncateLocked(size);
        } finally {
            fi.metaChanged();
        }
    }

    private void truncateLocked(long size) throws IOException {
        zeroEofBlock(size);   // growing: the old tail's zeros reach the device before the new size
        boolean shrink = size < fi.size();
        io.bio.truncate(fi, FsIoMapOps.READ, size);
        // shrinking: the zeroed tail of the new last block reaches the device before the new size
        // can (else, after a crash, a later extension shows the truncated bytes again)
        if (shrink && size % fi.bs != 0) fi.file.writeAndWait(size, fi.bs - size % fi.bs);
        fi.release(io.alloc, Math.ceilDiv(size, fi.bs), ExtentMap.MAX_FILE_BLOCKS);
        setFileSize(size);
    }

    // ---- fallocate ----------------------------------------------------------------------------

    /**
     * fallocate(2). Modes: 0 (allocate unwritten, extend the size), {@link #FALLOC_KEEP_SIZE},
     * {@link #FALLOC_PUNCH_HOLE} (with or without KEEP_SIZE; the size never changes),
     * {@link #FALLOC_ZERO_RANGE} (optionally | KEEP_SIZE), {@link #FALLOC_COLLAPSE_RANGE} and
     * {@link #FALLOC_INSERT_RANGE} (block aligned; see docs/FORMAT.md section 9 for what a crash
     * part-way leaves), {@link #FALLOC_UNSHARE_RANGE} (optionally | KEEP_SIZE: the range's shared
     * blocks get private copies, then holes are preallocated as for mode 0, see {@link Reflink}).
     * Unknown modes: {@link UnsupportedOperationException}.
     */
    public void fallocate(int mode, long off, long len) throws IOException {
        checkOpen();
        checkWritable("fallocate");
        if (off < 0 || len <= 0 || off + len < 0)
            throw new IllegalArgumentException("fallocate range [" + off + ", +" + len + ") is invalid: offset must not be negative"
                    + " and length must be positive");
        int bs = fi.bs;
        try (InodeLock.Guard g = fi.lock.exclusive()) {
            fi.waitIo();
            switch (mode) {
                case 0, FALLOC_KEEP_SIZE -> {
                    checkEnd(off + len);
                    preallocate(off / bs, Math.ceilDiv(off + len, bs));
                    if (mode == 0) growTo(off + len);
                }
                case FALLOC_PUNCH_HOLE, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE -> punch(off, Math.min(off + len, fi.size()));
                case FALLOC_ZERO_RANGE, FALLOC_ZERO_RANGE | FALLOC_KEEP_SIZE -> {
                    checkEnd(off + len);
                    long end = off + len;
                    punch(off, end);
                    long a = Math.ceilDiv(off, bs), b = end / bs;
                    if (a < b) preallocate(a, b);
                    if (mode == FALLOC_ZERO_RANGE) growTo(end);
                }
                case FALLOC_COLLAPSE_RANGE -> collapse(off, len);
                case FALLOC_INSERT_RANGE -> insert(off, len);
                case FALLOC_UNSHARE_RANGE, FALLOC_UNSHARE_RANGE | FALLOC_KEEP_SIZE -> {
                    checkEnd(off + len);
                    Reflink.unshare(fi, off, Math.min(off + len, fi.size()));
                    preallocate(off / bs, Math.ceilDiv(off + len, bs));
                    if (mode == FALLOC_UNSHARE_RANGE) growTo(off + len);
                }
                default -> throw new UnsupportedOperationException("fallocate mode 0x" + Integer.toHexString(mode) + " is not supported");
            }
        } finally {
            fi.metaChanged();
        }
    }

    private void checkEnd(long end) throws FileSystemException {
        if (end > fs.maxFileSize() + 1)
            throw new FileSystemException("inode " + fi.ino, null, "File too large: fallocate to " + end + " exceeds the maximum file size "
                    + fs.maxFileSize());
    }

    private void growTo(long end) throws IOException {
        if (end <= fi.size()) return;
        zeroEofBlock(end);                           // the tail of the old last block, zero on the device first
        io.bio.truncate(fi, FsIoMapOps.READ, end);
        setFileSize(end);
    }

    /** Unwritten extents over the holes of file blocks [from, to) (reserved delalloc blocks are left alone). */
    private void preallocate(long from, long to) throws IOException {
        long fb = from;
        while (fb < to) {
            long at = fb;
            fb = fs.op(h -> {
                Inode i = Inodes.get(h, fi.ino);
                Extent e = ExtentMap.find(h, i, at);
                if (e != null) return e.fileEnd();
                long[] d = fi.delallocAt(at);
                if (d != null) return d[1];
                Extent n = ExtentMap.next(h, i, at);
                long end = Math.min(to, n == null ? ExtentMap.MAX_FILE_BLOCKS : n.fileBlock());
                long nd = fi.nextDelalloc(at);
                if (nd >= 0) end = Math.min(end, nd);
                end = Math.min(end, at + FsIoMapOps.MAX_ALLOC);
                long goal = -1;
                if (at > 0) {
                    Extent p = ExtentMap.find(h, i, at - 1);
                    if (p != null && p.deviceEnd() < fs.superblock().totalBlocks()) goal = p.deviceEnd();
                }
                long[] got = FsIoMapOps.allocFileData(h, fs, i, at, goal, end - at);
                ExtentMap.insert(h, i, new Extent(at, got[0], got[1], true));
                i.blocks += got[1];
                Inodes.put(h, i);
                return at + got[1];
            });
        }
    }

    /**
     * Makes [off, end) read as zeros with holes where whole blocks are: partial edge blocks zeroed in
     * the cache (dirty, written back later like any write). The cached data of the whole blocks is
     * dropped without writeback ({@link BufferedFile#discard}: dirty data there would only be
     * written to blocks freed next) below the on-disk size (past it, written back first: that
     * writeback moves the on-disk size), their delalloc reservations released, then the blocks unmapped.
     * A crash before the unmap commits shows the range's last data on the device (the discarded
     * dirty data was never acknowledged by fsync or DSYNC); a punch that fails part-way (ENOSPC for
     * an extent split, a device error) leaves the rest of the range with its on-device data.
     */
    private void punch(long off, long end) throws IOException {
        if (off >= end) return;
        int bs = fi.bs;
        long a = Math.ceilDiv(off, bs), b = end / bs;
        if (a > b) {                                     // inside one block
            io.bio.zeroRange(fi, FsIoMapOps.READ, off, end - off);
            return;
        }
        if (off < a * bs) io.bio.zeroRange(fi, FsIoMapOps.READ, off, a * bs - off);
        if (end > b * bs) io.bio.zeroRange(fi, FsIoMapOps.READ, b * bs, end - b * bs);
        if (a < b) {
            // Below the on-disk size: dropped unwritten. From the block holding the on-disk size on,
            // the dirty data of an extending write carries the size update (its writeback's end of
            // I/O moves the on-disk size); dropped unwritten, a later fsync would find nothing to
            // write and leave the acknowledged size behind: written back first, as before.
            long disk;
            synchronized (fi) { disk = fi.diskSize; }
            long d = Math.max(a, Math.min(b, disk / bs));
            if (a < d) fi.file.discard(a * bs, (d - a) * bs);
            if (d < b) fi.file.invalidate(d * bs, (b - d) * bs);
            fi.release(io.alloc, a, b);
            fs.punchBlocks(fi.ino, a, b - a);
        }
    }

    private void collapse(long off, long len) throws IOException {
        int bs = fi.bs;
        if (off % bs != 0 || len % bs != 0)
            throw new IllegalArgumentException("collapse range [" + off + ", +" + len + ") must be aligned to the block size " + bs);
        long size = fi.size();
        if (off + len >= size)
            throw new IllegalArgumentException("collapse range [" + off + ", +" + len + ") must end before the file size " + size);
        // The removed range's cached data is dropped unwritten (its blocks are freed next); the data
        // after it moves to other offsets, so it is written back and dropped (the cache is indexed by
        // offset), as is the rest of a folio straddling off.
        fi.file.discard(off, len);
        fi.file.invalidate(off, Long.MAX_VALUE - off);
        fi.release(io.alloc, off / bs, ExtentMap.MAX_FILE_BLOCKS);
        long a = off / bs, n = len / bs;
        fs.punchBlocks(fi.ino, a, n);
        long from = a + n;
        while (from < ExtentMap.MAX_FILE_BLOCKS) {
            long f = from;
            from = fs.op(h -> {
                Inode i = Inodes.get(h, fi.ino);
                long r = ExtentMap.shift(h, i, f, ExtentMap.MAX_FILE_BLOCKS, -n, 8);
                Inodes.put(h, i);
                return r;
            });
        }
        setFileSize(size - len);
        fs.syncMetadata();      // durable before later in-place overwrites can reach the moved blocks (docs/FORMAT.md 9)
    }

    private void insert(long off, long len) throws IOException {
        int bs = fi.bs;
        if (off % bs != 0 || len % bs != 0)
            throw new IllegalArgumentException("insert range [" + off + ", +" + len + ") must be aligned to the block size " + bs);
        long size = fi.size();
        if (off >= size)
            throw new IllegalArgumentException("insert range offset " + off + " must be below the file size " + size);
        checkEnd(size + len);
        fi.file.invalidate(off, Long.MAX_VALUE - off);
        fi.release(io.alloc, off / bs, ExtentMap.MAX_FILE_BLOCKS);
        long a = off / bs, n = len / bs;
        setFileSize(size + len);
        long end = ExtentMap.MAX_FILE_BLOCKS - n;
        while (end > a) {
            long e = end;
            end = fs.op(h -> {
                Inode i = Inodes.get(h, fi.ino);
                long r = ExtentMap.shift(h, i, a, e, n, 8);
                Inodes.put(h, i);
                return r;
            });
        }
        fs.syncMetadata();      // as collapse
    }

    // ---- reflink ------------------------------------------------------------------------------

    private static final int COPY_CHUNK = 1 << 20;

    /**
     * copy_file_range(2): copies up to {@code len} bytes of {@code src} at {@code srcOff} into this
     * file at {@code dstOff}, cut at the source's EOF (0 at or past it). Where both offsets are
     * equal modulo the block size the block-aligned part is a reflink ({@link #cloneRange}: shared
     * blocks, no data copied), see {@link #copyPlan}; the rest is read and written through the files
     * (this file's write mode applies). Overlapping ranges of one file are refused ("Invalid
     * argument"). A failure after some progress returns the bytes done (the next call reports it),
     * as write(2). Used by FUSE's copy_file_range, NIO's transferTo/transferFrom and Files.copy.
     */
    public long copyRangeFrom(FolioFile src, long srcOff, long dstOff, long len) throws IOException {
        if (srcOff < 0 || dstOff < 0 || len < 0)
            throw new IllegalArgumentException("copy of " + len + " bytes from offset " + srcOff + " to " + dstOff + ": none may be negative");
        long srcSize = src.size();
        if (srcOff >= srcSize || len == 0) return 0;
        len = Math.min(len, srcSize - srcOff);
        if (src.ino() == ino() && srcOff < dstOff + len && dstOff < srcOff + len)
            throw new FileSystemException("inode " + ino(), null, "Invalid argument: copy of [" + srcOff + ", +" + len
                    + ") to " + dstOff + " within one file overlaps itself");
        long[] p = copyPlan(srcOff, dstOff, len, srcSize, size(), fi.bs);
        long done = 0;
        try {
            if (p[0] > 0) {
                done = copyBytes(src, srcOff, dstOff, p[0]);
                if (done < p[0]) return done;
            }
            if (p[1] > 0) {
                try {
                    cloneRange(src, srcOff + done, dstOff + done, p[1]);
                    done += p[1];
                } catch (IllegalArgumentException e) {
                    // The clone's preconditions changed under us (a concurrent size change): copy
                    // instead. Reflink checks everything before it changes anything.
                    long c = copyBytes(src, srcOff + done, dstOff + done, p[1]);
                    done += c;
                    if (c < p[1]) return done;
                }
            }
            if (done < len) done += copyBytes(src, srcOff + done, dstOff + done, len - done);
            return done;
        } catch (IOException | RuntimeException e) {
            if (done > 0) return done;
            throw e;
        }
    }

    /**
     * How {@link #copyRangeFrom} splits a copy of {@code len} bytes (already cut at the source's
     * EOF): {@code {head, clone}}, meaning copy {@code head} bytes, clone the next {@code clone}
     * bytes, copy the rest. A clone needs both offsets block aligned (FICLONERANGE), so only when
     * they are equal modulo the block size: the head then runs up to the first block boundary; the
     * clone takes the whole blocks, plus an unaligned tail when it ends at the source's EOF and the
     * copy ends at or past the destination's size (Reflink's rule: the tail's block is shared
     * whole). Otherwise everything is copied ({@code {len, 0}}).
     */
    static long[] copyPlan(long srcOff, long dstOff, long len, long srcSize, long dstSize, int bs) {
        if (srcOff % bs != dstOff % bs) return new long[] {len, 0};
        long head = Math.min(len, (bs - srcOff % bs) % bs);
        long rest = len - head;
        long clone = rest / bs * bs;
        if (rest > clone && srcOff + len == srcSize && dstOff + len >= dstSize) clone = rest;
        if (clone == 0) return new long[] {len, 0};
        return new long[] {head, clone};
    }

    /** Reads and writes {@code len} bytes in chunks; the bytes written (short at the source's EOF or a short write). */
    private long copyBytes(FolioFile src, long srcOff, long dstOff, long len) throws IOException {
        MemorySegment buf = MemorySegment.ofArray(new byte[(int) Math.min(len, COPY_CHUNK)]);
        long done = 0;
        try {
            while (done < len) {
                long want = Math.min(buf.byteSize(), len - done);
                long r = src.read(srcOff + done, buf.asSlice(0, want));
                if (r <= 0) break;
                long w = write(dstOff + done, buf.asSlice(0, r));
                done += w;
                if (w < r) break;
            }
            return done;
        } catch (IOException | RuntimeException e) {
            if (done > 0) return done;
            throw e;
        }
    }

    /**
     * FICLONERANGE: makes {@code [dstOff, dstOff + len)} of this file share the blocks of
     * {@code [srcOff, srcOff + len)} of {@code src} (which may be this file, without overlap). Offsets
     * block aligned; {@code len} too unless the range ends at the source's EOF; 0 = to the source's
     * EOF. A crash part-way leaves a prefix cloned. Rules and journaling: {@link Reflink}.
     */
    public void cloneRange(FolioFile src, long srcOff, long dstOff, long len) throws IOException {
        checkOpen();
        if (src == null) throw new IllegalArgumentException("clone source must not be null");
        src.checkOpen();
        checkWritable("clone");
        Reflink.cloneRange(fs, fi, src.fi, srcOff, dstOff, len);
    }

    /** FICLONE: clones the whole of {@code src} to offset 0 of this file ({@code cloneRange(src, 0, 0, 0)}). */
    public void cloneFrom(FolioFile src) throws IOException {
        cloneRange(src, 0, 0, 0);
    }

    // ---- seek ---------------------------------------------------------------------------------

    /** lseek SEEK_DATA: first data at or after pos ({@link IoMapReport#NOT_FOUND} if none before the size). */
    public long seekData(long pos) throws IOException {
        checkOpen();
        try (InodeLock.Guard g = fi.lock.shared()) {
            return io.bio.seekData(fi, FsIoMapOps.READ, pos);
        }
    }

    /** lseek SEEK_HOLE: first hole at or after pos (the size when data runs to the end). */
    public long seekHole(long pos) throws IOException {
        checkOpen();
        try (InodeLock.Guard g = fi.lock.shared()) {
            return io.bio.seekHole(fi, FsIoMapOps.READ, pos);
        }
    }

    /**
     * fiemap: the file's extents overlapping {@code [pos, pos + len)} in file order (MAPPED,
     * UNWRITTEN and DELALLOC; holes left out, neighbours merged, see {@link IoMapReport#fiemap}).
     * Read-only: no allocation and no device I/O. The SHARED flag is not reported yet.
     */
    public List<IoMap> extents(long pos, long len) throws IOException {
        checkOpen();
        try (InodeLock.Guard g = fi.lock.shared()) {
            return IoMapReport.fiemap(fi, FsIoMapOps.READ, pos, len);
        }
    }

    /** Sets the size in memory and on disk (setattr frees the blocks beyond it when it shrinks). */
    private void setFileSize(long size) throws IOException {
        fi.setSize(size);
        fs.setattr(fi.ino, FolioFs.SetAttr.size(size));
        synchronized (fi) { fi.diskSize = size; }
    }

    // ---- close --------------------------------------------------------------------------------

    /**
     * Closes this handle. The last close of an inode does not write back (Linux's close neither):
     * with dirty or under-writeback data the in-memory inode stays in the volume's table,
     * "lingering", with its cache and delalloc reservations, and background writeback (dirty
     * expiry, the dirty thresholds), {@link FolioFs#sync} or unmount writes it; it is dropped
     * once clean (data written, size on disk) and still closed; a reopen finds and reuses it. A
     * clean inode is dropped here. An unlinked file's cache is dropped and its reservations
     * released. Then {@link FolioFs#close(long)} (which frees an unlinked inode, discarding a
     * lingering inode's data first). Writeback errors found later go to the file's error
     * sequence: a reopen's fsync reports them. Only fsync (or sync) promises durability.
     */
    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        boolean last;
        synchronized (io.files) { last = --fi.opens == 0; }
        IOException err = null;
        if (last) {
            try (InodeLock.Guard g = fi.lock.exclusive()) {
                fi.waitIo();
                boolean unlinked = false;
                try {
                    unlinked = fs.getattr(fi.ino).nlink() == 0;
                    if (unlinked) fi.file.cache().truncate(0);      // waits for writeback, discards dirty data
                } catch (IOException e) {
                    err = e;
                } finally {
                    // Still under the inode lock; and only if nobody reopened the file meanwhile
                    // (a new opener's buffered writes own reservations this must not drop).
                    synchronized (io.files) {
                        if (fi.opens == 0) {
                            if (unlinked) {
                                fi.release(io.alloc, 0, ExtentMap.MAX_FILE_BLOCKS);
                                io.files.remove(fi.ino);
                            } else {
                                // Lingering first, clean() second; a completion ends writeback
                                // first and reads lingering second: one of us sees the other.
                                // Both sides fence between their store and their load (the tags
                                // are release/acquire, not volatile: FsIoEnd.writebackDone).
                                fi.lingering = true;
                                java.lang.invoke.VarHandle.fullFence();
                                io.dropIfCleanLocked(fi);
                            }
                        }
                    }
                }
            }
        }
        fs.close(fi.ino);
        io.dropCleaned();
        if (err != null) throw err;
    }

    @Override
    public String toString() { return "FolioFile[inode " + fi.ino + ", size " + fi.size() + "]"; }
}
