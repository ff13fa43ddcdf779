package org.foliofs.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import org.foliofs.fs.DirEntry;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Inode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code foliofs ls [-l] IMAGE [PATH]}: lists a directory of a volume (or names one file), sorted by name. */
@Command(name = "ls",
        mixinStandardHelpOptions = true,
        description = "Lists a directory in a FolioFS volume (the root by default), without mounting it in the OS.")
public final class LsCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneOffset.UTC);

    @Spec
    CommandSpec spec;

    @Option(names = "-l", description = "Long format: type and mode, links, owner, group, size, mtime (UTC), name.")
    boolean longFormat;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "Image file or block device.")
    Path image;

    @Parameters(index = "1", paramLabel = "PATH", defaultValue = "/", description = "Path inside the volume (default: /).")
    String path;

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(image)) throw new NoSuchFileException(image.toString());
        PrintWriter out = spec.commandLine().getOut();
        try (ImagePaths.Mounted m = ImagePaths.mountForReading(image)) {
            FolioFs fs = m.fs();
            long ino = ImagePaths.resolve(fs, path);
            FolioFs.Attr a = fs.getattr(ino);
            if (!a.isDir()) {
                print(out, fs, a, path);
            } else {
                List<DirEntry> entries = fs.list(ino).stream().sorted(Comparator.comparing(DirEntry::nameString)).toList();
                for (DirEntry e : entries) print(out, fs, longFormat ? fs.getattr(e.ino()) : null, e.nameString());
            }
        }
        out.flush();
        return 0;
    }

    private void print(PrintWriter out, FolioFs fs, FolioFs.Attr a, String name) throws IOException {
        if (!longFormat) {
            out.println(name);
            return;
        }
        String target = a.isSymlink() ? " -> " + fs.readlink(a.ino()) : "";
        out.printf("%s %3d %5d %5d %12d %s %s%s%n", mode(a.mode()), a.nlink(), a.uid(), a.gid(), a.size(),
                TIME.format(Instant.ofEpochSecond(0, a.mtime())), name, target);
    }

    /** "drwxr-xr-x" from a mode. */
    static String mode(int mode) {
        char type = switch (mode & Inode.S_IFMT) {
            case Inode.S_IFDIR -> 'd';
            case Inode.S_IFLNK -> 'l';
            case Inode.S_IFCHR -> 'c';
            case Inode.S_IFBLK -> 'b';
            case Inode.S_IFIFO -> 'p';
            case Inode.S_IFSOCK -> 's';
            default -> '-';
        };
        StringBuilder b = new StringBuilder().append(type);
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) b.append((mode & (0400 >> i)) != 0 ? rwx.charAt(i) : '-');
        return b.toString();
    }
}
