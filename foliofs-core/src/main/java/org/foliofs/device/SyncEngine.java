package org.foliofs.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The synchronous engine: each request is performed with one system call on the submitting
 * thread (preadv2/pwritev2, fdatasync, fallocate or BLKDISCARD; a PREFLUSH write is fdatasync then
 * pwritev2, a POSTFLUSH write pwritev2 then fdatasync), then completed there. iovec
 * arrays are per-thread scratch memory, so the hot path does not allocate.
 */
final class SyncEngine implements IoEngine {
    private static final ThreadLocal<MemorySegment> IOVECS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(FileDevice.MAX_SEGMENTS * Native.IOVEC_SIZE, 8)); // freed by GC with its thread

    private final FileDevice dev;
    private final int fd;

    SyncEngine(FileDevice dev, int fd) {
        this.dev = dev;
        this.fd = fd;
    }

    @Override
    public void submit(IoRequest r) {
        long res;
        String call;
        switch (r.op()) {
            case READ -> {
                call = "preadv2";
                MemorySegment iov = fillIovecs(r);
                res = Native.preadv2(fd, iov, r.segmentCount(), r.offset(), 0);
            }
            case WRITE -> {
                call = "pwritev2";
                res = 0;
                if (r.hasFlag(IoRequest.PREFLUSH)) {
                    res = Native.fdatasync(fd);
                    if (res < 0) call = "fdatasync (PREFLUSH)";
                }
                if (res >= 0) {
                    MemorySegment iov = fillIovecs(r);
                    res = Native.pwritev2(fd, iov, r.segmentCount(), r.offset(), FileDevice.rwFlags(r));
                    if (res >= 0 && r.hasFlag(IoRequest.POSTFLUSH)) { // after the write, even a short one
                        long f = Native.fdatasync(fd);
                        if (f < 0) {
                            res = f;
                            call = "fdatasync (POSTFLUSH)";
                        }
                    }
                }
            }
            case FLUSH -> {
                call = "fdatasync";
                res = Native.fdatasync(fd);
            }
            case DISCARD -> { // files only: FileDevice does block devices and zero lengths itself
                call = "fallocate(PUNCH_HOLE)";
                res = Native.fallocate(fd, Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE, r.offset(), r.length());
            }
            default -> throw new AssertionError(r.op());
        }
        dev.finish(r, res, call);
    }

    /** The request's segments as this thread's scratch iovec array (shared with {@link InlineEngine}). */
    static MemorySegment fillIovecs(IoRequest r) {
        MemorySegment iov = IOVECS.get();
        for (int i = 0, n = r.segmentCount(); i < n; i++) {
            Native.putIovec(iov, i, r.segment(i));
        }
        return iov;
    }

    @Override
    public void close() {
        // Nothing is ever in flight once submit() returns.
    }
}
