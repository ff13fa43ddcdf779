package org.foliofs.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.foliofs.device.FileDevice;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code foliofs info <path>}: opens a file or block device and prints its geometry. */
@Command(name = "info",
        mixinStandardHelpOptions = true,
        description = "Opens a volume file or block device and prints what the device layer sees.")
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
        try (FileDevice device = FileDevice.open(path, options)) {
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
        }
        out.flush();
        return 0;
    }

    /** What a FileDevice knows beyond the BlockDevice contract. */
    private static void printFileDeviceDetails(PrintWriter out, FileDevice device) {
        row(out, "atomic segments max", Integer.toString(device.atomicWriteSegmentsMax()));
        row(out, "engine", device.engine().name().toLowerCase(Locale.ROOT));
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
