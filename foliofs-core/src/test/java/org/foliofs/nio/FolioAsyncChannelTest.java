package org.foliofs.nio;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.nio.file.ExtendedOpenOption;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.CompletionHandler;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** AsynchronousFileChannel: the Future and the CompletionHandler forms, errors, locks, close. */
class FolioAsyncChannelTest extends NioFixture {

    /** A CompletionHandler that completes a future. */
    static <V> CompletionHandler<V, String> handler(CompletableFuture<V> f, String expectedAttachment) {
        return new CompletionHandler<>() {
            @Override
            public void completed(V result, String attachment) {
                if (!expectedAttachment.equals(attachment)) f.completeExceptionally(new AssertionError("attachment " + attachment));
                else f.complete(result);
            }

            @Override
            public void failed(Throwable exc, String attachment) { f.completeExceptionally(exc); }
        };
    }

    @Test
    void futureForm() throws Exception {
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/f"), CREATE, READ, WRITE)) {
            byte[] data = FilesTest.bytes(1, 100_000);
            assertThat(ch.write(ByteBuffer.wrap(data), 5000).get(10, TimeUnit.SECONDS)).isEqualTo(100_000);
            assertThat(ch.size()).isEqualTo(105_000);
            ByteBuffer b = ByteBuffer.allocate(100_000);
            assertThat(ch.read(b, 5000).get(10, TimeUnit.SECONDS)).isEqualTo(100_000);
            assertThat(b.array()).isEqualTo(data);
            assertThat(ch.read(ByteBuffer.allocate(10), 105_000).get()).isEqualTo(-1);
            ch.truncate(10);
            ch.force(true);
            assertThat(ch.size()).isEqualTo(10);
        }
    }

    @Test
    void completionHandlerForm() throws Exception {
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/h"), CREATE, READ, WRITE)) {
            CompletableFuture<Integer> w = new CompletableFuture<>();
            ch.write(ByteBuffer.wrap("async".getBytes()), 0, "att", handler(w, "att"));
            assertThat(w.get(10, TimeUnit.SECONDS)).isEqualTo(5);
            CompletableFuture<Integer> r = new CompletableFuture<>();
            ByteBuffer b = ByteBuffer.allocate(5);
            ch.read(b, 0, "att2", handler(r, "att2"));
            assertThat(r.get(10, TimeUnit.SECONDS)).isEqualTo(5);
            assertThat(new String(b.array())).isEqualTo("async");
        }
    }

    @Test
    void directAsyncIo() throws Exception {
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/d"), CREATE, READ, WRITE, ExtendedOpenOption.DIRECT)) {
            ByteBuffer out = ByteBuffer.allocateDirect(2 * 4096).alignedSlice(4096);
            out.limit(4096);
            while (out.hasRemaining()) out.put((byte) 7);
            out.flip();
            assertThat(ch.write(out, 4096).get(10, TimeUnit.SECONDS)).isEqualTo(4096);
            ByteBuffer in = ByteBuffer.allocateDirect(2 * 4096).alignedSlice(4096);
            in.limit(4096);
            assertThat(ch.read(in, 4096).get(10, TimeUnit.SECONDS)).isEqualTo(4096);
            assertThat(in.get(4095)).isEqualTo((byte) 7);
            CompletableFuture<Integer> failed = new CompletableFuture<>();
            ch.write(ByteBuffer.allocate(4096), 0, "x", handler(failed, "x"));   // heap buffer with DIRECT
            assertThatThrownBy(() -> failed.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void errorsAndOptions() throws Exception {
        assertThatThrownBy(() -> AsynchronousFileChannel.open(path("/none"), READ)).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/none");
        assertThatThrownBy(() -> AsynchronousFileChannel.open(path("/a"), CREATE, WRITE, APPEND))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("APPEND");
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/r"), CREATE, WRITE)) {
            CompletableFuture<Integer> f = new CompletableFuture<>();
            ch.read(ByteBuffer.allocate(1), 0, "a", handler(f, "a"));
            assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(java.nio.channels.NonReadableChannelException.class);
            assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1), -1)).isInstanceOf(IllegalArgumentException.class);
        }
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/r"), READ)) {
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(1), 0).get()).hasCauseInstanceOf(NonWritableChannelException.class);
        }
    }

    @Test
    void locksBothForms() throws Exception {
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/l"), CREATE, READ, WRITE)) {
            FileLock a = ch.lock(0, 10, false).get();
            assertThat(a.acquiredBy()).isSameAs(ch);
            assertThatThrownBy(() -> ch.tryLock(5, 10, true)).isInstanceOf(OverlappingFileLockException.class);
            CompletableFuture<FileLock> f = new CompletableFuture<>();
            ch.lock(20, 10, true, "l", handler(f, "l"));
            FileLock b = f.get(10, TimeUnit.SECONDS);
            assertThat(b.isShared()).isTrue();
            a.release();
            ch.close();
            assertThat(b.isValid()).isFalse();
        }
    }

    @Test
    void closedChannelFails() throws Exception {
        AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/c"), CREATE, READ, WRITE);
        ch.close();
        assertThat(ch.isOpen()).isFalse();
        assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1), 0).get()).hasCauseInstanceOf(ClosedChannelException.class);
        CompletableFuture<Integer> f = new CompletableFuture<>();
        ch.write(ByteBuffer.allocate(1), 0, "c", handler(f, "c"));
        assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(ch::size).isInstanceOf(ClosedChannelException.class);
    }
}
