package org.foliofs.iomap;

import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;
import org.foliofs.device.Errno;
import org.foliofs.device.IoCompletion;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;
import org.foliofs.pagecache.Folio;

/**
 * One read fill (Linux's iomap_readahead / read_folio with its bio): locked folios whose missing
 * blocks are read from the device. The caller {@link #add}s folios (locked, referenced, in
 * ascending file order), then {@link #submit} maps every gap of up-to-date blocks: blocks past
 * the end of file and HOLE, UNWRITTEN and DELALLOC ranges are zeroed and marked up to date at
 * once; MAPPED ranges are gathered into device READs, one per run contiguous in the file and on
 * the device, up to maxRequestBytes (and {@value #MAX_SEGMENTS} segments).
 *
 * <p>Completion: a request's blocks are marked up to date only if it transferred everything; a
 * failed or short request leaves them not up to date (a later read retries and reports the
 * error). When the last request is done the folios are unlocked and put: a synchronous fill
 * ({@link #await}) does that on the caller, which then throws the first error; an asynchronous
 * read-ahead on the device's completion thread (marking bits, unlock and put take only leaf
 * locks, so they are fine there) and drops errors.
 */
final class ReadBatch implements IoCompletion {
    static final int MAX_SEGMENTS = 1024;

    private final BufferedFile file;
    private final BlockDevice dev;
    private final boolean async;
    private final long eofBlockEnd;   // file size rounded up to the block: blocks from here are zeros
    private Folio[] folios = new Folio[8];
    private int folioCount;
    // Segments of the device requests, in order; request r owns segments [reqFirst[r], reqFirst[r + 1]).
    private Folio[] segFolio = new Folio[8];
    private long[] segOff = new long[8], segLen = new long[8];
    private int segCount;
    private IoRequest[] reqs = new IoRequest[2];
    private int[] reqFirst = new int[3];
    private int reqCount;
    private IoRequest cur;            // request being built
    private long curDevEnd, curFileEnd;
    // Requests in flight + 1 for the builder (asynchronous batches only).
    private final AtomicInteger pending = new AtomicInteger(1);

    ReadBatch(BufferedFile file, boolean async) {
        this.file = file;
        this.dev = file.engine.device;
        this.async = async;
        long size = file.inode.size();
        long bs = file.blockSize;
        this.eofBlockEnd = (size + bs - 1) / bs * bs;
    }

    /** Releases the folios of a batch that was never submitted (unlocked, put, not up to date). */
    void abandon() { releaseAll(); }

    void add(Folio f) {
        if (folioCount == folios.length) folios = Arrays.copyOf(folios, folioCount * 2);
        folios[folioCount++] = f;
    }

    /** Maps the gaps of every folio and issues the device reads. On an exception every folio is released. */
    void submit(IoMapOps ops) throws IOException {
        try (MapCursor cursor = new MapCursor(file.inode, ops, 0)) {
            for (int i = 0; i < folioCount; i++) {
                Folio f = folios[i];
                long off = 0, size = f.size();
                while (off < size) {
                    long u = f.nextUptodateRange(off);
                    long gapEnd = u < 0 ? size : Folio.rangeStart(u);
                    if (gapEnd > off) fillGap(cursor, f, off, gapEnd - off);
                    if (u < 0) break;
                    off = Folio.rangeStart(u) + Folio.rangeLength(u);
                }
            }
            closeRequest();
        } catch (IOException | RuntimeException | Error e) {
            try {
                closeRequest();   // what was built goes out too: simpler than unwinding it; released below
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
            if (!async) {
                awaitAll();
                releaseAll();
            } else {
                done();
            }
            throw e;
        }
        if (async) done();
    }

    private void fillGap(MapCursor cursor, Folio f, long off, long len) throws IOException {
        long base = f.fileOffset();
        while (len > 0) {
            long p = base + off;
            if (p >= eofBlockEnd) {       // wholly past the end of file: zeros, no I/O
                zero(f, off, len);
                return;
            }
            long n = Math.min(len, eofBlockEnd - p);
            IoMap m = cursor.at(p, n);
            n = Math.min(n, m.end() - p);
            cursor.used(p + n);
            if (m.type() == IoMap.Type.MAPPED) {
                addSegment(f, off, n, m.deviceAddressOf(p), p);
            } else {
                zero(f, off, n);
            }
            off += n;
            len -= n;
        }
    }

    private static void zero(Folio f, long off, long len) {
        f.data().asSlice(off, len).fill((byte) 0);
        f.markUptodate(off, len);
    }

    private void addSegment(Folio f, long off, long len, long devAddr, long filePos) {
        int max = file.engine.options.maxRequestBytes();
        while (len > 0) {
            if (cur == null || curDevEnd != devAddr || curFileEnd != filePos || cur.length() >= max
                    || segCount - reqFirst[reqCount] >= MAX_SEGMENTS) {
                closeRequest();
                cur = new IoRequest().prepare(IoOp.READ, devAddr, 0, async ? this : null);
            }
            long n = Math.min(len, max - cur.length());
            cur.add(f.data().asSlice(off, n));
            if (segCount == segFolio.length) {
                segFolio = Arrays.copyOf(segFolio, segCount * 2);
                segOff = Arrays.copyOf(segOff, segCount * 2);
                segLen = Arrays.copyOf(segLen, segCount * 2);
            }
            segFolio[segCount] = f;
            segOff[segCount] = off;
            segLen[segCount++] = n;
            curDevEnd = devAddr + n;
            curFileEnd = filePos + n;
            off += n;
            devAddr += n;
            filePos += n;
            len -= n;
        }
    }

    /** Submits the request being built (if any); its segments end at segCount. */
    private void closeRequest() {
        IoRequest r = cur;
        if (r == null) return;
        cur = null;
        if (reqCount == reqs.length) {
            reqs = Arrays.copyOf(reqs, reqCount * 2);
            reqFirst = Arrays.copyOf(reqFirst, reqCount * 2 + 1);
        }
        reqs[reqCount] = r;
        reqFirst[reqCount + 1] = segCount;
        reqCount++;
        if (async) pending.incrementAndGet();
        try {
            dev.submit(r);
        } catch (RuntimeException e) {   // validation: never queued
            reqCount--;
            segCount = reqFirst[reqCount];
            if (async) pending.decrementAndGet();
            throw e;
        }
    }

    @Override
    public void complete(IoRequest r, long result) {
        // Device completion thread: the bitmaps are atomic and unlock/put take leaf locks only.
        if (pending.decrementAndGet() == 0) releaseAll();
    }

    private void done() {
        if (pending.decrementAndGet() == 0) releaseAll();
    }

    /** Synchronous fill: waits for every request, marks, unlocks and puts, then throws the first error. */
    void await() throws DeviceException {
        awaitAll();
        releaseAll();
        for (int i = 0; i < reqCount; i++) {
            IoRequest r = reqs[i];
            if (r.result() < 0) throw r.error();
            if (r.result() < r.length()) {
                throw new DeviceException("buffered read (completed " + r.result() + " bytes)", dev.describe(), r.offset(),
                        r.length(), Errno.EIO);
            }
        }
    }

    private void awaitAll() {
        for (int i = 0; i < reqCount; i++) {
            try {
                reqs[i].await();
            } catch (DeviceException e) {
                // reported by await() after the folios are released
            }
        }
    }

    private void releaseAll() {
        for (int r = 0; r < reqCount; r++) {
            IoRequest q = reqs[r];
            if (q.result() != q.length()) continue;
            for (int s = reqFirst[r]; s < reqFirst[r + 1]; s++) segFolio[s].markUptodate(segOff[s], segLen[s]);
        }
        for (int i = 0; i < folioCount; i++) {
            folios[i].unlock();
            folios[i].put();
            folios[i] = null;
        }
        folioCount = 0;
    }
}
