package org.foliofs.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.foliofs.fs.FolioFile;

/**
 * Asynchronous reads and writes of a {@link FolioFileChannel}. Until FolioFile has readAsync and
 * writeAsync, a call runs synchronously on the caller's thread and returns a completed future (no
 * thread pool pretends otherwise).
 */
final class AsyncIo {
    private AsyncIo() {}

    @FunctionalInterface
    interface Submit<T> {
        CompletableFuture<T> submit(FolioFile f) throws IOException;
    }

    static CompletableFuture<Long> write(FolioFileChannel ch, ByteBuffer src, long pos, int flags) {
        return ch.submit(true, f -> {
            if (ch.flags().append()) return CompletableFuture.completedFuture(ch.write(src, pos, WriteFlagsOf(flags)));
            return CompletableFuture.completedFuture((long) ch.writeAt(src, pos, flags));
        });
    }

    static CompletableFuture<Integer> read(FolioFileChannel ch, ByteBuffer dst, long pos) {
        return ch.submit(false, f -> CompletableFuture.completedFuture(ch.readAt(dst, pos)));
    }

    private static WriteFlag[] WriteFlagsOf(int flags) {
        java.util.List<WriteFlag> l = new java.util.ArrayList<>();
        if ((flags & IoFlags.DSYNC) != 0) l.add(WriteFlag.DSYNC);
        if ((flags & IoFlags.WRITETHROUGH) != 0) l.add(WriteFlag.WRITETHROUGH);
        if ((flags & IoFlags.ATOMIC) != 0) l.add(WriteFlag.ATOMIC);
        return l.toArray(WriteFlag[]::new);
    }
}
