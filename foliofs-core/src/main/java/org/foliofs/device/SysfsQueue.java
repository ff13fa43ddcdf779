package org.foliofs.device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a disk's queue attributes from sysfs. For a partition, the queue is the parent disk's.
 * When sysfs cannot tell (containers, virtual file systems), the safe answers are chosen:
 * a volatile write cache, no native FUA.
 */
final class SysfsQueue {
    private SysfsQueue() {}

    /** The queue directory of device major:minor, or null when sysfs has none. */
    static Path of(int major, int minor) {
        Path dev = Path.of("/sys/dev/block/" + major + ":" + minor);
        try {
            if (!Files.exists(dev)) return null;
            Path real = dev.toRealPath();
            Path queue = real.resolve("queue");
            if (Files.isDirectory(queue)) return queue;
            if (Files.exists(real.resolve("partition"))) {
                Path parent = real.getParent().resolve("queue");
                if (Files.isDirectory(parent)) return parent;
            }
        } catch (IOException | SecurityException e) {
            return null;
        }
        return null;
    }

    /** True unless the queue says "write through". */
    static boolean writeBack(Path queue) {
        String s = read(queue, "write_cache");
        return s == null || !s.startsWith("write through");
    }

    /** True when the queue reports native FUA. */
    static boolean fua(Path queue) {
        return "1".equals(read(queue, "fua"));
    }

    private static String read(Path queue, String attr) {
        if (queue == null) return null;
        try {
            return Files.readString(queue.resolve(attr)).trim();
        } catch (IOException | SecurityException e) {
            return null;
        }
    }
}
