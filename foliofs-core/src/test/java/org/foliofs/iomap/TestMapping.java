package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.BitSet;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;
import org.foliofs.device.IoRequest;

/**
 * Test-only file system of one file over a device: a per-block extent map (hole, unwritten,
 * written), a next-fit block allocator, a cookie (sequence number) bumped on every change,
 * unwritten conversion and size update in ioEnd, and "metadata durability": {@link #sync} (the
 * DSYNC hook) and {@link #commit()} copy the map aside; {@link #crash} restores that copy.
 * Buffered writes ({@code begin(WRITE)} without DIRECT) reserve DELALLOC blocks (in memory only);
 * writeback ({@code WRITE|WRITEBACK}) converts the whole contiguous reservation to allocated
 * UNWRITTEN|NEW blocks (MAPPED|NEW without {@link #allocateUnwritten}), as XFS converts a delalloc
 * extent. {@link #cache} is what {@link #cache()} returns (a BufferedFile once the test opens one).
 * Every method is synchronized (the tests' inode lock).
 */
final class TestMapping implements IoInode, IoMapOps, IoMapValidity, IoEndHandler {
    final BlockDevice dev;
    final int bs;
    final int maxBlocks;
    private final long[] addr;      // device address per file block, -1 = hole
    private final boolean[] unwritten;
    private final boolean[] delalloc;   // reserved by a buffered write, no blocks yet (never committed)
    private final BitSet used = new BitSet();
    private final int deviceBlocks;
    private int cursor;
    private long size;
    private long seq = 1;
    boolean allocateUnwritten = true;
    boolean holeReservations;        // report buffered reservations as HOLE instead of DELALLOC (both are allowed)
    int mappedFlags;                 // extra flags on MAPPED mappings (SHARED, DIRTY tests)
    CacheRangeSync cache = CacheRangeSync.NONE;

    // committed ("durable") metadata
    private long[] cAddr;
    private boolean[] cUnwritten;
    private long cSize;

    // observation
    int begins, ends, staleEnds, remaps, ioEnds, ioEndErrors, syncs;
    int relocateNext;                // isValid relocates the file and answers false this many times
    int ioEndFailures;               // the next ioEnd calls (successful I/O) throw, this many
    int writebackBeginFailures;      // the next begin(WRITE|WRITEBACK) calls throw ENOSPC, this many
    int writebackBeginHoles;         // the next begin(WRITE|WRITEBACK) calls answer HOLE (a file system bug), this many
    volatile Thread lastIoEndThread;

    TestMapping(BlockDevice dev, int blockSize, int maxBlocks) {
        this.dev = dev;
        this.bs = blockSize;
        this.maxBlocks = maxBlocks;
        this.addr = new long[maxBlocks];
        Arrays.fill(addr, -1);
        this.unwritten = new boolean[maxBlocks];
        this.delalloc = new boolean[maxBlocks];
        this.deviceBlocks = (int) (dev.capacity() / blockSize);
        commit();
    }

    @Override public synchronized long size() { return size; }
    @Override public int blockSize() { return bs; }
    @Override public CacheRangeSync cache() { return cache; }
    synchronized long seq() { return seq; }

    synchronized void setSize(long s) { size = s; seq++; }

    @Override
    public synchronized void setSizeInMemory(long newSize) {
        if (newSize < size) throw new IllegalStateException("setSizeInMemory(" + newSize + ") would shrink the size " + size);
        size = newSize;
    }

    /** truncate(2): the engine's part, then the size and the blocks past it (reservations too). */
    void truncate(BufferedIo bio, long newSize) throws IOException {
        bio.truncate(this, this, newSize);
        synchronized (this) {
            size = newSize;
            int first = (int) Math.min(maxBlocks, (newSize + bs - 1) / bs);
            punch((long) first * bs, (long) (maxBlocks - first) * bs);
        }
    }

    synchronized int delallocBlocks() {
        int n = 0;
        for (boolean d : delalloc) if (d) n++;
        return n;
    }
    /** fallocate: unwritten extents over the holes of [pos, pos + len). */
    synchronized void preallocate(long pos, long len) throws IOException {
        for (long b = pos / bs; b < (pos + len + bs - 1) / bs; b++) {
            if (addr[(int) b] < 0) {
                addr[(int) b] = (long) allocate(1)[0] * bs;
                unwritten[(int) b] = true;
            }
        }
        seq++;
    }

    /** Punches [pos, pos + len) (block aligned) back to a hole, freeing the blocks. */
    synchronized void punch(long pos, long len) {
        for (long b = pos / bs; b < (pos + len) / bs; b++) {
            int i = (int) b;
            if (addr[i] >= 0) used.clear((int) (addr[i] / bs));
            addr[i] = -1;
            unwritten[i] = false;
            delalloc[i] = false;
        }
        seq++;
    }

    /** {first device block, count}: a run of up to {@code want} free blocks, next fit. */
    private int[] allocate(int want) throws IOException {
        int start = used.nextClearBit(cursor);
        if (start >= deviceBlocks) start = used.nextClearBit(0);
        if (start >= deviceBlocks) throw new IOException("ENOSPC: no free block on " + dev.describe());
        int end = Math.min(Math.min(used.nextSetBit(start) < 0 ? deviceBlocks : used.nextSetBit(start), deviceBlocks),
                start + want);
        used.set(start, end);
        cursor = end;
        return new int[] {start, end - start};
    }

    @Override
    public synchronized IoMap begin(IoInode inode, long pos, long length, int opFlags) throws IOException {
        begins++;
        int b = (int) Math.min(pos / bs, maxBlocks);
        if (b >= maxBlocks) {
            if ((opFlags & WRITE) != 0) throw new IOException("EFBIG: write at " + pos + " beyond " + maxBlocks + " blocks");
            return IoMap.hole((long) b * bs, Long.MAX_VALUE - (long) b * bs, seq);
        }
        int endBlock = (int) Math.min(maxBlocks, (pos + length + bs - 1) / bs);
        if ((opFlags & WRITEBACK) != 0 && writebackBeginFailures > 0) {
            writebackBeginFailures--;
            throw new IOException("ENOSPC: injected allocation failure at " + pos);
        }
        if ((opFlags & WRITEBACK) != 0 && writebackBeginHoles > 0) {
            writebackBeginHoles--;
            return IoMap.hole((long) b * bs, bs, seq);
        }
        boolean buffered = (opFlags & (WRITE | DIRECT | WRITEBACK)) == WRITE;
        if (addr[b] < 0 && buffered) {          // buffered write: reserve, allocate at writeback
            for (int i = b; i < endBlock && addr[i] < 0; i++) delalloc[i] = true;
            seq++;
        }
        if (addr[b] < 0 && delalloc[b] && (opFlags & WRITEBACK) != 0) {   // convert the whole reservation
            int n = 1;
            while (b + n < maxBlocks && delalloc[b + n]) n++;
            int[] run = allocate(n);
            for (int i = 0; i < run[1]; i++) {
                addr[b + i] = (long) (run[0] + i) * bs;
                unwritten[b + i] = allocateUnwritten;
                delalloc[b + i] = false;
            }
            seq++;
            return new IoMap((long) b * bs, (long) run[1] * bs, allocateUnwritten ? IoMap.Type.UNWRITTEN : IoMap.Type.MAPPED,
                    IoMap.NEW, addr[b], seq);
        }
        if (addr[b] < 0 && delalloc[b] && (opFlags & WRITE) == 0 || addr[b] < 0 && buffered) {
            int n = 1;
            while (b + n < maxBlocks && delalloc[b + n] && addr[b + n] < 0) n++;
            if (holeReservations) return IoMap.hole((long) b * bs, (long) n * bs, seq);
            return new IoMap((long) b * bs, (long) n * bs, IoMap.Type.DELALLOC, 0, IoMap.NO_ADDRESS, seq);
        }
        if (addr[b] < 0 && (opFlags & WRITE) != 0) {
            int n = 1;
            while (b + n < endBlock && addr[b + n] < 0) n++;
            int[] run = allocate(n);
            for (int i = 0; i < run[1]; i++) {
                addr[b + i] = (long) (run[0] + i) * bs;
                unwritten[b + i] = allocateUnwritten;
                delalloc[b + i] = false;
            }
            seq++;
            return new IoMap((long) b * bs, (long) run[1] * bs, allocateUnwritten ? IoMap.Type.UNWRITTEN : IoMap.Type.MAPPED,
                    IoMap.NEW, addr[b], seq);
        }
        int n = 1;
        if (addr[b] < 0) {
            while (b + n < maxBlocks && addr[b + n] < 0 && !delalloc[b + n]) n++;
            long len = b + n == maxBlocks ? Long.MAX_VALUE - (long) b * bs : (long) n * bs;
            return IoMap.hole((long) b * bs, len, seq);
        }
        while (b + n < maxBlocks && addr[b + n] == addr[b] + (long) n * bs && unwritten[b + n] == unwritten[b]) n++;
        return new IoMap((long) b * bs, (long) n * bs, unwritten[b] ? IoMap.Type.UNWRITTEN : IoMap.Type.MAPPED,
                unwritten[b] ? 0 : mappedFlags, addr[b], seq);
    }

    @Override
    public synchronized void end(IoInode inode, long pos, long length, long written, int opFlags, IoMap map) {
        ends++;
        if (map.hasFlag(IoMap.STALE)) staleEnds++;
    }

    @Override
    public synchronized boolean isValid(IoInode inode, IoMap map) {
        if (relocateNext > 0) {
            relocateNext--;
            relocate();
        }
        boolean ok = map.cookie() == seq;
        if (!ok) remaps++;
        return ok;
    }

    /** Moves every allocated block to a new device location (copying it), as a defragmenter would. */
    private void relocate() {
        try {
            MemorySegment tmp = MemorySegment.ofArray(new byte[bs]);
            for (int i = 0; i < maxBlocks; i++) {
                if (addr[i] < 0) continue;
                int[] run = allocate(1);
                long to = (long) run[0] * bs;
                IoRequest r = IoRequest.read(addr[i], tmp, null);
                dev.submit(r);
                r.await();
                IoRequest w = IoRequest.write(to, tmp, 0, null);
                dev.submit(w);
                w.await();
                used.clear((int) (addr[i] / bs));
                addr[i] = to;
            }
            seq++;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** When set, writeback of pure overwrites (MAPPED, no flags) may finish on the device's completion thread. */
    volatile boolean inlineIoEnd;

    @Override
    public boolean completesInline(IoInode inode, long pos, long length, IoMap map) {
        return inlineIoEnd && map.type() == IoMap.Type.MAPPED && map.flags() == 0;
    }

    @Override
    public synchronized void ioEnd(IoInode inode, long pos, long length, IoMap map, int error) throws IOException {
        lastIoEndThread = Thread.currentThread();
        ioEnds++;
        if (error != 0) {
            ioEndErrors++;
            return;
        }
        if (ioEndFailures > 0) {
            ioEndFailures--;
            throw new IOException("injected ioEnd failure at " + pos + " +" + length);
        }
        for (long b = pos / bs; b < (pos + length + bs - 1) / bs; b++) unwritten[(int) b] = false;
        size = Math.max(size, pos + length);
        seq++;
    }

    @Override
    public synchronized boolean sync(IoInode inode, long pos, long length) {
        syncs++;
        commit();
        return false;   // its metadata is in memory: the data needs the engine's flush
    }

    /** Makes the metadata durable (fsync's journal commit); the data needs a device flush too. */
    synchronized void commit() {
        cAddr = addr.clone();
        cUnwritten = unwritten.clone();
        cSize = size;
    }

    /** Power loss: the device crashes and the metadata goes back to the last commit. */
    synchronized void crash(org.foliofs.device.SimDevice sim) {
        sim.crash();
        System.arraycopy(cAddr, 0, addr, 0, maxBlocks);
        System.arraycopy(cUnwritten, 0, unwritten, 0, maxBlocks);
        size = cSize;
        java.util.Arrays.fill(delalloc, false);
        used.clear();
        for (long a : addr) if (a >= 0) used.set((int) (a / bs));
        seq++;
    }

    /** fsync: metadata commit and a device flush. */
    void fsync() throws DeviceException {
        commit();
        dev.flush();
    }
}
