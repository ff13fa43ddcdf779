package org.foliofs.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.CompletionHandler;
import java.nio.channels.FileLock;
import java.nio.file.OpenOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Future;

/**
 * {@link AsynchronousFileChannel} on a FolioFS file: a {@link FolioFileChannel} underneath (same
 * options, locks and close), with reads and writes through {@link AsyncIo}. Completion handlers run
 * on the thread that completes the I/O; the executor argument of {@code open} is not used.
 * {@code APPEND} is not allowed (as in the JDK).
 */
final class FolioAsyncChannel extends AsynchronousFileChannel {
    private final FolioFileChannel ch;

    private FolioAsyncChannel(FolioFileChannel ch) {
        this.ch = ch;
        ch.owner = this;
    }

    static FolioAsyncChannel open(FolioPath path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        if (options.contains(StandardOpenOption.APPEND))
            throw new UnsupportedOperationException("APPEND is not allowed for an AsynchronousFileChannel (" + path + ")");
        return new FolioAsyncChannel(FolioFileChannel.open(path, options, attrs));
    }

    @Override public long size() throws IOException { return ch.size(); }

    @Override
    public AsynchronousFileChannel truncate(long size) throws IOException {
        ch.truncate(size);
        return this;
    }

    @Override public void force(boolean metaData) throws IOException { ch.force(metaData); }

    @Override
    public <A> void lock(long position, long size, boolean shared, A attachment, CompletionHandler<FileLock, ? super A> handler) {
        Objects.requireNonNull(handler, "handler");
        complete(lock(position, size, shared), attachment, handler);
    }

    @Override
    public Future<FileLock> lock(long position, long size, boolean shared) {
        try {
            return CompletableFuture.completedFuture(tryLock(position, size, shared));
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException || e instanceof java.nio.channels.NonReadableChannelException
                    || e instanceof java.nio.channels.NonWritableChannelException) throw (RuntimeException) e;
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        FolioFileLock l = ch.newLock(position, size, shared, true);
        ch.openInode().addLock(l);
        return l;
    }

    @Override
    public <A> void read(ByteBuffer dst, long position, A attachment, CompletionHandler<Integer, ? super A> handler) {
        Objects.requireNonNull(handler, "handler");
        complete(read(dst, position), attachment, handler);
    }

    @Override
    public Future<Integer> read(ByteBuffer dst, long position) {
        check(dst, position);
        if (dst.isReadOnly()) throw new IllegalArgumentException("read into a read-only buffer");
        return AsyncIo.read(ch, dst, position);
    }

    @Override
    public <A> void write(ByteBuffer src, long position, A attachment, CompletionHandler<Integer, ? super A> handler) {
        Objects.requireNonNull(handler, "handler");
        complete(write(src, position), attachment, handler);
    }

    @Override
    public Future<Integer> write(ByteBuffer src, long position) {
        check(src, position);
        return AsyncIo.write(ch, src, position, 0).thenApply(Long::intValue);
    }

    private static void check(ByteBuffer b, long position) {
        Objects.requireNonNull(b, "buffer");
        if (position < 0) throw new IllegalArgumentException("position (" + position + ") must not be negative");
    }

    private static <V, A> void complete(Future<V> f, A attachment, CompletionHandler<V, ? super A> handler) {
        ((CompletableFuture<V>) f).whenComplete((v, e) -> {
            if (e == null) handler.completed(v, attachment);
            else handler.failed(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e, attachment);
        });
    }

    @Override public boolean isOpen() { return ch.isOpen(); }

    @Override public void close() throws IOException { ch.close(); }

    @Override public String toString() { return "FolioAsyncChannel[" + ch.path() + (isOpen() ? "" : ", closed") + "]"; }
}
