package org.foliofs.iomap;

import java.io.IOException;
import org.foliofs.pagecache.FileCache;
import org.foliofs.pagecache.Folio;
import org.foliofs.pagecache.WritebackTarget;

/**
 * The buffered-I/O state of one open inode (Linux's address_space plus its error sequence and
 * read-ahead state): its {@link FileCache}, {@link ErrSeq} and read-ahead window, and the file
 * system's writeback ops and end-of-I/O handler. Made by {@link BufferedIo#open}; the inode's
 * {@link IoInode#cache()} must return it, which is how {@link BufferedIo} and {@link DirectIo}
 * find it.
 *
 * <p>It is the page cache's {@link WritebackTarget} for its FileCache (background writeback) and
 * the {@link CacheRangeSync} direct I/O uses: {@link #writeAndWait} writes back and waits for the
 * dirty folios of a range (an I/O error there throws, without consuming any handle's error);
 * {@link #invalidate} removes the range's folios after their writeback (a folio dirtied again
 * meanwhile is written back first). {@link #discard} drops a range's cached data without writing
 * it back (for ranges whose blocks the file system removes). Thread-safe.
 */
public final class BufferedFile implements CacheRangeSync, WritebackTarget {
    final BufferedIo engine;
    final IoInode inode;
    final IoMapOps writebackOps;
    final IoEndHandler ioEnd;
    final FileCache cache;
    final ErrSeq errors = new ErrSeq();
    /** Mapping-level stable writes only ({@link BufferedIo.Options#wholeFileStable}): held by the write-through call in flight. */
    final java.util.concurrent.Semaphore stableGate = new java.util.concurrent.Semaphore(1);
    final Readahead ra;
    final int blockSize;
    final int minOrder;
    private volatile long writebackIndex;   // page where the last background pass stopped

    BufferedFile(BufferedIo engine, IoInode inode, IoMapOps writebackOps, IoEndHandler ioEnd) {
        this.engine = engine;
        this.inode = inode;
        this.writebackOps = writebackOps;
        this.ioEnd = ioEnd;
        this.blockSize = inode.blockSize();
        this.minOrder = Math.max(0, Integer.numberOfTrailingZeros(blockSize) - Folio.PAGE_SHIFT);
        this.cache = engine.pageCache.newFileCache(blockSize, minOrder, this);
        this.ra = new Readahead(engine.options.readaheadInitBytes() >>> Folio.PAGE_SHIFT,
                engine.options.readaheadMaxBytes() >>> Folio.PAGE_SHIFT);
    }

    public FileCache cache() { return cache; }
    /** Writeback errors of this file; each open handle takes a {@link ErrSeq#cursor()}. */
    public ErrSeq errSeq() { return errors; }
    public IoInode inode() { return inode; }

    // ---- WritebackTarget (page cache workers) ----------------------------------------------------

    /**
     * Background writeback of about {@code maxBytes}: cyclic like Linux's range_cyclic, from where
     * the previous call stopped to the end, then from 0, so a bounded call does not keep writing the
     * start of the file while its end ages. ({@code writebackIndex} is a plain volatile: two
     * workers on one file may start at the same place; either way every dirty folio is reached.)
     */
    @Override
    public long writeback(FileCache fc, long maxBytes) {
        if (fc != cache) throw new IllegalArgumentException(fc + " is not the cache of " + this);
        long from = writebackIndex;
        WritebackPass pass = new WritebackPass(this, false);
        long started = pass.run(from, Long.MAX_VALUE, maxBytes);
        if (started < maxBytes && from > 0) started += pass.run(0, from, maxBytes - started);
        writebackIndex = pass.stoppedAt();
        return started;
    }

    // ---- CacheRangeSync (direct I/O) ----------------------------------------------------------

    @Override
    public void writeAndWait(long pos, long len) throws IOException {
        if (len <= 0) return;
        long sample = errors.sample();
        writeAndWaitRange(pos, len);
        if (errors.changedSince(sample)) {
            throw new IOException("writeback of [" + pos + ", +" + len + ") before direct I/O failed with "
                    + org.foliofs.device.Errno.name(errors.lastErrno()));
        }
    }

    /** Integrity writeback of the folios overlapping [pos, pos + len), then waits for their writeback. */
    void writeAndWaitRange(long pos, long len) {
        long first = pos >>> Folio.PAGE_SHIFT;
        long end = lastPage(pos, len) + 1;
        new WritebackPass(this, true).run(first, end, Long.MAX_VALUE);
        waitWriteback(first, end);
    }

    /** Waits until no folio with pages in [first, end) is under writeback. */
    void waitWriteback(long first, long end) {
        long idx = first;
        while (true) {
            long i = cache.nextTagged(FileCache.Tag.WRITEBACK, idx);
            if (i < 0 || i >= end) return;
            Folio f = cache.lookup(i);
            if (f == null) {
                idx = Math.max(idx, i + 1);
                continue;
            }
            f.waitWriteback();
            idx = Math.max(idx, f.index() + f.pages());
            f.put();
        }
    }

    @Override
    public void invalidate(long pos, long len) throws IOException {
        if (len <= 0) return;
        long idx = pos >>> Folio.PAGE_SHIFT, end = lastPage(pos, len) + 1;
        long sample = errors.sample();
        int rewrites = 0;
        for (Folio f; (f = lockNextCached(idx, end)) != null; ) {
            long next = f.index() + f.pages();
            try {
                f.waitWriteback();
                if (f.isDirty()) {
                    // Dirtied again after the caller's writeAndWait (a concurrent buffered write):
                    // write it back and retry, so neither its data nor stale clean blocks survive.
                    // Still dirty after three writebacks: either concurrent buffered writers keep
                    // re-dirtying it (their data is newer than the direct write's and may win: skip
                    // it), or its writeback keeps failing: then it holds data older than the direct
                    // write that a later retry would write over it, and it cannot be dropped either,
                    // so the direct write fails.
                    if (++rewrites > 3) {
                        if (!errors.changedSince(sample)) {
                            idx = Math.max(idx, next);
                            rewrites = 0;
                            continue;
                        }
                        throw new IOException("direct I/O over [" + pos + ", +" + len + ") of " + inode + ": cached folio at "
                                + f.fileOffset() + " stays dirty after " + (rewrites - 1) + " writebacks (last error "
                                + org.foliofs.device.Errno.name(errors.lastErrno()) + "); it can neither be dropped nor written");
                    }
                    f.unlock();
                    try {
                        writeAndWaitRange(f.fileOffset(), f.size());
                    } finally {
                        f.lock();
                    }
                    continue;   // re-examine the same folio
                }
                cache.remove(f);
                idx = Math.max(idx, next);
                rewrites = 0;
            } finally {
                f.unlock();
                f.put();
            }
        }
    }

    /**
     * Drops the cached data of [pos, pos + len) without writing it back (Linux's
     * truncate_pagecache_range): for a range whose blocks the caller is about to remove (punch
     * hole, zero range, the removed part of a collapse), where writing dirty data back would only
     * put bytes on the device that are freed next. {@code pos} and {@code len} must be multiples of
     * the block size (partial edge blocks are the caller's: zero them through the cache); {@code len}
     * may run to {@code Long.MAX_VALUE - pos}. A folio wholly inside is removed, its dirty blocks
     * discarded; a folio straddling an edge keeps its blocks outside the range (dirty ones stay
     * dirty) and its blocks inside become clean zeros, up to date (what the removed blocks read as).
     * Waits for writeback in flight (its end-of-I/O conversion included) first. The caller holds
     * the inode lock exclusively (no writer can dirty the range meanwhile) and then releases the
     * range's delayed-allocation reservations and unmaps its blocks.
     */
    public void discard(long pos, long len) {
        if (len <= 0) return;
        if (pos < 0 || pos % blockSize != 0 || (len % blockSize != 0 && pos + len != Long.MAX_VALUE)) {
            throw new IllegalArgumentException("discard of [" + pos + ", +" + len + ") of " + inode + " must be aligned to the block size "
                    + blockSize);
        }
        long end = pos + len < 0 ? Long.MAX_VALUE : pos + len;
        long idx = pos >>> Folio.PAGE_SHIFT, endIdx = lastPage(pos, len) + 1;
        for (Folio f; (f = lockNextCached(idx, endIdx)) != null; ) {
            long next = f.index() + f.pages();
            try {
                f.waitWriteback();          // cannot restart: starting writeback needs the lock we hold
                long fo = f.fileOffset();
                long a = Math.max(pos, fo) - fo, b = Math.min(end - fo, f.size());
                if (a == 0 && b == f.size()) {
                    f.clearDirty(0, f.size());
                    cache.remove(f);
                } else if (a < b) {
                    f.clearDirty(a, b - a);
                    f.data().asSlice(a, b - a).fill((byte) 0);
                    f.markUptodate(a, b - a);
                }
            } finally {
                f.unlock();
                f.put();
            }
            idx = Math.max(idx, next);
        }
    }

    /**
     * The walk of {@link #invalidate} and {@link #discard}: the first cached folio with pages in
     * [idx, end), locked and not removed (the caller unlocks and puts it), or null when none is left.
     */
    private Folio lockNextCached(long idx, long end) {
        while (idx < end) {
            long i = cache.nextCachedIndex(idx);
            if (i < 0 || i >= end) return null;
            Folio f = cache.lookup(i);
            if (f == null) {
                idx = Math.max(idx, i + 1);
                continue;
            }
            f.lock();
            if (!f.isRemoved()) return f;
            idx = Math.max(idx, f.index() + f.pages());
            f.unlock();
            f.put();
        }
        return null;
    }

    static long lastPage(long pos, long len) {
        long last = pos + len - 1;
        return (last < 0 ? Long.MAX_VALUE : last) >>> Folio.PAGE_SHIFT;
    }

    @Override
    public String toString() { return "BufferedFile[" + inode + ", blockSize=" + blockSize + "]"; }
}
