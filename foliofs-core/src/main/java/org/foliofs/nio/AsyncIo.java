package org.foliofs.nio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.foliofs.fs.FolioFile;

/**
 * Asynchronous reads and writes of a {@link FolioFileChannel}, on {@link FolioFile#writeAsync} and
 * {@link FolioFile#readAsync}: DIRECT and WRITETHROUGH writes and DIRECT reads are truly asynchronous
 * (the caller issues the device requests and returns; the future completes from the device
 * completion). Buffered calls only copy to or from the cache, so FolioFile runs them on the caller's
 * thread and returns a completed future. No thread pool is involved. Two cases run synchronously
 * here: APPEND (the append lock spans the write) and SYNC (an fsync must not run on a completion
 * thread).
 */
final class AsyncIo {
    private AsyncIo() {}

    @FunctionalInterface
    interface Submit<T> {
        CompletableFuture<T> submit(FolioFile f) throws IOException;
    }

    static CompletableFuture<Long> write(FolioFileChannel ch, ByteBuffer src, long pos, int callFlags) {
        return ch.submit(true, f -> {
            if (ch.flags().append() || ch.flags().sync())
                return CompletableFuture.completedFuture(ch.writeNow(src, pos, callFlags));
            int start = src.position();
            MemorySegment seg = MemorySegment.ofBuffer(src);
            return translate(ch, f.writeAsync(pos, seg, ch.ioFlags() | callFlags)).thenApply(n -> {
                src.position(start + n.intValue());
                return n;
            });
        });
    }

    static CompletableFuture<Integer> read(FolioFileChannel ch, ByteBuffer dst, long pos) {
        return ch.submit(false, f -> {
            if (!dst.hasRemaining()) return CompletableFuture.completedFuture(0);
            int start = dst.position();
            MemorySegment seg = MemorySegment.ofBuffer(dst);
            return translate(ch, f.readAsync(pos, seg, IoFlags.readFlags(ch.ioFlags()))).thenApply(n -> {
                if (n <= 0) return -1;
                dst.position(start + n.intValue());
                return n.intValue();
            });
        });
    }

    /** The same future with FolioFile's exceptions translated to name the channel's path. */
    private static <T> CompletableFuture<T> translate(FolioFileChannel ch, CompletableFuture<T> f) {
        return f.handle((v, e) -> {
            if (e == null) return CompletableFuture.completedFuture(v);
            Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            return CompletableFuture.<T>failedFuture(c instanceof IOException io ? Errors.translate(io, ch.path(), null) : c);
        }).thenCompose(x -> x);
    }
}
