package org.foliofs.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs cp SRC DST}: copies one regular file into or out of a volume; exactly one side is
 * {@code IMAGE:PATH} (e.g. {@code vol.img:/dir/file}). An existing destination file is overwritten;
 * a destination directory receives the file under the source's name. A progress bar shows on a
 * terminal for large files.
 */
@Command(name = "cp",
        mixinStandardHelpOptions = true,
        description = {"Copies a file into or out of a FolioFS volume; one side is IMAGE:PATH, e.g.",
                "  foliofs cp notes.txt vol.img:/docs/notes.txt",
                "  foliofs cp vol.img:/docs/notes.txt copy.txt"})
public final class CpCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SRC", description = "Host file or IMAGE:PATH.")
    String src;

    @Parameters(index = "1", paramLabel = "DST", description = "Host file or directory, or IMAGE:PATH.")
    String dst;

    /** One side of a copy: an image and a path inside it. */
    record ImageSide(Path image, String path) {}

    @Override
    public Integer call() throws Exception {
        ImageSide from = imageSide(src), to = imageSide(dst);
        if ((from == null) == (to == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), from == null
                    ? "neither '" + src + "' nor '" + dst + "' is IMAGE:PATH (an existing image file, a colon, a path inside it)"
                    : "both '" + src + "' and '" + dst + "' are IMAGE:PATH; copying between volumes is not supported (copy out, then in)");
        }
        if (to != null) copyIn(Path.of(src), to);
        else copyOut(from, Path.of(dst));
        return 0;
    }

    /** {@code IMAGE:PATH} when the text before the first colon names an existing file and the whole text does not; else null. */
    static ImageSide imageSide(String arg) {
        int colon = arg.indexOf(':');
        if (colon <= 0 || Files.exists(Path.of(arg))) return null;
        Path image = Path.of(arg.substring(0, colon));
        if (!Files.exists(image)) return null;
        String p = arg.substring(colon + 1);
        return new ImageSide(image, p.isEmpty() ? "/" : p);
    }

    private static void copyIn(Path host, ImageSide to) throws IOException {
        if (!Files.exists(host)) throw new NoSuchFileException(host.toString());
        if (Files.isDirectory(host)) throw new FileSystemException(host.toString(), null, "is a directory (cp copies single files)");
        try (ImagePaths.Mounted m = ImagePaths.mount(to.image(), FileDevice.Engine.SYNC);
             FileChannel in = FileChannel.open(host, StandardOpenOption.READ)) {
            FolioFs fs = m.fs();
            String path = to.path();
            if (isDir(fs, path)) path = path.replaceAll("/+$", "") + "/" + host.getFileName();
            long size = in.size();
            try (FolioFile f = fs.openFile(ImagePaths.regularFile(fs, path, true));
                 Progress p = Progress.bytes("cp " + host.getFileName(), size);
                 Arena arena = Arena.ofConfined()) {
                f.truncate(0);
                MemorySegment buf = arena.allocate(CatCommand.CHUNK, 4096);
                ByteBuffer bb = buf.asByteBuffer();
                long at = 0;
                while (true) {
                    bb.clear();
                    int n = in.read(bb);
                    if (n <= 0) break;
                    long w = 0;
                    while (w < n) w += f.write(at + w, buf.asSlice(w, n - w));
                    at += n;
                    p.stepBy(n);
                }
            }
        }
    }

    private static void copyOut(ImageSide from, Path host) throws IOException {
        try (ImagePaths.Mounted m = ImagePaths.mountForReading(from.image())) {
            FolioFs fs = m.fs();
            try (FolioFile f = fs.openFile(ImagePaths.regularFile(fs, from.path(), false))) {
                Path target = Files.isDirectory(host) ? host.resolve(ImagePaths.split(from.path())[1]) : host;
                try (OutputStream os = Files.newOutputStream(target);
                     Progress p = Progress.bytes("cp " + target.getFileName(), f.size())) {
                    CatCommand.copyOut(f, os, p);
                }
            }
        }
    }

    private static boolean isDir(FolioFs fs, String path) throws IOException {
        try {
            return fs.getattr(ImagePaths.resolve(fs, path)).isDir();
        } catch (NoSuchFileException e) {
            return false;
        }
    }
}
