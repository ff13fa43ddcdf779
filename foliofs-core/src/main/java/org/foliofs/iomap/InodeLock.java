package org.foliofs.iomap;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The per-inode lock the engine's callers hold (the engine itself takes none; see the package
 * documentation and docs/ARCHITECTURE.md, "Locking"):
 * <ul>
 *   <li><b>shared</b>: buffered and direct reads, writes that end inside the current size
 *       (direct ones also aligned to the file system block), fsync, seek and fiemap;</li>
 *   <li><b>exclusive</b>: everything that changes the size or the mapping of existing data:
 *       writes that extend the file, direct writes not aligned to the file system block,
 *       truncate, zero range, hole punching, fallocate.</li>
 * </ul>
 * Non-overlapping writers inside the size therefore run in parallel, down to the device
 * (DisjointWritersTest); overlapping ones are ordered by the folio locks (buffered) or by the
 * caller (direct, as in Linux). The lock is reentrant and fair to neither side (throughput first).
 *
 * <p>Use with try-with-resources: {@code try (InodeLock.Guard g = lock.forWrite(inode, pos, len)) {...}}
 * ({@link #forDirectWrite} for direct writes).
 * The guards are made once per lock, so locking allocates nothing.
 */
public final class InodeLock {
    /** A held lock; closing it unlocks. Must be closed by the thread that took it. */
    public interface Guard extends AutoCloseable {
        /** True for the exclusive lock. */
        boolean exclusive();

        @Override
        void close();
    }

    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private final Guard sharedGuard = new Guard() {
        @Override public boolean exclusive() { return false; }
        @Override public void close() { rw.readLock().unlock(); }
    };
    private final Guard exclusiveGuard = new Guard() {
        @Override public boolean exclusive() { return true; }
        @Override public void close() { rw.writeLock().unlock(); }
    };

    /** Takes the lock shared. */
    public Guard shared() {
        rw.readLock().lock();
        return sharedGuard;
    }

    /** Takes the lock exclusive. */
    public Guard exclusive() {
        rw.writeLock().lock();
        return exclusiveGuard;
    }

    /**
     * The lock a write of {@code [pos, pos + len)} needs: shared when it ends inside the size
     * (checked under the shared lock, so no size change can slip in between), else exclusive.
     */
    public Guard forWrite(IoInode inode, long pos, long len) {
        if (pos < 0 || len < 0 || pos + len < 0) {
            throw new IllegalArgumentException("write range [" + pos + ", +" + len + ") is invalid");
        }
        rw.readLock().lock();
        if (pos + len <= inode.size()) return sharedGuard;
        rw.readLock().unlock();
        rw.writeLock().lock();                  // the size may have changed meanwhile: exclusive is right either way
        return exclusiveGuard;
    }

    /**
     * The lock a direct write of {@code [pos, pos + len)} needs: shared when it is aligned to the
     * file system block and ends inside the size, else exclusive (the zero padding of two
     * sub-block writes to one block would race; an extending write moves the size).
     */
    public Guard forDirectWrite(IoInode inode, long pos, long len) {
        int bs = inode.blockSize();
        if (pos % bs != 0 || len % bs != 0) {
            if (pos < 0 || len < 0 || pos + len < 0) {
                throw new IllegalArgumentException("write range [" + pos + ", +" + len + ") is invalid");
            }
            return exclusive();
        }
        return forWrite(inode, pos, len);
    }

    /** True when the calling thread holds the lock exclusive (for assertions). */
    public boolean isHeldExclusively() { return rw.isWriteLockedByCurrentThread(); }

    /** True when the calling thread holds the lock shared (for assertions). */
    public boolean isHeldShared() { return rw.getReadHoldCount() > 0; }
}
