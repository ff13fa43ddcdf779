package org.foliofs.iomap;

import org.foliofs.device.Errno;
import org.foliofs.device.FaultPlan;
import org.foliofs.pagecache.FileCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Invalidation for direct I/O never drops or silently skips dirty data: a folio whose writeback
 * keeps failing makes {@code invalidate} fail, naming the range, and the folio stays cached and
 * dirty (its data is retried later); a direct write over it then fails instead of being
 * overwritten by that folio's later writeback.
 */
class InvalidateDirtyTest {
    @Test
    @Timeout(60)
    void aFolioThatCannotBeWrittenBackFailsTheInvalidation() throws Exception {
        // Every request after the fixture's 8 garbage-filling writes and its flush fails (the buffered write and
        // the reads below hit the cache only).
        FaultPlan writesFail = FaultPlan.builder().failAfter(9, Errno.EIO).build();
        try (BufferedFixture fx = new BufferedFixture(DirectIoTest.sim(512).faultPlan(writesFail),
                BufferedFixture.quietCache(16L << 20), BufferedIo.Options.defaults(), 4096, 256)) {
            byte[] data = new byte[16384];
            java.util.Arrays.fill(data, (byte) 7);
            fx.write(0, data);
            assertThatThrownBy(() -> fx.file.invalidate(0, data.length))
                    .isInstanceOf(java.io.IOException.class)
                    .hasMessageContaining("[0, +16384)").hasMessageContaining("stays dirty").hasMessageContaining("EIO");
            FileCache fc = fx.file.cache();
            assertThat(fc.nextTagged(FileCache.Tag.DIRTY, 0)).as("the dirty folio is kept").isGreaterThanOrEqualTo(0);
            assertThat(fx.read(0, data.length)).isEqualTo(data);
            fx.assertQuiescent();
        }
    }
}
