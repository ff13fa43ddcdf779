package org.foliofs.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FolioPathTest extends NioFixture {

    @Test
    void parsingCollapsesSlashesAndKeepsTheEmptyPath() throws Exception {
        assertThat(path("/a//b/").toString()).isEqualTo("/a/b");
        assertThat(path("a", "b", "", "c").toString()).isEqualTo("a/b/c");
        assertThat(path("").getNameCount()).isEqualTo(1);
        assertThat(path("").toString()).isEmpty();
        assertThat(path("/").getNameCount()).isZero();
        assertThat(path("/").getFileName()).isNull();
        assertThatThrownBy(() -> path("a\0b")).isInstanceOf(InvalidPathException.class).hasMessageContaining("NUL");
    }

    @Test
    void componentsRootParentAndFileName() throws Exception {
        Path p = path("/a/b/c");
        assertThat(p.isAbsolute()).isTrue();
        assertThat(p.getRoot()).isEqualTo(path("/"));
        assertThat(p.getParent()).isEqualTo(path("/a/b"));
        assertThat(p.getFileName()).isEqualTo(path("c"));
        assertThat(p.getName(1)).isEqualTo(path("b"));
        assertThat(p.subpath(1, 3)).isEqualTo(path("b/c"));
        assertThat(path("a").getParent()).isNull();
        assertThat(path("/a").getParent()).isEqualTo(path("/"));
        assertThat(path("a").getRoot()).isNull();
        List<String> names = new ArrayList<>();
        for (Path n : p) names.add(n.toString());
        assertThat(names).containsExactly("a", "b", "c");
        assertThatThrownBy(() -> p.getName(3)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3");
        assertThatThrownBy(() -> p.subpath(2, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void normalize() throws Exception {
        assertThat(path("/a/./b/../c").normalize()).isEqualTo(path("/a/c"));
        assertThat(path("/../a").normalize()).isEqualTo(path("/a"));
        assertThat(path("../a/..").normalize()).isEqualTo(path(".."));
        assertThat(path("a/..").normalize()).isEqualTo(path(""));
        assertThat(path("./.").normalize().toString()).isEmpty();
    }

    @Test
    void resolveAndResolveSibling() throws Exception {
        assertThat(path("/a").resolve("b/c")).isEqualTo(path("/a/b/c"));
        assertThat(path("/a").resolve("/x")).isEqualTo(path("/x"));
        assertThat(path("/a").resolve("")).isEqualTo(path("/a"));
        assertThat(path("").resolve("b")).isEqualTo(path("b"));
        assertThat(path("/a/b").resolveSibling("c")).isEqualTo(path("/a/c"));
        assertThatThrownBy(() -> path("/a").resolve(Path.of("b"))).isInstanceOf(ProviderMismatchException.class);
    }

    @Test
    void relativizeIsTheInverseOfResolve() throws Exception {
        Path a = path("/a/b"), b = path("/a/c/d");
        Path r = a.relativize(b);
        assertThat(r).isEqualTo(path("../c/d"));
        assertThat(a.resolve(r).normalize()).isEqualTo(b);
        assertThat(a.relativize(a)).isEqualTo(path(""));
        assertThat(path("x").relativize(path("x/y"))).isEqualTo(path("y"));
        assertThat(path("").relativize(path("y"))).isEqualTo(path("y"));
        assertThatThrownBy(() -> path("/a").relativize(path("b"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("absolute");
    }

    @Test
    void startsWithEndsWithCompareEquals() throws Exception {
        Path p = path("/a/b/c");
        assertThat(p.startsWith("/a/b")).isTrue();
        assertThat(p.startsWith("/a/bc")).isFalse();
        assertThat(p.startsWith("a")).isFalse();
        assertThat(p.startsWith("/")).isTrue();
        assertThat(p.endsWith("b/c")).isTrue();
        assertThat(p.endsWith("/a/b/c")).isTrue();
        assertThat(p.endsWith("/b/c")).isFalse();
        assertThat(path("").startsWith("")).isTrue();
        assertThat(path("a").endsWith("")).isFalse();
        assertThat(path("/a").compareTo(path("/b"))).isNegative();
        assertThat(path("/a")).isEqualTo(path("/a/")).hasSameHashCodeAs(path("/a/"));
        assertThat(path("/a")).isNotEqualTo(path("a")).isNotEqualTo(Path.of("/a"));
        assertThat(p.startsWith(Path.of("/a"))).isFalse();
    }

    @Test
    void toAbsolutePathUsesTheRootAsWorkingDirectory() throws Exception {
        assertThat(path("a/b").toAbsolutePath()).isEqualTo(path("/a/b"));
        assertThat(path("").toAbsolutePath()).isEqualTo(path("/"));
    }

    @Test
    void uriRoundTripThroughTheProvider() throws Exception {
        Path p = path("/dir with space/f!x");
        URI u = p.toUri();
        assertThat(u.getScheme()).isEqualTo("foliofs");
        assertThat(u.toString()).startsWith("foliofs:" + image.toRealPath().toUri().getRawPath()).contains("!/dir%20with%20space/f!x");
        assertThat(Path.of(u)).isEqualTo(p);
        assertThat(FileSystems.getFileSystem(u)).isSameAs(fs);
        assertThat(path("rel").toUri()).isEqualTo(path("/rel").toUri());
    }

    @Test
    void toRealPathFollowsLinksAndDotDot() throws Exception {
        Files.createDirectories(path("/a/b"));
        Files.createSymbolicLink(path("/l"), path("a/b"));
        Files.createSymbolicLink(path("/a/b/up"), path("../.."));
        assertThat(path("/l/./up/a").toRealPath()).isEqualTo(path("/a"));
        assertThat(path("l").toRealPath()).isEqualTo(path("/a/b"));
        assertThat(path("/l").toRealPath(java.nio.file.LinkOption.NOFOLLOW_LINKS)).isEqualTo(path("/l"));
        assertThatThrownBy(() -> path("/l/missing").toRealPath()).isInstanceOf(java.nio.file.NoSuchFileException.class)
                .hasMessageContaining("/l/missing");
    }

    @Test
    void pathMatchers() throws Exception {
        var glob = fs.getPathMatcher("glob:/a/*.{txt,md}");
        assertThat(glob.matches(path("/a/x.txt"))).isTrue();
        assertThat(glob.matches(path("/a/x.md"))).isTrue();
        assertThat(glob.matches(path("/a/b/x.txt"))).isFalse();
        assertThat(fs.getPathMatcher("glob:**/[a-c]?").matches(path("/q/r/b1"))).isTrue();
        assertThat(fs.getPathMatcher("regex:/a/.*").matches(path("/a/b/c"))).isTrue();
        assertThatThrownBy(() -> fs.getPathMatcher("foo:x")).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("foo");
        assertThatThrownBy(() -> fs.getPathMatcher("nocolon")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nocolon");
        assertThat(Map.of()).isEmpty();
    }
}
