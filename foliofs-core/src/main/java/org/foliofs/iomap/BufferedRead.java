package org.foliofs.iomap;

import java.io.IOException;
import org.foliofs.pagecache.Folio;

/**
 * The miss side of buffered reads and the cache-aware seek: synchronous fills with read-ahead,
 * asynchronous read-ahead at the marker, and SEEK_DATA/SEEK_HOLE that look into the cache over
 * HOLE and UNWRITTEN extents (Linux's mapping_seek_hole_data). Stateless; the state is in
 * {@link BufferedFile} ({@link Readahead}).
 */
final class BufferedRead {
    private BufferedRead() {}

    /**
     * Makes the pages [idx, needEnd) up to date, reading ahead as {@link Readahead#onMiss} says:
     * creates (or locks existing) folios in ascending order, large ones for large windows, reads
     * every missing block in one batch and waits. Read-ahead stops at the first cached folio past
     * the needed range.
     */
    static void fill(BufferedFile file, IoMapOps ops, long idx, long needEnd, long eofPages) throws IOException {
        long raEnd = Math.max(needEnd, file.ra.onMiss(idx, needEnd, eofPages));
        ReadBatch b = new ReadBatch(file, false);
        try {
            collect(file, b, idx, needEnd, raEnd);
        } catch (RuntimeException | Error e) {
            b.abandon();
            throw e;
        }
        b.submit(ops);
        b.await();
    }

    /** The reader hit the read-ahead marker in folio [first, first + pages): read the next window without waiting. */
    static void readaheadAsync(BufferedFile file, IoMapOps ops, long first, long pages, long eofPages) {
        long[] size = new long[1];   // once per window: not a hot-path allocation
        long start = file.ra.onMarkerHit(first, pages, eofPages, size);
        if (start < 0) return;
        ReadBatch b = new ReadBatch(file, true);
        try {
            collect(file, b, start, start, start + size[0]);
        } catch (RuntimeException e) {
            b.abandon();   // read-ahead is a hint (e.g. the cache is full): a later miss reads synchronously
            return;
        }
        try {
            b.submit(ops);
        } catch (IOException | RuntimeException e) {
            // Dropped on purpose, as Linux drops read-ahead errors: the folios stay not up to date
            // and the read that needs them reads them again and reports the error.
        }
    }

    private static void collect(BufferedFile file, ReadBatch b, long idx, long needEnd, long raEnd) {
        long i = idx;
        while (i < raEnd) {
            if (i >= needEnd) {   // read-ahead part: stop at cached data, never wait for a lock there
                Folio g = file.cache.lookup(i);
                if (g != null) {
                    g.put();
                    return;
                }
            }
            Folio f = file.cache.getOrCreate(i, BufferedIo.orderFor(file, i, raEnd - i));
            i = f.index() + f.pages();
            if (f.isFullyUptodate()) {
                f.unlock();
                f.put();
            } else {
                b.add(f);
            }
        }
    }

    // ---- seek -----------------------------------------------------------------------------------

    static long seek(BufferedFile file, IoMapOps ops, long pos, boolean data) throws IOException {
        if (pos < 0) throw new IllegalArgumentException((data ? "seekData" : "seekHole") + " position (" + pos + ") must not be negative");
        IoInode inode = file.inode;
        long size = inode.size();
        if (pos >= size) return IoMapReport.NOT_FOUND;
        long[] found = {IoMapReport.NOT_FOUND};
        new IoMapIter(inode, pos, size - pos, IoMapOps.REPORT).run(ops, it -> {
            IoMap.Type t = it.map().type();
            long p = it.pos(), end = p + it.length();
            long hit;
            if (t == IoMap.Type.MAPPED || t == IoMap.Type.DELALLOC) hit = data ? p : -1;
            else hit = data ? cachedData(file, p, end, t == IoMap.Type.HOLE) : cachedHole(file, p, end, t == IoMap.Type.HOLE);
            if (hit >= 0) {
                found[0] = hit;
                return 0;
            }
            return it.length();
        });
        if (found[0] == IoMapReport.NOT_FOUND && !data) return size;
        return Math.min(found[0], size);
    }

    /**
     * First position in [p, end) holding cached data, or -1: dirty blocks over a HOLE (a file
     * system that reserves buffered writes as holes), up-to-date blocks over UNWRITTEN (Linux's
     * rule: clean up-to-date blocks over a hole can only be zeros read from it). Racy peeks without
     * folio locks: lseek is a snapshot anyway.
     */
    private static long cachedData(BufferedFile file, long p, long end, boolean dirtyOnly) {
        while (p < end) {
            long i = file.cache.nextCachedIndex(p >>> Folio.PAGE_SHIFT);
            if (i < 0 || (i << Folio.PAGE_SHIFT) >= end) return -1;
            Folio f = file.cache.lookup(i);
            if (f == null) {
                p = Math.max(p, (i + 1) << Folio.PAGE_SHIFT);
                continue;
            }
            long fo = f.fileOffset(), fend = fo + f.size();
            long from = Math.max(p, fo) - fo;
            long u = f.isRemoved() ? -1 : dirtyOnly ? f.nextDirtyRange(from) : f.nextUptodateRange(from);
            f.put();
            if (u >= 0) {
                long s = Math.max(p, fo + Folio.rangeStart(u));
                return s < end ? s : -1;
            }
            p = fend;
        }
        return -1;
    }

    /** First position in [p, end) not covered by cached data (as {@link #cachedData} counts it), or -1. */
    private static long cachedHole(BufferedFile file, long p, long end, boolean dirtyOnly) {
        while (p < end) {
            Folio f = file.cache.lookup(p >>> Folio.PAGE_SHIFT);
            if (f == null) return p;
            long fo = f.fileOffset();
            long u = f.isRemoved() ? -1 : dirtyOnly ? f.nextDirtyRange(p - fo) : f.nextUptodateRange(p - fo);
            f.put();
            if (u < 0 || fo + Folio.rangeStart(u) > p) return p;
            p = fo + Folio.rangeStart(u) + Folio.rangeLength(u);
        }
        return -1;
    }
}
