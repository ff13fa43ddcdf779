package org.foliofs.nio;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code env} map of {@code newFileSystem}, checked once into an immutable value. Every key and
 * value is checked at once; a bad one throws {@link IllegalArgumentException} naming the key and the
 * value. Sizes are a {@link Number} of bytes or a string like {@code 4096}, {@code 64M}, {@code 1GiB}.
 *
 * @param create    format a new image when the image file does not exist (default false)
 * @param size      image size when formatting (default 64 MiB)
 * @param blockSize block size when formatting (default 4096)
 * @param cacheSize page cache memory in bytes (default 64 MiB)
 * @param writeMode the default write mode of regular files ({@link WriteMode})
 * @param readOnly  open the image read-only (O_RDONLY; it need not be writable) and mount it without
 *                  writing anything (an image that needs journal recovery is refused); every change
 *                  throws {@link java.nio.file.ReadOnlyFileSystemException}
 */
record FsConfig(boolean create, long size, int blockSize, long cacheSize, WriteMode writeMode, boolean readOnly) {
    static final Set<String> KEYS = Set.of("create", "size", "blockSize", "cacheSize", "writeMode", "readOnly");
    static final long DEFAULT_SIZE = 64L << 20, DEFAULT_CACHE = 64L << 20;

    /** The file system's write mode ({@code env} key {@code writeMode}). */
    enum WriteMode {
        WRITEBACK("writeback"), WRITETHROUGH("writethrough"), WRITETHROUGH_DSYNC("writethrough+dsync");

        final String text;

        WriteMode(String text) { this.text = text; }

        /** The {@code Inode.WMODE_*} value. */
        int inodeMode() {
            return switch (this) {
                case WRITEBACK -> org.foliofs.fs.Inode.WMODE_WRITEBACK;
                case WRITETHROUGH -> org.foliofs.fs.Inode.WMODE_WRITETHROUGH;
                case WRITETHROUGH_DSYNC -> org.foliofs.fs.Inode.WMODE_WRITETHROUGH_DSYNC;
            };
        }

        static WriteMode parse(String key, Object v) {
            for (WriteMode m : values()) if (m.text.equals(String.valueOf(v).strip().toLowerCase(Locale.ROOT))) return m;
            throw bad(key, v, "must be writeback, writethrough or writethrough+dsync");
        }
    }

    static FsConfig of(Map<String, ?> env) {
        if (env == null) env = Map.of();
        for (String k : env.keySet())
            if (!KEYS.contains(k))
                throw new IllegalArgumentException("unknown env key '" + k + "' (value " + env.get(k) + "); known keys: "
                        + String.join(", ", KEYS.stream().sorted().toList()));
        boolean create = bool(env, "create");
        boolean readOnly = bool(env, "readOnly");
        if (create && readOnly) throw new IllegalArgumentException("env create (true) and readOnly (true) cannot be combined");
        long size = env.containsKey("size") ? size("size", env.get("size")) : DEFAULT_SIZE;
        if (size < 4096 || size % 4096 != 0) throw bad("size", env.get("size"), "must be a positive multiple of 4096");
        long bs = env.containsKey("blockSize") ? size("blockSize", env.get("blockSize")) : 4096;
        if (bs < 1024 || bs > 65536 || Long.bitCount(bs) != 1)
            throw bad("blockSize", env.get("blockSize"), "must be a power of two from 1024 to 65536");
        long cache = env.containsKey("cacheSize") ? size("cacheSize", env.get("cacheSize")) : DEFAULT_CACHE;
        if (cache < (8L << 20) || cache > (64L << 30)) throw bad("cacheSize", env.get("cacheSize"), "must be from 8M to 64G");
        WriteMode wm = env.containsKey("writeMode") ? WriteMode.parse("writeMode", env.get("writeMode")) : WriteMode.WRITEBACK;
        return new FsConfig(create, size, (int) bs, cache, wm, readOnly);
    }

    private static boolean bool(Map<String, ?> env, String key) {
        Object v = env.get(key);
        if (v == null) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) return Boolean.parseBoolean(s);
        throw bad(key, v, "must be a Boolean or \"true\"/\"false\"");
    }

    static long size(String key, Object v) {
        if (v instanceof Long || v instanceof Integer || v instanceof Short) {
            long n = ((Number) v).longValue();
            if (n < 0) throw bad(key, v, "must not be negative");
            return n;
        }
        if (!(v instanceof String s)) throw bad(key, v, "must be a Long, an Integer or a string like 64M");
        String t = s.strip().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B") && t.length() > 1 && "KMGT".indexOf(t.charAt(t.length() - 2)) >= 0) t = t.substring(0, t.length() - 1);
        int shift = 0;
        if (!t.isEmpty() && "KMGT".indexOf(t.charAt(t.length() - 1)) >= 0) {
            shift = 10 * ("KMGT".indexOf(t.charAt(t.length() - 1)) + 1);
            t = t.substring(0, t.length() - 1);
        }
        if (t.isEmpty() || !t.chars().allMatch(c -> c >= '0' && c <= '9')) throw bad(key, v, "is not a size like 4096, 64M or 1G");
        try {
            long n = Long.parseLong(t);
            if (n > (Long.MAX_VALUE >> shift)) throw new NumberFormatException();
            return n << shift;
        } catch (NumberFormatException e) {
            throw bad(key, v, "is too large");
        }
    }

    static IllegalArgumentException bad(String key, Object v, String why) {
        String shown = v instanceof String ? "'" + v + "'" : v + (v == null ? "" : " (" + v.getClass().getSimpleName() + ")");
        return new IllegalArgumentException("env " + key + " " + shown + " " + why);
    }
}
