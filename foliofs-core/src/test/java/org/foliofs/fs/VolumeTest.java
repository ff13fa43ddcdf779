package org.foliofs.fs;

import java.lang.foreign.MemorySegment;
import java.util.UUID;
import java.util.stream.Stream;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VolumeTest {
    static final UUID VOL = new UUID(0x1234, 0x5678);

    static SimDevice device(long bytes) {
        return SimDevice.builder().capacity(bytes).build();
    }

    static Stream<Arguments> geometries() {
        return Stream.of(
                Arguments.of(1024, 1, 1L << 20), Arguments.of(1024, 4, 8L << 20), Arguments.of(1024, 7, 5L << 20),
                Arguments.of(4096, 1, 4L << 20), Arguments.of(4096, 4, 64L << 20), Arguments.of(4096, 16, 64L << 20),
                Arguments.of(65536, 1, 8L << 20), Arguments.of(65536, 3, 64L << 20));
    }

    @ParameterizedTest(name = "bs {0}, {1} AGs, {2} bytes")
    @MethodSource("geometries")
    void mkfsThenOpenRoundTrips(int bs, int ags, long bytes) throws Exception {
        try (SimDevice dev = device(bytes)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(bs).withAgCount(ags)
                    .withLabel("test").withUuid(VOL));
            Volume v = Volume.open(dev);
            assertThat(v.superblock()).isEqualTo(sb);
            assertThat(v.blockSize()).isEqualTo(bs);
            assertThat(v.agCount()).isEqualTo(ags);
            assertThat(v.superblock().uuid()).isEqualTo(VOL);
            assertThat(v.superblock().label()).isEqualTo("test");
            assertThat(v.warnings()).isEmpty();
            assertThat(v.totalBlocks()).isLessThanOrEqualTo(bytes / bs);
            // Free space: the trees' sums equal the header counts (checked by open) and total minus metadata.
            assertThat(v.freeBlocks()).isEqualTo(v.totalBlocks() - (long) AgHeader.RESERVED_BLOCKS * ags - v.superblock().logBlocks());
            long sumLengths = 0;
            for (int g = 0; g < ags; g++) {
                AgHeader h = v.groups().get(g);
                assertThat(h.agno()).isEqualTo(g);
                assertThat(h.length()).isEqualTo(sb.agLength(g));
                assertThat(h.freeBlocks()).isEqualTo(h.length() - AgHeader.RESERVED_BLOCKS - (g == 0 ? v.superblock().logBlocks() : 0));
                assertThat(freeInTrees(dev, sb, h)).isEqualTo(h.freeBlocks());
                assertThat(sb.agStart(g) * bs % SuperblockLayout.AG_ALIGNMENT).isZero();
                sumLengths += h.length();
            }
            assertThat(sumLengths).isEqualTo(v.totalBlocks());
            assertThat(v.summary()).contains("block size:         " + bs, "allocation groups:  " + ags);
        }
    }

    /** Sums both free-space trees of a group independently of Volume's own check. */
    private static long freeInTrees(SimDevice dev, Superblock sb, AgHeader h) throws Exception {
        try (var store = new DeviceMetaStore(dev, sb.blockSize(), sb.uuid(), MetaAllocator.none())) {
            long byBlock = 0, bySize = 0;
            BTree<Long> bb = BTree.open(store, FreeSpaceOps.BY_BLOCK, h.agno(), h.byBlockRoot());
            for (var c = bb.first(); c.valid(); c.next()) byBlock += c.record();
            BTree<Long> bs = BTree.open(store, FreeSpaceOps.BY_SIZE, h.agno(), h.bySizeRoot());
            for (var c = bs.first(); c.valid(); c.next()) {
                assertThat(c.key() >>> 32).isEqualTo(c.record());
                bySize += c.record();
            }
            assertThat(bySize).isEqualTo(byBlock);
            return byBlock;
        }
    }

    @Test
    void derivedAgCountAndWholeDevice() throws Exception {
        try (SimDevice dev = device(64L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults());
            assertThat(sb.agCount()).isEqualTo(4);
            assertThat(sb.totalBlocks()).isEqualTo((64L << 20) / 4096);
            assertThat(Volume.open(dev).freeBlocks()).isEqualTo(sb.totalBlocks() - 4 * AgHeader.RESERVED_BLOCKS - sb.logBlocks());
        }
        try (SimDevice dev = device(512L << 10)) {
            assertThat(Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(1024)).agCount()).isEqualTo(4);
        }
        try (SimDevice dev = device(512L << 10)) {
            assertThat(Mkfs.format(dev, Mkfs.Options.defaults()).agCount()).isEqualTo(1);   // 2 groups leave no room for the journal
        }
        try (SimDevice dev = device(256L << 10)) {
            assertThatThrownBy(() -> Mkfs.format(dev, Mkfs.Options.defaults()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("device too small: allocation group 0 (64 blocks of 4096) cannot hold the journal (64 blocks) and 16 "
                            + "free blocks; use a larger size, fewer groups or a smaller journal");
        }
    }

    @Test
    void corruptPrimarySuperblockFallsBackToABackupAndSaysSo() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4).withUuid(VOL));
            DiskBytes.flip(dev, 40);
            Volume v = Volume.open(dev);
            assertThat(v.superblock()).isEqualTo(sb);
            assertThat(v.usedBackupSuperblock()).isTrue();
            assertThat(v.warnings()).singleElement().asString()
                    .contains("primary superblock is unusable", "block 0 (superblock): CRC32C",
                            "using the backup in allocation group 1 at block " + sb.agStart(1));
            assertThat(v.summary()).contains("warning: primary superblock is unusable");
        }
    }

    @Test
    void zeroedPrimaryFallsBackToo() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(1024).withAgCount(3));
            DiskBytes.write(dev, 0, new byte[1024]);
            DiskBytes.flip(dev, sb.agStart(1) * 1024 + 50);          // the first backup is bad as well
            Volume v = Volume.open(dev);
            assertThat(v.superblock()).isEqualTo(sb);
            assertThat(v.warnings()).singleElement().asString()
                    .contains("not a FolioFS volume: bad magic 0x0000000000000000", "allocation group 2");
        }
    }

    @Test
    void allSuperblocksCorruptIsAnErrorNamingTheBlock() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(3));
            for (int g = 0; g < 3; g++) DiskBytes.flip(dev, sb.agStart(g) * 4096 + 33);
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageStartingWith("block 0 (superblock): CRC32C")
                    .hasMessageContaining("no valid backup superblock found")
                    .satisfies(e -> assertThat(((CorruptMetadataException) e).blkno()).isZero());
        }
    }

    @Test
    void aCorruptGroupHeaderOrTreeIsAnErrorNamingTheBlock() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(2));
            long hdr = sb.agStart(1) + AgHeader.HEADER_BLOCK;
            DiskBytes.flip(dev, hdr * 4096 + 200);
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageStartingWith("block " + hdr + " (allocation group header): CRC32C");
        }
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(2));
            long root = sb.agStart(1) + AgHeader.BY_SIZE_ROOT;
            DiskBytes.flip(dev, root * 4096 + 70);
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageStartingWith("block " + root + " (free-space by-size btree node)");
        }
    }

    @Test
    void aFreeCountThatDisagreesWithTheTreesIsCorrupt() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(2).withUuid(VOL));
            long hdr = sb.agStart(0) + AgHeader.HEADER_BLOCK;
            try (var store = new DeviceMetaStore(dev, 4096, VOL, MetaAllocator.none())) {
                MetaBlock b = store.read(hdr, AgHeader.TYPE, 0);
                AgHeader h = AgHeader.decode(b);
                h.freeBlocks--;
                h.encode(b);
                store.writeFixed(b);
            }
            long free = sb.agLength(0) - AgHeader.RESERVED_BLOCKS - sb.logBlocks();
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessage("block " + hdr + " (allocation group header): free block count " + (free - 1)
                            + " does not match the free-space trees' " + free);
        }
    }

    /**
     * Re-formatting a FolioFS device and being interrupted right after the old primary was
     * invalidated never mounts the old volume silently: open either fails or says the primary was
     * unusable. (Before mkfs invalidated the old primary first, this case happened to be refused
     * too, by the UUID check on the rewritten group; the guarantee no longer depends on that.)
     */
    @Test
    void anInterruptedReformatNeverSilentlyOpensTheOldVolume() throws Exception {
        long n;
        try (SimDevice probe = device(16L << 20)) {
            Mkfs.format(probe, Mkfs.Options.defaults());
            n = probe.stats().totalRequests();                          // requests of one whole mkfs
        }
        // Second mkfs: its first request (invalidating the primary) succeeds, its second fails.
        try (SimDevice dev = SimDevice.builder().capacity(16L << 20)
                .faultPlan(org.foliofs.device.FaultPlan.builder().failRequest(n + 2, org.foliofs.device.Errno.EIO).build()).build()) {
            Superblock old = Mkfs.format(dev, Mkfs.Options.defaults());
            assertThatThrownBy(() -> Mkfs.format(dev, Mkfs.Options.defaults())).isInstanceOf(java.io.IOException.class);
            try {
                Volume v = Volume.open(dev);
                assertThat(v.usedBackupSuperblock()).as("opened the old volume without saying the primary was unusable").isTrue();
                assertThat(v.superblock().uuid()).isEqualTo(old.uuid());
            } catch (java.io.IOException refused) {
                // also acceptable: reported as corrupt / not FolioFS
            }
        }
    }

    @Test
    void aDeviceThatIsNotFolioFsIsRefused() throws Exception {
        try (SimDevice dev = device(4L << 20)) {
            byte[] junk = "EXT4-ish".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            DiskBytes.write(dev, 0, java.util.Arrays.copyOf(junk, 512));
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(VolumeFormatException.class)
                    .hasMessageStartingWith("not a FolioFS volume: bad magic 0x455854342d697368 ('EXT4-ish') at block 0 of ")
                    .hasMessageEndingWith("(expected 'FOLIOFS1')");
            assertThat(Volume.hasPrimaryMagic(dev)).isFalse();
        }
    }

    @Test
    void aTruncatedImageIsRefused() throws Exception {
        try (SimDevice big = device(16L << 20); SimDevice small = device(8L << 20)) {
            Mkfs.format(big, Mkfs.Options.defaults().withAgCount(2));
            for (long off = 0; off < (8L << 20); off += 1 << 20) DiskBytes.write(small, off, DiskBytes.read(big, off, 1 << 20));
            assertThatThrownBy(() -> Volume.open(small))
                    .isInstanceOf(VolumeFormatException.class)
                    .hasMessageStartingWith("truncated image: ")
                    .hasMessageContaining("holds 8388608 bytes but the superblock describes 16777216 bytes (4096 blocks of 4096)");
        }
    }

    @Test
    void aNewerMajorVersionIsRefusedEvenWithBackups() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(2));
            byte[] b = DiskBytes.read(dev, 0, 512);
            MemorySegment s = MemorySegment.ofArray(b);
            s.set(MetaBlockLayout.U16, SuperblockLayout.MAJOR_OFF, (short) 2);
            s.set(MetaBlockLayout.U16, SuperblockLayout.MINOR_OFF, (short) 3);
            s.set(MetaBlockLayout.U32, SuperblockLayout.CRC, SuperblockLayout.crc(s));
            DiskBytes.write(dev, 0, b);
            assertThat(Volume.hasPrimaryMagic(dev)).isTrue();
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(VolumeFormatException.class)
                    .hasMessageStartingWith("FolioFS format version 2.3 at block 0 of ")
                    .hasMessageEndingWith("is newer than this build supports (1.0); use a newer foliofs");
        }
    }

    @Test
    void unknownIncompatibleFeaturesAreRefused() throws Exception {
        try (SimDevice dev = device(16L << 20)) {
            Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(2));
            byte[] b = DiskBytes.read(dev, 0, 512);
            MemorySegment s = MemorySegment.ofArray(b);
            s.set(MetaBlockLayout.U64, SuperblockLayout.INCOMPAT, 0x40L);
            s.set(MetaBlockLayout.U32, SuperblockLayout.CRC, SuperblockLayout.crc(s));
            DiskBytes.write(dev, 0, b);
            assertThatThrownBy(() -> Volume.open(dev))
                    .isInstanceOf(VolumeFormatException.class)
                    .hasMessageContaining("uses incompatible features 0x40");
        }
    }
}
