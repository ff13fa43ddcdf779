package org.foliofs.device;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test helper for real block devices: loop devices over image files, and XFS mounted on them.
 * Needs root and losetup (and mkfs.xfs for XFS); {@link #unavailableReason} says why not.
 */
final class LoopDevices implements AutoCloseable {
    private final List<String> loops = new ArrayList<>();
    private final List<Path> mounts = new ArrayList<>();         // file systems on our loop devices
    private final List<Path> backingMounts = new ArrayList<>();  // tmpfs holding loop backing files

    /** Null when loop devices can be used here, else why not (printed by skipped tests). */
    static String unavailableReason(boolean needXfs) {
        if (!"root".equals(System.getProperty("user.name"))) return "not running as root (loop devices need root)";
        if (!Files.isExecutable(Path.of("/usr/sbin/losetup")) && !Files.isExecutable(Path.of("/sbin/losetup"))) {
            return "losetup is not installed (Debian package mount)";
        }
        if (needXfs && !Files.isExecutable(Path.of("/usr/sbin/mkfs.xfs")) && !Files.isExecutable(Path.of("/sbin/mkfs.xfs"))) {
            return "mkfs.xfs is not installed (Debian package xfsprogs)";
        }
        return null;
    }

    /** Attaches a new sparse image of the given size to a free loop device; returns /dev/loopN. */
    Path attach(Path image, long size) throws IOException {
        FileDevice.createImage(image, size);
        String dev = run("losetup", "-f", "--show", "--direct-io=on", image.toString()).strip();
        loops.add(dev);
        return Path.of(dev);
    }

    /**
     * A loop device of {@code size} bytes whose backing file lives on a tmpfs of only
     * {@code room} bytes: writes beyond that room fail in the kernel with ENOSPC, a real device
     * error for fault tests of FileDevice.
     */
    Path attachOnSmallTmpfs(Path mountPoint, long room, long size) throws IOException {
        Files.createDirectories(mountPoint);
        run("mount", "-t", "tmpfs", "-o", "size=" + room, "tmpfs", mountPoint.toString());
        backingMounts.add(mountPoint);
        Path image = mountPoint.resolve("backing.img");
        FileDevice.createImage(image, size);
        String dev = run("losetup", "-f", "--show", image.toString()).strip();
        loops.add(dev);
        return Path.of(dev);
    }

    /** Makes XFS on a new loop device and mounts it at {@code mountPoint}. */
    Path xfs(Path image, long size, Path mountPoint) throws IOException {
        Path dev = attach(image, size);
        run("mkfs.xfs", "-q", "-f", dev.toString());
        Files.createDirectories(mountPoint);
        run("mount", dev.toString(), mountPoint.toString());
        mounts.add(mountPoint);
        return mountPoint;
    }

    static String run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + String.join(" ", cmd), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + out.strip());
        return out;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        // Unmount what sits on loop devices, detach the loops, then unmount what held their backing files.
        for (Path m : mounts.reversed()) {
            try { run("umount", m.toString()); } catch (IOException e) { if (first == null) first = e; }
        }
        for (String l : loops.reversed()) {
            try { run("losetup", "-d", l); } catch (IOException e) { if (first == null) first = e; }
        }
        for (Path m : backingMounts.reversed()) {
            try { run("umount", m.toString()); } catch (IOException e) { if (first == null) first = e; }
        }
        if (first != null) throw first;
    }
}
