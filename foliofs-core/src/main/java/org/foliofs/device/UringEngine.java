package org.foliofs.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.foliofs.device.UringLayout.*;

/**
 * The io_uring engine, over the raw io_uring_setup/enter/register system calls (no liburing).
 *
 * <h2>One ring thread</h2>
 * The ring is created by, and only ever touched by, one <b>ring thread</b>: it writes every SQE,
 * calls every io_uring_enter and reaps every CQE. That lets the ring be set up with
 * SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN (completion work runs in batches when the ring
 * thread waits, with no interrupts of other tasks), as fio does, and the SQ needs no lock.
 * <ul>
 *   <li>Other threads take a permit (at most {@code depth} requests in flight, back-pressure
 *       parks them), put the request on the {@link MpscRing} and, only if the ring thread has
 *       announced it is about to sleep, wake it by writing its eventfd. The ring thread keeps one
 *       READ of that eventfd queued, so the wake-up arrives as a CQE.</li>
 *   <li>Wake-up protocol (Dekker): the ring thread writes {@code sleeping = 1}, then re-reads the
 *       queue; a submitter publishes its item, then reads {@code sleeping}. Both are volatile,
 *       so at least one sees the other: no item waits behind a sleeping ring thread.</li>
 *   <li>Completions run on the ring thread; when they submit again the SQEs are written
 *       directly, and the next io_uring_enter submits the batch and waits in one system call.
 *       With no permit free there, the request waits in {@link #overflow} instead of blocking
 *       the only thread that frees permits.</li>
 *   <li>PREFLUSH writes are an FSYNC(DATASYNC) SQE linked (IOSQE_IO_LINK) to the write; POSTFLUSH
 *       writes are the write linked to an FSYNC(DATASYNC) SQE after it (both flags: three linked
 *       SQEs). A request completes when the last CQE of its SQEs is reaped, whatever their order:
 *       a failed PREFLUSH wins, then a failed write (the kernel cancels the POSTFLUSH with
 *       ECANCELED), then a failed POSTFLUSH; else the write's result. A short write also breaks
 *       the link: its POSTFLUSH is then submitted again on its own. DISCARD on a block device
 *       never gets here: FileDevice does it on the caller's thread.</li>
 *   <li>Memory ordering with the kernel: SQ tail stored with release after the SQE; CQ tail
 *       loaded with acquire before reading CQEs; CQ head stored with release after them.</li>
 * </ul>
 */
final class UringEngine implements IoEngine {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle SLEEPING;
    static {
        try {
            SLEEPING = MethodHandles.lookup().findVarHandle(UringEngine.class, "sleeping", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private static final long PREFLUSH_TAG = 1L << 32;
    private static final long POSTFLUSH_TAG = 1L << 33;
    /** SQEs (and CQEs) one request may take: PREFLUSH fsync, the operation, POSTFLUSH fsync. */
    private static final int MAX_SQES_PER_REQUEST = 3;
    private static final long EVENTFD_TAG = -2L;
    private static final int PREFERRED_FLAGS =
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;

    private final FileDevice dev;
    private final int fd;
    private final int depth;
    private final BufferPool registered;
    private final boolean batchSubmissions;
    private final Arena arena = Arena.ofShared();
    private final MpscRing queue;
    private final Semaphore permits;
    private final int eventFd;
    private final MemorySegment wakeValue;
    private final Thread ringThread;
    private final CountDownLatch ready = new CountDownLatch(1);
    @SuppressWarnings("unused") // accessed through SLEEPING
    private volatile int sleeping;
    private volatile boolean closing;
    private volatile Throwable fatal;
    private volatile DeviceException setupError;

    // ---- ring state: written by the ring thread only (setup published by `ready`, teardown by join) ----
    private int ringFd = -1;
    private MemorySegment ring, sqes;
    private long ringSize, sqesSize;
    private long sqTailOff, cqHeadOff, cqTailOff, cqesOff;
    private int sqMask, cqMask;
    private int sqTail, cqHead, pending;
    private IoRequest[] inflight;
    private int[] freeSlots;
    private int freeCount;
    private int[] preflushErr;
    private int[] postflushRes;            // the POSTFLUSH fsync's CQE result
    private int[] opRes;                   // the operation's own CQE result, kept until the slot's last CQE
    private int[] cqesDue;                 // CQEs of the slot's request still to reap
    private byte[] slotOp;                 // the opcode push() chose for the slot's request (names errors)
    private MemorySegment[] slotIovecs;
    private MemorySegment eventBuf;
    private final ArrayDeque<IoRequest> overflow = new ArrayDeque<>();

    UringEngine(FileDevice dev, int fd, int depth, BufferPool registered, boolean batchSubmissions) throws DeviceException {
        this.dev = dev;
        this.fd = fd;
        this.depth = depth;
        this.registered = registered;
        this.batchSubmissions = batchSubmissions;
        this.queue = new MpscRing(depth);
        this.permits = new Semaphore(depth);
        int efd = Native.eventfd(0, Native.EFD_CLOEXEC);
        if (efd < 0) {
            arena.close();
            throw new DeviceException("eventfd for the io_uring engine of " + dev.path(), -efd);
        }
        this.eventFd = efd;
        this.wakeValue = arena.allocate(8, 8).fill((byte) 0);
        wakeValue.set(JAVA_LONG, 0, 1L);
        this.ringThread = Thread.ofPlatform().daemon().name("foliofs-uring " + dev.path()).unstarted(this::run);
        ringThread.start();
        boolean interrupted = false;
        while (true) {
            try {
                ready.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (setupError != null) {
            Native.close(eventFd);
            arena.close();
            throw setupError;
        }
    }

    // ---- submission (any thread) --------------------------------------------------------------

    @Override
    public void submit(IoRequest r) {
        if (fatal != null) { // the ring is gone: fail the request through its completion, like any I/O error
            dev.finish(r, -Errno.EIO, "io_uring (engine stopped after an earlier failure)");
            return;
        }
        if (Thread.currentThread() == ringThread) {
            if (permits.tryAcquire()) push(r);
            else overflow.add(r);
            return;
        }
        permits.acquireUninterruptibly();
        queue.offer(r);  // volatile publication, then a volatile read of `sleeping` (Dekker, see class comment)
        if ((int) SLEEPING.getVolatile(this) == 1 && SLEEPING.compareAndSet(this, 1, 0)) wake();
    }

    private void wake() {
        long w = Native.write(eventFd, wakeValue, 8);
        if (w < 0 && fatal == null) fatal = new DeviceException("write to the io_uring engine's eventfd", (int) -w);
    }

    // ---- the ring thread ------------------------------------------------------------------------

    private void run() {
        try {
            setup();
        } catch (DeviceException e) {
            setupError = e;
        } catch (Throwable t) {
            setupError = new DeviceException("io_uring setup for " + dev.path() + " failed: " + t, Errno.EIO);
        } finally {
            ready.countDown();
        }
        if (setupError != null) return;
        try {
            loop();
        } catch (Throwable t) {
            fatal = t;
            System.getLogger("org.foliofs.device").log(System.Logger.Level.ERROR,
                    "io_uring ring thread of " + dev.describe() + " stopped", t);
            failQueued(t);
        }
    }

    private void loop() {
        armEventFd();
        while (true) {
            IoRequest r;
            while ((r = queue.poll()) != null) push(r);
            while (!overflow.isEmpty() && permits.tryAcquire()) push(overflow.poll());
            if (closing) return; // FileDevice closes the engine only once nothing is in flight
            SLEEPING.setVolatile(this, 1);          // announce, then re-check (pairs with submit)
            if (queue.hasItems() || closing) {
                SLEEPING.setVolatile(this, 0);
                if (!closing || queue.hasItems()) continue;
            }
            int toSubmit = pending;
            long n = Native.syscall(Native.SYS_IO_URING_ENTER, ringFd, toSubmit, 1, IORING_ENTER_GETEVENTS, 0, 0);
            SLEEPING.setVolatile(this, 0);
            if (n >= 0) {
                pending -= (int) Math.min(n, toSubmit);
            } else if (n != -Errno.EINTR && n != -Errno.EAGAIN && n != -Errno.EBUSY && n != -Errno.ETIMEDOUT) {
                throw new IllegalStateException("io_uring_enter on " + dev.describe() + " failed: " + Errno.describe((int) -n));
            }
            drainCompletions();
        }
    }

    private void setup() throws DeviceException {
        // Up to three SQEs per request in flight (PREFLUSH + op + POSTFLUSH) + the eventfd read, so
        // even with every request unsubmitted (batching) the SQ has room; rounded up to a power of two.
        int entries = MAX_SQES_PER_REQUEST * depth + 1;
        MemorySegment params = arena.allocate(PARAMS_SIZE, 8);
        params.set(JAVA_INT, P_FLAGS, PREFERRED_FLAGS);
        long r = Native.syscall(Native.SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        if (r == -Errno.EINVAL) { // kernel older than 6.1: plain ring, same protocol
            params.fill((byte) 0);
            r = Native.syscall(Native.SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        }
        if (r < 0) {
            throw new DeviceException("io_uring_setup with " + entries + " entries for " + dev.path()
                    + " (is io_uring disabled? see /proc/sys/kernel/io_uring_disabled)", (int) -r);
        }
        ringFd = (int) r;
        try {
            int features = params.get(JAVA_INT, P_FEATURES);
            if ((features & IORING_FEAT_SINGLE_MMAP) == 0 || (features & IORING_FEAT_NODROP) == 0) {
                throw new DeviceException("io_uring on this kernel lacks SINGLE_MMAP/NODROP (features 0x"
                        + Integer.toHexString(features) + "); use the sync engine", Errno.EOPNOTSUPP);
            }
            int sqEntries = params.get(JAVA_INT, P_SQ_ENTRIES);
            int cqEntries = params.get(JAVA_INT, P_CQ_ENTRIES);
            long sqRingSize = Integer.toUnsignedLong(params.get(JAVA_INT, P_SQ_OFF + SQO_ARRAY)) + 4L * sqEntries;
            long cqRingSize = Integer.toUnsignedLong(params.get(JAVA_INT, P_CQ_OFF + CQO_CQES)) + (long) CQE_SIZE * cqEntries;
            ringSize = Math.max(sqRingSize, cqRingSize);
            ring = Native.mmap(ringSize, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_POPULATE,
                    ringFd, IORING_OFF_SQ_RING, "io_uring rings");
            sqesSize = (long) SQE_SIZE * sqEntries;
            sqes = Native.mmap(sqesSize, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_POPULATE,
                    ringFd, IORING_OFF_SQES, "io_uring SQEs");
            sqTailOff = params.get(JAVA_INT, P_SQ_OFF + SQO_TAIL);
            sqMask = ring.get(JAVA_INT, params.get(JAVA_INT, P_SQ_OFF + SQO_RING_MASK));
            long sqArray = params.get(JAVA_INT, P_SQ_OFF + SQO_ARRAY);
            for (int i = 0; i < sqEntries; i++) ring.set(JAVA_INT, sqArray + 4L * i, i); // SQE i at ring index i
            cqHeadOff = params.get(JAVA_INT, P_CQ_OFF + CQO_HEAD);
            cqTailOff = params.get(JAVA_INT, P_CQ_OFF + CQO_TAIL);
            cqesOff = params.get(JAVA_INT, P_CQ_OFF + CQO_CQES);
            cqMask = ring.get(JAVA_INT, params.get(JAVA_INT, P_CQ_OFF + CQO_RING_MASK));
            sqTail = (int) INT.getAcquire(ring, sqTailOff);
            cqHead = (int) INT.getAcquire(ring, cqHeadOff);
            if (registered != null) {
                MemorySegment iov = arena.allocate(Native.IOVEC_SIZE, 8);
                Native.putIovec(iov, 0, registered.region());
                long rr = Native.syscall(Native.SYS_IO_URING_REGISTER, ringFd, IORING_REGISTER_BUFFERS, iov.address(), 1, 0, 0);
                if (rr < 0) {
                    throw new DeviceException("io_uring_register(BUFFERS) of " + registered.region().byteSize()
                            + " bytes (check ulimit -l)", (int) -rr);
                }
            }
        } catch (DeviceException | RuntimeException e) {
            unmapAndClose();
            throw e;
        }
        inflight = new IoRequest[depth];
        freeSlots = new int[depth];
        for (int i = 0; i < depth; i++) freeSlots[i] = depth - 1 - i;
        freeCount = depth;
        preflushErr = new int[depth];
        postflushRes = new int[depth];
        opRes = new int[depth];
        cqesDue = new int[depth];
        slotOp = new byte[depth];
        slotIovecs = new MemorySegment[depth];
        eventBuf = arena.allocate(8, 8);
    }

    private void armEventFd() {
        putSqe(OP_READ, (byte) 0, eventFd, 0, eventBuf.address(), 8, 0, EVENTFD_TAG);
        publishTail();
    }

    /** Writes a request's SQE(s); ring thread only, with a permit held. */
    private void push(IoRequest r) {
        int slot = freeSlots[--freeCount];
        inflight[slot] = r;
        preflushErr[slot] = 0;
        postflushRes[slot] = 0;
        int due = 1;
        if (r.op() == IoOp.WRITE && r.hasFlag(IoRequest.PREFLUSH)) {
            putSqe(OP_FSYNC, IOSQE_IO_LINK, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot | PREFLUSH_TAG);
            due++;
        }
        boolean postflush = r.op() == IoOp.WRITE && r.hasFlag(IoRequest.POSTFLUSH);
        byte link = postflush ? IOSQE_IO_LINK : 0;
        slotOp[slot] = switch (r.op()) {
            case READ, WRITE -> {
                boolean write = r.op() == IoOp.WRITE;
                int rw = write ? FileDevice.rwFlags(r) : 0;
                if (r.segmentCount() == 1) {
                    MemorySegment s = r.segment(0);
                    boolean fixed = registered != null && registered.contains(s);
                    byte op = fixed ? (write ? OP_WRITE_FIXED : OP_READ_FIXED) : (write ? OP_WRITE : OP_READ);
                    putSqe(op, link, fd, r.offset(), s.address(), (int) s.byteSize(), rw, slot);
                    yield op;
                }
                MemorySegment iov = slotIovecs[slot];
                if (iov == null) {
                    iov = arena.allocate(FileDevice.MAX_SEGMENTS * Native.IOVEC_SIZE, 8);
                    slotIovecs[slot] = iov;
                }
                for (int i = 0; i < r.segmentCount(); i++) Native.putIovec(iov, i, r.segment(i));
                byte op = write ? OP_WRITEV : OP_READV;
                putSqe(op, link, fd, r.offset(), iov.address(), r.segmentCount(), rw, slot);
                yield op;
            }
            case FLUSH -> {
                putSqe(OP_FSYNC, (byte) 0, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot);
                yield OP_FSYNC;
            }
            case DISCARD -> {
                putSqe(OP_FALLOCATE, (byte) 0, fd, r.offset(), r.length(),
                        Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE, 0, slot);
                yield OP_FALLOCATE;
            }
        };
        if (postflush) {
            putSqe(OP_FSYNC, (byte) 0, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot | POSTFLUSH_TAG);
            due++;
        }
        cqesDue[slot] = due;
        publishTail();
        if (!batchSubmissions) submitPending();
    }

    /**
     * Submits the SQEs written so far without waiting. By default every request is submitted as
     * soon as it is written (like fio's iodepth_batch_submit=1): on the virtio disk we measure on,
     * gathering a completion batch's resubmissions into one io_uring_enter cost about a fifth of
     * the 4 KiB random-write IOPS (fio itself: ~100k eager vs ~77k batched by 32).
     */
    private void submitPending() {
        while (pending > 0) {
            long n = Native.syscall(Native.SYS_IO_URING_ENTER, ringFd, pending, 0, 0, 0, 0);
            if (n > 0) {
                pending -= (int) Math.min(n, pending);
            } else if (n == 0 || n == -Errno.EAGAIN || n == -Errno.EBUSY) {
                return; // the kernel is short of resources: the next enter in the loop retries
            } else if (n != -Errno.EINTR) {
                throw new IllegalStateException("io_uring_enter(submit " + pending + ") on " + dev.describe()
                        + " failed: " + Errno.describe((int) -n));
            }
        }
    }

    /** Fills the next SQE (the buf_index of fixed buffers is always 0: one registered region). */
    private void putSqe(byte op, byte flags, int fd, long off, long addr, int len, int rwFlags, long userData) {
        long b = (long) (sqTail & sqMask) * SQE_SIZE;
        MemorySegment q = sqes;
        q.set(JAVA_BYTE, b + SQE_OPCODE, op);
        q.set(JAVA_BYTE, b + SQE_FLAGS, flags);
        q.set(JAVA_SHORT, b + SQE_IOPRIO, (short) 0);
        q.set(JAVA_INT, b + SQE_FD, fd);
        q.set(JAVA_LONG, b + SQE_OFF, off);
        q.set(JAVA_LONG, b + SQE_ADDR, addr);
        q.set(JAVA_INT, b + SQE_LEN, len);
        q.set(JAVA_INT, b + SQE_RW_FLAGS, rwFlags);
        q.set(JAVA_LONG, b + SQE_USER_DATA, userData);
        q.set(JAVA_SHORT, b + SQE_BUF_INDEX, (short) 0);
        q.set(JAVA_SHORT, b + SQE_PERSONALITY, (short) 0);
        q.set(JAVA_INT, b + SQE_SPLICE_FD, 0);
        q.set(JAVA_LONG, b + SQE_ADDR3, 0L);
        q.set(JAVA_LONG, b + SQE_PAD, 0L);
        sqTail++;
        pending++;
    }

    private void publishTail() {
        INT.setRelease(ring, sqTailOff, sqTail); // SQE contents before the tail (release)
    }

    /** Reaps every visible CQE: frees slot and permit, then runs the completion. */
    private void drainCompletions() {
        int head = cqHead;
        int tail = (int) INT.getAcquire(ring, cqTailOff); // CQE contents after the tail (acquire)
        while (head != tail) {
            long b = cqesOff + (long) (head & cqMask) * CQE_SIZE;
            long ud = ring.get(JAVA_LONG, b + CQE_USER_DATA);
            int res = ring.get(JAVA_INT, b + CQE_RES);
            head++;
            if (ud == EVENTFD_TAG) {
                if (res < 0 && res != -Errno.EINTR && res != -Errno.EAGAIN && res != -Errno.ECANCELED) {
                    throw new IllegalStateException("eventfd read on the io_uring ring failed: " + Errno.describe(-res));
                }
                armEventFd();
                continue;
            }
            int slot = (int) ud;
            if ((ud & PREFLUSH_TAG) != 0) {
                if (res < 0) preflushErr[slot] = res;
            } else if ((ud & POSTFLUSH_TAG) != 0) {
                postflushRes[slot] = res;
            } else {
                opRes[slot] = res;
            }
            if (--cqesDue[slot] > 0) continue; // the request's other CQEs are still to come
            IoRequest req = inflight[slot];
            int pf = preflushErr[slot];
            int result = opRes[slot];
            int post = postflushRes[slot];
            if (post == -Errno.ECANCELED && pf == 0 && result >= 0 && req.hasFlag(IoRequest.POSTFLUSH)) {
                // A short write fails the link, so the kernel cancelled the POSTFLUSH: issue it
                // now, on its own (the slot's earlier SQEs are consumed: there is room).
                postflushRes[slot] = 0;
                cqesDue[slot] = 1;
                putSqe(OP_FSYNC, (byte) 0, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot | POSTFLUSH_TAG);
                publishTail();
                if (!batchSubmissions) submitPending();
                continue;
            }
            inflight[slot] = null;
            byte op = slotOp[slot];
            freeSlots[freeCount++] = slot;
            permits.release();
            complete(req, result, pf, post, op);
        }
        INT.setRelease(ring, cqHeadOff, head); // every CQE read above is consumed (release), once per batch
        cqHead = head;
    }

    private void complete(IoRequest req, long res, int preflushError, int postflushResult, byte op) {
        String call = null;
        if (preflushError < 0) {
            res = preflushError;
            call = "io_uring FSYNC (PREFLUSH)";
        } else if (res < 0) {
            call = "io_uring " + opName(op) + (op == OP_FALLOCATE ? "(PUNCH_HOLE)" : "");
        } else if (postflushResult < 0) {
            res = postflushResult;
            call = "io_uring FSYNC (POSTFLUSH)";
        }
        try {
            dev.finish(req, res, call);
        } catch (Throwable t) {
            System.getLogger("org.foliofs.device").log(System.Logger.Level.ERROR, "completion callback of " + req + " threw", t);
        }
    }

    /** After a fatal ring error: requests not yet given to the kernel complete with EIO. */
    private void failQueued(Throwable cause) {
        IoRequest r;
        while ((r = queue.poll()) != null) failUnsubmitted(r);
        while ((r = overflow.poll()) != null) failUnsubmitted(r);
        permits.release(depth); // nobody may stay parked on a dead engine
    }

    private void failUnsubmitted(IoRequest r) {
        dev.finish(r, -Errno.EIO, "io_uring (not submitted: the ring thread stopped)");
    }

    /** True on the ring thread (completion callbacks run there). */
    @Override
    public boolean isCompletionThread() { return Thread.currentThread() == ringThread; }

    // ---- shutdown ----------------------------------------------------------------------------

    @Override
    public void close() {
        closing = true;
        wake();
        try {
            ringThread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        unmapAndClose();
        Native.close(eventFd);
        arena.close();
    }

    private void unmapAndClose() {
        if (sqes != null) Native.munmap(sqes, sqesSize);
        if (ring != null) Native.munmap(ring, ringSize);
        if (ringFd >= 0) Native.close(ringFd);
        sqes = null;
        ring = null;
        ringFd = -1;
    }
}
