package org.foliofs.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.foliofs.device.UringLayout.*;

/**
 * The io_uring engine, over the raw io_uring_setup/enter/register system calls (no liburing).
 *
 * <h2>Threads and memory ordering</h2>
 * <ul>
 *   <li>Submitters (any thread) take a permit (at most {@code depth} requests in flight), then
 *       under {@link #sqLock} take a slot, write the SQE(s) and publish the SQ tail with a
 *       <b>release</b> store; outside the lock they call io_uring_enter(to_submit=n). Every push is
 *       followed by an enter, so no SQE is left unsubmitted (an enter may submit a neighbour's).</li>
 *   <li>One reaper thread waits in io_uring_enter(GETEVENTS, min_complete=1), reads the CQ tail
 *       with an <b>acquire</b> load, copies the CQEs out, publishes the CQ head with a
 *       <b>release</b> store, frees the slots and permits, then runs the completions.</li>
 *   <li>Completions that submit again run on the reaper: their SQEs are only pushed, and the
 *       reaper's next enter both submits them and waits (one system call per batch). When no
 *       permit is free there, the request waits in {@link #overflow} (reaper-only) instead of
 *       blocking the thread that frees permits.</li>
 *   <li>PREFLUSH writes are an FSYNC(DATASYNC) SQE linked (IOSQE_IO_LINK) to the write.</li>
 * </ul>
 */
final class UringEngine implements IoEngine {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final long PREFLUSH_TAG = 1L << 32;
    private static final long WAKE = -1L;

    private final FileDevice dev;
    private final int fd;
    private final int depth;
    private final int ringFd;
    private final MemorySegment ring;
    private final long ringSize;
    private final MemorySegment sqes;
    private final long sqesSize;
    private final long sqTailOff, cqHeadOff, cqTailOff, cqesOff;
    private final int sqMask, cqMask;
    private final Arena arena = Arena.ofShared();

    private final ReentrantLock sqLock = new ReentrantLock();
    private int sqTail;                  // guarded by sqLock
    private int deferred;                // SQEs pushed on the reaper, not yet entered; guarded by sqLock
    private final IoRequest[] inflight;  // by slot; guarded by sqLock (written) / reaper (read)
    private final int[] freeSlots;       // guarded by sqLock
    private int freeCount;               // guarded by sqLock
    private final int[] preflushErr;     // by slot; reaper only
    private final MemorySegment[] slotIovecs; // by slot, allocated on first multi-segment use
    private final Semaphore permits;
    private final AtomicInteger outstanding = new AtomicInteger();

    private final Thread reaper;
    private final ArrayDeque<IoRequest> overflow = new ArrayDeque<>(); // reaper only
    private int cqHead;                  // reaper only
    private final IoRequest[] batchReq;  // reaper only
    private final int[] batchRes, batchPreflush, batchSlot; // reaper only
    private volatile Throwable fatal;

    private final long regBase, regEnd;

    UringEngine(FileDevice dev, int fd, int depth, BufferPool registered) throws DeviceException {
        this.dev = dev;
        this.fd = fd;
        this.depth = depth;
        int entries = Integer.highestOneBit(Math.max(2 * depth, 2) - 1) << 1; // room for PREFLUSH pairs
        MemorySegment params = arena.allocate(PARAMS_SIZE, 8);
        params.set(JAVA_INT, P_FLAGS, Integer.getInteger("foliofs.uring.flags", 0));
        long r = Native.syscall(Native.SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        if (r < 0) {
            arena.close();
            throw new DeviceException("io_uring_setup with " + entries + " entries for " + dev.path()
                    + " (is io_uring disabled? see /proc/sys/kernel/io_uring_disabled)", (int) -r);
        }
        this.ringFd = (int) r;
        try {
            int features = params.get(JAVA_INT, P_FEATURES);
            if ((features & IORING_FEAT_SINGLE_MMAP) == 0 || (features & IORING_FEAT_NODROP) == 0) {
                throw new DeviceException("io_uring on this kernel lacks SINGLE_MMAP/NODROP (features 0x"
                        + Integer.toHexString(features) + "); use the sync engine", Errno.EOPNOTSUPP);
            }
            int sqEntries = params.get(JAVA_INT, P_SQ_ENTRIES);
            int cqEntries = params.get(JAVA_INT, P_CQ_ENTRIES);
            long sqOff = P_SQ_OFF, cqOff = P_CQ_OFF;
            long sqRingSize = Integer.toUnsignedLong(params.get(JAVA_INT, sqOff + SQO_ARRAY)) + 4L * sqEntries;
            long cqRingSize = Integer.toUnsignedLong(params.get(JAVA_INT, cqOff + CQO_CQES)) + (long) CQE_SIZE * cqEntries;
            this.ringSize = Math.max(sqRingSize, cqRingSize);
            this.ring = Native.mmap(ringSize, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_POPULATE,
                    ringFd, IORING_OFF_SQ_RING, "io_uring rings");
            this.sqesSize = (long) SQE_SIZE * sqEntries;
            this.sqes = Native.mmap(sqesSize, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED | Native.MAP_POPULATE,
                    ringFd, IORING_OFF_SQES, "io_uring SQEs");
            this.sqTailOff = params.get(JAVA_INT, sqOff + SQO_TAIL);
            this.sqMask = ring.get(JAVA_INT, params.get(JAVA_INT, sqOff + SQO_RING_MASK));
            long sqArray = params.get(JAVA_INT, sqOff + SQO_ARRAY);
            for (int i = 0; i < sqEntries; i++) ring.set(JAVA_INT, sqArray + 4L * i, i); // identity: SQE i at ring index i
            this.cqHeadOff = params.get(JAVA_INT, cqOff + CQO_HEAD);
            this.cqTailOff = params.get(JAVA_INT, cqOff + CQO_TAIL);
            this.cqesOff = params.get(JAVA_INT, cqOff + CQO_CQES);
            this.cqMask = ring.get(JAVA_INT, params.get(JAVA_INT, cqOff + CQO_RING_MASK));
            this.sqTail = (int) INT.getAcquire(ring, sqTailOff);
            this.cqHead = (int) INT.getAcquire(ring, cqHeadOff);

            long base = 0, end = 0;
            if (registered != null) {
                MemorySegment iov = arena.allocate(Native.IOVEC_SIZE, 8);
                Native.putIovec(iov, 0, registered.region());
                long rr = Native.syscall(Native.SYS_IO_URING_REGISTER, ringFd, IORING_REGISTER_BUFFERS, iov.address(), 1, 0, 0);
                if (rr < 0) {
                    throw new DeviceException("io_uring_register(BUFFERS) of " + registered.region().byteSize()
                            + " bytes (check ulimit -l)", (int) -rr);
                }
                base = registered.region().address();
                end = base + registered.region().byteSize();
            }
            this.regBase = base;
            this.regEnd = end;
        } catch (DeviceException | RuntimeException e) {
            Native.close(ringFd);
            arena.close();
            throw e;
        }

        this.inflight = new IoRequest[depth];
        this.freeSlots = new int[depth];
        for (int i = 0; i < depth; i++) freeSlots[i] = depth - 1 - i;
        this.freeCount = depth;
        this.preflushErr = new int[depth];
        this.slotIovecs = new MemorySegment[depth];
        this.permits = new Semaphore(depth);
        this.batchReq = new IoRequest[cqMask + 1];
        this.batchRes = new int[cqMask + 1];
        this.batchPreflush = new int[cqMask + 1];
        this.batchSlot = new int[cqMask + 1];
        this.reaper = Thread.ofPlatform().daemon().name("foliofs-uring-reaper " + dev.path()).unstarted(this::reap);
        reaper.start();
    }

    // ---- submission --------------------------------------------------------------------------

    @Override
    public void submit(IoRequest r) {
        Throwable f = fatal;
        if (f != null) {
            throw new IllegalStateException("io_uring engine of " + dev.describe() + " has failed", f);
        }
        outstanding.incrementAndGet();
        boolean onReaper = Thread.currentThread() == reaper;
        if (onReaper) {
            if (!permits.tryAcquire()) {
                overflow.add(r);
                return;
            }
        } else {
            permits.acquireUninterruptibly();
        }
        push(r, onReaper);
    }

    /** Writes the request's SQE(s) and publishes the tail; enters unless on the reaper. */
    private void push(IoRequest r, boolean onReaper) {
        int n;
        sqLock.lock();
        try {
            int slot = freeSlots[--freeCount];
            inflight[slot] = r;
            preflushErr[slot] = 0;
            n = 1;
            if (r.op() == IoOp.WRITE && r.hasFlag(IoRequest.PREFLUSH)) {
                putSqe(OP_FSYNC, IOSQE_IO_LINK, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot | PREFLUSH_TAG, 0);
                n = 2;
            }
            putRequestSqe(r, slot);
            INT.setRelease(ring, sqTailOff, sqTail); // SQE contents before the tail (release)
            if (onReaper) {
                deferred += n;
                return;
            }
        } finally {
            sqLock.unlock();
        }
        enterSubmit(n);
    }

    private void putRequestSqe(IoRequest r, int slot) {
        switch (r.op()) {
            case READ, WRITE -> {
                boolean write = r.op() == IoOp.WRITE;
                int rw = write ? FileDevice.rwFlags(r) : 0;
                if (r.segmentCount() == 1) {
                    MemorySegment s = r.segment(0);
                    long a = s.address();
                    boolean fixed = a >= regBase && a + s.byteSize() <= regEnd && regEnd != 0;
                    byte op = fixed ? (write ? OP_WRITE_FIXED : OP_READ_FIXED) : (write ? OP_WRITE : OP_READ);
                    putSqe(op, (byte) 0, fd, r.offset(), a, (int) s.byteSize(), rw, slot, 0);
                } else {
                    MemorySegment iov = slotIovecs[slot];
                    if (iov == null) {
                        iov = arena.allocate(FileDevice.MAX_SEGMENTS * Native.IOVEC_SIZE, 8);
                        slotIovecs[slot] = iov;
                    }
                    for (int i = 0; i < r.segmentCount(); i++) Native.putIovec(iov, i, r.segment(i));
                    putSqe(write ? OP_WRITEV : OP_READV, (byte) 0, fd, r.offset(), iov.address(), r.segmentCount(), rw, slot, 0);
                }
            }
            case FLUSH -> putSqe(OP_FSYNC, (byte) 0, fd, 0, 0, 0, IORING_FSYNC_DATASYNC, slot, 0);
            case DISCARD -> {
                if (dev.isBlockDevice()) {
                    // No io_uring discard for block devices on every kernel: do it here, complete via a NOP.
                    long res = dev.discardNow(r.offset(), r.length());
                    preflushErr[slot] = (int) Math.min(res, 0);
                    putSqe(OP_NOP, (byte) 0, fd, 0, 0, 0, 0, slot, 0);
                } else {
                    putSqe(OP_FALLOCATE, (byte) 0, fd, r.offset(), r.length(),
                            Native.FALLOC_FL_PUNCH_HOLE | Native.FALLOC_FL_KEEP_SIZE, 0, slot, 0);
                }
            }
        }
    }

    /** Fills the next SQE. Caller holds sqLock and publishes the tail afterwards. */
    private void putSqe(byte op, byte flags, int fd, long off, long addr, int len, int rwFlags, long userData, int bufIndex) {
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
        q.set(JAVA_SHORT, b + SQE_BUF_INDEX, (short) bufIndex);
        q.set(JAVA_SHORT, b + SQE_PERSONALITY, (short) 0);
        q.set(JAVA_INT, b + SQE_SPLICE_FD, 0);
        q.set(JAVA_LONG, b + SQE_ADDR3, 0L);
        q.set(JAVA_LONG, b + SQE_PAD, 0L);
        sqTail++;
    }

    private void enterSubmit(int n) {
        while (true) {
            long r = Native.syscall(Native.SYS_IO_URING_ENTER, ringFd, n, 0, 0, 0, 0);
            if (r >= 0) return;
            if (r == -Errno.EINTR || r == -Errno.EAGAIN || r == -Errno.EBUSY) {
                Thread.onSpinWait();
                continue;
            }
            // The ring itself is broken: nothing we queued can complete. Fail loudly.
            IllegalStateException e = new IllegalStateException("io_uring_enter(submit " + n + ") on " + dev.describe()
                    + " failed: " + Errno.describe((int) -r));
            fatal = e;
            throw e;
        }
    }

    // ---- completion (reaper thread) ----------------------------------------------------------

    private void reap() {
        boolean wake = false;
        try {
            while (!(wake && outstanding.get() == 0)) {
                int toSubmit;
                sqLock.lock();
                try {
                    toSubmit = deferred;
                    deferred = 0;
                } finally {
                    sqLock.unlock();
                }
                long r = Native.syscall(Native.SYS_IO_URING_ENTER, ringFd, toSubmit, 1, IORING_ENTER_GETEVENTS, 0, 0);
                if (r < 0 || r < toSubmit) {
                    int notSubmitted = r < 0 ? toSubmit : toSubmit - (int) r;
                    if (notSubmitted > 0) {
                        sqLock.lock();
                        try { deferred += notSubmitted; } finally { sqLock.unlock(); }
                    }
                    if (r < 0 && r != -Errno.EINTR && r != -Errno.EAGAIN && r != -Errno.EBUSY && r != -Errno.ETIMEDOUT) {
                        throw new IllegalStateException("io_uring_enter(wait) on " + dev.describe() + " failed: "
                                + Errno.describe((int) -r));
                    }
                }
                wake |= drainCompletions();
                while (!overflow.isEmpty() && permits.tryAcquire()) push(overflow.poll(), true);
            }
        } catch (Throwable t) {
            fatal = t;
            System.getLogger("org.foliofs.device").log(System.Logger.Level.ERROR,
                    "io_uring reaper of " + dev.describe() + " stopped", t);
        }
    }

    /** Copies out all visible CQEs, frees their slots, then runs their completions. True on WAKE. */
    private boolean drainCompletions() {
        boolean wake = false;
        int head = cqHead;
        int tail = (int) INT.getAcquire(ring, cqTailOff); // CQE contents after the tail (acquire)
        int count = 0;
        while (head != tail) {
            long b = cqesOff + (long) (head & cqMask) * CQE_SIZE;
            long ud = ring.get(JAVA_LONG, b + CQE_USER_DATA);
            int res = ring.get(JAVA_INT, b + CQE_RES);
            head++;
            if (ud == WAKE) {
                wake = true;
            } else if ((ud & PREFLUSH_TAG) != 0) {
                if (res < 0) preflushErr[(int) ud] = res;
            } else {
                int slot = (int) ud;
                batchReq[count] = inflight[slot];
                batchRes[count] = res;
                batchPreflush[count] = preflushErr[slot];
                inflight[slot] = null;
                batchSlot[count] = slot;
                count++;
            }
        }
        INT.setRelease(ring, cqHeadOff, head); // we are done reading those CQEs (release)
        cqHead = head;
        if (count == 0) return wake;
        sqLock.lock();
        try {
            for (int i = 0; i < count; i++) freeSlots[freeCount++] = batchSlot[i];
        } finally {
            sqLock.unlock();
        }
        permits.release(count);
        for (int i = 0; i < count; i++) {
            IoRequest req = batchReq[i];
            batchReq[i] = null;
            long res = batchRes[i];
            int pf = batchPreflush[i];
            String call = null;
            if (pf < 0) {
                res = pf;
                call = req.op() == IoOp.DISCARD ? "ioctl(BLKDISCARD)" : "io_uring FSYNC (PREFLUSH)";
            } else if (res < 0) {
                call = callName(req);
            }
            try {
                dev.finish(req, res, call);
            } catch (Throwable t) {
                System.getLogger("org.foliofs.device").log(System.Logger.Level.ERROR,
                        "completion callback of " + req + " threw", t);
            } finally {
                outstanding.decrementAndGet();
            }
        }
        return wake;
    }

    private String callName(IoRequest r) {
        return switch (r.op()) {
            case FLUSH -> "io_uring FSYNC";
            case DISCARD -> "io_uring FALLOCATE(PUNCH_HOLE)";
            case READ, WRITE -> {
                boolean write = r.op() == IoOp.WRITE;
                if (r.segmentCount() > 1) yield "io_uring " + (write ? "WRITEV" : "READV");
                long a = r.segment(0).address();
                boolean fixed = regEnd != 0 && a >= regBase && a + r.segment(0).byteSize() <= regEnd;
                yield "io_uring " + (fixed ? (write ? "WRITE_FIXED" : "READ_FIXED") : (write ? "WRITE" : "READ"));
            }
        };
    }

    // ---- shutdown ----------------------------------------------------------------------------

    @Override
    public void close() {
        while (outstanding.get() > 0 && reaper.isAlive()) {
            LockSupport.parkNanos(200_000);
        }
        if (reaper.isAlive()) {
            sqLock.lock();
            try {
                putSqe(OP_NOP, (byte) 0, fd, 0, 0, 0, 0, WAKE, 0);
                INT.setRelease(ring, sqTailOff, sqTail);
            } finally {
                sqLock.unlock();
            }
            Native.syscall(Native.SYS_IO_URING_ENTER, ringFd, 1, 0, 0, 0, 0);
            try {
                reaper.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Native.munmap(sqes, sqesSize);
        Native.munmap(ring, ringSize);
        Native.close(ringFd);
        arena.close();
    }
}
