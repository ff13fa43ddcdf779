package org.foliofs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @Test
    void bareNumberIsBytes() {
        assertThat(Sizes.parse("0")).isZero();
        assertThat(Sizes.parse("4096")).isEqualTo(4096);
        assertThat(Sizes.parse(" 512 ")).isEqualTo(512);
    }

    @Test
    void suffixesAreBinary() {
        assertThat(Sizes.parse("4K")).isEqualTo(4096);
        assertThat(Sizes.parse("1M")).isEqualTo(1L << 20);
        assertThat(Sizes.parse("1G")).isEqualTo(1L << 30);
        assertThat(Sizes.parse("3T")).isEqualTo(3L << 40);
    }

    @Test
    void suffixesAreCaseInsensitiveAndMayBeSpelledOut() {
        assertThat(Sizes.parse("4k")).isEqualTo(4096);
        assertThat(Sizes.parse("2g")).isEqualTo(2L << 30);
        assertThat(Sizes.parse("64KiB")).isEqualTo(64L << 10);
        assertThat(Sizes.parse("1gib")).isEqualTo(1L << 30);
    }

    @Test
    void largestValuesFitAndOverflowIsRejected() {
        assertThat(Sizes.parse("8388607T")).isEqualTo(8388607L << 40);
        assertThatThrownBy(() -> Sizes.parse("8388608T"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'8388608T'").hasMessageContaining("too large");
        assertThatThrownBy(() -> Sizes.parse("99999999999999999999"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too large");
    }

    @ParameterizedTest
    @ValueSource(strings = {"12Q", "", "K", "iB", "4KB", "1.5G", "0x10", "4 K", "G4", "ten", "4Kib2"})
    void garbageIsRejectedNamingTheValue(String text) {
        assertThatThrownBy(() -> Sizes.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + text + "'");
    }

    @Test
    void negativeIsRejected() {
        assertThatThrownBy(() -> Sizes.parse("-4K"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'-4K'").hasMessageContaining("negative");
    }

    @Test
    void nullIsRejected() {
        assertThatThrownBy(() -> Sizes.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void formatsForPeople() {
        assertThat(Sizes.format(0)).isEqualTo("0 B");
        assertThat(Sizes.format(512)).isEqualTo("512 B");
        assertThat(Sizes.format(4096)).isEqualTo("4 KiB");
        assertThat(Sizes.format(1L << 30)).isEqualTo("1 GiB");
        assertThat(Sizes.format(3L << 29)).isEqualTo("1.50 GiB");
        assertThat(Sizes.format(5L << 40)).isEqualTo("5 TiB");
        assertThat(Sizes.format(Long.MAX_VALUE)).endsWith(" TiB");
    }
}
