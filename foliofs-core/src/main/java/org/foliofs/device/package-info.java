/**
 * The block-device layer: the bottom of the FolioFS stack, through which every layer above
 * issues its I/O. The full contract, threads, locks and crash model are in
 * {@code docs/ARCHITECTURE.md}; change that file with the code.
 *
 * <h2>Public surface</h2>
 * <ul>
 *   <li>{@link org.foliofs.device.BlockDevice}: geometry, asynchronous {@code submit}, {@code flush},
 *       {@code discard}, {@code close}. {@link org.foliofs.device.IoRequest}: one reusable request
 *       ({@link org.foliofs.device.IoOp} READ, WRITE, FLUSH, DISCARD; flags FUA, PREFLUSH, ATOMIC, POSTFLUSH;
 *       scatter/gather segments); {@link org.foliofs.device.IoCompletion}: its callback.</li>
 *   <li>{@link org.foliofs.device.DeviceException} (call, range, errno), {@link org.foliofs.device.Errno},
 *       {@link org.foliofs.device.DeviceStats} (counters per op and flag).</li>
 *   <li>{@link org.foliofs.device.FileDevice}: image file or block device with O_DIRECT (or
 *       read-only, O_RDONLY), SYNC or IO_URING engine; with io_uring, FLUSHes submitted while one
 *       runs are merged into one fdatasync (leaf lock {@code flushLock}); {@link org.foliofs.device.BufferPool}: aligned off-heap buffers, one region
 *       io_uring can register.</li>
 *   <li>{@link org.foliofs.device.SimDevice} built by {@link org.foliofs.device.SimDeviceBuilder}: in
 *       memory, seeded, volatile-cache crash model ({@link org.foliofs.device.CrashReport}) and
 *       fault injection ({@link org.foliofs.device.FaultPlan}).</li>
 * </ul>
 *
 * <h2>Rules and invariants</h2>
 * <ul>
 *   <li>A request is IDLE, IN_FLIGHT or DONE; {@code prepare} makes it IDLE again. {@code submit}
 *       throws only for a bad or unusable request (closed device, alignment, range, ATOMIC
 *       limits): then nothing is written, nothing is counted, and the request stays IDLE. I/O
 *       errors arrive as {@code -errno} in the completion, never from {@code submit}.</li>
 *   <li>A device completes every submitted request exactly once: result published, waiter
 *       unparked, then the callback, on the completion thread (the submitting thread for the
 *       SYNC engine and an inline SimDevice, the io_uring engine's thread, or SimDevice's
 *       completion thread). Callbacks must not block for long, may submit again, and must never
 *       await a request of the same device on that thread.</li>
 *   <li>A completed write is durable only with FUA or POSTFLUSH, after a later completed FLUSH
 *       (or POSTFLUSH write), or without a volatile write cache. Requests in flight together are unordered.</li>
 *   <li>Device-layer locks ({@code SimDevice}'s lock, the {@code BufferPool} monitor) are leaves:
 *       never nested, never held while a callback runs or across a blocking system call. A
 *       callback must not wait for a lock that a thread may hold while blocked in
 *       {@code submit} (back-pressure).</li>
 * </ul>
 */
package org.foliofs.device;
