package org.foliofs.bench;

import org.foliofs.device.FileDevice;

import java.nio.file.Path;
import java.util.List;

/** Runs the device benchmark with defaults: {@code java -jar ... [dir] [sizeMiB] [seconds]}. */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 1024) << 20;
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 5;
        System.out.println(DeviceBench.run(new DeviceBench.Config(dir, size, seconds, 1, 3, true,
                List.of(FileDevice.Engine.SYNC, FileDevice.Engine.IO_URING)), System.out));
    }
}
