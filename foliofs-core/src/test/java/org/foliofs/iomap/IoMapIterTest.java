package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The loop: begin/end pairing, clipping, stopping, stale remaps, errors. */
class IoMapIterTest {
    /** Mappings of 4096 bytes, recording every call. */
    static final class Recorder implements IoMapOps, IoInode {
        final List<String> calls = new ArrayList<>();
        long mapLength = 4096;

        @Override public long size() { return 1 << 20; }
        @Override public int blockSize() { return 4096; }

        @Override
        public IoMap begin(IoInode inode, long pos, long length, int opFlags) {
            calls.add("begin " + pos + "+" + length);
            long start = pos - pos % mapLength;
            return IoMap.hole(start, mapLength, 0);
        }

        @Override
        public void end(IoInode inode, long pos, long length, long written, int opFlags, IoMap map) {
            calls.add("end " + pos + "+" + length + " wrote " + written + (map.hasFlag(IoMap.STALE) ? " STALE" : ""));
        }
    }

    @Test
    void everyBeginHasOneEndAndChunksAreClipped() throws IOException {
        Recorder r = new Recorder();
        long total = new IoMapIter(r, 1024, 8192, 0).run(r, IoMapIter::length);
        assertThat(total).isEqualTo(8192);
        assertThat(r.calls).containsExactly("begin 1024+8192", "end 1024+3072 wrote 3072", "begin 4096+5120",
                "end 4096+4096 wrote 4096", "begin 8192+1024", "end 8192+1024 wrote 1024");
    }

    @Test
    void zeroProgressStopsAndStaleRemapsTheSamePosition() throws IOException {
        Recorder r = new Recorder();
        int[] n = {0};
        long total = new IoMapIter(r, 0, 16384, 0).run(r, it -> {
            n[0]++;
            if (n[0] == 2) {
                it.markStale();
                return 0;
            }
            return n[0] == 4 ? 0 : it.length();
        });
        assertThat(total).isEqualTo(8192);
        assertThat(r.calls).containsExactly("begin 0+16384", "end 0+4096 wrote 4096", "begin 4096+12288",
                "end 4096+4096 wrote 0 STALE", "begin 4096+12288", "end 4096+4096 wrote 4096", "begin 8192+8192",
                "end 8192+4096 wrote 0");
    }

    @Test
    void aChunkThatThrowsStillEndsItsMapping() {
        Recorder r = new Recorder();
        assertThatThrownBy(() -> new IoMapIter(r, 0, 8192, 0).run(r, it -> {
            throw new IOException("boom");
        })).hasMessage("boom");
        assertThat(r.calls).containsExactly("begin 0+8192", "end 0+4096 wrote 0");
    }

    @Test
    void aMappingThatDoesNotContainThePositionIsABug() {
        IoMapOps bad = (inode, pos, len, flags) -> IoMap.hole(pos + 4096, 4096, 0);
        assertThatThrownBy(() -> new IoMapIter(new Recorder(), 512, 4096, 0).run(bad, IoMapIter::length))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageEndingWith("returned HOLE[4608, 8704) cookie=0, which does not contain position 512");
    }

    @Test
    void advancingPastTheChunkIsABug() {
        Recorder r = new Recorder();
        assertThatThrownBy(() -> new IoMapIter(r, 0, 8192, 0).run(r, it -> it.length() + 512))
                .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("advance(4608) outside [0, 4096]");
        assertThat(r.calls).containsExactly("begin 0+8192", "end 0+4096 wrote 0");
    }

    @Test
    void mappingValidationNamesTheValues() {
        assertThatThrownBy(() -> new IoMap(0, 0, IoMap.Type.HOLE, 0, IoMap.NO_ADDRESS, 0))
                .hasMessage("mapping length (0) must be positive");
        assertThatThrownBy(() -> new IoMap(0, 4096, IoMap.Type.MAPPED, 0, IoMap.NO_ADDRESS, 0))
                .hasMessage("MAPPED mapping [0, +4096) needs a device address, not -1");
        assertThatThrownBy(() -> new IoMap(0, 4096, IoMap.Type.HOLE, 0, 8192, 0))
                .hasMessage("HOLE mapping [0, +4096) must have deviceAddress NO_ADDRESS (-1), not 8192");
        assertThatThrownBy(() -> new IoMap(0, 4096, IoMap.Type.HOLE, 0x100, IoMap.NO_ADDRESS, 0))
                .hasMessage("mapping flags (0x100) has unknown bits; allowed are NEW, SHARED, DIRTY, STALE, LOGGED");
        assertThatThrownBy(() -> new IoMap(Long.MAX_VALUE - 10, 4096, IoMap.Type.HOLE, 0, IoMap.NO_ADDRESS, 0))
                .hasMessageContaining("overflows");
    }
}
