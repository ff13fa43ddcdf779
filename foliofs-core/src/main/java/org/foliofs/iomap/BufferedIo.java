package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.foliofs.device.BlockDevice;
import org.foliofs.pagecache.Folio;
import org.foliofs.pagecache.PageCache;

/**
 * Buffered I/O through the page cache for one volume (Linux's fs/iomap/buffered-io.c): reads with
 * read-ahead, writes into the cache, writeback with request merging, fsync, truncate, zero range
 * and cache-aware seek. One instance per (PageCache, BlockDevice); thread-safe.
 *
 * <h2>Use</h2>
 * A file system {@link #open}s a {@link BufferedFile} per inode (with its writeback ops and
 * end-of-I/O handler) and returns it from {@link IoInode#cache()}; the calls below find it there.
 * The inode implements {@link IoInode#setSizeInMemory} for writes that extend the file.
 *
 * <h2>Locking (the engine takes no inode lock)</h2>
 * The caller holds the inode lock: shared for reads and for writes inside the size, exclusive for
 * writes that extend the file, truncate and zero range. Inside, folio locks are taken one at a
 * time (read fills: several, in ascending order); none is held across {@code balanceDirty} or
 * across waiting for another folio's writeback submission; reads copy under the folio lock, so a
 * block written by one call is never seen half-written. Writeback takes folio locks with tryLock
 * (background) or in ascending order after submitting what it built (integrity). End-of-I/O work
 * runs on {@link Options#executor()}, never on a device completion thread.
 */
public final class BufferedIo {
    /**
     * {@code maxRequestBytes}: largest device request for reads and writeback (a positive multiple
     * of 4096 and of the logical block size; default 1 MiB); read-ahead window from
     * {@code readaheadInitBytes} (default 128 KiB) growing to {@code readaheadMaxBytes} (default
     * 2 MiB; both multiples of 4096, init <= max); {@code maxFolioOrder}: largest folio the engine
     * asks for (0..9, default 9; a file whose block is larger gets folios of its block size);
     * {@code executor} runs writeback end-of-I/O work (default: a shared pool of daemon threads
     * {@code foliofs-wbend-N}). Give it threads that never wait for writeback themselves: folio
     * writeback ends there, so a pool whose threads all wait for writeback (direct I/O finishing
     * on {@link DirectIo}'s pool waits in {@link CacheRangeSync#invalidate}) would deadlock. That
     * is why the default is not DirectIo's pool. Write-through end-of-I/O work runs there too, and
     * so does the rest of an asynchronous DSYNC call after its journal commit: the file system
     * hands it over from the thread that ended the commit, under its journal lock
     * ({@link IoEndHandler#syncLoggedAsync}), so the executor must run tasks on threads of its
     * own, never inline in {@code execute}.
     * {@code perFolioRequests} and {@code wholeFileStable}: see their withers (benchmarks).
     */
    public record Options(int maxRequestBytes, long readaheadInitBytes, long readaheadMaxBytes, int maxFolioOrder,
                          Executor executor, boolean perFolioRequests, boolean wholeFileStable) {
        public Options {
            if (maxRequestBytes <= 0 || maxRequestBytes % 4096 != 0) {
                throw new IllegalArgumentException("maxRequestBytes (" + maxRequestBytes + ") must be a positive multiple of 4096");
            }
            if (readaheadInitBytes <= 0 || readaheadInitBytes % 4096 != 0) {
                throw new IllegalArgumentException("readaheadInitBytes (" + readaheadInitBytes + ") must be a positive multiple of 4096");
            }
            if (readaheadMaxBytes < readaheadInitBytes || readaheadMaxBytes % 4096 != 0 || readaheadMaxBytes > (64L << 20)) {
                throw new IllegalArgumentException("readaheadMaxBytes (" + readaheadMaxBytes + ") must be a multiple of 4096 from "
                        + "readaheadInitBytes (" + readaheadInitBytes + ") to 64 MiB");
            }
            if (maxFolioOrder < 0 || maxFolioOrder > Folio.MAX_ORDER) {
                throw new IllegalArgumentException("maxFolioOrder (" + maxFolioOrder + ") must be from 0 to " + Folio.MAX_ORDER);
            }
            Objects.requireNonNull(executor, "executor");
        }

        public Options(int maxRequestBytes, long readaheadInitBytes, long readaheadMaxBytes, int maxFolioOrder, Executor executor) {
            this(maxRequestBytes, readaheadInitBytes, readaheadMaxBytes, maxFolioOrder, executor, false, false);
        }

        public static Options defaults() {
            return new Options(1 << 20, 128 << 10, 2 << 20, Folio.MAX_ORDER, WritebackPool.EXECUTOR);
        }

        public Options withMaxRequestBytes(int n) { return new Options(n, readaheadInitBytes, readaheadMaxBytes, maxFolioOrder, executor, perFolioRequests, wholeFileStable); }
        public Options withReadahead(long init, long max) { return new Options(maxRequestBytes, init, max, maxFolioOrder, executor, perFolioRequests, wholeFileStable); }
        public Options withMaxFolioOrder(int o) { return new Options(maxRequestBytes, readaheadInitBytes, readaheadMaxBytes, o, executor, perFolioRequests, wholeFileStable); }
        public Options withExecutor(Executor e) { return new Options(maxRequestBytes, readaheadInitBytes, readaheadMaxBytes, maxFolioOrder, e, perFolioRequests, wholeFileStable); }
        /** Benchmark only: one write-through device request per folio (the rejected RFC v1 design) instead of per mapping. */
        public Options withPerFolioRequests(boolean b) { return new Options(maxRequestBytes, readaheadInitBytes, readaheadMaxBytes, maxFolioOrder, executor, b, wholeFileStable); }
        /**
         * Mapping-level stable writes (the RFC's first design, kept to measure against): one
         * write-through call in flight per file, and every buffered write to the file waits for it;
         * the default is per-folio stable pages (writers wait only for the folios they touch).
         */
        public Options withWholeFileStable(boolean b) { return new Options(maxRequestBytes, readaheadInitBytes, readaheadMaxBytes, maxFolioOrder, executor, perFolioRequests, b); }
    }

    /** Default writeback completion pool: created on first use, daemon threads. */
    private static final class WritebackPool {
        private static final java.util.concurrent.atomic.AtomicInteger THREADS = new java.util.concurrent.atomic.AtomicInteger();
        static final Executor EXECUTOR = java.util.concurrent.Executors.newFixedThreadPool(
                Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors())),
                r -> Thread.ofPlatform().daemon().name("foliofs-wbend-" + THREADS.incrementAndGet()).unstarted(r));
    }

    /**
     * Whether the calling thread is one the engines may need to finish I/O calls (theirs, or one
     * running a call's end or its future's callbacks): code that would block waiting for another
     * call's end must not do so here.
     */
    public static boolean onEngineThread() { return IoCall.engineThread(); }

    final PageCache pageCache;
    final BlockDevice device;
    final Options options;

    public BufferedIo(PageCache pageCache, BlockDevice device, Options options) {
        this.pageCache = Objects.requireNonNull(pageCache, "pageCache");
        this.device = Objects.requireNonNull(device, "device");
        this.options = Objects.requireNonNull(options, "options");
        if (options.maxRequestBytes() % device.logicalBlockSize() != 0) {
            throw new IllegalArgumentException("maxRequestBytes (" + options.maxRequestBytes()
                    + ") must be a multiple of the logical block size " + device.logicalBlockSize() + " of " + device.describe());
        }
    }

    public PageCache pageCache() { return pageCache; }
    public BlockDevice device() { return device; }
    public Options options() { return options; }

    /**
     * Creates the buffered state of {@code inode}: its FileCache (folios at least one file system
     * block big), writeback through {@code writebackOps} ({@code begin(WRITE|WRITEBACK)}) and
     * {@code ioEnd}. The inode's {@link IoInode#cache()} must return the result from then on.
     */
    public BufferedFile open(IoInode inode, IoMapOps writebackOps, IoEndHandler ioEnd) {
        Objects.requireNonNull(inode, "inode");
        Objects.requireNonNull(writebackOps, "writebackOps");
        Objects.requireNonNull(ioEnd, "ioEnd");
        int bs = inode.blockSize();
        if (bs < 512 || bs > 65536 || Integer.bitCount(bs) != 1 || bs % device.logicalBlockSize() != 0) {
            throw new IllegalArgumentException("block size (" + bs + ") of " + inode + " must be a power of two from 512 to 65536 "
                    + "and a multiple of the logical block size " + device.logicalBlockSize() + " of " + device.describe());
        }
        return new BufferedFile(this, inode, writebackOps, ioEnd);
    }

    // ---- read -----------------------------------------------------------------------------------

    /** Reads into {@code dst} from {@code pos}; returns the bytes read (short at the file size, 0 past it). */
    public long read(IoInode inode, IoMapOps ops, long pos, MemorySegment dst) throws IOException {
        BufferedFile file = file(inode);
        Objects.requireNonNull(ops, "ops");
        if (pos < 0) throw new IllegalArgumentException("buffered read position (" + pos + ") must not be negative");
        if (dst.isReadOnly()) throw new IllegalArgumentException("buffered read buffer is read-only");
        long size = inode.size();
        if (pos >= size || dst.byteSize() == 0) return 0;
        long end = pos + Math.min(dst.byteSize(), size - pos);
        long eofPages = BufferedFile.lastPage(0, size) + 1;
        for (long p = pos; p < end; ) {
            long n = copyCached(file, ops, p, end, dst, p - pos, eofPages);
            if (n > 0) p += n;
            else BufferedRead.fill(file, ops, p >>> Folio.PAGE_SHIFT, BufferedFile.lastPage(p, end - p) + 1, eofPages);
        }
        file.ra.noteRead(BufferedFile.lastPage(pos, end - pos));
        return end - pos;
    }

    /** Copies from the cached folio holding {@code p} if its blocks are up to date (under the folio lock); 0 on a miss. */
    private static long copyCached(BufferedFile file, IoMapOps ops, long p, long end, MemorySegment dst, long dstOff,
                                   long eofPages) {
        Folio f = file.cache.lookup(p >>> Folio.PAGE_SHIFT);
        if (f == null) return 0;
        long n = 0;
        f.lock();
        try {
            if (!f.isRemoved()) {
                long off = p - f.fileOffset();
                long len = Math.min(end - p, f.size() - off);
                if (f.isUptodate(off, len)) {
                    MemorySegment.copy(f.data(), off, dst, dstOff, len);
                    n = len;
                }
            }
        } finally {
            f.unlock();
        }
        long first = f.index(), pages = f.pages();
        f.put();
        long marker = file.ra.marker;   // racy hint (Readahead)
        if (n > 0 && marker >= first && marker < first + pages) BufferedRead.readaheadAsync(file, ops, first, pages, eofPages);
        return n;
    }

    // ---- write ----------------------------------------------------------------------------------

    /**
     * Writes {@code src} at {@code pos} into the cache; returns the bytes written (short only when
     * a failure followed progress; a failure before any progress throws). Grows the in-memory
     * size through {@link IoInode#setSizeInMemory}. No device I/O except reads of partial blocks.
     */
    public long write(IoInode inode, IoMapOps ops, long pos, MemorySegment src) throws IOException {
        BufferedFile file = file(inode);
        Objects.requireNonNull(ops, "ops");
        long len = src.byteSize();
        if (pos < 0 || pos + len < 0) throw new IllegalArgumentException("buffered write of " + len + " bytes at " + pos
                + " is outside the file offset range");
        if (len == 0) return 0;
        return new BufferedWrite(file, ops, pos, len, src, true).run();
    }

    /** Write-through flag: data durable when the call reports success (O_DSYNC / RWF_DSYNC). Same value as {@link DirectIo#DSYNC}. */
    public static final int DSYNC = DirectIo.DSYNC;
    /**
     * Write-through flag: untorn (WRITETHROUGH.md section 10). The caller has checked the size and
     * alignment limits, holds the inode lock exclusively and wrote the range back first (it is
     * clean in the cache). {@code begin(WRITE|WRITETHROUGH|ATOMIC)} must return one mapping for
     * the whole range: MAPPED in place (issued as one ATOMIC device request) or NEW|SHARED out of
     * place; {@link IoEndHandler#ioEndAtomic} finishes it in one transaction. On failure the
     * range's cached blocks are dropped (the device still holds the old data).
     */
    public static final int ATOMIC = 8;

    /**
     * Buffered write-through (WRITETHROUGH.md): copies {@code src} into the cache at {@code pos},
     * puts the folios under writeback before unlocking them and writes them to the device at
     * once, one request per mapping (or full vector), from {@code begin(WRITE | WRITETHROUGH)} of
     * {@code ops}, which must return allocated space. {@code readOps} (the read mapping) fills
     * partial edge blocks first. Returns after every request and the end-of-I/O work (the file's
     * {@link IoEndHandler}, given the user's range only) completed: the bytes written (short
     * after a short device completion), or throws the first error. {@code flags}: {@link #DSYNC}
     * (FUA for pure overwrites, else ioEnd sync and a flush). The folios stay cached, clean and
     * up to date. Lock: as {@link #write}.
     */
    public long writeThrough(IoInode inode, IoMapOps ops, IoMapOps readOps, long pos, MemorySegment src, int flags)
            throws IOException {
        return writeThrough(inode, ops, readOps, pos, src, flags, null);
    }

    /**
     * {@link #writeThrough}, running {@code afterSubmit} (may be null) on the calling thread once
     * every request is issued and before the call waits for them: a caller that needs its lock
     * only while the call copies and submits (an atomic write's exclusive inode lock) drops it
     * there, and the call still finishes on its own thread (no hand-off to the executor). Not run
     * when the call fails before it starts; the caller must then drop its lock itself.
     */
    public long writeThrough(IoInode inode, IoMapOps ops, IoMapOps readOps, long pos, MemorySegment src, int flags,
                             Runnable afterSubmit) throws IOException {
        WriteThrough w = startWriteThrough(inode, ops, readOps, pos, src, flags, false, null, afterSubmit, null);
        return w == null ? 0 : w.awaitSync();
    }

    /**
     * Asynchronous {@link #writeThrough}: copies and issues on the calling thread (which holds the
     * inode lock meanwhile, as for a synchronous call), then returns; the future completes on the
     * executor after the end-of-I/O work (and the DSYNC sync), never on the calling thread. Errors
     * in the arguments are thrown; every later failure completes the future exceptionally.
     * {@code onDone} (may be null) runs once, just before the future completes (the caller's
     * in-flight accounting).
     */
    public CompletableFuture<Long> writeThroughAsync(IoInode inode, IoMapOps ops, IoMapOps readOps, long pos, MemorySegment src,
                                                     int flags, Runnable onDone) {
        return writeThroughAsync(inode, ops, readOps, pos, src, flags, onDone, null);
    }

    /**
     * {@link #writeThroughAsync(IoInode, IoMapOps, IoMapOps, long, MemorySegment, int, Runnable)}
     * for a caller that waits for the future on this thread: with {@code waiter} (created on this
     * thread, then awaited) the call's last step after a journal commit runs on this thread
     * instead of the end-of-I/O executor ({@link CallerRuns}); null: as the other overload.
     */
    public CompletableFuture<Long> writeThroughAsync(IoInode inode, IoMapOps ops, IoMapOps readOps, long pos, MemorySegment src,
                                                     int flags, Runnable onDone, CallerRuns waiter) {
        WriteThrough w = startWriteThrough(inode, ops, readOps, pos, src, flags, true, onDone, null, waiter);
        if (w != null) return w.future();
        if (onDone != null) onDone.run();
        return CompletableFuture.completedFuture(0L);
    }

    private WriteThrough startWriteThrough(IoInode inode, IoMapOps ops, IoMapOps readOps, long pos, MemorySegment src, int flags,
                                           boolean async, Runnable onDone, Runnable afterSubmit, CallerRuns waiter) {
        BufferedFile file = file(inode);
        Objects.requireNonNull(ops, "ops");
        Objects.requireNonNull(readOps, "readOps");
        long len = src.byteSize();
        if ((flags & ~(DSYNC | ATOMIC)) != 0) {
            throw new IllegalArgumentException("write-through flags (0x" + Integer.toHexString(flags)
                    + ") has unknown bits; allowed are DSYNC and ATOMIC");
        }
        if ((flags & ATOMIC) != 0 && len > options.maxRequestBytes()) {
            throw new IllegalArgumentException("atomic write-through of " + len + " bytes exceeds the largest request ("
                    + options.maxRequestBytes() + " bytes)");
        }
        if (pos < 0 || pos + len < 0) throw new IllegalArgumentException("write-through of " + len + " bytes at " + pos
                + " is outside the file offset range");
        if (len == 0) return null;
        WriteThrough w = new WriteThrough(file, ops, pos, src, flags, async, onDone);
        w.restExecutor = waiter;
        if (afterSubmit != null) w.afterSubmit(afterSubmit);
        w.run(readOps);
        return w;
    }

    /** Zeroes [pos, pos + len) through the cache (MAPPED and DELALLOC ranges; holes stay holes). The size is not changed. */
    public void zeroRange(IoInode inode, IoMapOps ops, long pos, long len) throws IOException {
        BufferedFile file = file(inode);
        if (pos < 0 || len < 0 || pos + len < 0) throw new IllegalArgumentException("zero range [" + pos + ", +" + len + ") is invalid");
        if (len == 0) return;
        BufferedWrite w = new BufferedWrite(file, ops, pos, len, null, false);
        long n = w.run();
        if (n < len) throw new IOException("zeroing [" + pos + ", +" + len + ") stopped after " + n + " bytes", w.error());
    }

    // ---- fsync, truncate --------------------------------------------------------------------------

    /**
     * Writes back the dirty data of [pos, pos + len), waits for the writeback (and its end-of-I/O
     * conversion) of every folio in the range, calls {@link IoEndHandler#sync} (the file system
     * commits what the data needs; {@code dataOnly} is passed on nowhere yet: the file system's
     * sync decides) and flushes a volatile device cache; then reports through {@code cursor} a
     * writeback error recorded since the handle last looked, once per handle.
     */
    public void fsync(IoInode inode, long pos, long len, boolean dataOnly, ErrSeq.Cursor cursor) throws IOException {
        BufferedFile file = file(inode);
        Objects.requireNonNull(cursor, "cursor");
        if (pos < 0 || len < 0) throw new IllegalArgumentException("fsync range [" + pos + ", +" + len + ") must not be negative");
        if (len > 0) file.writeAndWaitRange(pos, Math.min(len, Long.MAX_VALUE - pos));
        boolean flushed = file.ioEnd.sync(inode, pos, len);
        if (!flushed && device.volatileWriteCache()) device.flush();
        cursor.checkOrThrow((dataOnly ? "fdatasync" : "fsync") + " of [" + pos + ", +" + len + ") of " + inode);
    }

    /**
     * Prepares a size change to {@code newSize} (the caller then sets the size and frees blocks
     * past it): shrinking zeroes the tail of the new last block through the cache (dirty, so the
     * device gets the zeros if the block is mapped), drops the folios past it (waiting for their
     * writeback) and zeroes and cleans the rest of a folio straddling it; growing zeroes the tail of
     * the old last block. The caller holds the inode lock exclusively.
     */
    public void truncate(IoInode inode, IoMapOps ops, long newSize) throws IOException {
        BufferedFile file = file(inode);
        if (newSize < 0) throw new IllegalArgumentException("new size (" + newSize + ") must not be negative");
        long old = inode.size(), bs = file.blockSize;
        long edge = newSize < old ? newSize : old;   // the block straddling this offset keeps data before it only
        long blockEnd = (edge + bs - 1) / bs * bs;
        if (blockEnd != edge) zeroRange(inode, ops, edge, Math.min(blockEnd, Math.max(newSize, old)) - edge);
        if (newSize >= old) return;
        file.cache.truncate((blockEnd + Folio.PAGE_SIZE - 1) >>> Folio.PAGE_SHIFT);
        Folio f = file.cache.lookup(blockEnd >>> Folio.PAGE_SHIFT);
        if (f == null) return;
        f.lock();
        try {
            long off = blockEnd - f.fileOffset();
            if (!f.isRemoved() && off > 0 && off < f.size()) {   // straddles: blocks wholly past the size become clean zeros
                f.waitWriteback();
                f.clearDirty(off, f.size() - off);
                f.data().asSlice(off, f.size() - off).fill((byte) 0);
                f.markUptodate(off, f.size() - off);
            }
        } finally {
            f.unlock();
            f.put();
        }
    }

    // ---- seek ---------------------------------------------------------------------------------------

    /** lseek SEEK_DATA, counting cached up-to-date (or dirty) data over HOLE and UNWRITTEN as data; {@link IoMapReport#NOT_FOUND} past the size. */
    public long seekData(IoInode inode, IoMapOps ops, long pos) throws IOException {
        return BufferedRead.seek(file(inode), ops, pos, true);
    }

    /** lseek SEEK_HOLE, counting cached up-to-date data over HOLE and UNWRITTEN as data; the size when data runs to the end. */
    public long seekHole(IoInode inode, IoMapOps ops, long pos) throws IOException {
        return BufferedRead.seek(file(inode), ops, pos, false);
    }

    // ---- helpers --------------------------------------------------------------------------------------

    /** Folio order for {@code pages} pages from {@code idx}: as large as they fill, the index alignment and maxFolioOrder allow, at least the file's minimum. */
    static int orderFor(BufferedFile file, long idx, long pages) {
        int o = 63 - Long.numberOfLeadingZeros(Math.max(1, pages));
        o = Math.min(o, Long.numberOfTrailingZeros(idx | (1L << Folio.MAX_ORDER)));
        return Math.max(Math.min(o, file.engine.options.maxFolioOrder()), file.minOrder);
    }

    BufferedFile file(IoInode inode) {
        Objects.requireNonNull(inode, "inode");
        if (inode.cache() instanceof BufferedFile f && f.engine == this) return f;
        throw new IllegalArgumentException(inode + " is not open in this BufferedIo: its cache() is " + inode.cache()
                + " (open it with BufferedIo.open and return the BufferedFile from cache())");
    }

    @Override
    public String toString() {
        return "BufferedIo[" + device.describe() + ", maxRequestBytes=" + options.maxRequestBytes() + "]";
    }
}
