package org.foliofs.nio;

import java.nio.channels.OverlappingFileLockException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the open channels of one inode share: the append lock (APPEND writes take it, so each append
 * lands at the size it read) and the in-process byte-range locks. Reference counted by
 * {@link FolioFileSystem#acquireInode}.
 */
final class OpenInode {
    final long ino;
    int refs;                                    // guarded by the file system's map
    final ReentrantLock appendLock = new ReentrantLock();
    private final List<FolioFileLock> locks = new ArrayList<>();   // guarded by this

    OpenInode(long ino) { this.ino = ino; }

    synchronized void addLock(FolioFileLock l) {
        for (FolioFileLock o : locks)
            if (o.overlaps(l.position(), l.size()))
                throw new OverlappingFileLockException();
        locks.add(l);
    }

    synchronized void removeLock(FolioFileLock l) { locks.remove(l); }

    synchronized List<FolioFileLock> locksOf(Object channel) {
        return locks.stream().filter(l -> l.acquiredBy() == channel).toList();
    }
}
