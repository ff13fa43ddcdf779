package org.foliofs.nio;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.DELETE_ON_CLOSE;
import static java.nio.file.StandardOpenOption.DSYNC;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.SYNC;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.nio.file.ExtendedOpenOption;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** FileChannel/SeekableByteChannel contracts: positions, append, truncate, size, force, transfers, locks, options. */
class FolioFileChannelTest extends NioFixture {

    static ByteBuffer buf(String s) { return ByteBuffer.wrap(s.getBytes()); }

    static String str(ByteBuffer b) { return new String(b.array(), 0, b.position()); }

    @Test
    void sequentialReadWriteAndPosition() throws Exception {
        try (SeekableByteChannel ch = Files.newByteChannel(path("/f"), CREATE_NEW, READ, WRITE)) {
            assertThat(ch).isInstanceOf(FolioFileChannel.class);
            assertThat(ch.write(buf("hello "))).isEqualTo(6);
            assertThat(ch.write(buf("world"))).isEqualTo(5);
            assertThat(ch.position()).isEqualTo(11);
            assertThat(ch.size()).isEqualTo(11);
            ch.position(6);
            ByteBuffer b = ByteBuffer.allocate(100);
            assertThat(ch.read(b)).isEqualTo(5);
            assertThat(str(b)).isEqualTo("world");
            assertThat(ch.read(b)).isEqualTo(-1);
            ch.position(100);                                  // a hole up to the write
            assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            ch.write(buf("!"));
            assertThat(ch.size()).isEqualTo(101);
            ByteBuffer hole = ByteBuffer.allocate(89);
            assertThat(((FileChannel) ch).read(hole, 11)).isEqualTo(89);
            assertThat(hole.array()).containsOnly(0);
            assertThat(ch.read(ByteBuffer.allocate(0))).isZero();
            assertThatThrownBy(() -> ch.position(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        }
    }

    @Test
    void positionalIoLeavesThePositionAlone() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/p"), CREATE, READ, WRITE)) {
            assertThat(ch.write(buf("abcdef"), 10)).isEqualTo(6);
            assertThat(ch.position()).isZero();
            ByteBuffer b = ByteBuffer.allocate(3);
            assertThat(ch.read(b, 12)).isEqualTo(3);
            assertThat(str(b)).isEqualTo("cde");
            assertThat(ch.position()).isZero();
            assertThat(ch.read(ByteBuffer.allocate(4), 16)).isEqualTo(-1);
            assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1), -1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> ch.write(buf("x"), -5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-5");
        }
    }

    @Test
    void scatterGather() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/sg"), CREATE, READ, WRITE)) {
            assertThat(ch.write(new ByteBuffer[] {buf("ab"), buf("cd"), buf("ef")})).isEqualTo(6);
            ch.position(0);
            ByteBuffer a = ByteBuffer.allocate(4), b = ByteBuffer.allocate(4);
            assertThat(ch.read(new ByteBuffer[] {a, b})).isEqualTo(6);
            assertThat(str(a) + str(b)).isEqualTo("abcdef");
            assertThat(ch.read(new ByteBuffer[] {ByteBuffer.allocate(1)})).isEqualTo(-1);
        }
    }

    @Test
    void appendAlwaysWritesAtTheEnd() throws Exception {
        Files.writeString(path("/a"), "123");
        try (FileChannel ch = FileChannel.open(path("/a"), APPEND)) {
            assertThat(ch.position()).isEqualTo(3);
            ch.write(buf("45"));
            ch.position(0);
            ch.write(buf("67"));
            assertThat(ch.size()).isEqualTo(7);
            assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1))).isInstanceOf(NonReadableChannelException.class);
        }
        assertThat(Files.readString(path("/a"))).isEqualTo("1234567");
        assertThatThrownBy(() -> FileChannel.open(path("/a"), APPEND, READ)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("APPEND");
        assertThatThrownBy(() -> FileChannel.open(path("/a"), APPEND, TRUNCATE_EXISTING)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void concurrentAppendsDoNotInterleave() throws Exception {
        int threads = 4, each = 100, len = 100;
        Path p = path("/log");
        Files.createFile(p);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            var tasks = new java.util.ArrayList<java.util.concurrent.Future<?>>();
            for (int t = 0; t < threads; t++) {
                byte tag = (byte) ('a' + t);
                tasks.add(pool.submit(() -> {
                    try (FileChannel ch = FileChannel.open(p, APPEND)) {
                        byte[] rec = new byte[len];
                        Arrays.fill(rec, tag);
                        for (int i = 0; i < each; i++) assertThat(ch.write(ByteBuffer.wrap(rec))).isEqualTo(len);
                    }
                    return null;
                }));
            }
            for (var f : tasks) f.get();
        } finally {
            pool.shutdown();
        }
        byte[] all = Files.readAllBytes(p);
        assertThat(all).hasSize(threads * each * len);
        for (int r = 0; r < all.length; r += len)
            for (int i = 1; i < len; i++) assertThat(all[r + i]).as("record at %d", r).isEqualTo(all[r]);
    }

    @Test
    void truncateShrinksOnlyAndMovesThePosition() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/t"), CREATE, READ, WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[100_000]));
            ch.truncate(200_000);                              // never grows
            assertThat(ch.size()).isEqualTo(100_000);
            ch.truncate(5);
            assertThat(ch.size()).isEqualTo(5);
            assertThat(ch.position()).isEqualTo(5);
            assertThatThrownBy(() -> ch.truncate(-1)).isInstanceOf(IllegalArgumentException.class);
        }
        try (FileChannel ch = FileChannel.open(path("/t"), WRITE, TRUNCATE_EXISTING)) {
            assertThat(ch.size()).isZero();
        }
        try (FileChannel ch = FileChannel.open(path("/t"), READ)) {
            assertThatThrownBy(() -> ch.truncate(0)).isInstanceOf(NonWritableChannelException.class);
            assertThatThrownBy(() -> ch.write(buf("x"))).isInstanceOf(NonWritableChannelException.class);
        }
    }

    @Test
    void createOptions() throws Exception {
        assertThatThrownBy(() -> FileChannel.open(path("/none"), READ)).isInstanceOf(NoSuchFileException.class).hasMessage("/none");
        assertThatThrownBy(() -> FileChannel.open(path("/none"), WRITE)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> FileChannel.open(path("/none"), READ, CREATE)).isInstanceOf(NoSuchFileException.class);
        FileChannel.open(path("/c"), WRITE, CREATE).close();
        FileChannel.open(path("/c"), WRITE, CREATE).close();  // exists: fine
        assertThatThrownBy(() -> FileChannel.open(path("/c"), WRITE, CREATE_NEW)).isInstanceOf(FileAlreadyExistsException.class)
                .hasMessage("/c");
        try (FileChannel ch = FileChannel.open(path("/tmp"), WRITE, CREATE_NEW, DELETE_ON_CLOSE)) {
            ch.write(buf("gone"));
            assertThat(Files.exists(path("/tmp"))).isTrue();
        }
        assertThat(Files.exists(path("/tmp"))).isFalse();
    }

    @Test
    void unknownAndUnsupportedOptions() throws Exception {
        OpenOption bogus = new OpenOption() {
            @Override public String toString() { return "BOGUS"; }
        };
        assertThatThrownBy(() -> Files.newByteChannel(path("/u"), Set.of(CREATE, WRITE, bogus)))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("BOGUS");
        assertThatThrownBy(() -> Files.newByteChannel(path("/u"), CREATE, WRITE, ExtendedOpenOption.NOSHARE_READ))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("NOSHARE_READ");
        assertThat(Files.exists(path("/u"))).isFalse();
    }

    @Test
    void dsyncAndSyncWritesAndForce() throws Exception {
        for (StandardOpenOption o : new StandardOpenOption[] {DSYNC, SYNC}) {
            Path p = path("/" + o);
            try (FileChannel ch = FileChannel.open(p, CREATE, WRITE, o)) {
                ch.write(ByteBuffer.wrap(new byte[10_000]));
                ch.force(false);
                ch.force(true);
            }
            assertThat(Files.size(p)).isEqualTo(10_000);
        }
        try (FileChannel dir = FileChannel.open(path("/"), READ)) {   // fsync of a directory
            dir.force(true);
            assertThatThrownBy(() -> dir.read(ByteBuffer.allocate(1))).hasMessageContaining("Is a directory");
        }
    }

    @Test
    void perCallFlags() throws Exception {
        try (FolioFileChannel ch = (FolioFileChannel) FileChannel.open(path("/w"), CREATE, READ, WRITE)) {
            assertThat(ch.write(buf("durable"), 0, WriteFlag.DSYNC)).isEqualTo(7);
            assertThat(ch.writeAsync(buf("!"), 7).get()).isEqualTo(1);
            assertThat(ch.writeAsync(buf("?"), 8, WriteFlag.DSYNC).get()).isEqualTo(1);
            ByteBuffer b = ByteBuffer.allocate(9);
            ch.read(b, 0);
            assertThat(str(b)).isEqualTo("durable!?");
            assertThatThrownBy(() -> ch.write(buf("x"), -1, WriteFlag.DSYNC)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void directIoNeedsAlignedOffHeapBuffers() throws Exception {
        int bs = 4096;
        ByteBuffer aligned = ByteBuffer.allocateDirect(3 * bs).alignedSlice(bs);
        aligned.limit(2 * bs);
        for (int i = 0; i < aligned.limit(); i++) aligned.put(i, (byte) i);
        try (FileChannel ch = FileChannel.open(path("/d"), CREATE, READ, WRITE, ExtendedOpenOption.DIRECT)) {
            assertThat(ch.write(aligned, 0)).isEqualTo(2 * bs);
            ByteBuffer in = ByteBuffer.allocateDirect(3 * bs).alignedSlice(bs);
            in.limit(2 * bs);
            assertThat(ch.read(in, 0)).isEqualTo(2 * bs);
            for (int i = 0; i < 2 * bs; i++) assertThat(in.get(i)).isEqualTo((byte) i);
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(bs), 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("heap");
            ByteBuffer odd = ByteBuffer.allocateDirect(3 * bs).alignedSlice(bs).limit(100);
            assertThatThrownBy(() -> ch.write(odd, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100");
        }
        try (FileChannel ch = FileChannel.open(path("/d"), READ)) {   // the direct write is visible buffered
            ByteBuffer b = ByteBuffer.allocate(2 * bs);
            ch.read(b, 0);
            assertThat(b.get(4097)).isEqualTo((byte) 4097);
        }
    }

    @Test
    void transfers() throws Exception {
        byte[] data = FilesTest.bytes(9, 200_000);
        Files.write(path("/src"), data);
        try (FileChannel src = FileChannel.open(path("/src"), READ);
             FileChannel dst = FileChannel.open(path("/dst"), CREATE, WRITE)) {
            assertThat(src.transferTo(1000, 150_000, dst)).isEqualTo(150_000);
            assertThat(dst.transferFrom(Channels.newChannel(new java.io.ByteArrayInputStream(data)), 150_000, 10)).isEqualTo(10);
            var sink = new java.io.ByteArrayOutputStream();
            assertThat(src.transferTo(199_990, 100, Channels.newChannel(sink))).isEqualTo(10);   // short at the end
            assertThat(sink.toByteArray()).isEqualTo(Arrays.copyOfRange(data, 199_990, 200_000));
        }
        byte[] got = Files.readAllBytes(path("/dst"));
        assertThat(Arrays.copyOf(got, 150_000)).isEqualTo(Arrays.copyOfRange(data, 1000, 151_000));
        assertThat(Arrays.copyOfRange(got, 150_000, 150_010)).isEqualTo(Arrays.copyOf(data, 10));
    }

    /**
     * Between two channels of one volume, block-aligned transfers are reflinks (the target's blocks
     * are shared, no data copied), in both directions, including a range that ends at the source's
     * unaligned end; unaligned ones are copies. Positions move as FileChannel specifies. Files.copy
     * reflinks the whole file. Later writes to a copy leave the other file alone (copy-on-write).
     */
    @Test
    void alignedTransfersAndCopiesAreReflinks() throws Exception {
        int bs = 4096;
        byte[] data = FilesTest.bytes(11, 64 * bs + 100);   // ends mid-block
        Files.write(path("/s"), data);
        try (FileChannel src = FileChannel.open(path("/s"), READ);
             FileChannel dst = FileChannel.open(path("/t"), CREATE, READ, WRITE)) {
            dst.position(8 * bs);
            assertThat(src.transferTo(16 * bs, 1L << 30, dst)).as("clipped at the source's end").isEqualTo(48 * bs + 100);
            assertThat(dst.position()).isEqualTo(56 * bs + 100);
            assertThat(src.position()).isZero();
            src.position(4 * bs);
            assertThat(dst.transferFrom(src, 0, 4 * bs)).isEqualTo(4 * bs);
            assertThat(src.position()).isEqualTo(8 * bs);
            assertThat(dst.position()).isEqualTo(56 * bs + 100);
            assertThat(dst.transferFrom(src, 100, 10)).as("unaligned: copied").isEqualTo(10);
        }
        assertThat((long) Files.getAttribute(path("/t"), "foliofs:sharedBytes")).as("blocks shared by the reflinks").isGreaterThanOrEqualTo(52L * bs);
        byte[] want = new byte[56 * bs + 100];
        System.arraycopy(data, 16 * bs, want, 8 * bs, 48 * bs + 100);
        System.arraycopy(data, 4 * bs, want, 0, 4 * bs);
        System.arraycopy(data, 8 * bs, want, 100, 10);
        assertThat(Files.readAllBytes(path("/t"))).isEqualTo(want);

        Files.copy(path("/s"), path("/c"));
        assertThat((long) Files.getAttribute(path("/c"), "foliofs:sharedBytes")).isEqualTo(65L * bs);
        assertThat(Files.readAllBytes(path("/c"))).isEqualTo(data);
        try (FileChannel c = FileChannel.open(path("/c"), WRITE)) {
            c.write(buf("changed"), 0);
        }
        assertThat(Files.readAllBytes(path("/s"))).as("the original is untouched").isEqualTo(data);
        assertThat(new String(Files.readAllBytes(path("/c")), 0, 7)).isEqualTo("changed");
    }

    @Test
    void mapIsUnsupportedWithAReason() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/m"), CREATE, READ, WRITE)) {
            assertThatThrownBy(() -> ch.map(FileChannel.MapMode.READ_ONLY, 0, 10)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("/m").hasMessageContaining("page cache");
        }
    }

    @Test
    void inProcessLocks() throws Exception {
        try (FileChannel a = FileChannel.open(path("/l"), CREATE, READ, WRITE);
             FileChannel b = FileChannel.open(path("/l"), READ, WRITE)) {
            FileLock l1 = a.lock(0, 100, false);
            assertThat(l1.isValid()).isTrue();
            assertThatThrownBy(() -> b.tryLock(50, 10, true)).isInstanceOf(OverlappingFileLockException.class);
            FileLock l2 = b.tryLock(100, 10, false);
            l1.release();
            assertThat(l1.isValid()).isFalse();
            b.lock(0, 10, true).release();
            a.close();
            assertThat(l2.isValid()).isTrue();
            assertThatThrownBy(() -> l1.release()).isInstanceOf(ClosedChannelException.class);
        }
        try (FileChannel r = FileChannel.open(path("/l"), READ)) {
            assertThatThrownBy(() -> r.lock(0, 1, false)).isInstanceOf(NonWritableChannelException.class);
            assertThatThrownBy(() -> r.lock(-1, 1, true)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void closedChannels() throws Exception {
        FileChannel ch = FileChannel.open(path("/x"), CREATE, READ, WRITE);
        ch.close();
        ch.close();                                            // idempotent
        assertThat(ch.isOpen()).isFalse();
        assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1))).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(() -> ch.write(buf("x"))).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(ch::size).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(() -> ch.force(true)).isInstanceOf(ClosedChannelException.class);
    }

    @Test
    void unlinkedWhileOpenStaysReadableUntilClosed() throws Exception {
        Path p = path("/gone");
        try (FileChannel ch = FileChannel.open(p, CREATE, READ, WRITE)) {
            ch.write(buf("still here"));
            Files.delete(p);
            ByteBuffer b = ByteBuffer.allocate(20);
            assertThat(ch.read(b, 0)).isEqualTo(10);
            assertThat(str(b)).isEqualTo("still here");
        }
        assertThat(Files.exists(p)).isFalse();
    }
}
