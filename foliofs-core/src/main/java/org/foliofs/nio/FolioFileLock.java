package org.foliofs.nio;

import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;

/**
 * An in-process byte-range lock (advisory, between the channels of this JVM only: the image is not
 * shared with other processes). Overlapping requests throw {@link java.nio.channels.OverlappingFileLockException},
 * as the JDK does for locks held within one JVM.
 */
final class FolioFileLock extends FileLock {
    private final OpenInode inode;
    private volatile boolean valid = true;

    FolioFileLock(FileChannel ch, OpenInode inode, long position, long size, boolean shared) {
        super(ch, position, size, shared);
        this.inode = inode;
    }

    FolioFileLock(AsynchronousFileChannel ch, OpenInode inode, long position, long size, boolean shared) {
        super(ch, position, size, shared);
        this.inode = inode;
    }

    @Override public boolean isValid() { return valid && acquiredBy().isOpen(); }

    @Override
    public void release() throws java.io.IOException {
        if (!acquiredBy().isOpen()) throw new java.nio.channels.ClosedChannelException();
        invalidate();
    }

    /** Drops the lock (the channel is closing). */
    void invalidate() {
        valid = false;
        inode.removeLock(this);
    }
}
