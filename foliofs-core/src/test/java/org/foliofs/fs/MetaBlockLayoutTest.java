package org.foliofs.fs;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.UUID;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.foliofs.fs.MetaBlockLayout.*;

class MetaBlockLayoutTest {
    static final UUID VOL = new UUID(0x0123456789abcdefL, 0xfedcba9876543210L);

    @Test
    void headerFieldsSitAtTheDocumentedOffsets() {
        MemorySegment s = MemorySegment.ofArray(new byte[4096]);
        init(s, MetaType.FREE_BY_BLOCK, 1234, 7, VOL);
        stampCrc(s);
        byte[] b = s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        assertThat(new String(b, 0, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("FSBB");
        assertThat(s.get(U64, 8)).isEqualTo(1234);
        assertThat(s.get(U64, 16)).isEqualTo(7);
        assertThat(b[24]).isEqualTo((byte) 0x01); // UUID in RFC 4122 byte order
        assertThat(b[39]).isEqualTo((byte) 0x10);
        assertThat(s.get(U64, 48)).isEqualTo(NIL);
        assertThat(s.get(U64, 56)).isEqualTo(NIL);
        // The checksum is CRC32C of the block with bytes 4..7 zero.
        byte[] z = b.clone();
        z[4] = z[5] = z[6] = z[7] = 0;
        CRC32C c = new CRC32C();
        c.update(z);
        assertThat(s.get(U32, 4)).isEqualTo((int) c.getValue());
    }

    @Test
    void blockSizesArePowersOfTwoFrom1KTo64K() {
        assertThat(checkBlockSize(1024)).isEqualTo(1024);
        assertThat(checkBlockSize(65536)).isEqualTo(65536);
        for (int bad : new int[] {512, 3000, 131072, 0, -4096})
            assertThatThrownBy(() -> checkBlockSize(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("blockSize (" + bad + ") must be a power of two from 1024 to 65536");
    }

    private static MemorySegment good() {
        MemorySegment s = MemorySegment.ofArray(new byte[1024]);
        init(s, MetaType.FREE_BY_BLOCK, 1234, 7, VOL);
        s.set(U64, 100, 42);
        stampCrc(s);
        return s;
    }

    @Test
    void eachVerificationFailureNamesBlockStructureAndProblem() throws Exception {
        verify(good(), 1234, MetaType.FREE_BY_BLOCK, 7, VOL); // passes

        assertThatThrownBy(() -> verify(good(), 1234, MetaType.FREE_BY_SIZE, 7, VOL))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block 1234 (free-space by-size btree node): magic 0x42425346 ('FSBB') where "
                        + "0x53425346 ('FSBS') expected");

        MemorySegment flipped = good();
        flipped.set(U64, 100, 43);
        int stored = flipped.get(U32, 4), computed = computeCrc(flipped);
        assertThatThrownBy(() -> verify(flipped, 1234, MetaType.FREE_BY_BLOCK, 7, VOL))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage(String.format("block 1234 (free-space by-block btree node): CRC32C 0x%08x does not "
                        + "match computed 0x%08x", stored, computed));

        assertThatThrownBy(() -> verify(good(), 99, MetaType.FREE_BY_BLOCK, 7, VOL))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block 99 (free-space by-block btree node): header says block 1234 "
                        + "(misdirected write or read)");

        UUID other = new UUID(1, 2);
        assertThatThrownBy(() -> verify(good(), 1234, MetaType.FREE_BY_BLOCK, 7, other))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block 1234 (free-space by-block btree node): volume UUID " + VOL + " where " + other
                        + " expected (block from another filesystem)");

        assertThatThrownBy(() -> verify(good(), 1234, MetaType.FREE_BY_BLOCK, 8, VOL))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block 1234 (free-space by-block btree node): owner 7 where 8 expected")
                .satisfies(e -> {
                    CorruptMetadataException c = (CorruptMetadataException) e;
                    assertThat(c.blkno()).isEqualTo(1234);
                    assertThat(c.structure()).isEqualTo("free-space by-block btree node");
                });
    }

    @Test
    void unwrittenZeroBlockFailsOnMagic() {
        assertThatThrownBy(() -> verify(MemorySegment.ofArray(new byte[1024]), 5, MetaType.INODE_BTREE, 0, VOL))
                .isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block 5 (inode btree node): magic 0x00000000 where 0x4f4e4946 ('FINO') expected");
    }

    @Test
    void magicsMustBeFourAsciiCharacters() {
        assertThatThrownBy(() -> MetaType.of("ABC", "x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("magic (ABC) must be 4 ASCII characters");
    }
}
