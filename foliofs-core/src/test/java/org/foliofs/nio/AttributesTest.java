package org.foliofs.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.DosFileAttributes;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AttributesTest extends NioFixture {

    @Test
    void basicAttributes() throws Exception {
        Path f = path("/f");
        Files.write(f, new byte[12_345]);
        BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
        assertThat(a.isRegularFile()).isTrue();
        assertThat(a.isDirectory() || a.isSymbolicLink() || a.isOther()).isFalse();
        assertThat(a.size()).isEqualTo(12_345);
        assertThat(a.creationTime().toMillis()).isPositive();
        assertThat(a.fileKey()).isEqualTo(Files.readAttributes(f, BasicFileAttributes.class).fileKey());
        Files.createDirectory(path("/d"));
        assertThat(a.fileKey()).isNotEqualTo(Files.readAttributes(path("/d"), BasicFileAttributes.class).fileKey());
        FileTime m = FileTime.fromMillis(1_500_000_000_123L), at = FileTime.fromMillis(1_400_000_000_000L);
        Files.getFileAttributeView(f, BasicFileAttributeView.class).setTimes(m, at, null);
        a = Files.readAttributes(f, BasicFileAttributes.class);
        assertThat(a.lastModifiedTime()).isEqualTo(m);
        assertThat(a.lastAccessTime()).isEqualTo(at);
        Files.setAttribute(f, "lastModifiedTime", FileTime.fromMillis(42));
        assertThat(Files.getLastModifiedTime(f).toMillis()).isEqualTo(42);
        assertThat(Files.getAttribute(f, "basic:size")).isEqualTo(12_345L);
        assertThatThrownBy(() -> Files.readAttributes(path("/none"), BasicFileAttributes.class)).isInstanceOf(NoSuchFileException.class)
                .hasMessage("/none");
    }

    @Test
    void posixAttributesAndOwners() throws Exception {
        Path f = Files.createFile(path("/p"));
        PosixFileAttributes a = Files.readAttributes(f, PosixFileAttributes.class);
        assertThat(PosixFilePermissions.toString(a.permissions())).isEqualTo("rw-r--r--");
        PosixFileAttributeView v = Files.getFileAttributeView(f, PosixFileAttributeView.class);
        assertThat(v.name()).isEqualTo("posix");
        v.setPermissions(PosixFilePermissions.fromString("rwxr-x--x"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rwxr-x--x");
        var lookup = fs.getUserPrincipalLookupService();
        v.setOwner(lookup.lookupPrincipalByName("1234"));
        v.setGroup(lookup.lookupPrincipalByGroupName("99"));
        assertThat(Files.getOwner(f).getName()).isEqualTo("1234");
        assertThat(Files.readAttributes(f, PosixFileAttributes.class).group().getName()).isEqualTo("99");
        assertThat(Files.getFileAttributeView(f, FileOwnerAttributeView.class).getOwner().getName()).isEqualTo("1234");
        assertThat(lookup.lookupPrincipalByName("root").getName()).isEqualTo("0");
        assertThatThrownBy(() -> lookup.lookupPrincipalByName("nobody-here")).isInstanceOf(UserPrincipalNotFoundException.class);
        var foreign = java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("root");
        assertThatThrownBy(() -> v.setOwner(foreign)).isInstanceOf(ProviderMismatchException.class);
        Map<String, Object> m = Files.readAttributes(f, "posix:permissions,owner,size");
        assertThat(m).containsOnlyKeys("permissions", "owner", "size");
        Files.setAttribute(f, "posix:permissions", PosixFilePermissions.fromString("r--------"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("r--------");
    }

    @Test
    void symlinkAttributesWithAndWithoutFollowing() throws Exception {
        Files.createDirectory(path("/dir"));
        Path l = Files.createSymbolicLink(path("/l"), path("/dir"));
        assertThat(Files.readAttributes(l, BasicFileAttributes.class).isDirectory()).isTrue();
        BasicFileAttributes nf = Files.readAttributes(l, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        assertThat(nf.isSymbolicLink()).isTrue();
        assertThat(nf.size()).isEqualTo("/dir".length());
    }

    @Test
    void foliofsView() throws Exception {
        Path f = path("/v");
        Files.write(f, new byte[3 * 4096 + 1]);
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);                                   // write back: extents on disk
        }
        Map<String, Object> a = Files.readAttributes(f, "foliofs:*");
        assertThat(a).containsKeys("size", "inode", "linkCount", "writeMode", "extentCount", "sharedBytes", "allocatedBytes",
                "atomicWriteUnitMin", "atomicWriteUnitMax", "changeTime");
        assertThat(a.get("writeMode")).isEqualTo("default");
        assertThat((Long) a.get("extentCount")).isGreaterThanOrEqualTo(1L);
        assertThat(a.get("sharedBytes")).isEqualTo(0L);
        assertThat(a.get("allocatedBytes")).isEqualTo(4L * 4096);
        assertThat(a.get("linkCount")).isEqualTo(1);
        assertThat(Files.getAttribute(path("/"), "foliofs:extentCount")).isEqualTo(0L);
        Files.setAttribute(f, "foliofs:writeMode", "writeback");
        assertThat(Files.getAttribute(f, "foliofs:writeMode")).isEqualTo("writeback");
        assertThatThrownBy(() -> Files.setAttribute(f, "foliofs:writeMode", "fast")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fast");
        assertThatThrownBy(() -> Files.setAttribute(f, "foliofs:extentCount", 3L)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("extentCount");
    }

    @Test
    void unsupportedViewsAndNames() throws Exception {
        Path f = Files.createFile(path("/u"));
        assertThat(Files.getFileAttributeView(f, java.nio.file.attribute.AclFileAttributeView.class)).isNull();
        assertThatThrownBy(() -> Files.readAttributes(f, DosFileAttributes.class)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("DosFileAttributes");
        assertThatThrownBy(() -> Files.readAttributes(f, "dos:*")).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("dos");
        assertThatThrownBy(() -> Files.readAttributes(f, "basic:nope")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nope");
        assertThatThrownBy(() -> Files.setAttribute(f, "basic:size", 3L)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("basic:size");
        assertThatThrownBy(() -> Files.setAttribute(f, "posix:permissions", "rwx")).isInstanceOf(ClassCastException.class)
                .hasMessageContaining("posix:permissions");
        assertThat(fs.supportedFileAttributeViews()).containsExactlyInAnyOrder("basic", "posix", "owner", "foliofs");
    }
}
