package org.foliofs.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.AgHeader;
import org.foliofs.fs.Superblock;
import org.foliofs.fs.SuperblockLayout;
import org.foliofs.fs.Volume;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code foliofs info <path>}: opens a file or block device and prints what the device layer sees
 * and, when it holds a FolioFS volume, the volume's geometry, features, usage and atomic write
 * limits. Read-only: the volume is not mounted (its journal is not replayed), so after a crash the
 * usage is as of the last checkpoint.
 */
@Command(name = "info",
        mixinStandardHelpOptions = true,
        description = {"Prints what the device layer sees of a volume file or block device and, for a FolioFS",
                "volume, its geometry, features, usage and atomic write limits. Read-only."})
public final class DeviceInfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "<path>", description = "Volume file or block device, e.g. /dev/nvme0n1.")
    Path path;

    @Option(names = "--engine", paramLabel = "<engine>",
            description = "I/O engine to open the device with: sync or uring (default: FileDevice's default).")
    BenchCommand.Engine engine;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        FileDevice.Options options = FileDevice.Options.defaults();
        if (engine == BenchCommand.Engine.SYNC) {
            options = options.withEngine(FileDevice.Engine.SYNC);
        } else if (engine == BenchCommand.Engine.URING) {
            options = options.withEngine(FileDevice.Engine.IO_URING);
        } else if (engine != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid value for --engine: " + engine + " (expected sync or uring)");
        }
        try (FileDevice device = FileDevice.open(path, options.withReadOnly(true))) {
            out.println(device.describe());
            row(out, "logical block size", bytes(device.logicalBlockSize()));
            row(out, "physical block size", bytes(device.physicalBlockSize()));
            row(out, "memory alignment", bytes(device.memoryAlignment()));
            row(out, "capacity", bytes(device.capacity()));
            row(out, "volatile write cache", yesNo(device.volatileWriteCache()));
            row(out, "native FUA", yesNo(device.supportsFua())
                    + (device.supportsFua() ? "" : " (FUA writes are emulated with a cache flush)"));
            row(out, "atomic write unit min", atomic(device.atomicWriteUnitMin()));
            row(out, "atomic write unit max", atomic(device.atomicWriteUnitMax()));
            printFileDeviceDetails(out, device);
            if (Volume.hasPrimaryMagic(device)) printVolume(out, Volume.open(device), device);
            else out.println("no FolioFS volume (make one with: foliofs mkfs " + path + ")");
        }
        out.flush();
        return 0;
    }

    /** What a FileDevice knows beyond the BlockDevice contract. */
    private static void printFileDeviceDetails(PrintWriter out, FileDevice device) {
        row(out, "atomic segments max", Integer.toString(device.atomicWriteSegmentsMax()));
        row(out, "engine", device.engine().name().toLowerCase(Locale.ROOT));
    }

    /** Geometry, features, usage and atomic limits of the volume, from its superblock and group headers. */
    private static void printVolume(PrintWriter out, Volume v, FileDevice device) {
        Superblock sb = v.superblock();
        out.println("FolioFS " + sb.version() + " volume " + sb.uuid() + (sb.label().isEmpty() ? "" : " label '" + sb.label() + "'"));
        row(out, "block size", bytes(sb.blockSize()));
        row(out, "blocks", sb.totalBlocks() + " (" + Sizes.format(sb.volumeBytes()) + ")");
        long last = sb.agLength(sb.agCount() - 1);
        row(out, "allocation groups", sb.agCount() + " of " + sb.agBlocks() + " blocks"
                + (last != sb.agBlocks() ? " (last " + last + ")" : ""));
        row(out, "journal", sb.logBlocks() + " blocks at block " + sb.logStart() + " (" + Sizes.format(sb.logBlocks() * sb.blockSize()) + ")");
        row(out, "root inode", Long.toString(sb.rootIno()));
        row(out, "features", "compat " + hex(sb.compatFeatures()) + ", ro-compat " + hex(sb.roCompatFeatures())
                + ", incompat " + hex(sb.incompatFeatures())
                + ((sb.incompatFeatures() & SuperblockLayout.INCOMPAT_LOG_DELTA) != 0 ? " (log-delta: delta journal records)" : "")
                + (sb.compatFeatures() == 0 && sb.roCompatFeatures() == 0 && sb.incompatFeatures() == 0 ? " (none)" : ""));
        long free = v.freeBlocks(), used = sb.totalBlocks() - free, inodes = 0;
        for (AgHeader g : v.groups()) inodes += g.inoCount;
        row(out, "used", used + " blocks (" + Sizes.format(used * sb.blockSize()) + ", "
                + String.format(Locale.ROOT, "%.1f%%", 100.0 * used / sb.totalBlocks()) + ")");
        row(out, "free", free + " blocks (" + Sizes.format(free * sb.blockSize()) + ")");
        row(out, "inodes", Long.toString(inodes));
        row(out, "device atomic write", device.atomicWriteUnitMax() == 0 ? "unsupported"
                : "min " + bytes(device.atomicWriteUnitMin()) + ", max " + bytes(device.atomicWriteUnitMax()));
        row(out, "software atomic", "min " + bytes(sb.blockSize()) + ", max " + bytes((int) org.foliofs.fs.FolioFs.atomicWriteUnitLimit(sb))
                + ", 1 segment (out of place, remapped in one journal transaction)");
        for (String w : v.warnings()) out.println("  warning: " + w);
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static void row(PrintWriter out, String name, String value) {
        out.printf("  %-22s %s%n", name + ":", value);
    }

    private static String bytes(long n) {
        return n < 1024 ? Long.toString(n) : n + " (" + Sizes.format(n) + ")";
    }

    private static String atomic(int n) {
        return n == 0 ? "0 (atomic writes unsupported)" : bytes(n);
    }

    private static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }
}
