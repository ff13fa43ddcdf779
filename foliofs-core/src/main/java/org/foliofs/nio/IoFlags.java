package org.foliofs.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import org.foliofs.fs.FolioFile;

/**
 * The one place that turns open options and {@link WriteFlag}s into {@link FolioFile} flags
 * ({@link FolioFile#DSYNC}, {@link FolioFile#WRITETHROUGH}, {@link FolioFile#ATOMIC},
 * {@link FolioFile#DIRECT}) and calls it. Writes without DIRECT or WRITETHROUGH also get the file's
 * write mode (its {@code foliofs:writeMode}, else the file system's {@code writeMode}), which
 * FolioFile applies.
 */
final class IoFlags {
    private IoFlags() {}

    /** FolioFile flags every write of a channel opened with {@code f} carries (SYNC is handled by {@link #write}). */
    static int fromOptions(OpenFlags f) {
        if (f.direct() && f.writeThrough())
            throw new IllegalArgumentException("open options DIRECT and WRITETHROUGH cannot be combined (direct I/O bypasses the cache)");
        int r = 0;
        if (f.dsync()) r |= FolioFile.DSYNC;
        if (f.writeThrough()) r |= FolioFile.WRITETHROUGH;
        if (f.atomic()) r |= FolioFile.ATOMIC;
        if (f.direct()) r |= FolioFile.DIRECT;
        return r;
    }

    static int fromWriteFlags(WriteFlag... flags) {
        int r = 0;
        for (WriteFlag w : flags) {
            r |= switch (Objects.requireNonNull(w, "write flag")) {
                case DSYNC -> FolioFile.DSYNC;
                case WRITETHROUGH -> FolioFile.WRITETHROUGH;
                case ATOMIC -> FolioFile.ATOMIC;
            };
        }
        return r;
    }

    static int readFlags(int writeFlags) { return writeFlags & FolioFile.DIRECT; }

    static long read(FolioFile f, long pos, MemorySegment dst, int channelFlags) throws IOException {
        return f.read(pos, dst, readFlags(channelFlags));
    }

    /** One write; {@code sync} (StandardOpenOption.SYNC): an fsync of data and metadata follows. */
    static long write(FolioFile f, long pos, MemorySegment src, int flags, boolean sync) throws IOException {
        long n = f.write(pos, src, flags);
        if (sync) f.fsync(false);
        return n;
    }
}
