package org.foliofs.iomap;

import java.io.IOException;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.pagecache.FileCache;
import org.foliofs.pagecache.Folio;

/**
 * One walk over a file's DIRTY-tagged folios (Linux's iomap_writepages with its writepage
 * context): for each folio, lock it, note its dirty block runs, clear them, start writeback,
 * unlock; then map the runs with {@code begin(WRITE | WRITEBACK)} (reusing the last mapping while
 * it covers them, {@link MapCursor}) and append them to the current {@link WritebackIoEnd} while
 * they continue it in the file and on the device within the same mapping, up to maxRequestBytes
 * and {@value ReadBatch#MAX_SEGMENTS} segments; otherwise the current one is submitted and a new
 * one started.
 *
 * <p>Background passes ({@code integrity == false}) never block on a folio: they tryLock and skip
 * folios under writeback. Integrity passes (fsync, direct I/O coherence) lock and wait for
 * writeback, but first submit the request they are building, so they never block while holding
 * folios under writeback that nobody will submit (no deadlock between passes or with writers,
 * who hold one folio lock while they wait for its writeback).
 *
 * <p>No dirty block lies wholly past the end of file (writes grow the size before they unlock the
 * folio; truncate cleans the blocks past the new size after waiting for their writeback), so,
 * unlike Linux's iomap_writepage_handle_eof, runs are not clipped here; {@link WritebackIoEnd}
 * clips the end-of-I/O range to the size instead.
 *
 * <p>A mapping failure (begin throws, or answers HOLE/DELALLOC) fails the folio's remaining runs:
 * errno into the file's {@link ErrSeq}, blocks re-dirtied, writeback ended; the pass stops.
 * One pass, one thread.
 */
final class WritebackPass {
    private static final System.Logger LOG = System.getLogger("org.foliofs.iomap");

    private final BufferedFile file;
    private final boolean integrity;
    private final int maxRequest;
    private WritebackIoEnd cur;
    private long[] runs = new long[8];
    private long stoppedAt;   // page after the last folio the pass looked at

    WritebackPass(BufferedFile file, boolean integrity) {
        this.file = file;
        this.integrity = integrity;
        this.maxRequest = file.engine.options.maxRequestBytes();
    }

    /** Starts writeback of dirty folios with pages in {@code [from, to)}, up to about {@code maxBytes}; returns the bytes started. */
    long run(long from, long to, long maxBytes) {
        FileCache fc = file.cache;
        long started = 0, idx = from;
        MapCursor mc = new MapCursor(file.inode, file.writebackOps, IoMapOps.WRITE | IoMapOps.WRITEBACK);
        try {
            while (started < maxBytes) {
                long i = fc.nextTagged(FileCache.Tag.DIRTY, idx);
                if (i < 0 || i >= to) break;
                Folio f = fc.lookup(i);
                if (f == null) {
                    idx = Math.max(idx, i + 1);
                    continue;
                }
                idx = Math.max(idx, f.index() + f.pages());
                if (!lock(f)) {
                    f.put();
                    continue;
                }
                int n = takeDirtyRuns(f);
                if (n == 0) {
                    f.put();
                    continue;
                }
                started += f.size();
                WritebackIoEnd.Held h = new WritebackIoEnd.Held(f);   // takes over our reference
                try {
                    for (int r = 0; r < n; r++) {
                        try {
                            addRun(mc, h, Folio.rangeStart(runs[r]), Folio.rangeLength(runs[r]));
                        } catch (IOException | RuntimeException e) {
                            failRuns(h, r + 1, n, e);
                            stoppedAt = idx;
                            return started;
                        }
                    }
                } finally {
                    h.release();
                }
            }
        } finally {
            submit();
            try {
                mc.close();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "end() of a writeback mapping failed", e);
            }
        }
        stoppedAt = idx;
        // A folio whose requests all completed before this pass let go of it ended writeback
        // here, not in a completion: tell the handler too.
        if (started > 0) {
            try {
                file.ioEnd.writebackDone(file.inode);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "writebackDone of " + file.inode + " failed", e);
            }
        }
        return started;
    }

    /** The page after the last folio the last {@link #run} looked at (where a cyclic pass resumes). */
    long stoppedAt() { return stoppedAt; }

    /** Locks {@code f} for writeback; false to skip it (unlocked). Integrity passes submit before they block. */
    private boolean lock(Folio f) {
        if (!f.tryLock()) {
            if (!integrity) return false;
            submit();
            f.lock();
        }
        if (f.isRemoved() || !f.isDirty()) {
            f.unlock();
            return false;
        }
        if (f.isWriteback()) {
            if (!integrity) {
                f.unlock();
                return false;
            }
            submit();
            f.waitWriteback();   // its completion needs no folio lock (re-dirtying is allowed under WRITEBACK)
        }
        return true;
    }

    /** Notes the dirty runs of locked {@code f}, cleans them, starts writeback and unlocks; returns the run count. */
    private int takeDirtyRuns(Folio f) {
        int n = 0;
        for (long r = f.nextDirtyRange(0); r >= 0; r = f.nextDirtyRange(Folio.rangeStart(r) + Folio.rangeLength(r))) {
            if (n == runs.length) runs = java.util.Arrays.copyOf(runs, n * 2);
            runs[n++] = r;
        }
        if (n == 0) {   // DIRTY without dirty blocks cannot happen (Folio keeps them in step); be safe
            f.unlock();
            return 0;
        }
        f.startWriteback();          // before clearDirty (the page cache's rule: no dip in dirty + writeback)
        f.clearDirty(0, f.size());
        f.unlock();
        return n;
    }

    private void addRun(MapCursor mc, WritebackIoEnd.Held h, long off, long len) throws IOException {
        long base = h.folio.fileOffset();
        try {
            while (len > 0) {
                long p = base + off;
                IoMap m = mc.at(p, len);
                if (m.type() != IoMap.Type.MAPPED && m.type() != IoMap.Type.UNWRITTEN) {
                    throw new IOException("writeback of " + len + " bytes at " + p + ": begin(WRITE|WRITEBACK) returned " + m
                            + "; it must allocate (MAPPED or UNWRITTEN)");
                }
                long n = Math.min(len, m.end() - p);
                mc.used(p + n);
                append(h, m, p, off, n);
                off += n;
                len -= n;
            }
        } catch (IOException | RuntimeException e) {
            h.folio.markDirty(off, len);   // the part not handed to a request stays dirty
            throw e;
        }
    }

    private void append(WritebackIoEnd.Held h, IoMap m, long p, long off, long n) {
        while (n > 0) {
            WritebackIoEnd c = cur;
            if (c == null || c.map != m || c.fileEnd() != p || c.length() >= maxRequest || c.segments() >= ReadBatch.MAX_SEGMENTS) {
                submit();
                c = cur = new WritebackIoEnd(file, m, p);
            }
            long k = Math.min(n, maxRequest - c.length());
            h.incrementAndGet();
            c.add(h, off, k);
            p += k;
            off += k;
            n -= k;
        }
    }

    private void submit() {
        WritebackIoEnd c = cur;
        if (c != null) {
            cur = null;
            c.submit();
        }
    }

    private void failRuns(WritebackIoEnd.Held h, int fromRun, int n, Exception e) {
        int errno = e instanceof DeviceException d ? d.errno() : Errno.EIO;
        for (int r = fromRun; r < n; r++) h.folio.markDirty(Folio.rangeStart(runs[r]), Folio.rangeLength(runs[r]));
        file.errors.record(errno);
        LOG.log(System.Logger.Level.ERROR, "writeback of " + h.folio + " failed; its data stays dirty", e);
    }
}
