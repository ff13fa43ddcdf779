package org.foliofs.device;

import java.lang.foreign.MemorySegment;

/**
 * {@link FileDevice#submitInline}'s engine on an io_uring device: a waiting caller's READ or WRITE
 * performed on its own thread, as {@link SyncEngine} does (preadv2/pwritev2; PREFLUSH is fdatasync
 * first, POSTFLUSH fdatasync after), then completed there.
 *
 * <p>Its own class, not a second {@link SyncEngine}: the JIT profiles a method, not an object, and
 * the journal's commits (PREFLUSH/POSTFLUSH writes) run inline all the time. Through
 * {@code SyncEngine.submit} they made that method's flush branches hot, its compiled code larger,
 * and the errno capture of the plain read and write calls was no longer scalarised: 30 bytes of
 * garbage per request on the synchronous engine's hot path, late in the full test run
 * ({@code HotPathAllocationTest}). Only READ and WRITE come here.
 */
final class InlineEngine implements IoEngine {
    private final FileDevice dev;
    private final int fd;

    InlineEngine(FileDevice dev, int fd) {
        this.dev = dev;
        this.fd = fd;
    }

    @Override
    public void submit(IoRequest r) {
        MemorySegment iov = SyncEngine.fillIovecs(r);
        if (r.op() == IoOp.READ) {
            dev.finish(r, Native.preadv2(fd, iov, r.segmentCount(), r.offset(), 0), "preadv2");
            return;
        }
        if (r.op() != IoOp.WRITE) throw new IllegalArgumentException(r + ": only READ and WRITE run inline");
        if (r.hasFlag(IoRequest.PREFLUSH)) {
            long f = Native.fdatasync(fd);
            if (f < 0) {
                dev.finish(r, f, "fdatasync (PREFLUSH)");
                return;
            }
        }
        long res = Native.pwritev2(fd, iov, r.segmentCount(), r.offset(), FileDevice.rwFlags(r));
        if (res >= 0 && r.hasFlag(IoRequest.POSTFLUSH)) {   // after the write, even a short one
            long f = Native.fdatasync(fd);
            if (f < 0) {
                dev.finish(r, f, "fdatasync (POSTFLUSH)");
                return;
            }
        }
        dev.finish(r, res, "pwritev2");
    }

    @Override
    public void close() {
        // Nothing is ever in flight once submit() returns.
    }
}
