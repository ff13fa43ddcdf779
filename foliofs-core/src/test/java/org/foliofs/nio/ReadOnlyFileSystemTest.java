package org.foliofs.nio;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.foliofs.device.FileDevice;
import org.foliofs.device.IoOp;
import org.foliofs.fs.FolioFs;
import org.junit.jupiter.api.Test;

/**
 * env readOnly=true: the image is opened O_RDONLY and mounted without writing anything. Reading works,
 * every change throws {@link ReadOnlyFileSystemException}, and the image's bytes are the same afterwards.
 */
class ReadOnlyFileSystemTest extends NioFixture {
    private byte[] big;

    /** Fills the fixture's volume, unmounts it cleanly and returns the image's SHA-256. */
    private String populate() throws Exception {
        big = new byte[300_000];
        new Random(3).nextBytes(big);
        Files.write(path("/big"), big);
        Files.createDirectories(path("/d/e"));
        Files.writeString(path("/d/e/small"), "hello");
        Files.createSymbolicLink(path("/d/link"), path("/big"));
        Files.createLink(path("/d/hard"), path("/big"));
        fs.close();
        fs = null;
        return sha256(image);
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private void mountReadOnly() throws IOException {
        fs = FileSystems.newFileSystem(uri(image), Map.of("readOnly", true, "cacheSize", "16M"));
    }

    private static void refused(ThrowingCallable c) {
        assertThatThrownBy(c).isInstanceOf(ReadOnlyFileSystemException.class);
    }

    /** Reads everything populate wrote (and checks it). */
    private void readEverything() throws Exception {
        assertThat(Files.readAllBytes(path("/big"))).isEqualTo(big);
        assertThat(Files.readString(path("/d/e/small"))).isEqualTo("hello");
        assertThat(Files.readSymbolicLink(path("/d/link"))).isEqualTo(path("/big"));
        assertThat(Files.readAllBytes(path("/d/link"))).isEqualTo(big);
        assertThat(Files.isSameFile(path("/d/hard"), path("/big"))).isTrue();
        try (Stream<Path> s = Files.walk(path("/"))) {
            assertThat(s.map(Path::toString).toList()).contains("/big", "/d", "/d/e", "/d/e/small", "/d/link", "/d/hard");
        }
        assertThat(Files.readAttributes(path("/big"), "posix:*")).isNotEmpty();
        assertThat(Files.getAttribute(path("/big"), "foliofs:extentCount")).isNotNull();
        assertThat(Files.getFileStore(path("/")).getUnallocatedSpace()).isPositive();
        try (FileChannel ch = FileChannel.open(path("/big"), READ)) {
            ByteBuffer b = ByteBuffer.allocate(1000);
            assertThat(ch.read(b, 123_456)).isEqualTo(1000);
            assertThat(b.array()).isEqualTo(java.util.Arrays.copyOfRange(big, 123_456, 124_456));
            assertThat(ch.size()).isEqualTo(big.length);
            ch.force(true);                                          // nothing to make durable
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(1))).isInstanceOf(NonWritableChannelException.class);
            assertThatThrownBy(() -> ch.truncate(0)).isInstanceOf(NonWritableChannelException.class);
        }
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(path("/big"), READ)) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            assertThat(ch.read(b, 8192).get()).isEqualTo(4096);
            assertThat(b.array()).isEqualTo(java.util.Arrays.copyOfRange(big, 8192, 8192 + 4096));
        }
        Path out = tmp.resolve("copied-out");
        Files.copy(path("/big"), out, StandardCopyOption.REPLACE_EXISTING);                              // out of the image to the host
        assertThat(Files.readAllBytes(out)).isEqualTo(big);
    }

    @Test
    void readsWorkEveryChangeIsRefusedAndTheImageIsUnchanged() throws Exception {
        String before = populate();
        mountReadOnly();
        assertThat(fs.isReadOnly()).isTrue();
        assertThat(FolioFileSystemProvider.volumeOf(fs).isReadOnly()).isTrue();
        FileDevice dev = ((FolioFileSystem) fs).device();
        assertThat(dev.isReadOnly()).isTrue();
        readEverything();
        Path host = Files.writeString(tmp.resolve("host.txt"), "from the host");
        List<ThrowingCallable> changes = List.of(
                () -> Files.writeString(path("/big"), "x"),
                () -> Files.writeString(path("/new"), "x"),
                () -> Files.write(path("/d/e/small"), new byte[1], APPEND),
                () -> Files.newOutputStream(path("/d/e/small")).close(),
                () -> FileChannel.open(path("/big"), WRITE).close(),
                () -> FileChannel.open(path("/big"), READ, WRITE).close(),
                () -> FileChannel.open(path("/big"), WRITE, TRUNCATE_EXISTING).close(),
                () -> FileChannel.open(path("/nope"), CREATE, WRITE).close(),
                () -> AsynchronousFileChannel.open(path("/big"), WRITE).close(),
                () -> Files.createFile(path("/f")),
                () -> Files.createDirectory(path("/nd")),
                () -> Files.createDirectories(path("/d/e/x/y")),
                () -> Files.createSymbolicLink(path("/sl"), path("/big")),
                () -> Files.createLink(path("/hl"), path("/big")),
                () -> Files.delete(path("/d/e/small")),
                () -> Files.deleteIfExists(path("/d/link")),
                () -> Files.move(path("/big"), path("/moved")),
                () -> Files.move(path("/big"), path("/d/hard"), StandardCopyOption.REPLACE_EXISTING),
                () -> Files.copy(path("/big"), path("/copy")),
                () -> Files.copy(host, path("/in")),
                () -> Files.setLastModifiedTime(path("/big"), FileTime.fromMillis(1)),
                () -> Files.setPosixFilePermissions(path("/big"), PosixFilePermissions.fromString("rw-------")),
                () -> Files.setAttribute(path("/big"), "posix:group", Files.readAttributes(path("/big"), java.nio.file.attribute.PosixFileAttributes.class).group()),
                () -> Files.setAttribute(path("/big"), "foliofs:writeMode", "writethrough"),
                () -> Files.setOwner(path("/big"), Files.getOwner(path("/big"))));
        for (int i = 0; i < changes.size(); i++) {
            int k = i;
            assertThatThrownBy(changes.get(i)).as("change %d", k).isInstanceOf(ReadOnlyFileSystemException.class);
        }
        readEverything();                                              // nothing changed
        assertThat(dev.stats().requests(IoOp.WRITE) + dev.stats().requests(IoOp.FLUSH)).isZero();
        fs.close();
        fs = null;
        assertThat(sha256(image)).as("image after a read-only mount").isEqualTo(before);
        assertThat(dev.stats().requests(IoOp.WRITE) + dev.stats().requests(IoOp.FLUSH)).as("writes at close").isZero();
    }

    /**
     * An image the process cannot write (chmod a-w; as root, which ignores permission bits,
     * chattr +i) mounts read-only; read-write it is refused naming the image.
     */
    @Test
    void anImageThatIsNotWritableMountsReadOnly() throws Exception {
        String before = populate();
        boolean root = "root".equals(System.getProperty("user.name"));
        if (root) {
            try {
                Process p = new ProcessBuilder("chattr", "+i", image.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                assumeTrue(p.waitFor() == 0, "running as root and chattr +i fails here: " + out);
            } catch (IOException e) {
                assumeTrue(false, "running as root and chattr is unavailable: " + e.getMessage());
            }
        } else {
            Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("r--r--r--"));
        }
        try {
            assertThatThrownBy(() -> FileSystems.newFileSystem(uri(image), Map.of())).isInstanceOf(AccessDeniedException.class)
                    .hasMessageContaining(image.getFileName().toString());
            mountReadOnly();
            readEverything();
            refused(() -> Files.writeString(path("/big"), "x"));
            fs.close();
            fs = null;
        } finally {
            if (root) new ProcessBuilder("chattr", "-i", image.toString()).start().waitFor();
            else Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-r--r--"));
        }
        assertThat(sha256(image)).isEqualTo(before);
    }

    /** A crash leaves committed transactions in the log: a read-only mount refuses, naming the image, and writes nothing. */
    @Test
    void anImageThatNeedsJournalRecoveryIsRefusedUntilMountedReadWrite() throws Exception {
        populate();
        try (FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults())) {
            FolioFs v = FolioFs.mount(dev);
            v.create(FolioFs.ROOT_INO, "after-crash", 0644, 0, 0);
            v.sync();                                           // committed to the log, never checkpointed
            v.abandon();                                        // crash: no clean unmount
        }
        String crashed = sha256(image);
        assertThatThrownBy(this::mountReadOnly).isInstanceOf(FileSystemException.class)
                .hasMessageContaining(image.toRealPath().toString())
                .hasMessageContaining("needs journal recovery (1 transactions")
                .hasMessageContaining("mount it read-write once");
        assertThat(sha256(image)).as("image after a refused read-only mount").isEqualTo(crashed);
        fs = FileSystems.newFileSystem(uri(image), Map.of());   // read-write: replays the log
        assertThat(FolioFileSystemProvider.volumeOf(fs).mountLog()).anyMatch(s -> s.contains("replayed 1 transactions"));
        fs.close();
        mountReadOnly();
        assertThat(Files.exists(path("/after-crash"))).isTrue();
        readEverything();
    }
}
