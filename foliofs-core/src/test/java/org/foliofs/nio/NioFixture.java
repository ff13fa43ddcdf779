package org.foliofs.nio;

import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** A fresh image in a JUnit temporary directory, mounted through the provider as {@link #fs}. */
abstract class NioFixture {
    @TempDir
    Path tmp;
    Path image;
    FileSystem fs;

    static URI uri(Path image) { return URI.create("foliofs:" + image.toAbsolutePath()); }

    FileSystem create(Map<String, Object> extra) throws IOException {
        image = tmp.resolve("vol.img");
        Map<String, Object> env = new HashMap<>(Map.of("create", true, "size", "64M", "cacheSize", "16M"));
        env.putAll(extra);
        fs = FileSystems.newFileSystem(uri(image), env);
        return fs;
    }

    @BeforeEach
    void createFs() throws IOException {
        create(Map.of());
    }

    Path path(String first, String... more) {
        return fs.getPath(first, more);
    }

    @AfterEach
    void closeFs() throws IOException {
        if (fs != null) fs.close();
    }
}
