package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.foliofs.device.BlockDevice;

/**
 * Direct I/O over mappings (Linux's iomap_dio_rw): file ranges go straight between the caller's
 * memory and the device, one device request per mapping chunk of at most
 * {@link Options#maxRequestBytes()}; no page cache (see {@link CacheRangeSync} for coherence).
 *
 * <h2>Rules</h2>
 * <ul>
 *   <li>Alignment: the file position, the length and the buffer address must be multiples of the
 *       device's logical block size (the address also of its memory alignment), else
 *       {@link IllegalArgumentException} naming the value. Length 0 returns 0 at once.</li>
 *   <li>Reads stop at {@link IoInode#size()} (a read at or past it returns 0; one crossing it
 *       returns the bytes up to it); HOLE and UNWRITTEN ranges are zero-filled without device I/O;
 *       a DELALLOC mapping fails the read with an IOException (as Linux: dirty cached data must
 *       have been written back by {@link CacheRangeSync#writeAndWait} first).</li>
 *   <li>Writes: {@code begin} must return allocated space (MAPPED or UNWRITTEN). After every
 *       request of the call completed, {@link IoEndHandler#ioEnd} runs once per mapping. Sub-block
 *       writes into NEW or UNWRITTEN blocks (and the tail block of a write ending past the size)
 *       are zero-padded to the file system block with extra device writes.</li>
 *   <li>{@link #DSYNC}: a chunk that is a pure overwrite (MAPPED, none of NEW, SHARED, DIRTY) is
 *       written with FUA when the device {@code supportsFua()} or has no volatile write cache; once
 *       one chunk is not, the call needs a sync: after ioEnd, {@link IoEndHandler#sync} and one
 *       FLUSH (skipped on a device without volatile write cache) before success is reported.</li>
 *   <li>Errors: the first failed device request fails the call with its DeviceException; no
 *       further chunk is issued; requests in flight are waited for; ioEnd gets the errno. A
 *       request completing short (no errno) makes the call return the bytes up to it.</li>
 *   <li>Asynchronous calls return a future that never completes on the calling thread; it
 *       completes on the executor after ioEnd/sync. The mapping loop still runs on the caller
 *       (begin may block), which may also block for a free request slot
 *       ({@link Options#maxInFlight()} per call). Errors found before the first request
 *       (alignment, bad flags) are thrown, later ones complete the future exceptionally.</li>
 * </ul>
 * Thread-safe: one instance per device, any number of concurrent calls. It takes no lock; the
 * caller holds the inode lock (package documentation).
 */
public final class DirectIo {
    /** Write flag: data durable when the call succeeds (O_DSYNC / RWF_DSYNC). */
    public static final int DSYNC = 1;
    /** Passed to {@code begin} as {@link IoMapOps#NOWAIT}; the engine itself may still block in submit. */
    public static final int NOWAIT = 2;
    /**
     * Write flag: untorn (RWF_ATOMIC, WRITETHROUGH.md section 10). The caller has checked the
     * file system's size and alignment limits and holds the inode lock exclusively (overlapping
     * atomic writes serialise). {@code begin(DIRECT|WRITE|ATOMIC)} must return one MAPPED mapping
     * for the whole range: in place (issued as one device request with {@code IoRequest.ATOMIC})
     * or NEW|SHARED out of place; the range goes down in ONE request, never split; a short
     * completion fails the call; {@link IoEndHandler#ioEndAtomic} (not ioEnd) finishes it in one
     * transaction. Same value as {@link BufferedIo#ATOMIC}.
     */
    public static final int ATOMIC = 8;
    static final int ALL_FLAGS = DSYNC | NOWAIT | ATOMIC;

    /**
     * Engine settings. {@code maxRequestBytes}: largest device request (a positive multiple of 4096,
     * default 1 MiB); {@code maxInFlight}: requests one call keeps in flight (1..1024, default 32);
     * {@code executor}: runs asynchronous completions and their end-of-I/O work (default: a shared
     * pool of daemon threads named {@code foliofs-ioend-N}). It also gets the rest of an
     * asynchronous DSYNC call after its journal commit, handed over under the file system's
     * journal lock ({@link IoEndHandler#syncLoggedAsync}): it must run tasks on threads of its own,
     * never inline in {@code execute}.
     */
    public record Options(int maxRequestBytes, int maxInFlight, Executor executor) {
        public Options {
            if (maxRequestBytes <= 0 || maxRequestBytes % 4096 != 0) {
                throw new IllegalArgumentException("maxRequestBytes (" + maxRequestBytes + ") must be a positive multiple of 4096");
            }
            if (maxInFlight < 1 || maxInFlight > 1024) {
                throw new IllegalArgumentException("maxInFlight (" + maxInFlight + ") must be between 1 and 1024");
            }
            Objects.requireNonNull(executor, "executor");
        }

        public static Options defaults() { return new Options(1 << 20, 32, DefaultPool.EXECUTOR); }

        public Options withMaxRequestBytes(int bytes) { return new Options(bytes, maxInFlight, executor); }
        public Options withMaxInFlight(int n) { return new Options(maxRequestBytes, n, executor); }
        public Options withExecutor(Executor e) { return new Options(maxRequestBytes, maxInFlight, e); }
    }

    /** Shared default completion pool: created on first use, daemon threads. */
    private static final class DefaultPool {
        private static final AtomicInteger THREADS = new AtomicInteger();
        static final ExecutorService EXECUTOR = Executors.newFixedThreadPool(
                Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors())), r -> {
                    Thread t = new Thread(r, "foliofs-ioend-" + THREADS.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    final BlockDevice device;
    final Options options;
    final int lbs;
    final int memAlign;
    final boolean fuaUsable; // a FUA write is durable at completion and worth issuing

    public DirectIo(BlockDevice device) { this(device, Options.defaults()); }

    public DirectIo(BlockDevice device, Options options) {
        this.device = Objects.requireNonNull(device, "device");
        this.options = Objects.requireNonNull(options, "options");
        this.lbs = device.logicalBlockSize();
        this.memAlign = Math.max(1, device.memoryAlignment());
        this.fuaUsable = device.supportsFua() || !device.volatileWriteCache();
        if (options.maxRequestBytes() % lbs != 0) {
            throw new IllegalArgumentException("maxRequestBytes (" + options.maxRequestBytes()
                    + ") must be a multiple of the logical block size " + lbs + " of " + device.describe());
        }
    }

    public BlockDevice device() { return device; }
    public Options options() { return options; }

    /** Reads {@code dst.byteSize()} bytes at {@code pos}; returns the bytes read (short at the file size). */
    public long read(IoInode inode, IoMapOps ops, long pos, MemorySegment dst) throws IOException {
        return start(inode, ops, IoEndHandler.NONE, pos, dst, false, 0, false, null).awaitSync();
    }

    /** Writes {@code src} at {@code pos}; returns the bytes written. {@code flags}: {@link #DSYNC}, {@link #NOWAIT}. */
    public long write(IoInode inode, IoMapOps ops, IoEndHandler ioEnd, long pos, MemorySegment src, int flags)
            throws IOException {
        return start(inode, ops, ioEnd, pos, src, true, flags, false, null).awaitSync();
    }

    /**
     * {@link #write}, running {@code afterSubmit} on the calling thread once every request is
     * issued and before the call waits (see
     * {@link BufferedIo#writeThrough(IoInode, IoMapOps, IoMapOps, long, MemorySegment, int, Runnable)}).
     */
    public long write(IoInode inode, IoMapOps ops, IoEndHandler ioEnd, long pos, MemorySegment src, int flags, Runnable afterSubmit)
            throws IOException {
        return start(inode, ops, ioEnd, pos, src, true, flags, false, afterSubmit).awaitSync();
    }

    /**
     * Asynchronous {@link #read}: the future completes with the bytes or the exception, never on
     * the submitting thread; on the device's completion thread when nothing is cached (so
     * dependent stages that block must use the {@code *Async} variants), else on the executor.
     */
    public CompletableFuture<Long> readAsync(IoInode inode, IoMapOps ops, long pos, MemorySegment dst) {
        return start(inode, ops, IoEndHandler.NONE, pos, dst, false, 0, true, null).future();
    }

    /**
     * Asynchronous {@link #write}: the future completes after ioEnd (and the sync, for DSYNC),
     * never on the submitting thread: on the executor, or, for a pure overwrite inside the file
     * size without DSYNC on a file with nothing cached, on the device's completion thread (Linux's
     * inline completion; dependent stages that block must use the {@code *Async} variants).
     */
    public CompletableFuture<Long> writeAsync(IoInode inode, IoMapOps ops, IoEndHandler ioEnd, long pos,
                                              MemorySegment src, int flags) {
        return start(inode, ops, ioEnd, pos, src, true, flags, true, null).future();
    }

    private DioCall start(IoInode inode, IoMapOps ops, IoEndHandler ioEnd, long pos, MemorySegment buf, boolean write,
                          int flags, boolean async, Runnable afterSubmit) {
        Objects.requireNonNull(inode, "inode");
        Objects.requireNonNull(ops, "ops");
        Objects.requireNonNull(ioEnd, "ioEnd");
        Objects.requireNonNull(buf, write ? "src" : "dst");
        checkArguments(write, pos, buf, flags);
        DioCall call = new DioCall(this, inode, ops, ioEnd, pos, buf, write, flags, async);
        if (afterSubmit != null) call.afterSubmit(afterSubmit);
        call.run();
        return call;
    }

    private void checkArguments(boolean write, long pos, MemorySegment buf, int flags) {
        String what = write ? "direct write" : "direct read";
        long len = buf.byteSize();
        if ((flags & ~ALL_FLAGS) != 0) {
            throw new IllegalArgumentException(what + " flags (0x" + Integer.toHexString(flags)
                    + ") has unknown bits; allowed are DSYNC, NOWAIT, ATOMIC");
        }
        if (!write && flags != 0) throw new IllegalArgumentException(what + " takes no flags, not 0x" + Integer.toHexString(flags));
        if (pos < 0) throw new IllegalArgumentException(what + " position (" + pos + ") must not be negative");
        if (pos + len < 0) throw new IllegalArgumentException(what + " of " + len + " bytes at " + pos + " overflows");
        if (pos % lbs != 0 || len % lbs != 0) {
            throw new IllegalArgumentException(what + " of " + len + " bytes at " + pos
                    + " is not aligned to the logical block size " + lbs);
        }
        long align = Math.max(lbs, memAlign);
        if (buf.address() % align != 0) {
            throw new IllegalArgumentException(what + " buffer address 0x" + Long.toHexString(buf.address())
                    + " is not aligned to " + align + " bytes");
        }
        if (memAlign > 1 && !buf.isNative()) {
            throw new IllegalArgumentException(what + " buffer is on the Java heap; " + device.describe()
                    + " needs native memory aligned to " + memAlign + " bytes (use a BufferPool)");
        }
        if (!write && buf.isReadOnly()) throw new IllegalArgumentException(what + " buffer is read-only");
        if ((flags & ATOMIC) != 0 && len > options.maxRequestBytes()) {
            throw new IllegalArgumentException("atomic direct write of " + len + " bytes exceeds the largest request ("
                    + options.maxRequestBytes() + " bytes)");
        }
    }

    /**
     * The argument checks of {@link #write} (alignment, buffer, flags), without writing: a caller
     * that must refuse a bad write before it changes anything (an atomic write) runs them first.
     */
    public void checkWrite(long pos, MemorySegment src, int flags) {
        checkArguments(true, pos, Objects.requireNonNull(src, "src"), flags);
    }

    @Override
    public String toString() {
        return "DirectIo[" + device.describe() + ", maxRequestBytes=" + options.maxRequestBytes() + ", maxInFlight="
                + options.maxInFlight() + "]";
    }
}
