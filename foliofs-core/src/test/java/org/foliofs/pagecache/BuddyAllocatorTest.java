package org.foliofs.pagecache;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BuddyAllocatorTest {
    @Test
    void splitsToOrderZeroThenCoalescesBackToWholeChunks() {
        long seed = TestCaches.seed("BuddyAllocatorTest", "splitsToOrderZeroThenCoalescesBackToWholeChunks", 0x5EED0001L);
        BuddyAllocator b = new BuddyAllocator(4);
        List<Integer> pages = new ArrayList<>();
        for (int i = 0; i < b.pages(); i++) {
            int p = b.allocate(0);
            assertThat(p).isGreaterThanOrEqualTo(0);
            pages.add(p);
        }
        assertThat(new HashSet<>(pages)).hasSize(b.pages());
        assertThat(b.allocate(0)).isEqualTo(-1);
        assertThat(b.freePages()).isZero();
        Collections.shuffle(pages, new Random(seed));
        for (int p : pages) b.free(p, 0);
        assertThat(b.freePages()).isEqualTo(b.pages());
        assertThat(b.largestFreeOrder()).isEqualTo(Folio.MAX_ORDER);
        for (int c = 0; c < 4; c++) assertThat(b.allocate(9) % 512).isZero();
        assertThat(b.allocate(0)).isEqualTo(-1);
    }

    @Test
    void mixedOrdersNeverOverlapAndAlwaysCoalesce() {
        long seed = TestCaches.seed("BuddyAllocatorTest", "mixedOrdersNeverOverlapAndAlwaysCoalesce", 0x5EED0002L);
        Random r = new Random(seed);
        BuddyAllocator b = new BuddyAllocator(2);
        List<int[]> live = new ArrayList<>();
        Set<Integer> used = new HashSet<>();
        for (int step = 0; step < 20_000; step++) {
            if (r.nextInt(3) > 0 || live.isEmpty()) {
                int order = r.nextInt(Folio.MAX_ORDER + 1);
                int p = b.allocate(order);
                if (p < 0) continue;
                assertThat(p % (1 << order)).isZero();
                for (int i = p; i < p + (1 << order); i++) assertThat(used.add(i)).as("page %d handed out twice (seed %d)", i, seed).isTrue();
                live.add(new int[] {p, order});
            } else {
                int[] a = live.remove(r.nextInt(live.size()));
                b.free(a[0], a[1]);
                for (int i = a[0]; i < a[0] + (1 << a[1]); i++) used.remove(i);
            }
            assertThat(b.freePages()).isEqualTo(b.pages() - used.size());
        }
        for (int[] a : live) b.free(a[0], a[1]);
        assertThat(b.allocate(9)).isGreaterThanOrEqualTo(0);
        assertThat(b.allocate(9)).isGreaterThanOrEqualTo(0);
        assertThatThrownBy(() -> b.free(3, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("misaligned");
    }
}
