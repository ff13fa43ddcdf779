package org.foliofs.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Atomic bit-range operations on a {@code long[]} that holds per-block bitmaps (a folio keeps its
 * uptodate words at {@code [0, words)} and its dirty words at {@code [words, 2*words)}). Writers
 * use {@code getAndBitwiseOr/And} so that an uptodate bit set by a read completion can never undo
 * a concurrent change of another bit in the same word; readers use volatile loads. Block numbers
 * are relative to the bitmap's {@code base} word. Allocation-free.
 */
final class BlockBitmap {
    private BlockBitmap() {}

    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    /** Mask of bits [from, to] (inclusive) within one word, 0 <= from <= to <= 63. */
    private static long mask(int from, int to) { return (-1L >>> (63 - to)) & (-1L << from); }

    static void setRange(long[] bits, int base, int first, int last) {
        for (int w = first >>> 6; w <= last >>> 6; w++) {
            long m = mask(w == first >>> 6 ? first & 63 : 0, w == last >>> 6 ? last & 63 : 63);
            WORD.getAndBitwiseOr(bits, base + w, m);
        }
    }

    static void clearRange(long[] bits, int base, int first, int last) {
        for (int w = first >>> 6; w <= last >>> 6; w++) {
            long m = mask(w == first >>> 6 ? first & 63 : 0, w == last >>> 6 ? last & 63 : 63);
            WORD.getAndBitwiseAnd(bits, base + w, ~m);
        }
    }

    static boolean allSet(long[] bits, int base, int first, int last) {
        for (int w = first >>> 6; w <= last >>> 6; w++) {
            long m = mask(w == first >>> 6 ? first & 63 : 0, w == last >>> 6 ? last & 63 : 63);
            if (((long) WORD.getVolatile(bits, base + w) & m) != m) return false;
        }
        return true;
    }

    static boolean anySet(long[] bits, int base, int words) {
        for (int w = 0; w < words; w++) {
            if ((long) WORD.getVolatile(bits, base + w) != 0) return true;
        }
        return false;
    }

    /** First set bit at or after {@code from} and below {@code n}, or -1. */
    static int nextSet(long[] bits, int base, int from, int n) {
        if (from >= n) return -1;
        int w = from >>> 6;
        long word = (long) WORD.getVolatile(bits, base + w) & (-1L << (from & 63));
        int words = (n + 63) >>> 6;
        while (true) {
            if (word != 0) {
                int b = (w << 6) + Long.numberOfTrailingZeros(word);
                return b < n ? b : -1;
            }
            if (++w >= words) return -1;
            word = (long) WORD.getVolatile(bits, base + w);
        }
    }

    /** First clear bit at or after {@code from}, or {@code n} when all of [from, n) are set. */
    static int nextClear(long[] bits, int base, int from, int n) {
        if (from >= n) return n;
        int w = from >>> 6;
        long word = ~(long) WORD.getVolatile(bits, base + w) & (-1L << (from & 63));
        int words = (n + 63) >>> 6;
        while (true) {
            if (word != 0) return Math.min(n, (w << 6) + Long.numberOfTrailingZeros(word));
            if (++w >= words) return n;
            word = ~(long) WORD.getVolatile(bits, base + w);
        }
    }
}
