package org.foliofs.fs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceException;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;

/**
 * Batched asynchronous block reads for fsck: a sorted list of block numbers becomes runs of nearby
 * blocks (one request each, up to {@link #MAX_RUN_BYTES}; gaps of up to {@link #MAX_GAP_BYTES} between
 * wanted blocks are read along and dropped, as one larger request costs less than two), up to
 * {@link #MAX_IN_FLIGHT} requests
 * submitted together ({@link BlockDevice#submit} is asynchronous; an io_uring {@code FileDevice} keeps
 * them all in flight), into one staging buffer aligned to 4096 bytes; then each block is handed over as
 * a heap copy. A request that fails or comes back short hands over only the blocks it read in full;
 * nothing is thrown (the caller reads a missing block again, synchronously, and reports any error
 * then). Not thread-safe.
 */
final class Readahead implements AutoCloseable {
    /** Most requests in flight at once. */
    static final int MAX_IN_FLIGHT = 64;
    /** Largest single request. */
    static final int MAX_RUN_BYTES = 128 << 10;
    /** Largest gap between two wanted blocks that one request reads across. */
    static final int MAX_GAP_BYTES = 32 << 10;
    /** Default staging buffer: the most bytes in flight at once. */
    static final long STAGE_BYTES = 4L << 20;

    /** Receives one block read ahead. */
    interface Sink {
        void block(long blkno, byte[] image);
    }

    private final BlockDevice dev;
    private final int bs;
    private final Arena arena = Arena.ofShared();   // shared: async devices complete on their own thread
    private final MemorySegment stage;
    private final IoRequest[] reqs = new IoRequest[MAX_IN_FLIGHT];
    private final int[] runFirst = new int[MAX_IN_FLIGHT], runEnd = new int[MAX_IN_FLIGHT];
    private final long[] runOff = new long[MAX_IN_FLIGHT];
    private long requests, blocks, gapBlocks;

    Readahead(BlockDevice dev, int blockSize, long stageBytes) {
        this.dev = dev;
        this.bs = blockSize;
        long size = Math.max(stageBytes, blockSize + BlockIo.ALIGNMENT);
        this.stage = arena.allocate(size, BlockIo.ALIGNMENT);
        for (int i = 0; i < MAX_IN_FLIGHT; i++) reqs[i] = new IoRequest();
    }

    /** Reads blocks {@code sorted[0..n)} (ascending, distinct) and hands each to {@code sink}. */
    void read(long[] sorted, int n, Sink sink) {
        long maxRun = Math.max(1, MAX_RUN_BYTES / bs), maxGap = MAX_GAP_BYTES / bs;
        int i = 0;
        boolean stop = false;
        while (i < n && !stop) {
            int inFlight = 0;
            long off = 0;
            while (i < n && inFlight < MAX_IN_FLIGHT) {
                long at = (off + BlockIo.ALIGNMENT - 1) & -BlockIo.ALIGNMENT;
                long room = Math.min(maxRun, (stage.byteSize() - at) / bs);
                if (inFlight > 0 && room < maxRun) break;   // the stage is full: the rest in the next batch
                int j = i + 1;                              // (an empty stage holds at least one block)
                while (j < n && sorted[j] - sorted[j - 1] - 1 <= maxGap && sorted[j] - sorted[i] < room) j++;
                long span = sorted[j - 1] - sorted[i] + 1, bytes = span * bs;
                IoRequest r = reqs[inFlight];
                r.prepare(IoOp.READ, sorted[i] * bs, 0, null).add(stage.asSlice(at, bytes));
                try {
                    dev.submit(r);
                } catch (RuntimeException e) {   // refused (beyond the device, ...): the synchronous read reports it
                    stop = true;
                    break;
                }
                requests++;
                gapBlocks += span - (j - i);
                runFirst[inFlight] = i;
                runEnd[inFlight] = j;
                runOff[inFlight] = at;
                inFlight++;
                off = at + bytes;
                i = j;
            }
            for (int k = 0; k < inFlight; k++) {
                long got;
                try {
                    got = reqs[k].await();
                } catch (DeviceException e) {
                    continue;
                }
                long first = sorted[runFirst[k]];
                for (int m = runFirst[k]; m < runEnd[k]; m++) {
                    long rel = (sorted[m] - first) * bs;
                    if (rel + bs > got) break;   // short read: only what came back in full
                    byte[] img = new byte[bs];
                    MemorySegment.copy(stage, ValueLayout.JAVA_BYTE, runOff[k] + rel, img, 0, bs);
                    sink.block(sorted[m], img);
                    blocks++;
                }
            }
            if (inFlight == 0) break;
        }
    }

    /** Requests submitted so far. */
    long requests() { return requests; }

    /** Blocks read ahead and handed over so far. */
    long blocks() { return blocks; }

    /** Blocks read only to join wanted blocks into one request, so far. */
    long gapBlocks() { return gapBlocks; }

    @Override
    public void close() {
        arena.close();
    }
}
