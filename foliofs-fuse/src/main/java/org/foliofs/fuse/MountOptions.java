package org.foliofs.fuse;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The options of a FolioFS mount ({@code -o a,b=c,...}), immutable. Every setter and {@link #parse}
 * checks its value at once and names it.
 *
 * <table>
 * <caption>options</caption>
 * <tr><td>{@code direct_io} (default)</td><td>every open file is FOPEN_DIRECT_IO: reads and writes go to
 *     FolioFS, whose page cache is the only cache</td></tr>
 * <tr><td>{@code kernel_cache}</td><td>the kernel's page cache caches file data too (keep_cache); needed for
 *     shared writable mmap</td></tr>
 * <tr><td>{@code writemode=writeback}</td><td>the volume's default write mode ({@code writeback},
 *     {@code writethrough}, {@code writethrough+dsync}: programs that cannot pass RWF flags get
 *     write-through, or write-through with DSYNC, on every file whose own mode is the default)</td></tr>
 * <tr><td>{@code threads=N}</td><td>session threads reading /dev/fuse (1-64, default 4)</td></tr>
 * <tr><td>{@code cache=SIZE}</td><td>FolioFS page cache size, e.g. {@code 256M} (default 64M)</td></tr>
 * <tr><td>{@code attr_timeout=S}, {@code entry_timeout=S}</td><td>seconds the kernel may cache attributes
 *     and names (default 1)</td></tr>
 * <tr><td>{@code nocheck}</td><td>skip the read-only check of the image before mounting</td></tr>
 * <tr><td>{@code allow_other}, {@code allow_root}</td><td>passed to the kernel (other users may use the mount)</td></tr>
 * <tr><td>{@code debug}</td><td>libfuse prints every request</td></tr>
 * <tr><td>{@code rw} (default)</td><td>read-write: the mount replays a journal that needs recovery</td></tr>
 * <tr><td>{@code ro}</td><td>read-only: the image is opened {@code O_RDONLY} and mounted with
 *     {@code FolioFs.mountReadOnly}, the kernel mounts it {@code ro} (the VFS refuses changes with EROFS;
 *     any that get through are EROFS from the volume), the image lock is shared (other {@code ro} mounts
 *     may coexist, a read-write mount, fsck or mkfs may not), and nothing is written to the image, not at
 *     unmount either. An image whose journal needs recovery is refused: mount it read-write once (or run
 *     {@code foliofs fsck}) first</td></tr>
 * </table>
 */
public record MountOptions(boolean directIo, WriteMode writeMode, int threads, long cacheBytes, double attrTimeout,
                           double entryTimeout, boolean check, boolean allowOther, boolean allowRoot, boolean debug,
                           boolean readOnly) {

    /** The default write mode of buffered writes. */
    public enum WriteMode {
        WRITEBACK("writeback"), WRITETHROUGH("writethrough"), WRITETHROUGH_DSYNC("writethrough+dsync");

        final String option;

        WriteMode(String option) { this.option = option; }

        /** The FolioFs write mode (Inode.WMODE_*) this stands for. */
        public int fsMode() { return ordinal() + 1; }

        static WriteMode parse(String v) {
            for (WriteMode m : values()) if (m.option.equals(v)) return m;
            throw new IllegalArgumentException("writemode=" + v + " is not one of writeback, writethrough, writethrough+dsync");
        }
    }

    public MountOptions {
        if (threads < 1 || threads > 64) throw new IllegalArgumentException("threads (" + threads + ") must be from 1 to 64");
        if (cacheBytes < (1 << 20)) throw new IllegalArgumentException("cache (" + cacheBytes + " bytes) must be at least 1M");
        if (!(attrTimeout >= 0) || attrTimeout > 86400)
            throw new IllegalArgumentException("attr_timeout (" + attrTimeout + ") must be from 0 to 86400 seconds");
        if (!(entryTimeout >= 0) || entryTimeout > 86400)
            throw new IllegalArgumentException("entry_timeout (" + entryTimeout + ") must be from 0 to 86400 seconds");
    }

    public static MountOptions defaults() {
        return new MountOptions(true, WriteMode.WRITEBACK, 4, 64L << 20, 1.0, 1.0, true, false, false, false, false);
    }

    public MountOptions withDirectIo(boolean b) {
        return new MountOptions(b, writeMode, threads, cacheBytes, attrTimeout, entryTimeout, check, allowOther, allowRoot, debug, readOnly);
    }

    public MountOptions withThreads(int n) {
        return new MountOptions(directIo, writeMode, n, cacheBytes, attrTimeout, entryTimeout, check, allowOther, allowRoot, debug, readOnly);
    }

    public MountOptions withCheck(boolean b) {
        return new MountOptions(directIo, writeMode, threads, cacheBytes, attrTimeout, entryTimeout, b, allowOther, allowRoot, debug, readOnly);
    }

    public MountOptions withReadOnly(boolean b) {
        return new MountOptions(directIo, writeMode, threads, cacheBytes, attrTimeout, entryTimeout, check, allowOther, allowRoot, debug, b);
    }

    /** Parses a comma-separated option list on top of {@code base} ("" keeps {@code base}); a later ro/rw wins. */
    public static MountOptions parse(String list, MountOptions base) {
        boolean directIo = base.directIo, check = base.check, allowOther = base.allowOther, allowRoot = base.allowRoot,
                debug = base.debug, readOnly = base.readOnly;
        WriteMode writeMode = base.writeMode;
        int threads = base.threads;
        long cache = base.cacheBytes;
        double attr = base.attrTimeout, entry = base.entryTimeout;
        for (String o : list.split(",")) {
            if (o.isBlank()) continue;
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq), value = eq < 0 ? null : o.substring(eq + 1);
            switch (key) {
                case "direct_io" -> { flag(o, value); directIo = true; }
                case "kernel_cache" -> { flag(o, value); directIo = false; }
                case "nocheck" -> { flag(o, value); check = false; }
                case "allow_other" -> { flag(o, value); allowOther = true; }
                case "allow_root" -> { flag(o, value); allowRoot = true; }
                case "debug" -> { flag(o, value); debug = true; }
                case "ro" -> { flag(o, value); readOnly = true; }
                case "rw" -> { flag(o, value); readOnly = false; }
                case "default_permissions" -> flag(o, value);   // always so
                case "writemode" -> writeMode = WriteMode.parse(need(o, value));
                case "threads" -> threads = integer(o, need(o, value));
                case "cache" -> cache = size(o, need(o, value));
                case "attr_timeout" -> attr = seconds(o, need(o, value));
                case "entry_timeout" -> entry = seconds(o, need(o, value));
                default -> throw new IllegalArgumentException("unknown mount option " + o + " (known: " + String.join(", ", known()) + ")");
            }
        }
        return new MountOptions(directIo, writeMode, threads, cache, attr, entry, check, allowOther, allowRoot, debug, readOnly);
    }

    static List<String> known() {
        return List.of("direct_io", "kernel_cache", "writemode=writeback|writethrough|writethrough+dsync", "threads=N",
                "cache=SIZE", "attr_timeout=S", "entry_timeout=S", "nocheck", "allow_other", "allow_root", "debug", "ro", "rw");
    }

    /** The options passed to the kernel / libfuse ({@code -o} list, without {@code -o}). */
    String kernelOptions(String fsname) {
        List<String> o = new ArrayList<>();
        o.add("fsname=" + fsname.replace(",", "\\,"));
        o.add("subtype=foliofs");
        o.add("default_permissions");
        if (readOnly) o.add("ro");   // the VFS refuses changes itself (EROFS) before they reach us
        if (allowOther) o.add("allow_other");
        if (allowRoot) o.add("allow_root");
        return String.join(",", o);
    }

    private static void flag(String o, String value) {
        if (value != null) throw new IllegalArgumentException("mount option " + o + " takes no value");
    }

    private static String need(String o, String value) {
        if (value == null || value.isEmpty()) throw new IllegalArgumentException("mount option " + o + " needs a value (" + o + "=...)");
        return value;
    }

    private static int integer(String o, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("mount option " + o + ": " + v + " is not an integer");
        }
    }

    private static double seconds(String o, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("mount option " + o + ": " + v + " is not a number of seconds");
        }
    }

    static long size(String o, String v) {
        String s = v.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("B")) s = s.substring(0, s.length() - 1);
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> mult = 1;
            }
            if (mult != 1) s = s.substring(0, s.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.parseLong(s), mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("mount option " + o + ": " + v + " is not a size (e.g. 256M)");
        }
    }
}
