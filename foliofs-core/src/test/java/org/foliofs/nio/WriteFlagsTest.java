package org.foliofs.nio;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.nio.file.ExtendedOpenOption;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.IoOp;
import org.junit.jupiter.api.Test;

/**
 * Write-through and atomic flags reach FolioFile: a write-through write has issued its device writes
 * when it returns (counted by the device's statistics), whether asked by open option, per call, by the
 * file's write mode or by the file system's.
 */
class WriteFlagsTest extends NioFixture {

    long deviceWrites() {
        BlockDevice d = FolioFileSystemProvider.volumeOf(fs).device();
        return d.stats().requests(IoOp.WRITE);
    }

    /** Device writes issued by one 64 KiB write at 0 (no fsync). */
    long writesOf(FileChannel ch, WriteFlag... flags) throws Exception {
        long before = deviceWrites();
        assertThat(((FolioFileChannel) ch).write(ByteBuffer.wrap(FilesTest.bytes(1, 65536)), 0, flags)).isEqualTo(65536);
        return deviceWrites() - before;
    }

    @Test
    void writeThroughOpenOptionAndPerCallFlag() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/wt"), CREATE, READ, WRITE, FolioOpenOption.WRITETHROUGH)) {
            assertThat(writesOf(ch)).isPositive();
        }
        try (FileChannel ch = FileChannel.open(path("/call"), CREATE, READ, WRITE)) {
            assertThat(writesOf(ch, WriteFlag.WRITETHROUGH)).isPositive();
            assertThat(writesOf(ch, WriteFlag.WRITETHROUGH, WriteFlag.DSYNC)).isPositive();
            ByteBuffer b = ByteBuffer.allocate(65536);
            ch.read(b, 0);
            assertThat(b.array()).isEqualTo(FilesTest.bytes(1, 65536));
        }
    }

    @Test
    void perFileWriteModeAttribute() throws Exception {
        Path p = Files.createFile(path("/mode"));
        Files.setAttribute(p, "foliofs:writeMode", "writethrough");
        assertThat(Files.getAttribute(p, "foliofs:writeMode")).isEqualTo("writethrough");
        try (FileChannel ch = FileChannel.open(p, WRITE)) {
            assertThat(writesOf(ch)).isPositive();
        }
    }

    @Test
    void fileSystemWriteMode() throws Exception {
        fs.close();
        fs = FileSystems.newFileSystem(uri(image), Map.of("writeMode", "writethrough+dsync"));
        try (FileChannel ch = FileChannel.open(path("/fsmode"), CREATE, WRITE)) {
            assertThat(writesOf(ch)).isPositive();
        }
        assertThat(Files.getAttribute(path("/fsmode"), "foliofs:writeMode")).isEqualTo("default");
    }

    @Test
    void asyncWriteThroughAndDirect() throws Exception {
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/a"), CREATE, READ, WRITE, FolioOpenOption.WRITETHROUGH)) {
            long before = deviceWrites();
            assertThat(ch.write(ByteBuffer.wrap(FilesTest.bytes(2, 20_000)), 100).get(10, TimeUnit.SECONDS)).isEqualTo(20_000);
            assertThat(deviceWrites() - before).isPositive();
            ByteBuffer b = ByteBuffer.allocate(20_000);
            assertThat(ch.read(b, 100).get(10, TimeUnit.SECONDS)).isEqualTo(20_000);
            assertThat(b.array()).isEqualTo(FilesTest.bytes(2, 20_000));
        }
        try (FolioFileChannel ch = (FolioFileChannel) FileChannel.open(path("/b"), CREATE, READ, WRITE)) {
            assertThat(ch.writeAsync(ByteBuffer.wrap(FilesTest.bytes(3, 8192)), 0, WriteFlag.WRITETHROUGH, WriteFlag.DSYNC)
                    .get(10, TimeUnit.SECONDS)).isEqualTo(8192);
        }
    }

    @Test
    void atomicNeedsWriteThroughAndKeepsToTheLimits() throws Exception {
        try (FileChannel ch = FileChannel.open(path("/atomic"), CREATE, WRITE, FolioOpenOption.ATOMIC)) {
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(4096))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("ATOMIC").hasMessageContaining("needs WRITETHROUGH");
        }
        try (FileChannel ch = FileChannel.open(path("/atomic1"), CREATE, WRITE, FolioOpenOption.WRITETHROUGH, FolioOpenOption.ATOMIC)) {
            assertThat(ch.write(ByteBuffer.allocate(16384))).isEqualTo(16384);
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(12288), 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("12288 bytes at offset 0").hasMessageContaining("power of two");
        }
        try (FileChannel ch = FileChannel.open(path("/atomic2"), CREATE, WRITE)) {
            assertThat(((FolioFileChannel) ch).write(ByteBuffer.allocate(4096), 0, WriteFlag.WRITETHROUGH, WriteFlag.ATOMIC)).isEqualTo(4096);
        }
    }

    /** DIRECT + ATOMIC open options: direct atomic writes (sync and async channel), limits refused with their message. */
    @Test
    void directAtomicWritesThroughTheChannels() throws Exception {
        ByteBuffer buf = ByteBuffer.allocateDirect(2 * 65536).alignedSlice(4096);
        buf.limit(65536);
        while (buf.hasRemaining()) buf.put((byte) 9);
        try (FileChannel ch = FileChannel.open(path("/da"), CREATE, READ, WRITE, ExtendedOpenOption.DIRECT, FolioOpenOption.ATOMIC)) {
            assertThat(ch.write(buf.clear().limit(65536), 0)).isEqualTo(65536);
            assertThat(((FolioFileChannel) ch).write(buf.clear().limit(16384), 65536, WriteFlag.DSYNC)).isEqualTo(16384);
            assertThatThrownBy(() -> ch.write(buf.clear().limit(12288), 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("12288 bytes at offset 0").hasMessageContaining("power of two");
            assertThatThrownBy(() -> ch.write(buf.clear().limit(16384), 4096)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("16384 bytes at offset 4096").hasMessageContaining("naturally aligned");
            assertThat(ch.size()).isEqualTo(65536 + 16384);
        }
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/da"), READ, WRITE, ExtendedOpenOption.DIRECT,
                FolioOpenOption.ATOMIC)) {
            assertThat(ch.write(buf.clear().limit(32768), 131072).get(10, TimeUnit.SECONDS)).isEqualTo(32768);
            assertThat(ch.size()).isEqualTo(131072 + 32768);
        }
        byte[] all = Files.readAllBytes(path("/da"));
        for (int at : new int[] {0, 65535, 65536, 81919, 131072, 163839}) assertThat(all[at]).as("byte %d", at).isEqualTo((byte) 9);
        assertThat(all[81920]).isZero();
    }

    @Test
    void directAndWriteThroughExcludeEachOther() throws Exception {
        assertThatThrownBy(() -> FileChannel.open(path("/x"), CREATE, WRITE, ExtendedOpenOption.DIRECT, FolioOpenOption.WRITETHROUGH))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("DIRECT").hasMessageContaining("WRITETHROUGH");
        assertThat(Files.exists(path("/x"))).isFalse();
    }
}
