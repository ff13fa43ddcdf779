package org.foliofs.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Mounting through the provider: env keys, URIs, one open file system per image, close, read-only. */
class FolioFileSystemTest extends NioFixture {

    @Test
    void providerIsInstalledAndFoundByScheme() {
        assertThat(java.nio.file.spi.FileSystemProvider.installedProviders()).anyMatch(p -> p.getScheme().equals("foliofs"));
        assertThat(fs.provider()).isInstanceOf(FolioFileSystemProvider.class);
        assertThat(fs.getSeparator()).isEqualTo("/");
        assertThat(fs.getRootDirectories()).containsExactly(path("/"));
        assertThat(fs.isReadOnly()).isFalse();
    }

    @Test
    void oneFileSystemPerImageAndLookupByUri() throws Exception {
        assertThatThrownBy(() -> FileSystems.newFileSystem(uri(image), Map.of())).isInstanceOf(FileSystemAlreadyExistsException.class)
                .hasMessageContaining("vol.img");
        assertThat(FileSystems.getFileSystem(uri(image))).isSameAs(fs);
        assertThat(Path.of(URI.create(uri(image) + "!/a/b"))).isEqualTo(path("/a/b"));
        assertThatThrownBy(() -> FileSystems.getFileSystem(uri(tmp.resolve("other.img")))).isInstanceOf(FileSystemNotFoundException.class)
                .hasMessageContaining("other.img");
        assertThatThrownBy(() -> FileSystems.newFileSystem(URI.create("foliofs:relative.img"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("relative.img");
    }

    @Test
    void closeUnmountsCleanlyAndEverythingFailsAfterwards() throws Exception {
        Path f = path("/kept");
        FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        ch.write(ByteBuffer.wrap("unflushed".getBytes()));
        fs.close();
        fs.close();                                            // idempotent
        assertThat(fs.isOpen()).isFalse();
        assertThat(ch.isOpen()).isFalse();
        assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(1))).isInstanceOf(ClosedChannelException.class);
        assertThatThrownBy(() -> Files.exists(f)).isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> Files.readString(f)).isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> Files.createDirectory(path("/x"))).isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> Files.newDirectoryStream(path("/"))).isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> fs.getFileStores()).isInstanceOf(ClosedFileSystemException.class);
        assertThatThrownBy(() -> FileSystems.getFileSystem(uri(image))).isInstanceOf(FileSystemNotFoundException.class);
        fs = FileSystems.newFileSystem(image);                 // Path form, existing image
        assertThat(Files.readString(fs.getPath("/kept"))).isEqualTo("unflushed");
        assertThat(FolioFileSystemProvider.volumeOf(fs).mountLog()).noneMatch(s -> s.contains("journal recovery"));
    }

    @Test
    void closeRunsDeleteOnCloseOfOpenChannels() throws Exception {
        FileChannel ch = FileChannel.open(path("/scratch"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.DELETE_ON_CLOSE);
        ch.write(ByteBuffer.wrap(new byte[10_000]));
        fs.close();
        assertThat(ch.isOpen()).isFalse();
        fs = FileSystems.newFileSystem(image);
        assertThat(Files.exists(path("/scratch"))).isFalse();
    }

    @Test
    void readOnlyRefusesChanges() throws Exception {
        Files.writeString(path("/f"), "ro");
        fs.close();
        fs = FileSystems.newFileSystem(uri(image), Map.of("readOnly", "true"));
        assertThat(fs.isReadOnly()).isTrue();
        assertThat(Files.readString(fs.getPath("/f"))).isEqualTo("ro");
        assertThatThrownBy(() -> Files.writeString(fs.getPath("/f"), "x")).isInstanceOf(ReadOnlyFileSystemException.class);
        assertThatThrownBy(() -> Files.createDirectory(fs.getPath("/d"))).isInstanceOf(ReadOnlyFileSystemException.class);
        assertThatThrownBy(() -> Files.delete(fs.getPath("/f"))).isInstanceOf(ReadOnlyFileSystemException.class);
        assertThatThrownBy(() -> Files.setLastModifiedTime(fs.getPath("/f"), java.nio.file.attribute.FileTime.fromMillis(1)))
                .isInstanceOf(ReadOnlyFileSystemException.class);
        assertThat(Files.isWritable(fs.getPath("/f"))).isFalse();
        assertThat(Files.getFileStore(fs.getPath("/")).isReadOnly()).isTrue();
    }

    @Test
    void envKeysAndBadValues() throws Exception {
        fs.close();
        fs = null;
        Path img = tmp.resolve("e.img");
        URI u = uri(img);
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of())).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("e.img").hasMessageContaining("create");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "colour", "red")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("colour").hasMessageContaining("red");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "size", "12Q")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("size").hasMessageContaining("12Q");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "size", 1000L)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1000");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "blockSize", 3000)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blockSize").hasMessageContaining("3000");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", "yes")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("create").hasMessageContaining("yes");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "writeMode", "fast")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("writeMode").hasMessageContaining("fast");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "cacheSize", "1M")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cacheSize");
        assertThatThrownBy(() -> FileSystems.newFileSystem(u, Map.of("create", true, "readOnly", true)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("readOnly");
        assertThat(Files.exists(img)).isFalse();                // nothing made by the failures
        fs = FileSystems.newFileSystem(u, Map.of("create", "true", "size", 32L << 20, "blockSize", "1K", "cacheSize", 8 << 20,
                "writeMode", "writeback"));
        assertThat(Files.size(img)).isEqualTo(32L << 20);
        assertThat(Files.getFileStore(fs.getPath("/")).getBlockSize()).isEqualTo(1024);
        assertThat(Files.getFileStore(fs.getPath("/")).getTotalSpace()).isEqualTo(32L << 20);
    }

    @Test
    void notAnImage() throws Exception {
        Path junk = tmp.resolve("junk.img");
        Files.write(junk, new byte[1 << 20]);
        assertThatThrownBy(() -> FileSystems.newFileSystem(uri(junk), Map.of())).isInstanceOf(java.io.IOException.class)
                .hasMessageContaining("junk.img");
        assertThatThrownBy(() -> FileSystems.getFileSystem(uri(junk))).isInstanceOf(FileSystemNotFoundException.class);
    }

    @Test
    void fileSystemsAreIndependent() throws Exception {
        try (FileSystem other = FileSystems.newFileSystem(uri(tmp.resolve("o.img")), Map.of("create", true, "size", "16M",
                "cacheSize", "8M"))) {
            Files.writeString(other.getPath("/only-here"), "o");
            assertThat(Files.exists(path("/only-here"))).isFalse();
            assertThat(other.getPath("/a")).isNotEqualTo(path("/a"));
            assertThatThrownBy(() -> Files.createLink(path("/l"), other.getPath("/only-here")))
                    .isInstanceOf(java.nio.file.FileSystemException.class).hasMessageContaining("cross-device");
        }
    }
}
