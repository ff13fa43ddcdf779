package org.foliofs.nio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SmokeTest extends NioFixture {
    @Test
    void writeReadListRemount() throws Exception {
        Path d = Files.createDirectory(path("/dir"));
        Path f = d.resolve("hello.txt");
        Files.writeString(f, "hello foliofs");
        assertThat(Files.readString(f)).isEqualTo("hello foliofs");
        try (var s = Files.list(d)) { assertThat(s.map(Path::toString).toList()).containsExactly("/dir/hello.txt"); }
        fs.close();
        fs = java.nio.file.FileSystems.newFileSystem(image);
        assertThat(Files.readString(fs.getPath("/dir/hello.txt"))).isEqualTo("hello foliofs");
    }
}
