package org.foliofs.device;

import java.io.Closeable;

/**
 * A block device: the bottom of the stack. Every layer above issues its I/O here.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #submit} is asynchronous: it validates the request (throwing
 *       {@link IllegalArgumentException} for bad alignment or range, {@link IllegalStateException}
 *       when the device is closed, {@link UnsupportedOperationException} for an ATOMIC write the
 *       device cannot do; nothing is written in those cases) and queues it. The outcome, bytes or
 *       a negative errno, arrives through the request's completion, never as an exception from
 *       submit. I/O errors are never thrown from submit.</li>
 *   <li>READ/WRITE offsets, segment lengths and the total length are multiples of
 *       {@link #logicalBlockSize()}; segments of a {@code FileDevice} must also be aligned in
 *       memory to {@link #memoryAlignment()} (use a {@link BufferPool}).</li>
 *   <li>A completed WRITE is visible to later READs. It is durable only when it carried
 *       {@link IoRequest#FUA}, or when a FLUSH submitted after it completed has completed, or
 *       when the device has no volatile write cache. Until then a crash may lose it, tear it at
 *       logical-block granularity, or reorder it with other non-durable writes.</li>
 *   <li>An {@link IoRequest#ATOMIC} write of a power-of-two length between
 *       {@link #atomicWriteUnitMin()} and {@link #atomicWriteUnitMax()}, naturally aligned, is
 *       never torn by a crash: the range holds all old or all new data.</li>
 *   <li>Requests in flight at the same time have no ordering between them.</li>
 * </ul>
 */
public interface BlockDevice extends Closeable {

    /** Smallest addressable unit in bytes (offset/length granularity), e.g. 512. */
    int logicalBlockSize();

    /** The unit the device writes internally, e.g. 4096; writes of this alignment are fastest. */
    int physicalBlockSize();

    /** Required alignment in memory of segment addresses (O_DIRECT); 1 when there is none. */
    int memoryAlignment();

    /** Usable size in bytes, a multiple of the logical block size. */
    long capacity();

    /** True when completed writes may sit in a volatile cache until a FLUSH or FUA write. */
    boolean volatileWriteCache();

    /**
     * True when the device performs FUA natively. The FUA flag is honoured on every device (a FUA
     * write is durable when it completes); without native support it costs a write plus a cache
     * flush, so a caller choosing between "FUA write" and "write, then FLUSH" may prefer batching.
     */
    boolean supportsFua();

    /** Smallest untorn write unit in bytes, 0 when ATOMIC writes are unsupported. */
    int atomicWriteUnitMin();

    /** Largest untorn write unit in bytes, 0 when ATOMIC writes are unsupported. */
    int atomicWriteUnitMax();

    /** Submits a request; see the class comment for validation and completion rules. */
    void submit(IoRequest request);

    /**
     * {@link #submit} for a caller that waits for the request at once (synchronous metadata I/O):
     * a device may perform a READ or WRITE on the calling thread instead of handing it to an
     * engine thread and back (two thread wake-ups saved per request). Same validation and
     * completion rules; the request may be complete when this returns. Default: {@link #submit}.
     */
    default void submitInline(IoRequest request) { submit(request); }

    /** Drains the volatile write cache, waiting for it. */
    default void flush() throws DeviceException {
        IoRequest r = IoRequest.flush(null);
        submit(r);
        r.await();
    }

    /** Discards a range, waiting for it (see {@link IoOp#DISCARD} for what it then reads). */
    default void discard(long offset, long length) throws DeviceException {
        IoRequest r = IoRequest.discard(offset, length, null);
        submit(r);
        r.await();
    }

    /** Counters of everything submitted to this device. */
    DeviceStats stats();

    /** A short description: kind, path and geometry, for logs and messages. */
    String describe();

    /** Waits for requests in flight, then releases the device. Idempotent. */
    @Override
    void close();
}
