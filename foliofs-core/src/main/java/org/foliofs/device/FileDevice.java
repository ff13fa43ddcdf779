package org.foliofs.device;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A {@link BlockDevice} over an image file or a raw block device, opened with O_DIRECT.
 *
 * <ul>
 *   <li>Geometry from statx(STATX_DIOALIGN | STATX_WRITE_ATOMIC), and for block devices the
 *       BLKGETSIZE64 / BLKSSZGET / BLKPBSZGET ioctls.</li>
 *   <li>Write cache and native FUA from sysfs ({@code /sys/dev/block/M:m/queue/write_cache},
 *       {@code .../fua}) of the device holding the file (or of the raw device itself).</li>
 *   <li>FUA is RWF_DSYNC (the kernel uses native FUA or write + cache flush), ATOMIC is
 *       RWF_ATOMIC, FLUSH is fdatasync, DISCARD is fallocate(PUNCH_HOLE) on files and BLKDISCARD
 *       on raw devices.</li>
 *   <li>Engines: {@link Engine#SYNC} performs each request on the submitting thread;
 *       {@link Engine#IO_URING} queues it on an io_uring owned by one ring thread, which also
 *       runs the completions.</li>
 * </ul>
 */
public final class FileDevice implements BlockDevice {
    /** Most segments one request may carry (the kernel's IOV_MAX). */
    public static final int MAX_SEGMENTS = 1024;
    /** Largest request in bytes: the kernel transfers at most INT_MAX rounded down to a page per call. */
    public static final long MAX_REQUEST_BYTES = Integer.MAX_VALUE & ~4095L;

    /** Which engine performs the I/O. */
    public enum Engine {
        /** preadv2/pwritev2 on the submitting thread; completion runs before submit returns. */
        SYNC,
        /** io_uring through raw syscalls; completion runs on the device's ring thread. */
        IO_URING
    }

    /**
     * How to open a device. Immutable; each {@code with} method checks its argument.
     *
     * @param engine            the I/O engine
     * @param queueDepth        io_uring submission queue depth: most requests in flight at once
     * @param registeredBuffers a pool to register with io_uring as a fixed buffer (may be null):
     *                          single-segment requests inside it use READ_FIXED/WRITE_FIXED
     * @param batchSubmissions  io_uring: gather the requests queued while the ring thread is busy
     *                          into one io_uring_enter (fewer system calls) instead of submitting
     *                          each at once (lower latency; faster on virtio disks, see
     *                          docs/BENCHMARKS.md)
     * @param readOnly          open with O_RDONLY: works on images and block devices that are not
     *                          writable; every WRITE, FLUSH and DISCARD is refused at submit
     *                          ({@link IllegalStateException} naming the device), so nothing can
     *                          ever reach the image
     */
    public record Options(Engine engine, int queueDepth, BufferPool registeredBuffers, boolean batchSubmissions,
                          boolean readOnly) {
        public Options {
            if (engine == null) throw new IllegalArgumentException("engine must not be null");
            if (queueDepth < 1 || queueDepth > 4096) {
                throw new IllegalArgumentException("queueDepth (" + queueDepth + ") must be between 1 and 4096");
            }
        }

        public static Options defaults() { return new Options(Engine.IO_URING, 128, null, false, false); }
        public Options withEngine(Engine e) { return new Options(e, queueDepth, registeredBuffers, batchSubmissions, readOnly); }
        public Options withQueueDepth(int d) { return new Options(engine, d, registeredBuffers, batchSubmissions, readOnly); }
        public Options withRegisteredBuffers(BufferPool p) { return new Options(engine, queueDepth, p, batchSubmissions, readOnly); }
        public Options withBatchSubmissions(boolean b) { return new Options(engine, queueDepth, registeredBuffers, b, readOnly); }
        public Options withReadOnly(boolean ro) { return new Options(engine, queueDepth, registeredBuffers, batchSubmissions, ro); }
    }

    private final String path;
    private final int fd;
    private final boolean blockDevice;
    private final long capacity;
    private final int logicalBlockSize;
    private final int physicalBlockSize;
    private final int memoryAlignment;
    private final boolean volatileWriteCache;
    private final boolean hardwareFua;
    private final int atomicMin;
    private final int atomicMax;
    private final int atomicSegmentsMax;
    private final Engine engineKind;
    private final IoEngine engine;
    /** {@link #submitInline}'s engine when {@link #engine} hands requests to a ring thread; null otherwise. */
    private final InlineEngine inline;
    private final DeviceStats stats = new DeviceStats();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Requests past the closed check and not yet completed; close() waits for zero. */
    private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
    // Flush merging (see submitFlush): guarded by flushLock.
    private final boolean mergeFlushes;
    private final Object flushLock = new Object();
    private boolean flushRunning;
    private ArrayList<IoRequest> flushRiders = new ArrayList<>();   // answered by the running flush
    private ArrayList<IoRequest> flushNext = new ArrayList<>();     // wait for the next one
    private final String description;
    private final boolean readOnly;

    private FileDevice(String path, int fd, Geometry g, Options options) throws IOException {
        this.path = path;
        this.fd = fd;
        this.blockDevice = g.blockDevice;
        this.capacity = g.capacity;
        this.logicalBlockSize = g.logicalBlockSize;
        this.physicalBlockSize = g.physicalBlockSize;
        this.memoryAlignment = g.memoryAlignment;
        this.volatileWriteCache = g.volatileWriteCache;
        this.hardwareFua = g.hardwareFua;
        this.atomicMin = g.atomicMin;
        this.atomicMax = g.atomicMax;
        this.atomicSegmentsMax = g.atomicSegmentsMax;
        this.engineKind = options.engine();
        this.readOnly = options.readOnly();
        this.description = (blockDevice ? "blockdev " : "image ") + path + " [" + engineKind.name().toLowerCase()
                + (readOnly ? ", read-only" : "")
                + ", capacity=" + capacity + ", lbs=" + logicalBlockSize + ", pbs=" + physicalBlockSize
                + ", cache=" + (volatileWriteCache ? "write-back" : "write-through")
                + ", fua=" + (hardwareFua ? "native" : "emulated")
                + ", atomic=" + (atomicMax == 0 ? "none" : atomicMin + ".." + atomicMax) + "]";
        this.mergeFlushes = engineKind == Engine.IO_URING;
        this.engine = switch (engineKind) {
            case SYNC -> new SyncEngine(this, fd);
            case IO_URING -> new UringEngine(this, fd, options.queueDepth(), options.registeredBuffers(), options.batchSubmissions());
        };
        this.inline = engineKind == Engine.IO_URING ? new InlineEngine(this, fd) : null;
    }

    /**
     * Opens an existing image file or block device with O_DIRECT: for reading and writing, or
     * with {@link Options#withReadOnly} for reading only (O_RDONLY).
     *
     * @throws NoSuchFileException   when the path does not exist
     * @throws AccessDeniedException when it is not writable (not readable, for a read-only open)
     * @throws IOException           when it is empty, not a file or block device, or O_DIRECT is unsupported
     */
    public static FileDevice open(Path path, Options options) throws IOException {
        String p = path.toAbsolutePath().toString();
        int fd = Native.open(p, (options.readOnly() ? Native.O_RDONLY : Native.O_RDWR) | Native.O_DIRECT | Native.O_CLOEXEC, 0);
        if (fd < 0) throw options.readOnly() && (-fd == Errno.EACCES || -fd == Errno.EPERM)
                ? new AccessDeniedException(p, null, "not readable: " + Errno.describe(-fd)) : openError(path, -fd);
        try {
            Geometry g = Geometry.probe(fd, path);
            return new FileDevice(p, fd, g, options);
        } catch (IOException | RuntimeException e) {
            Native.close(fd);
            throw e;
        }
    }

    /**
     * Creates a new sparse image file of the given size (a positive multiple of 4096) and fails
     * if the file exists, so nothing already written is ever overwritten.
     */
    public static void createImage(Path path, long size) throws IOException {
        if (size <= 0 || size % 4096 != 0) {
            throw new IllegalArgumentException("image size (" + size + ") must be a positive multiple of 4096");
        }
        String p = path.toAbsolutePath().toString();
        int fd = Native.open(p, Native.O_RDWR | Native.O_CREAT | Native.O_EXCL | Native.O_CLOEXEC, 0644);
        if (fd < 0) {
            if (-fd == Errno.EEXIST) throw new FileAlreadyExistsException(p, null, "image already exists; not overwriting it");
            throw openError(path, -fd);
        }
        try {
            int r = Native.ftruncate(fd, size);
            if (r < 0) {
                Files.deleteIfExists(path);
                throw new DeviceException("ftruncate of " + p + " to " + size + " bytes", -r);
            }
        } finally {
            Native.close(fd);
        }
    }

    private static IOException openError(Path path, int errno) {
        String p = path.toString();
        return switch (errno) {
            case Errno.ENOENT -> new NoSuchFileException(p, null, "image or device does not exist");
            case Errno.EACCES, Errno.EPERM, Errno.EROFS ->
                    new AccessDeniedException(p, null, "not writable: " + Errno.describe(errno));
            case Errno.EISDIR -> new IOException(p + " is a directory, not an image file or block device");
            case Errno.EINVAL -> new IOException("cannot open " + p + " with O_DIRECT: its file system does not support direct I/O ("
                    + Errno.describe(errno) + ")");
            default -> new DeviceException("open of " + p, errno);
        };
    }

    // ---- BlockDevice ------------------------------------------------------------------------

    @Override public int logicalBlockSize() { return logicalBlockSize; }
    @Override public int physicalBlockSize() { return physicalBlockSize; }
    @Override public int memoryAlignment() { return memoryAlignment; }
    @Override public long capacity() { return capacity; }
    @Override public boolean volatileWriteCache() { return volatileWriteCache; }
    /**
     * True when the disk under the file does FUA natively (sysfs queue/fua). FUA writes are
     * RWF_DSYNC either way, durable at completion; without native FUA the kernel adds a flush.
     */
    @Override public boolean supportsFua() { return hardwareFua; }
    @Override public int atomicWriteUnitMin() { return atomicMin; }
    @Override public int atomicWriteUnitMax() { return atomicMax; }
    /** Most segments an ATOMIC write may carry (statx stx_atomic_write_segments_max). */
    public int atomicWriteSegmentsMax() { return atomicSegmentsMax; }
    public Engine engine() { return engineKind; }
    /** Whether the device was opened read-only ({@link Options#withReadOnly}). */
    public boolean isReadOnly() { return readOnly; }
    public Path path() { return Path.of(path); }
    boolean isBlockDevice() { return blockDevice; }
    @Override public DeviceStats stats() { return stats; }
    @Override public String describe() { return description; }

    /**
     * With io_uring: a READ or WRITE is performed on the calling thread (preadv2/pwritev2, plus
     * fdatasync for PREFLUSH/POSTFLUSH, as {@link Engine#SYNC} does), skipping the hand-off to the
     * ring thread and the completion's way back; FLUSH and DISCARD go through {@link #submit}
     * (flushes are merged there).
     */
    @Override
    public void submitInline(IoRequest r) {
        if (inline == null || (r.op() != IoOp.READ && r.op() != IoOp.WRITE)) {
            submit(r);
            return;
        }
        if (accept(r)) inline.submit(r);
    }

    @Override
    public void submit(IoRequest r) {
        if (!accept(r)) return;
        if (r.op() == IoOp.FLUSH && mergeFlushes) {
            submitFlush(r);
            return;
        }
        engine.submit(r);
    }

    /**
     * The checks and accounting every request goes through before an engine performs it; false
     * when it was already answered here (a DISCARD of nothing or on a block device).
     */
    private boolean accept(IoRequest r) {
        // Count first, then check: close() sets `closed` first, then waits for `active` to drain
        // (both volatile), so a request either sees the device closed or is waited for.
        active.incrementAndGet();
        if (closed.get()) {
            active.decrementAndGet();
            throw RequestValidator.closed(this, r);
        }
        try {
            r.beginSubmit(path);
        } catch (RuntimeException e) {
            active.decrementAndGet();
            throw e;
        }
        try {
            if (readOnly && r.op() != IoOp.READ)
                throw new IllegalStateException(r + " on " + description + ": the device is open read-only; no "
                        + r.op() + " may reach it");
            RequestValidator.validate(this, r);
            if (r.length() > MAX_REQUEST_BYTES) {
                throw new IllegalArgumentException(r + " on " + description + ": " + r.length()
                        + " bytes exceed the largest single request of " + MAX_REQUEST_BYTES + " bytes (the kernel's MAX_RW_COUNT)");
            }
            if (r.segmentCount() > MAX_SEGMENTS) {
                throw new IllegalArgumentException(r + " on " + description + ": " + r.segmentCount()
                        + " segments exceed the limit of " + MAX_SEGMENTS);
            }
            if (r.hasFlag(IoRequest.ATOMIC) && r.segmentCount() > atomicSegmentsMax) {
                throw new IllegalArgumentException(r + " on " + description + ": an ATOMIC write may carry at most "
                        + atomicSegmentsMax + " segment(s), not " + r.segmentCount());
            }
        } catch (RuntimeException e) {
            r.abortSubmit();
            active.decrementAndGet();
            throw e;
        }
        stats.recordSubmit(r);
        if (r.op() == IoOp.DISCARD && (r.length() == 0 || blockDevice)) {
            // Zero length: nothing to do (fallocate would reject it). Block devices: BLKDISCARD on
            // the caller's thread for both engines (io_uring has no discard opcode on every kernel).
            finish(r, r.length() == 0 ? 0 : discardNow(r.offset(), r.length()), "ioctl(BLKDISCARD)");
            return false;
        }
        return true;
    }

    /**
     * Merges flushes, as the kernel's flush machinery does: one fdatasync in flight at a time. A
     * FLUSH submitted while another runs cannot be answered by it (that one may have started before
     * the writes the new FLUSH must cover completed), so it waits; when the running one ends, ONE
     * fdatasync is issued for every FLUSH that waited, and its result answers them all. Under
     * concurrent DSYNC writers that turns n flushes into about two. Only with io_uring: the
     * synchronous engine runs each fdatasync on its caller's thread, concurrently, and the kernel
     * merges those itself.
     */
    private void submitFlush(IoRequest r) {
        synchronized (flushLock) {
            if (flushRunning) {
                flushNext.add(r);
                return;
            }
            flushRunning = true;
        }
        engine.submit(r);
    }

    /** A leading FLUSH ended: answers its riders with its result and starts the next merged flush, if any waited. */
    private void flushEnded(long result, String call) {
        ArrayList<IoRequest> riders;
        IoRequest next = null;
        synchronized (flushLock) {
            riders = flushRiders;
            if (flushNext.isEmpty()) {
                flushRunning = false;
                flushRiders = riders.isEmpty() ? riders : new ArrayList<>();
            } else {
                next = flushNext.removeFirst();
                flushRiders = flushNext;
                flushNext = new ArrayList<>();
            }
        }
        if (next != null) engine.submit(next);   // before answering anyone: the next flush starts as early as possible
        for (IoRequest rider : riders) {
            stats.recordMergedFlush();
            complete(rider, result, call);
        }
    }

    /** Completes a request with a system call's result (bytes or -errno), naming the call on failure. */
    void finish(IoRequest r, long result, String call) {
        if (r.op() == IoOp.FLUSH && mergeFlushes) flushEnded(result, call);
        complete(r, result, call);
    }

    private void complete(IoRequest r, long result, String call) {
        if (result < 0) {
            r.failedCall(call);
            stats.recordError();
        } else if (r.op() == IoOp.FLUSH || r.op() == IoOp.DISCARD) {
            result = 0; // no bytes transferred, as on every device
        }
        active.decrementAndGet(); // before the callback, which may be what close() waits behind
        r.complete(result);
    }

    /** Kernel RWF_* flags for a write's FUA and ATOMIC flags. */
    static int rwFlags(IoRequest r) {
        int f = r.flags();
        if (f == 0) return 0;
        int rwf = 0;
        if ((f & IoRequest.FUA) != 0) rwf |= Native.RWF_DSYNC;
        if ((f & IoRequest.ATOMIC) != 0) rwf |= Native.RWF_ATOMIC;
        return rwf;
    }

    /** Discards a range of a block device synchronously with BLKDISCARD; 0 or -errno. */
    private long discardNow(long offset, long length) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment range = a.allocate(16, 8);
            range.set(JAVA_LONG, 0, offset);
            range.set(JAVA_LONG, 8, length);
            return Native.ioctl(fd, Native.BLKDISCARD, range);
        }
    }

    /**
     * Refuses new requests, waits for those in flight, then stops the engine and closes the file.
     * Must not be called from a completion callback on the io_uring ring thread (it would wait
     * for itself): that throws IllegalStateException.
     */
    @Override
    public void close() {
        if (engine.isCompletionThread()) {
            throw new IllegalStateException("close() of " + description + " from a completion callback on the io_uring ring "
                    + "thread would wait for itself; close the device from another thread");
        }
        if (!closed.compareAndSet(false, true)) return;
        try {
            while (active.get() > 0) java.util.concurrent.locks.LockSupport.parkNanos(100_000);
            engine.close();
        } finally {
            Native.close(fd);
        }
    }

    @Override
    public String toString() { return description; }

    /** What statx, the block ioctls and sysfs say about the open file. */
    private record Geometry(boolean blockDevice, long capacity, int logicalBlockSize, int physicalBlockSize,
                            int memoryAlignment, boolean volatileWriteCache, boolean hardwareFua,
                            int atomicMin, int atomicMax, int atomicSegmentsMax) {

        static Geometry probe(int fd, Path path) throws IOException {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment stx = a.allocate(Native.STATX_SIZE, 8);
                int r = Native.fstatx(fd, Native.STATX_BASIC_STATS | Native.STATX_DIOALIGN | Native.STATX_WRITE_ATOMIC, stx);
                if (r < 0) throw new DeviceException("statx of " + path, -r);
                int mask = stx.get(JAVA_INT, Native.STX_MASK);
                int mode = Short.toUnsignedInt(stx.get(JAVA_SHORT, Native.STX_MODE));
                int type = mode & Native.S_IFMT;
                boolean blk = type == Native.S_IFBLK;
                if (!blk && type != Native.S_IFREG) {
                    throw new IOException(path + " is neither a regular file nor a block device (mode 0"
                            + Integer.toOctalString(mode) + ")");
                }
                int dioMem = 0, dioOff = 0;
                if ((mask & Native.STATX_DIOALIGN) != 0) {
                    dioMem = stx.get(JAVA_INT, Native.STX_DIO_MEM_ALIGN);
                    dioOff = stx.get(JAVA_INT, Native.STX_DIO_OFFSET_ALIGN);
                }
                long size;
                int lbs, pbs;
                int major, minor;
                if (blk) {
                    MemorySegment out = a.allocate(8, 8);
                    int e = Native.ioctl(fd, Native.BLKGETSIZE64, out);
                    if (e < 0) throw new DeviceException("ioctl(BLKGETSIZE64) on " + path, -e);
                    size = out.get(JAVA_LONG, 0);
                    e = Native.ioctl(fd, Native.BLKSSZGET, out);
                    if (e < 0) throw new DeviceException("ioctl(BLKSSZGET) on " + path, -e);
                    lbs = out.get(JAVA_INT, 0);
                    e = Native.ioctl(fd, Native.BLKPBSZGET, out);
                    pbs = e < 0 ? lbs : out.get(JAVA_INT, 0);
                    major = stx.get(JAVA_INT, Native.STX_RDEV_MAJOR);
                    minor = stx.get(JAVA_INT, Native.STX_RDEV_MINOR);
                } else {
                    size = stx.get(JAVA_LONG, Native.STX_SIZE);
                    lbs = dioOff > 0 ? dioOff : 512;
                    pbs = Math.max(lbs, stx.get(JAVA_INT, Native.STX_BLKSIZE));
                    major = stx.get(JAVA_INT, Native.STX_DEV_MAJOR);
                    minor = stx.get(JAVA_INT, Native.STX_DEV_MINOR);
                }
                if (lbs < 512 || Integer.bitCount(lbs) != 1) {
                    throw new IOException(path + ": unexpected logical block size " + lbs);
                }
                int memAlign = Math.max(dioMem > 0 ? dioMem : lbs, 1);
                long cap = size - size % lbs;
                if (cap <= 0) {
                    throw new IOException(path + " is empty (" + size + " bytes); an image needs a size (create it with FileDevice.createImage or truncate -s)");
                }
                int amin = 0, amax = 0, asegs = 0;
                if ((mask & Native.STATX_WRITE_ATOMIC) != 0) {
                    amin = stx.get(JAVA_INT, Native.STX_ATOMIC_MIN);
                    amax = stx.get(JAVA_INT, Native.STX_ATOMIC_MAX);
                    asegs = stx.get(JAVA_INT, Native.STX_ATOMIC_SEGMENTS_MAX);
                    if (amax == 0 || amin == 0 || asegs == 0) { amin = 0; amax = 0; asegs = 0; }
                }
                Path queue = SysfsQueue.of(major, minor);
                boolean wb = SysfsQueue.writeBack(queue);
                boolean fua = SysfsQueue.fua(queue);
                return new Geometry(blk, cap, lbs, pbs, memAlign, wb, fua, amin, amax, asegs);
            }
        }
    }
}
