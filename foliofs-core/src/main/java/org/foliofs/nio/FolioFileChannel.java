package org.foliofs.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.attribute.FileAttribute;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;

/**
 * A {@link FileChannel} on a FolioFS file (what {@code Files.newByteChannel} and
 * {@code FileChannel.open} return for foliofs paths). Beyond FileChannel it has a per-call flags API,
 * {@link #write(ByteBuffer, long, WriteFlag...)} and {@link #writeAsync}.
 *
 * <ul>
 *   <li>Reads and writes go through the volume's page cache, or with {@code ExtendedOpenOption.DIRECT}
 *       straight to the device (buffers off-heap and aligned to the device's logical block, offsets
 *       and lengths too; a misaligned call throws {@link IllegalArgumentException} saying what).
 *   <li>{@code DSYNC}: the written data is durable when write returns; {@code SYNC}: the file's data
 *       and metadata are. {@code force(false)} is fdatasync, {@code force(true)} fsync.
 *   <li>{@link #map} is not supported ({@link UnsupportedOperationException}): file data lives in
 *       FolioFS's own page cache, not in pages the JVM could map.
 *   <li>{@link #lock} and {@link #tryLock} are in-process locks between the channels of this JVM
 *       (overlaps throw {@link java.nio.channels.OverlappingFileLockException} as in the JDK).
 *   <li>Not interruptible: an interrupt does not close the channel. {@code APPEND} writes are atomic
 *       with respect to other appends through this file system.
 *   <li>A directory may be opened for reading only so that {@code force} can sync it (it syncs the
 *       journal); reading it throws "Is a directory".
 * </ul>
 */
public final class FolioFileChannel extends FileChannel {
    private final FolioFileSystem fs;
    private final FolioPath path;
    private final FolioFile file;            // null for a directory
    private final OpenInode inode;
    private final OpenFlags flags;
    private final int ioFlags;               // FolioFile flags from the open options (DSYNC, WRITETHROUGH, ATOMIC, DIRECT)
    private final ReentrantReadWriteLock ioLock = new ReentrantReadWriteLock();   // read: each call; write: close
    private final Object positionLock = new Object();
    private long position;                   // guarded by positionLock
    volatile Object owner = this;            // the AsynchronousFileChannel wrapping this one, if any

    private FolioFileChannel(FolioFileSystem fs, FolioPath path, FolioFile file, OpenInode inode, OpenFlags flags, int ioFlags) {
        this.fs = fs;
        this.path = path;
        this.file = file;
        this.inode = inode;
        this.flags = flags;
        this.ioFlags = ioFlags;
    }

    /** Opens (and maybe creates) the file {@code path} names. */
    static FolioFileChannel open(FolioPath path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        OpenFlags f = OpenFlags.of(options);
        int perm = PathOps.permissions(0644, attrs);
        FolioFileSystem fs = path.getFileSystem();
        PathOps ops = fs.core();
        FolioFs folio = fs.folio();
        int flags = IoFlags.fromOptions(f);
        return ops.call(f.write(), path, null, () -> {
            boolean root = path.toAbsolutePath().getNameCount() == 0;
            PathOps.Entry e = root ? null : ops.entry(path, f.create() || f.createNew());
            long ino = root ? PathOps.ROOT : ops.lookup(e);
            boolean created = false;
            if (ino >= 0 && f.createNew()) throw new FileAlreadyExistsException(path.toString());
            if (ino < 0) {
                if (!f.create() && !f.createNew()) throw new NoSuchFileException(path.toString());
                Principals p = fs.principals();
                try {
                    ino = folio.create(e.dir(), e.name(), perm, p.uid, p.gid).ino();
                    created = true;
                } catch (FileAlreadyExistsException x) {
                    if (f.createNew()) throw new FileAlreadyExistsException(path.toString());
                    ino = ops.lookup(e);                 // created meanwhile: open it
                    if (ino < 0) throw Errors.translate(x, path, null);
                }
            }
            FolioFs.Attr a = folio.getattr(ino);
            if (a.isSymlink()) {
                if (!f.follow()) throw Errors.fsException(path, "Too many levels of symbolic links (NOFOLLOW_LINKS)");
                PathOps.Node n = ops.resolve(path, true);
                ino = n.ino();
                a = n.attr();
            }
            if (a.isDir()) {
                if (f.write()) throw Errors.fsException(path, "Is a directory");
            } else if (!a.isRegular()) {
                throw Errors.fsException(path, "not a regular file");
            }
            if (!created) {
                if (f.read()) ops.checkMode(path, a, 4, "read");
                if (f.write()) ops.checkMode(path, a, 2, "write");
            }
            FolioFile file = a.isDir() ? null : folio.openFile(ino);
            OpenInode oi = fs.acquireInode(ino);
            FolioFileChannel ch = new FolioFileChannel(fs, path, file, oi, f, flags);
            fs.register(ch);
            try {
                if (f.truncate() && file != null && file.size() > 0) file.truncate(0);
            } catch (IOException | RuntimeException x) {
                ch.close();
                throw x;
            }
            return ch;
        });
    }

    FolioPath path() { return path; }
    OpenFlags flags() { return flags; }
    OpenInode openInode() { return inode; }

    // ---- call bracket ---------------------------------------------------------------------------------

    private void enter() throws ClosedChannelException {
        ioLock.readLock().lock();
        if (!isOpen()) {
            ioLock.readLock().unlock();
            throw new ClosedChannelException();
        }
    }

    private void exit() { ioLock.readLock().unlock(); }

    private FolioFile file() throws IOException {
        if (file == null) throw Errors.fsException(path, "Is a directory");
        return file;
    }

    private void checkRead() {
        if (!flags.read()) throw new NonReadableChannelException();
    }

    private void checkWrite() {
        if (!flags.write()) throw new NonWritableChannelException();
    }

    // ---- the I/O core (no position) ---------------------------------------------------------------------

    /** Reads into {@code dst} at {@code pos}: bytes read, or -1 at or past the end. */
    int readAt(ByteBuffer dst, long pos) throws IOException {
        if (pos < 0) throw new IllegalArgumentException("read position (" + pos + ") must not be negative");
        FolioFile f = file();
        if (!dst.hasRemaining()) return 0;
        MemorySegment seg = MemorySegment.ofBuffer(dst);
        long n;
        try {
            n = IoFlags.read(f, pos, seg, ioFlags);
        } catch (IOException e) {
            throw Errors.translate(e, path, null);
        }
        if (n <= 0) return -1;
        dst.position(dst.position() + (int) n);
        return (int) n;
    }

    /** Writes {@code src} at {@code pos} with FolioFile write flags {@code callFlags} (on top of this channel's). */
    int writeAt(ByteBuffer src, long pos, int callFlags) throws IOException {
        if (pos < 0) throw new IllegalArgumentException("write position (" + pos + ") must not be negative");
        FolioFile f = file();
        if (!src.hasRemaining()) return 0;
        MemorySegment seg = MemorySegment.ofBuffer(src);
        long n;
        try {
            n = IoFlags.write(f, pos, seg, this.ioFlags | callFlags, flags.sync());
        } catch (IOException e) {
            throw Errors.translate(e, path, null);
        }
        src.position(src.position() + (int) n);
        return (int) n;
    }

    /** An append: at the size, under the inode's append lock. Returns {bytes, new position}. */
    private long[] append(ByteBuffer src, int ioFlags) throws IOException {
        inode.appendLock.lock();
        try {
            long at = file().size();
            int n = writeAt(src, at, ioFlags);
            return new long[] {n, at + n};
        } finally {
            inode.appendLock.unlock();
        }
    }

    // ---- FileChannel ------------------------------------------------------------------------------------

    @Override
    public int read(ByteBuffer dst) throws IOException {
        Objects.requireNonNull(dst, "dst");
        enter();
        try {
            checkRead();
            synchronized (positionLock) {
                int n = readAt(dst, position);
                if (n > 0) position += n;
                return n;
            }
        } finally {
            exit();
        }
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, dsts.length);
        enter();
        try {
            checkRead();
            synchronized (positionLock) {
                long total = 0;
                for (int i = offset; i < offset + length; i++) {
                    if (!dsts[i].hasRemaining()) continue;
                    int want = dsts[i].remaining();
                    int n = readAt(dsts[i], position);
                    if (n < 0) return total == 0 ? -1 : total;
                    position += n;
                    total += n;
                    if (n < want) break;
                }
                return total;
            }
        } finally {
            exit();
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        Objects.requireNonNull(src, "src");
        enter();
        try {
            checkWrite();
            synchronized (positionLock) {
                if (flags.append()) {
                    long[] r = append(src, 0);
                    position = r[1];
                    return (int) r[0];
                }
                int n = writeAt(src, position, 0);
                position += n;
                return n;
            }
        } finally {
            exit();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, srcs.length);
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            int want = srcs[i].remaining();
            int n = write(srcs[i]);
            total += n;
            if (n < want) break;
        }
        return total;
    }

    @Override
    public long position() throws IOException {
        enter();
        try {
            synchronized (positionLock) {
                return flags.append() ? file == null ? 0 : file.size() : position;
            }
        } finally {
            exit();
        }
    }

    @Override
    public FolioFileChannel position(long newPosition) throws IOException {
        if (newPosition < 0) throw new IllegalArgumentException("position (" + newPosition + ") must not be negative");
        enter();
        try {
            synchronized (positionLock) {
                position = newPosition;
            }
            return this;
        } finally {
            exit();
        }
    }

    @Override
    public long size() throws IOException {
        enter();
        try {
            return file == null ? fs.folio().getattr(inode.ino).size() : file.size();
        } finally {
            exit();
        }
    }

    @Override
    public FolioFileChannel truncate(long size) throws IOException {
        if (size < 0) throw new IllegalArgumentException("size (" + size + ") must not be negative");
        enter();
        try {
            checkWrite();
            FolioFile f = file();
            try {
                if (size < f.size()) f.truncate(size);
            } catch (IOException e) {
                throw Errors.translate(e, path, null);
            }
            synchronized (positionLock) {
                if (position > size) position = size;
            }
            return this;
        } finally {
            exit();
        }
    }

    /** fsync ({@code metaData}) or fdatasync; on a directory, makes every finished metadata operation durable. */
    @Override
    public void force(boolean metaData) throws IOException {
        enter();
        try {
            if (file == null) fs.folio().syncMetadata();
            else file.fsync(!metaData);
        } catch (IOException e) {
            throw Errors.translate(e, path, null);
        } finally {
            exit();
        }
    }

    /**
     * {@code count} bytes of {@code src} at {@code srcPos} into {@code dst} at {@code dstPos} by
     * {@link FolioFile#copyRangeFrom} (the block-aligned part a reflink, the rest copied), clipped at
     * src's size; a DSYNC/SYNC target is fsynced after, as its writes would be. Returns the bytes
     * done, or -1 when that does not apply and the caller copies through a buffer: another volume,
     * not regular files, a target in append mode, or a target whose writes carry other flags
     * (WRITETHROUGH, DIRECT, ATOMIC: its writes must honour them). Both channels are inside their
     * call bracket.
     */
    private static long copyRange(FolioFileChannel src, long srcPos, FolioFileChannel dst, long dstPos, long count) throws IOException {
        if (src.fs != dst.fs || src.file == null || dst.file == null || dst.flags.append()
                || (dst.ioFlags & ~FolioFile.DSYNC) != 0) return -1;
        long n = dst.file.copyRangeFrom(src.file, srcPos, dstPos, count);
        if (n > 0 && (dst.ioFlags & FolioFile.DSYNC) != 0) dst.file.fsync(true);
        return n;
    }

    /**
     * To another channel of this file system: {@link FolioFile#copyRangeFrom} (the block-aligned
     * part shared as a reflink, no data copied; see {@link #copyRange} for when it applies);
     * otherwise, and for other targets, a copy through a buffer.
     */
    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        if (position < 0 || count < 0) throw new IllegalArgumentException("transferTo position (" + position + ") and count ("
                + count + ") must not be negative");
        Objects.requireNonNull(target, "target");
        enter();
        try {
            checkRead();
            if (target instanceof FolioFileChannel t && t != this && t.isOpen()) {
                t.enter();
                try {
                    t.checkWrite();
                    synchronized (t.positionLock) {
                        long cloned = copyRange(this, position, t, t.position, count);
                        if (cloned >= 0) {
                            t.position += cloned;
                            return cloned;
                        }
                    }
                } finally {
                    t.exit();
                }
            }
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(count, 1 << 16));
            long done = 0;
            while (done < count) {
                buf.clear().limit((int) Math.min(buf.capacity(), count - done));
                int n = readAt(buf, position + done);
                if (n <= 0) break;
                buf.flip();
                while (buf.hasRemaining()) {
                    int w = target.write(buf);
                    if (w == 0 && buf.hasRemaining()) return done + (n - buf.remaining());   // non-blocking target is full
                }
                done += n;
            }
            return done;
        } finally {
            exit();
        }
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        if (position < 0 || count < 0) throw new IllegalArgumentException("transferFrom position (" + position + ") and count ("
                + count + ") must not be negative");
        Objects.requireNonNull(src, "src");
        if (src instanceof FolioFileChannel sc && sc != this) {   // reflink where aligned (see transferTo)
            sc.enter();
            try {
                sc.checkRead();
                enter();
                try {
                    checkWrite();
                    synchronized (sc.positionLock) {
                        long cloned = sc.flags.append() || position > file().size() ? -1 : copyRange(sc, sc.position, this, position, count);
                        if (cloned >= 0) {
                            sc.position += cloned;
                            return cloned;
                        }
                    }
                } finally {
                    exit();
                }
            } finally {
                sc.exit();
            }
        }
        enter();
        try {
            checkWrite();
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(count, 1 << 16));
            long done = 0;
            while (done < count) {
                buf.clear().limit((int) Math.min(buf.capacity(), count - done));
                int n = src.read(buf);
                if (n <= 0) break;
                buf.flip();
                while (buf.hasRemaining()) writeAt(buf, position + done + (n - buf.remaining()), 0);
                done += n;
            }
            return done;
        } finally {
            exit();
        }
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        Objects.requireNonNull(dst, "dst");
        if (position < 0) throw new IllegalArgumentException("position (" + position + ") must not be negative");
        enter();
        try {
            checkRead();
            return readAt(dst, position);
        } finally {
            exit();
        }
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        return (int) write(src, position, new WriteFlag[0]);
    }

    /**
     * A positional write with per-call flags on top of the channel's open options; returns the bytes
     * written. On an APPEND channel the position is ignored (the write goes to the end), as pwrite does
     * on Linux with O_APPEND.
     */
    public long write(ByteBuffer src, long position, WriteFlag... writeFlags) throws IOException {
        Objects.requireNonNull(src, "src");
        if (position < 0) throw new IllegalArgumentException("position (" + position + ") must not be negative");
        int callFlags = IoFlags.fromWriteFlags(writeFlags);
        enter();
        try {
            checkWrite();
            return writeNow(src, position, callFlags);
        } finally {
            exit();
        }
    }

    /**
     * {@link #write(ByteBuffer, long, WriteFlag...)} without blocking the caller: the future completes
     * with the bytes written. See docs/ARCHITECTURE.md (nio layer) for which thread completes it.
     */
    public CompletableFuture<Long> writeAsync(ByteBuffer src, long position, WriteFlag... writeFlags) {
        Objects.requireNonNull(src, "src");
        if (position < 0) throw new IllegalArgumentException("position (" + position + ") must not be negative");
        return AsyncIo.write(this, src, position, IoFlags.fromWriteFlags(writeFlags));
    }

    /** Runs an asynchronous call under this channel's call bracket (the channel cannot close during submission). */
    <T> CompletableFuture<T> submit(boolean write, AsyncIo.Submit<T> s) {
        try {
            enter();
        } catch (ClosedChannelException e) {
            return CompletableFuture.failedFuture(e);
        }
        try {
            if (write) checkWrite(); else checkRead();
            return s.submit(file());
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e instanceof IOException io ? Errors.translate(io, path, null) : e);
        } finally {
            exit();
        }
    }

    int ioFlags() { return ioFlags; }

    /** A blocking per-call write (the caller holds the call bracket): appends go to the end. */
    long writeNow(ByteBuffer src, long position, int callFlags) throws IOException {
        if (flags.append()) return append(src, callFlags)[0];
        return writeAt(src, position, callFlags);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
        throw new UnsupportedOperationException("foliofs: FileChannel.map is not supported (" + path + "): file data lives in"
                + " FolioFS's own page cache, not in pages the JVM could map; use read and write");
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return tryLock(position, size, shared);   // in-process: an overlap throws, so there is nothing to wait for
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        FolioFileLock l = newLock(position, size, shared, false);
        inode.addLock(l);
        return l;
    }

    FolioFileLock newLock(long position, long size, boolean shared, boolean async) throws IOException {
        if (position < 0 || size < 0 || position + size < 0)
            throw new IllegalArgumentException("lock range (position " + position + ", size " + size + ") is invalid");
        enter();
        try {
            if (shared) checkRead(); else checkWrite();
            return async ? new FolioFileLock((java.nio.channels.AsynchronousFileChannel) owner, inode, position, size, shared)
                    : new FolioFileLock(this, inode, position, size, shared);
        } finally {
            exit();
        }
    }

    @Override
    protected void implCloseChannel() throws IOException {
        ioLock.writeLock().lock();     // waits for calls in progress
        try {
            for (FolioFileLock l : inode.locksOf(this)) l.invalidate();
            if (owner != this) for (FolioFileLock l : inode.locksOf(owner)) l.invalidate();
            try {
                if (file != null) file.close();
            } catch (IOException e) {
                throw Errors.translate(e, path, null);
            } finally {
                fs.releaseInode(inode);
                fs.unregister(this);
            }
        } finally {
            ioLock.writeLock().unlock();
        }
        if (flags.deleteOnClose()) {
            try {
                fs.core().deleteIfExists(path);
            } catch (java.nio.file.ClosedFileSystemException e) {
                // the file system closed first: nothing to delete through
            }
        }
    }

    @Override
    public String toString() { return "FolioFileChannel[" + path + (isOpen() ? "" : ", closed") + "]"; }
}
