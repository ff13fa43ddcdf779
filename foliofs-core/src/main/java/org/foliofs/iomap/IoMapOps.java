package org.foliofs.iomap;

import java.io.IOException;

/**
 * What a file system implements to answer "what is at this offset?"; the engine owns every loop.
 * Like Linux's {@code iomap_ops}: keep one small instance per kind of operation (read, direct
 * write, report...). An implementation may also implement {@link IoMapValidity}.
 *
 * <p>Operation flags ({@code opFlags}) tell {@code begin} what the mapping is for; no flag means a
 * read. A buffered write ({@code WRITE} alone) may get a reservation (DELALLOC, or HOLE) and no
 * device I/O happens for it; {@code WRITE | WRITEBACK} and {@code DIRECT | WRITE} must get
 * allocated space. For {@code DIRECT | WRITE} the file system must return allocated space for the range
 * (MAPPED or UNWRITTEN, NEW when it has just allocated it): the engine fails a direct write with
 * an {@link IOException} on a HOLE or DELALLOC mapping.
 */
public interface IoMapOps {
    /** Writing: the file system must allocate blocks (direct I/O) or reserve them (buffered). */
    int WRITE = 1;
    /** Zeroing a range: holes and unwritten extents may be skipped. */
    int ZERO = 2;
    /** Reporting extent state only (fiemap, seek data/hole): no allocation, no I/O. */
    int REPORT = 4;
    /** Direct I/O. */
    int DIRECT = 8;
    /** The caller must not block: throw (e.g. an IOException naming EAGAIN) instead of waiting for locks or allocation. */
    int NOWAIT = 16;
    /**
     * With {@link #WRITE}: buffered write-through ({@link BufferedIo#writeThrough}). Like
     * {@link #WRITEBACK}, the file system must return allocated space (MAPPED or UNWRITTEN, NEW
     * when allocated now; holes and DELALLOC reservations are allocated first), and copy-on-write
     * ranges as MAPPED|NEW|SHARED; the engine converts at end of I/O. Called by the writer, who
     * holds the inode lock (begin must not take it).
     */
    int WRITETHROUGH = 32;
    /** Reserved: untorn (atomic) write; the mapping must cover the whole range in one extent. */
    int ATOMIC = 64;
    /**
     * With {@link #WRITE}: page cache writeback of dirty data ({@link BufferedIo}). The file system
     * must return allocated space (MAPPED or UNWRITTEN, NEW if it allocated just now), converting
     * DELALLOC reservations at this point; the engine converts UNWRITTEN at end of I/O through
     * {@link IoEndHandler#ioEnd}. A HOLE or DELALLOC answer fails the writeback of that range
     * (EIO, recorded in the file's {@link ErrSeq}; the data stays dirty). Writeback runs on page
     * cache workers and on fsync callers, without the inode lock and possibly while a caller that
     * holds it waits for the writeback: begin and end must not take the inode lock.
     */
    int WRITEBACK = 128;

    /**
     * Maps the file range starting at {@code pos}. The result must contain {@code pos}; it may be
     * shorter than {@code length} (the engine calls again for the rest) or longer (the engine
     * clips). Throwing ends the operation: the engine waits for its I/O in flight and reports the
     * exception (it does not call {@link #end} for a begin that threw).
     */
    IoMap begin(IoInode inode, long pos, long length, int opFlags) throws IOException;

    /**
     * Called once after every successful {@link #begin}, when the engine is done with the mapping:
     * {@code [pos, pos + length)} is the part of the mapping the engine worked on and {@code
     * written} the bytes it processed from {@code pos} (0 when it stopped early, on an error or
     * because the mapping went {@link IoMap#STALE}). For direct I/O the device requests may still
     * be in flight: end-of-I/O work belongs in an {@link IoEndHandler}. Use it to release what
     * begin took, e.g. to punch out blocks reserved beyond {@code pos + written}.
     */
    default void end(IoInode inode, long pos, long length, long written, int opFlags, IoMap map) throws IOException {}
}
