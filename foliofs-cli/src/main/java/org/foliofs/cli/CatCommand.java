package org.foliofs.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.foliofs.fs.FolioFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code foliofs cat IMAGE PATH}: writes a file of a volume to stdout, byte for byte. */
@Command(name = "cat",
        mixinStandardHelpOptions = true,
        description = "Writes a file in a FolioFS volume to standard output.")
public final class CatCommand implements Callable<Integer> {
    static final int CHUNK = 1 << 20;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "Image file or block device.")
    Path image;

    @Parameters(index = "1", paramLabel = "PATH", description = "File inside the volume.")
    String path;

    /** Where the bytes go: stdout unless a test sets it (a PrintWriter would re-encode them). */
    OutputStream stdout;

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(image)) throw new NoSuchFileException(image.toString());
        OutputStream os = stdout != null ? stdout : new FileOutputStream(FileDescriptor.out);
        try (ImagePaths.Mounted m = ImagePaths.mountForReading(image);
             FolioFile f = m.fs().openFile(ImagePaths.regularFile(m.fs(), path, false))) {
            copyOut(f, os, null);
        }
        os.flush();
        return 0;
    }

    /** Copies the whole of {@code f} to {@code os} in 1 MiB reads; {@code progress} may be null. */
    static long copyOut(FolioFile f, OutputStream os, Progress progress) throws java.io.IOException {
        long size = f.size(), at = 0;
        byte[] bytes = new byte[CHUNK];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CHUNK, 4096);
            while (at < size) {
                long n = f.read(at, buf.asSlice(0, Math.min(CHUNK, size - at)));
                if (n <= 0) break;
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, bytes, 0, (int) n);
                os.write(bytes, 0, (int) n);
                at += n;
                if (progress != null) progress.stepBy(n);
            }
        }
        return at;
    }
}
