package org.foliofs.cli;

import java.util.Locale;

/**
 * Byte sizes as people type them: {@code 4096}, {@code 4K}, {@code 1G}, {@code 2TiB}.
 * Suffixes are binary (K = 1024) and case-insensitive; a bare number is bytes.
 */
public final class Sizes {
    private static final String UNITS = "KMGT";

    private Sizes() {}

    /**
     * Parses a size: digits with an optional K, M, G or T suffix (also written KiB, MiB, GiB, TiB).
     *
     * @throws IllegalArgumentException naming the value, when it is not such a size, is negative
     *         or does not fit in a long
     */
    public static long parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("missing size");
        }
        String s = text.strip();
        if (s.startsWith("-")) {
            throw new IllegalArgumentException("invalid size '" + text + "': must not be negative");
        }
        String upper = s.toUpperCase(Locale.ROOT);
        if (upper.endsWith("IB")) {
            upper = upper.substring(0, upper.length() - 2);
            if (upper.isEmpty() || UNITS.indexOf(upper.charAt(upper.length() - 1)) < 0) {
                throw invalid(text);
            }
        }
        int shift = 0;
        if (!upper.isEmpty()) {
            int unit = UNITS.indexOf(upper.charAt(upper.length() - 1));
            if (unit >= 0) {
                shift = 10 * (unit + 1);
                upper = upper.substring(0, upper.length() - 1);
            }
        }
        if (upper.isEmpty() || !upper.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw invalid(text);
        }
        try {
            long number = Long.parseLong(upper);
            if (shift > 0 && number > (Long.MAX_VALUE >> shift)) {
                throw new ArithmeticException();
            }
            return number << shift;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("invalid size '" + text + "': too large");
        }
    }

    /**
     * Formats bytes for people: {@code 512 B}, {@code 4 KiB}, {@code 1.5 GiB}. The largest unit
     * that gives a value of at least 1 is used; exact multiples print without decimals.
     */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int unit = Math.min((63 - Long.numberOfLeadingZeros(bytes)) / 10, UNITS.length());
        long scale = 1L << (10 * unit);
        String name = UNITS.charAt(unit - 1) + "iB";
        if (bytes % scale == 0) {
            return (bytes / scale) + " " + name;
        }
        return String.format(Locale.ROOT, "%.2f %s", (double) bytes / scale, name);
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("invalid size '" + text
                + "': expected a number of bytes with an optional K, M, G or T suffix (binary: 4K = 4096)");
    }
}
