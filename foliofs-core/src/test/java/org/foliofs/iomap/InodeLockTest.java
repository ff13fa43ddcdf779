package org.foliofs.iomap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InodeLockTest {
    private static IoInode ofSize(long size) {
        return new IoInode() {
            @Override public long size() { return size; }
            @Override public int blockSize() { return 4096; }
        };
    }

    @Test
    void writesInsideTheSizeShareExtendingWritesExclude() {
        InodeLock lock = new InodeLock();
        IoInode f = ofSize(1 << 20);
        try (InodeLock.Guard g = lock.forWrite(f, 0, 4096)) {
            assertThat(g.exclusive()).isFalse();
            assertThat(lock.isHeldShared()).isTrue();
        }
        try (InodeLock.Guard g = lock.forWrite(f, (1 << 20) - 4096, 8192)) {
            assertThat(g.exclusive()).isTrue();
            assertThat(lock.isHeldExclusively()).isTrue();
        }
        assertThat(lock.isHeldShared()).isFalse();
        assertThat(lock.isHeldExclusively()).isFalse();
        try (InodeLock.Guard g = lock.forDirectWrite(f, 4096, 4096)) {
            assertThat(g.exclusive()).as("aligned direct write inside the size").isFalse();
        }
        try (InodeLock.Guard g = lock.forDirectWrite(f, 512, 4096)) {
            assertThat(g.exclusive()).as("sub-block direct write").isTrue();
        }
        assertThatThrownBy(() -> lock.forWrite(f, -1, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[-1, +10)");
    }

    @Test
    @Timeout(30)
    void sharedHoldersRunTogetherAndExclusiveWaitsForThem() throws Exception {
        InodeLock lock = new InodeLock();
        CountDownLatch bothIn = new CountDownLatch(2), release = new CountDownLatch(1);
        Runnable reader = () -> {
            try (InodeLock.Guard g = lock.shared()) {
                bothIn.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        Thread a = Thread.ofPlatform().start(reader), b = Thread.ofPlatform().start(reader);
        assertThat(bothIn.await(10, TimeUnit.SECONDS)).as("two shared holders at once").isTrue();
        AtomicBoolean writerIn = new AtomicBoolean();
        Thread w = Thread.ofPlatform().start(() -> {
            try (InodeLock.Guard g = lock.exclusive()) {
                writerIn.set(true);
            }
        });
        Thread.sleep(100);
        assertThat(writerIn).as("exclusive while shared is held").isFalse();
        release.countDown();
        w.join(10_000);
        a.join();
        b.join();
        assertThat(writerIn).isTrue();
    }
}
