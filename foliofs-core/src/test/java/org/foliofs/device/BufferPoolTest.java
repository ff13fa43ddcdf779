package org.foliofs.device;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BufferPoolTest {
    @Test
    void buffersAreAlignedDistinctZeroedAndReturned() {
        try (BufferPool pool = new BufferPool(8192, 4)) {
            MemorySegment a = pool.acquire(), b = pool.acquire();
            assertThat(a.address() % BufferPool.ALIGNMENT).isZero();
            assertThat(b.address()).isNotEqualTo(a.address());
            assertThat(a.byteSize()).isEqualTo(8192);
            assertThat(a.mismatch(MemorySegment.ofArray(new byte[8192]))).isEqualTo(-1);
            assertThat(pool.available()).isEqualTo(2);
            pool.release(a);
            pool.release(b);
            assertThat(pool.available()).isEqualTo(4);
            assertThat(pool.contains(a)).isTrue();
        }
    }

    @Test
    void largePoolsAre2MiBAlignedForHugePages() {
        try (BufferPool pool = new BufferPool(1 << 20, 1)) {
            // The alignment is ours; whether the kernel backs it with a huge page is its choice (THP setting).
            assertThat(pool.region().address() % (2L << 20)).isZero();
            System.out.println("1 MiB pool: huge pages advised = " + pool.hugePages());
        }
    }

    @Test
    void badArgumentsAndForeignBuffersAreNamed() {
        assertThatThrownBy(() -> new BufferPool(1000, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bufferSize (1000)");
        assertThatThrownBy(() -> new BufferPool(4096, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("count (0)");
        try (BufferPool pool = new BufferPool(4096, 1); BufferPool other = new BufferPool(4096, 1)) {
            MemorySegment foreign = other.acquire();
            assertThatThrownBy(() -> pool.release(foreign)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not belong to this pool");
            assertThat(pool.tryAcquire()).isNotNull();
            assertThat(pool.tryAcquire()).isNull();
        }
    }
}
