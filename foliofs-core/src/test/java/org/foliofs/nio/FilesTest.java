package org.foliofs.nio;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every Files operation and its error cases, with the path in the exception. */
class FilesTest extends NioFixture {

    static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void createReadWriteDelete() throws Exception {
        Path f = path("/f");
        Files.createFile(f);
        assertThat(Files.exists(f)).isTrue();
        assertThat(Files.size(f)).isZero();
        assertThatThrownBy(() -> Files.createFile(f)).isInstanceOf(FileAlreadyExistsException.class).hasMessage("/f");
        byte[] data = bytes(1, 300_000);
        Files.write(f, data);
        assertThat(Files.readAllBytes(f)).isEqualTo(data);
        Files.write(f, "tail".getBytes(UTF_8), StandardOpenOption.APPEND);
        assertThat(Files.size(f)).isEqualTo(300_004);
        Files.writeString(f, "short");                       // CREATE, TRUNCATE_EXISTING, WRITE
        assertThat(Files.readString(f)).isEqualTo("short");
        assertThat(Files.readAllLines(path("/f"))).containsExactly("short");
        Files.delete(f);
        assertThat(Files.exists(f)).isFalse();
        assertThatThrownBy(() -> Files.delete(f)).isInstanceOf(NoSuchFileException.class).hasMessage("/f");
        assertThat(Files.deleteIfExists(f)).isFalse();
        assertThatThrownBy(() -> Files.readAllBytes(path("/missing"))).isInstanceOf(NoSuchFileException.class).hasMessage("/missing");
    }

    @Test
    void streams() throws Exception {
        Path f = path("/s");
        byte[] data = bytes(2, 100_000);
        try (OutputStream out = Files.newOutputStream(f)) {
            out.write(data, 0, 50_000);
            out.write(data, 50_000, 50_000);
        }
        try (InputStream in = Files.newInputStream(f)) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
        try (InputStream in = Files.newInputStream(f)) {
            assertThat(in.skip(99_990)).isEqualTo(99_990);
            assertThat(in.readAllBytes()).hasSize(10);
        }
        assertThatThrownBy(() -> Files.newInputStream(f, StandardOpenOption.WRITE)).isInstanceOf(UnsupportedOperationException.class);
        try (var w = Files.newBufferedWriter(path("/t"))) { w.write("line1\nline2\n"); }
        try (var r = Files.newBufferedReader(path("/t")); var lines = Files.lines(path("/t"))) {
            assertThat(r.readLine()).isEqualTo("line1");
            assertThat(lines.toList()).containsExactly("line1", "line2");
        }
    }

    @Test
    void directories() throws Exception {
        Path d = path("/d");
        Files.createDirectory(d);
        assertThat(Files.isDirectory(d)).isTrue();
        assertThatThrownBy(() -> Files.createDirectory(d)).isInstanceOf(FileAlreadyExistsException.class).hasMessage("/d");
        assertThatThrownBy(() -> Files.createDirectory(path("/nope/x"))).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/nope/x");
        Files.createDirectories(path("/d/e/f/g"));
        assertThat(Files.isDirectory(path("/d/e/f/g"))).isTrue();
        Files.createDirectories(path("/d/e"));               // exists: fine
        Files.createFile(path("/d/file"));
        assertThatThrownBy(() -> Files.createDirectories(path("/d/file/x"))).isInstanceOf(FileSystemException.class);
        assertThatThrownBy(() -> Files.createFile(path("/d/file/x"))).isInstanceOf(NotDirectoryException.class)
                .hasMessage("/d/file/x");
        assertThatThrownBy(() -> Files.delete(d)).isInstanceOf(DirectoryNotEmptyException.class).hasMessage("/d");
        assertThatThrownBy(() -> Files.delete(path("/"))).isInstanceOf(FileSystemException.class).hasMessageContaining("root");
        assertThatThrownBy(() -> Files.createDirectory(path("/"))).isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.newByteChannel(d, StandardOpenOption.WRITE)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("/d").hasMessageContaining("Is a directory");
        Files.delete(path("/d/file"));
        Files.delete(path("/d/e/f/g"));
        Files.delete(path("/d/e/f"));
        Files.delete(path("/d/e"));
        Files.delete(d);
        assertThat(Files.exists(d)).isFalse();
    }

    @Test
    void createWithPermissionsAndUnsupportedAttributes() throws Exception {
        Path f = Files.createFile(path("/p"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r-----")));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-r-----");
        Path d = Files.createDirectory(path("/pd"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d))).isEqualTo("rwx------");
        var bogus = new java.nio.file.attribute.FileAttribute<String>() {
            public String name() { return "acl:acl"; }
            public String value() { return "x"; }
        };
        assertThatThrownBy(() -> Files.createFile(path("/q"), bogus)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("acl:acl");
        assertThat(Files.exists(path("/q"))).isFalse();
    }

    @Test
    void symbolicLinks() throws Exception {
        Files.createDirectories(path("/a/b"));
        Files.writeString(path("/a/b/target"), "T");
        Path rel = Files.createSymbolicLink(path("/a/rel"), path("b/target"));
        Path abs = Files.createSymbolicLink(path("/abs"), path("/a/b"));
        assertThat(Files.readSymbolicLink(rel)).isEqualTo(path("b/target"));
        assertThat(Files.isSymbolicLink(rel)).isTrue();
        assertThat(Files.readString(rel)).isEqualTo("T");
        assertThat(Files.readString(path("/abs/target"))).isEqualTo("T");
        assertThat(Files.isDirectory(abs)).isTrue();
        assertThat(Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThatThrownBy(() -> Files.readSymbolicLink(path("/a/b/target"))).isInstanceOf(NotLinkException.class)
                .hasMessageContaining("/a/b/target");
        Files.createSymbolicLink(path("/dangling"), path("/nowhere"));
        assertThat(Files.exists(path("/dangling"))).isFalse();
        assertThat(Files.exists(path("/dangling"), LinkOption.NOFOLLOW_LINKS)).isTrue();
        Files.createSymbolicLink(path("/loop1"), path("/loop2"));
        Files.createSymbolicLink(path("/loop2"), path("/loop1"));
        assertThatThrownBy(() -> Files.readString(path("/loop1"))).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("/loop1").hasMessageContaining("symbolic links");
        assertThatThrownBy(() -> Files.newByteChannel(rel, LinkOption.NOFOLLOW_LINKS)).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("NOFOLLOW_LINKS");
        Files.delete(abs);                                   // deletes the link, not the directory
        assertThat(Files.isDirectory(path("/a/b"))).isTrue();
        assertThatThrownBy(() -> Files.createSymbolicLink(rel, path("x"))).isInstanceOf(FileAlreadyExistsException.class)
                .hasMessage("/a/rel");
    }

    @Test
    void hardLinks() throws Exception {
        Path f = path("/orig");
        Files.writeString(f, "shared");
        Path l = Files.createLink(path("/link"), f);
        assertThat(Files.readString(l)).isEqualTo("shared");
        assertThat(Files.isSameFile(f, l)).isTrue();
        assertThat(Files.getAttribute(f, "foliofs:linkCount")).isEqualTo(2);
        Files.delete(f);
        assertThat(Files.readString(l)).isEqualTo("shared");
        Files.createDirectory(path("/dir"));
        assertThatThrownBy(() -> Files.createLink(path("/dl"), path("/dir"))).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("/dir");
        assertThatThrownBy(() -> Files.createLink(path("/x"), path("/missing"))).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/missing");
        assertThatThrownBy(() -> Files.createLink(l, l)).isInstanceOf(FileAlreadyExistsException.class).hasMessage("/link");
    }

    @Test
    void moveRenamesReplacesAndRefuses() throws Exception {
        Files.writeString(path("/a"), "A");
        Files.writeString(path("/b"), "B");
        assertThatThrownBy(() -> Files.move(path("/a"), path("/b"))).isInstanceOf(FileAlreadyExistsException.class).hasMessage("/b");
        Files.move(path("/a"), path("/b"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.readString(path("/b"))).isEqualTo("A");
        assertThat(Files.exists(path("/a"))).isFalse();
        Files.move(path("/b"), path("/c"), StandardCopyOption.ATOMIC_MOVE);
        assertThat(Files.readString(path("/c"))).isEqualTo("A");
        assertThatThrownBy(() -> Files.move(path("/missing"), path("/z"))).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/missing");
        Files.createDirectories(path("/d1/sub"));
        Files.createDirectory(path("/d2"));
        Files.writeString(path("/d2/inside"), "x");
        assertThatThrownBy(() -> Files.move(path("/d1"), path("/d2"), StandardCopyOption.REPLACE_EXISTING))
                .isInstanceOf(DirectoryNotEmptyException.class).hasMessage("/d2");
        assertThatThrownBy(() -> Files.move(path("/d1"), path("/d1/sub/x"))).isInstanceOf(FileSystemException.class)
                .hasMessageContaining("/d1");
        Files.move(path("/d1"), path("/d2/moved"));
        assertThat(Files.isDirectory(path("/d2/moved/sub"))).isTrue();
        Files.createDirectory(path("/empty"));
        Files.move(path("/c"), path("/empty"), StandardCopyOption.REPLACE_EXISTING);   // a file replaces an empty directory
        assertThat(Files.readString(path("/empty"))).isEqualTo("A");
        Files.move(path("/empty"), path("/empty"));                                    // same file: nothing
        assertThatThrownBy(() -> Files.move(path("/empty"), path("/e2"), StandardCopyOption.COPY_ATTRIBUTES))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("COPY_ATTRIBUTES");
    }

    @Test
    void moveAndCopyBetweenTwoImages() throws Exception {
        Files.writeString(path("/src"), "cross");
        try (var other = java.nio.file.FileSystems.newFileSystem(uri(tmp.resolve("b.img")),
                java.util.Map.of("create", true, "size", "32M", "cacheSize", "8M"))) {
            Path dst = other.getPath("/dst");
            assertThatThrownBy(() -> Files.move(path("/src"), dst, StandardCopyOption.ATOMIC_MOVE))
                    .isInstanceOf(AtomicMoveNotSupportedException.class);
            Files.copy(path("/src"), other.getPath("/copy"));
            Files.move(path("/src"), dst);
            assertThat(Files.readString(dst)).isEqualTo("cross");
            assertThat(Files.readString(other.getPath("/copy"))).isEqualTo("cross");
            assertThat(Files.exists(path("/src"))).isFalse();
        }
    }

    @Test
    void copyFilesDirectoriesLinksAndAttributes() throws Exception {
        byte[] data = bytes(3, 2_500_000);
        Path src = path("/src");
        Files.write(src, data);
        Files.setPosixFilePermissions(src, PosixFilePermissions.fromString("rwx--x---"));
        FileTime t = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(src, t);
        Files.copy(src, path("/plain"));
        assertThat(Files.readAllBytes(path("/plain"))).isEqualTo(data);
        assertThat(Files.getLastModifiedTime(path("/plain"))).isNotEqualTo(t);
        Files.copy(src, path("/attrs"), StandardCopyOption.COPY_ATTRIBUTES);
        assertThat(Files.getLastModifiedTime(path("/attrs"))).isEqualTo(t);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path("/attrs")))).isEqualTo("rwx--x---");
        assertThatThrownBy(() -> Files.copy(src, path("/plain"))).isInstanceOf(FileAlreadyExistsException.class).hasMessage("/plain");
        Files.writeString(path("/small"), "s");
        Files.copy(path("/small"), path("/plain"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.readString(path("/plain"))).isEqualTo("s");
        Files.createSymbolicLink(path("/lnk"), path("/small"));
        Files.copy(path("/lnk"), path("/followed"));
        assertThat(Files.isSymbolicLink(path("/followed"))).isFalse();
        Files.copy(path("/lnk"), path("/notfollowed"), LinkOption.NOFOLLOW_LINKS);
        assertThat(Files.readSymbolicLink(path("/notfollowed"))).isEqualTo(path("/small"));
        Files.createDirectory(path("/dir"));
        Files.writeString(path("/dir/child"), "c");
        Files.copy(path("/dir"), path("/dircopy"));          // the directory only, as the JDK does
        try (var s = Files.list(path("/dircopy"))) { assertThat(s.toList()).isEmpty(); }
        assertThatThrownBy(() -> Files.copy(path("/small"), path("/dir"), StandardCopyOption.REPLACE_EXISTING))
                .isInstanceOf(DirectoryNotEmptyException.class).hasMessage("/dir");
        assertThatThrownBy(() -> Files.copy(path("/missing"), path("/x"))).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/missing");
        assertThatThrownBy(() -> Files.copy(src, path("/y"), StandardCopyOption.ATOMIC_MOVE))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("ATOMIC_MOVE");
        Files.copy(src, src);                                // same file: nothing
        assertThat(Files.readAllBytes(src)).isEqualTo(data);
    }

    @Test
    void checkAccessUsesTheModeBits() throws Exception {
        Path f = path("/f");
        Files.writeString(f, "x");
        fs.provider().checkAccess(f);
        fs.provider().checkAccess(f, AccessMode.READ, AccessMode.WRITE);
        assertThatThrownBy(() -> fs.provider().checkAccess(f, AccessMode.EXECUTE)).isInstanceOf(AccessDeniedException.class)
                .hasMessageContaining("/f").hasMessageContaining("0644");
        assertThat(Files.isExecutable(f)).isFalse();
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("r--------"));
        assertThat(Files.isWritable(f)).isFalse();
        assertThat(Files.isReadable(f)).isTrue();
        assertThatThrownBy(() -> Files.writeString(f, "y")).isInstanceOf(AccessDeniedException.class).hasMessageContaining("/f");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("-w-------"));
        assertThatThrownBy(() -> Files.readString(f)).isInstanceOf(AccessDeniedException.class);
        assertThatThrownBy(() -> fs.provider().checkAccess(path("/none"))).isInstanceOf(NoSuchFileException.class).hasMessage("/none");
    }

    @Test
    void isSameFileHiddenAndFileStore() throws Exception {
        Files.createDirectory(path("/d"));
        assertThat(Files.isSameFile(path("/d"), path("/d/../d"))).isTrue();
        assertThat(Files.isSameFile(path("/d"), path("/"))).isFalse();
        assertThat(Files.isSameFile(path("/x"), path("/x"))).isTrue();             // equal paths: no I/O
        assertThat(Files.isSameFile(path("/d"), java.nio.file.Path.of("/d"))).isFalse();
        assertThat(Files.isHidden(path("/d/.h"))).isTrue();
        assertThat(Files.isHidden(path("/d"))).isFalse();
        var store = Files.getFileStore(path("/d"));
        assertThat(store.type()).isEqualTo("foliofs");
        assertThat(store.name()).isEqualTo("vol.img");
        assertThat(store.getTotalSpace()).isEqualTo(64L << 20);
        assertThat(store.getUsableSpace()).isPositive().isLessThanOrEqualTo(store.getUnallocatedSpace());
        long before = store.getUnallocatedSpace();
        Files.write(path("/big"), bytes(4, 4 << 20));
        try (var ch = java.nio.channels.FileChannel.open(path("/big"), StandardOpenOption.WRITE)) { ch.force(true); }
        assertThat(store.getUnallocatedSpace()).isLessThanOrEqualTo(before - (4 << 20));
        assertThat(store.getBlockSize()).isEqualTo(4096);
        assertThat(store.supportsFileAttributeView("foliofs")).isTrue();
        assertThat(store.supportsFileAttributeView("acl")).isFalse();
        assertThat(store.getAttribute("nameMax")).isEqualTo(fs.provider() instanceof FolioFileSystemProvider ? store.getAttribute("nameMax") : 0);
        assertThatThrownBy(() -> store.getAttribute("bogus")).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("bogus");
        assertThatThrownBy(() -> Files.getFileStore(path("/none"))).isInstanceOf(NoSuchFileException.class);
        assertThat(List.of(fs.getFileStores().iterator().next())).containsExactly(store);
    }

    @Test
    void walkAndFind() throws Exception {
        Files.createDirectories(path("/w/a/b"));
        Files.writeString(path("/w/a/b/f1.txt"), "1");
        Files.writeString(path("/w/a/f2.log"), "2");
        try (var s = Files.walk(path("/w"))) {
            assertThat(s.map(Path::toString).sorted().toList())
                    .containsExactly("/w", "/w/a", "/w/a/b", "/w/a/b/f1.txt", "/w/a/f2.log");
        }
        try (var s = Files.find(path("/w"), 10, (p, a) -> a.isRegularFile() && p.toString().endsWith(".txt"))) {
            assertThat(s.map(Path::toString).toList()).containsExactly("/w/a/b/f1.txt");
        }
    }

    @Test
    void noSpaceIsAFileSystemExceptionNamingThePath() throws Exception {
        Path f = path("/fill");
        byte[] chunk = bytes(5, 1 << 20);
        assertThatThrownBy(() -> {
            try (OutputStream out = Files.newOutputStream(f)) {
                for (int i = 0; i < 100; i++) out.write(chunk);
            }
        }).isInstanceOf(FileSystemException.class).hasMessageContaining("/fill").hasMessageContaining("No space left on device");
        Files.delete(f);
        Files.write(path("/after"), chunk);               // space came back
        assertThat(Files.size(path("/after"))).isEqualTo(1 << 20);
    }
}
