package org.foliofs.cli;

import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Mkfs;
import org.foliofs.fs.Volume;
import org.foliofs.fuse.ImageLock;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs mkfs <image> [--size 1G] [--block-size 4K] [--groups N] [--label L] [--force]}: makes
 * a FolioFS volume, creating the image file when it does not exist, then opens it and prints its summary.
 * An existing FolioFS volume is left untouched unless {@code --force} is given. A spinner shows on
 * a terminal while a large volume is formatted.
 */
@Command(name = "mkfs",
        mixinStandardHelpOptions = true,
        description = "Makes a FolioFS volume on an image file (created if missing) or block device.")
public final class MkfsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "<image>", description = "Image file or block device.")
    Path image;

    @Option(names = "--size", paramLabel = "<bytes>", converter = SizeConverter.class,
            description = "Volume size, e.g. 1G; required when the image does not exist (default: the whole device).")
    Long size;

    @Option(names = "--block-size", paramLabel = "<bytes>", defaultValue = "4K", converter = SizeConverter.class,
            description = "Block size, a power of two from 1K to 64K (default: ${DEFAULT-VALUE}).")
    long blockSize;

    @Option(names = {"--groups", "--ag-count"}, paramLabel = "<n>", defaultValue = "0",
            description = "Allocation groups, at least 1 (default: derived from the size).")
    int agCount;

    @Option(names = "--label", paramLabel = "<text>", defaultValue = "", description = "Volume label, up to 32 bytes.")
    String label;

    @Option(names = "--force", description = "Overwrite an existing FolioFS volume.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        if (blockSize > Integer.MAX_VALUE)
            throw new CommandLine.ParameterException(cl, "invalid value for --block-size: " + blockSize
                    + " (must be a power of two from 1024 to 65536)");
        if (agCount < 0) throw new CommandLine.ParameterException(cl, "invalid value for --groups: " + agCount + " (must be at least 1)");
        if (size != null && size <= 0)
            throw new CommandLine.ParameterException(cl, "invalid value for --size: " + size + " (must be positive)");
        Mkfs.Options opts;
        try {
            opts = Mkfs.Options.defaults().withBlockSize((int) blockSize).withAgCount(agCount).withLabel(label);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        boolean created = false;
        if (!Files.exists(image)) {
            if (size == null)
                throw new CommandLine.ParameterException(cl, "--size is required to create " + image);
            FileDevice.createImage(image, size);
            created = true;
        } else if (size != null) {
            opts = opts.withSize(size);
        }
        PrintWriter out = cl.getOut();
        try (ImageLock lock = ImageLock.acquire(image);   // never format a mounted volume
             FileDevice dev = FileDevice.open(image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
            if (!created && !force && Volume.hasPrimaryMagic(dev))
                throw new FileAlreadyExistsException(image.toString(), null,
                        "already holds a FolioFS volume; use --force to overwrite it");
            try (Progress p = Progress.spinner("mkfs " + image.getFileName(), dev.capacity() >= 1L << 30)) {
                FolioFs.format(dev, opts).close();   // mkfs plus the root directory and the orphanage
            }
            out.print(Volume.open(dev).summary());
        } catch (Exception e) {
            if (created) Files.deleteIfExists(image);
            throw e;
        }
        out.flush();
        return 0;
    }
}
