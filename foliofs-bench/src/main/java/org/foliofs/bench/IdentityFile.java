package org.foliofs.bench;

import org.foliofs.iomap.BufferedFile;
import org.foliofs.iomap.CacheRangeSync;
import org.foliofs.iomap.IoInode;
import org.foliofs.iomap.IoMap;
import org.foliofs.iomap.IoMapOps;

/**
 * The benchmarks' "file": one MAPPED extent over the whole device (no allocation, no end-of-I/O
 * work), so the engine is measured, not a file system. It is its own inode and mapping ops; the
 * one mapping is made once, so a lookup allocates nothing. {@link #file} is set once the
 * buffered engine opened it.
 */
final class IdentityFile implements IoInode, IoMapOps {
    private final IoMap map;
    private volatile long size;
    BufferedFile file;

    IdentityFile(long capacity, long size) {
        this.map = new IoMap(0, capacity, IoMap.Type.MAPPED, 0, 0, 0);
        this.size = size;
    }

    long capacity() { return map.length(); }

    @Override public IoMap begin(IoInode inode, long pos, long length, int opFlags) { return map; }
    @Override public long size() { return size; }
    @Override public int blockSize() { return 4096; }
    @Override public CacheRangeSync cache() { return file == null ? CacheRangeSync.NONE : file; }
    @Override public void setSizeInMemory(long newSize) { size = newSize; }
}
