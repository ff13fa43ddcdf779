package org.foliofs.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.Inode;

/**
 * Write flags of the nio layer ({@link #DSYNC}, {@link #WRITETHROUGH}, {@link #ATOMIC}) and the one
 * place that turns them into {@link FolioFile} calls.
 */
final class IoFlags {
    static final int DSYNC = 1, WRITETHROUGH = 2, ATOMIC = 4;

    private IoFlags() {}

    static int fromOptions(OpenFlags f) {
        int r = 0;
        if (f.dsync() || f.sync()) r |= DSYNC;
        if (f.writeThrough()) r |= WRITETHROUGH;
        if (f.atomic()) r |= ATOMIC;
        checkSupported(r, "open option");
        return r;
    }

    static int fromWriteFlags(WriteFlag... flags) {
        int r = 0;
        for (WriteFlag w : flags) {
            r |= switch (java.util.Objects.requireNonNull(w, "write flag")) {
                case DSYNC -> DSYNC;
                case WRITETHROUGH -> WRITETHROUGH;
                case ATOMIC -> ATOMIC;
            };
        }
        checkSupported(r, "write flag");
        return r;
    }

    /** The flags an inode's write mode implies ({@code default}: the file system's {@code writeMode}). */
    static int fromWriteMode(int inodeMode, FsConfig.WriteMode fsMode) {
        int m = inodeMode == Inode.WMODE_DEFAULT ? fsMode.ordinal() + 1 : inodeMode;
        return switch (m) {
            case Inode.WMODE_WRITETHROUGH -> WRITETHROUGH;
            case Inode.WMODE_WRITETHROUGH_DSYNC -> WRITETHROUGH | DSYNC;
            default -> 0;
        };
    }

    static void checkSupported(int flags, String what) {
        if ((flags & WRITETHROUGH) != 0) throw new UnsupportedOperationException(what + " WRITETHROUGH is not supported yet");
        if ((flags & ATOMIC) != 0) throw new UnsupportedOperationException(what + " ATOMIC is not supported yet");
    }

    static long read(FolioFile f, long pos, MemorySegment dst, boolean direct) throws IOException {
        return direct ? f.readDirect(pos, dst, 0) : f.read(pos, dst);
    }

    /**
     * One write. Until FolioFile takes write flags: DSYNC buffered is a write then fdatasync of the
     * file; direct DSYNC is the engine's FUA write; SYNC adds an fsync.
     */
    static long write(FolioFile f, long pos, MemorySegment src, int flags, boolean direct, boolean sync) throws IOException {
        checkSupported(flags, "write flag");
        long n;
        if (direct) {
            n = f.writeDirect(pos, src, (flags & DSYNC) != 0 ? FolioFile.DSYNC : 0);
        } else {
            n = f.write(pos, src);
            if ((flags & DSYNC) != 0 && !sync) f.fsync(true);
        }
        if (sync) f.fsync(false);
        return n;
    }
}
