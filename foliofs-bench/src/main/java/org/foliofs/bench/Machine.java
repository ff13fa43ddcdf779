package org.foliofs.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One line about the machine a figure was measured on: CPU, cores, memory, kernel, JVM. */
public final class Machine {
    private Machine() {}

    public static String describe() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException e) {
            // keep "unknown CPU"
        }
        long memGiB = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memGiB = Math.round(Long.parseLong(line.replaceAll("\\D", "")) / 1024.0 / 1024.0);
                    break;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // keep 0
        }
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores, " + memGiB + " GiB, Linux "
                + System.getProperty("os.version") + ", Java " + Runtime.version();
    }
}
