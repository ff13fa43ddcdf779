package org.foliofs.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DirectoryStreamTest extends NioFixture {

    static List<String> names(DirectoryStream<Path> s) {
        List<String> out = new ArrayList<>();
        for (Path p : s) out.add(p.getFileName().toString());
        return out;
    }

    @Test
    void listsEveryEntryOnceAcrossBatches() throws Exception {
        Path d = Files.createDirectory(path("/big"));
        int n = FolioDirectoryStream.BATCH * 2 + 17;
        Set<String> want = new HashSet<>();
        for (int i = 0; i < n; i++) {
            Files.createFile(d.resolve("f" + i));
            want.add("f" + i);
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            List<String> got = names(s);
            assertThat(got).hasSize(n);
            assertThat(new HashSet<>(got)).isEqualTo(want);
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(path("big"))) {    // relative paths stay relative
            assertThat(s.iterator().next().toString()).startsWith("big/f");
        }
    }

    @Test
    void filtersAndGlobs() throws Exception {
        Path d = Files.createDirectory(path("/d"));
        for (String s : List.of("a.txt", "b.txt", "c.log")) Files.createFile(d.resolve(s));
        Files.createDirectory(d.resolve("sub"));
        try (var s = Files.newDirectoryStream(d, "*.txt")) {
            assertThat(names(s)).containsExactlyInAnyOrder("a.txt", "b.txt");
        }
        try (var s = Files.newDirectoryStream(d, Files::isDirectory)) {
            assertThat(names(s)).containsExactly("sub");
        }
        DirectoryStream.Filter<Path> failing = p -> { throw new IOException("filter failed on " + p); };
        try (var s = Files.newDirectoryStream(d, failing)) {
            assertThatThrownBy(() -> s.iterator().hasNext()).isInstanceOf(DirectoryIteratorException.class)
                    .hasMessageContaining("filter failed");
        }
    }

    @Test
    void streamContract() throws Exception {
        Path d = Files.createDirectory(path("/c"));
        Files.createFile(d.resolve("x"));
        DirectoryStream<Path> s = Files.newDirectoryStream(d);
        Iterator<Path> it = s.iterator();
        assertThatThrownBy(s::iterator).isInstanceOf(IllegalStateException.class).hasMessageContaining("/c");
        s.close();
        assertThat(it.hasNext()).isFalse();                 // closed: no more entries
        assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);
        DirectoryStream<Path> closed = Files.newDirectoryStream(d);
        closed.close();
        assertThatThrownBy(closed::iterator).isInstanceOf(IllegalStateException.class);
        try (var empty = Files.newDirectoryStream(Files.createDirectory(path("/e")))) {
            assertThat(empty.iterator().hasNext()).isFalse();
        }
    }

    @Test
    void errors() throws Exception {
        Files.createFile(path("/file"));
        assertThatThrownBy(() -> Files.newDirectoryStream(path("/file"))).isInstanceOf(NotDirectoryException.class).hasMessage("/file");
        assertThatThrownBy(() -> Files.newDirectoryStream(path("/none"))).isInstanceOf(NoSuchFileException.class).hasMessage("/none");
    }

    @Test
    void followsLinksToDirectories() throws Exception {
        Files.createDirectory(path("/real"));
        Files.createFile(path("/real/inside"));
        Files.createSymbolicLink(path("/alias"), path("real"));
        try (var s = Files.newDirectoryStream(path("/alias"))) {
            assertThat(s.iterator().next()).isEqualTo(path("/alias/inside"));
        }
    }
}
