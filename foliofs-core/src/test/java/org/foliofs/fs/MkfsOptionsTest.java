package org.foliofs.fs;

import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MkfsOptionsTest {
    private final Mkfs.Options d = Mkfs.Options.defaults();

    @Test
    void defaults() {
        assertThat(d).isEqualTo(new Mkfs.Options(4096, 0, 0, "", null));
    }

    @Test
    void eachBadValueIsNamed() {
        assertThatThrownBy(() -> d.withBlockSize(3000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("blockSize (3000) must be a power of two from 1024 to 65536");
        assertThatThrownBy(() -> d.withBlockSize(512)).hasMessageContaining("blockSize (512)");
        assertThatThrownBy(() -> d.withBlockSize(131072)).hasMessageContaining("blockSize (131072)");
        assertThatThrownBy(() -> d.withAgCount(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agCount (-1)");
        assertThatThrownBy(() -> d.withSize(-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("size (-5)");
        assertThatThrownBy(() -> d.withLabel(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("label must not be null");
        assertThatThrownBy(() -> d.withLabel("x".repeat(33))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is 33 bytes of UTF-8, more than 32");
    }

    @Test
    void aDeviceTooSmallIsAClearError() {
        try (SimDevice dev = SimDevice.builder().capacity(1L << 20).build()) {
            assertThatThrownBy(() -> Mkfs.format(dev, d.withAgCount(8)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("device too small: 1048576 bytes (256 blocks of 4096) cannot hold 8 allocation group(s)"
                            + " of at least 64 blocks; need at least 2097152 bytes");
            assertThatThrownBy(() -> Mkfs.format(dev, d.withSize(2L << 20)))
                    .hasMessageStartingWith("size (2097152) exceeds the capacity (1048576 bytes) of ");
        }
        try (SimDevice dev = SimDevice.builder().capacity(64L << 10).build()) {
            assertThatThrownBy(() -> Mkfs.format(dev, d))
                    .hasMessageStartingWith("device too small: 65536 bytes (16 blocks of 4096)");
        }
    }

    @Test
    void blockSizeBelowTheLogicalBlockIsRefused() {
        try (SimDevice dev = SimDevice.builder().capacity(4L << 20).logicalBlockSize(4096).build()) {
            assertThatThrownBy(() -> Mkfs.format(dev, d.withBlockSize(1024)))
                    .hasMessageStartingWith("blockSize (1024) must be a multiple of the logical block size (4096)");
        }
    }
}
