package org.foliofs.pagecache;

import java.util.Arrays;

/**
 * Binary buddy allocator over the page cache's memory, in pages of {@value Folio#PAGE_SIZE} bytes
 * and orders 0..{@value Folio#MAX_ORDER} (4 KiB..2 MiB). The memory is a whole number of 2 MiB
 * chunks, each one maximal block, so a block's buddy (page ^ 2^order) never leaves its chunk.
 *
 * <p>Free lists are intrusive and allocation-free: {@code next}/{@code prev} arrays indexed by the
 * first page of a free block, and {@code freeOrder[page]} is the order of the free block starting
 * there (or -1). Freeing coalesces with free buddies up to order 9. One monitor guards it all;
 * it is a leaf lock (nothing else is taken under it). Metadata: 9 bytes per 4 KiB page (0.2%).
 */
final class BuddyAllocator {
    private static final int NONE = -1;
    private final int pages;
    private final int[] next, prev;
    private final byte[] freeOrder;
    private final int[] heads = new int[Folio.MAX_ORDER + 1];
    private int freePages;

    BuddyAllocator(int chunks) {
        this.pages = chunks << Folio.MAX_ORDER;
        this.next = new int[pages];
        this.prev = new int[pages];
        this.freeOrder = new byte[pages];
        Arrays.fill(freeOrder, (byte) NONE);
        Arrays.fill(heads, NONE);
        for (int c = chunks - 1; c >= 0; c--) push(c << Folio.MAX_ORDER, Folio.MAX_ORDER);
        this.freePages = pages;
    }

    int pages() { return pages; }
    synchronized int freePages() { return freePages; }

    /** First page of a free block of {@code order}, splitting a larger one if needed, or -1. */
    synchronized int allocate(int order) {
        int o = order;
        while (o <= Folio.MAX_ORDER && heads[o] == NONE) o++;
        if (o > Folio.MAX_ORDER) return NONE;
        int page = heads[o];
        unlink(page, o);
        while (o > order) {          // split: keep the lower half, free the upper
            o--;
            push(page + (1 << o), o);
        }
        freePages -= 1 << order;
        return page;
    }

    /** Returns a block; coalesces it with free buddies. */
    synchronized void free(int page, int order) {
        if (page < 0 || page >= pages || (page & ((1 << order) - 1)) != 0) {
            throw new IllegalArgumentException("free of page " + page + " order " + order + " is outside or misaligned");
        }
        if (freeOrder[page] != NONE) throw new IllegalStateException("page " + page + " order " + order + " freed twice");
        freePages += 1 << order;
        while (order < Folio.MAX_ORDER) {
            int buddy = page ^ (1 << order);
            if (freeOrder[buddy] != order) break;
            unlink(buddy, order);
            page = Math.min(page, buddy);
            order++;
        }
        push(page, order);
    }

    /** The largest order with a free block, or -1 (tests, diagnostics). */
    synchronized int largestFreeOrder() {
        for (int o = Folio.MAX_ORDER; o >= 0; o--) if (heads[o] != NONE) return o;
        return NONE;
    }

    private void push(int page, int order) {
        freeOrder[page] = (byte) order;
        prev[page] = NONE;
        next[page] = heads[order];
        if (heads[order] != NONE) prev[heads[order]] = page;
        heads[order] = page;
    }

    private void unlink(int page, int order) {
        int n = next[page], p = prev[page];
        if (p == NONE) heads[order] = n; else next[p] = n;
        if (n != NONE) prev[n] = p;
        freeOrder[page] = (byte) NONE;
    }
}
