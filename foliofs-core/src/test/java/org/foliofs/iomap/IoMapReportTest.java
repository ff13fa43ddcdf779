package org.foliofs.iomap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

/** seekData / seekHole / fiemap over TestMapping. */
class IoMapReportTest {

    /** Layout (4 KiB blocks): 0-1 hole, 2-3 data, 4 unwritten, 5-6 data, 7 hole, size 8 blocks. */
    static TestMapping layout(SimDevice d) throws IOException {
        TestMapping f = new TestMapping(d, 4096, 64);
        DirectIo dio = new DirectIo(d);
        dio.write(f, f, f, 2 * 4096, MemorySegment.ofArray(new byte[2 * 4096]), 0);
        dio.write(f, f, f, 5 * 4096, MemorySegment.ofArray(new byte[2 * 4096]), 0);
        f.preallocate(4 * 4096, 4096);
        f.setSize(8 * 4096);
        return f;
    }

    @Test
    void seekDataAndHole() throws IOException {
        SimDevice d = SimDevice.builder().build();
        TestMapping f = layout(d);
        assertThat(IoMapReport.seekData(f, f, 0)).isEqualTo(8192);
        assertThat(IoMapReport.seekData(f, f, 9000)).isEqualTo(9000);
        assertThat(IoMapReport.seekData(f, f, 4 * 4096)).isEqualTo(5 * 4096); // unwritten is a hole
        assertThat(IoMapReport.seekData(f, f, 7 * 4096)).isEqualTo(IoMapReport.NOT_FOUND);
        assertThat(IoMapReport.seekData(f, f, 8 * 4096)).isEqualTo(IoMapReport.NOT_FOUND);
        assertThat(IoMapReport.seekHole(f, f, 0)).isZero();
        assertThat(IoMapReport.seekHole(f, f, 8192)).isEqualTo(4 * 4096);
        assertThat(IoMapReport.seekHole(f, f, 5 * 4096 + 100)).isEqualTo(7 * 4096);
        assertThat(IoMapReport.seekHole(f, f, 8 * 4096)).isEqualTo(IoMapReport.NOT_FOUND);
        f.setSize(7 * 4096);
        assertThat(IoMapReport.seekHole(f, f, 5 * 4096)).isEqualTo(7 * 4096); // the implicit hole at the size
    }

    @Test
    void fiemapSkipsHolesAndMergesNeighbours() throws IOException {
        SimDevice d = SimDevice.builder().build();
        TestMapping f = layout(d);
        List<IoMap> maps = IoMapReport.fiemap(f, f, 0, Long.MAX_VALUE);
        assertThat(maps).extracting(IoMap::type).containsExactly(IoMap.Type.MAPPED, IoMap.Type.UNWRITTEN, IoMap.Type.MAPPED);
        assertThat(maps.get(0).offset()).isEqualTo(8192);
        assertThat(maps.get(0).length()).isEqualTo(8192);
        assertThat(IoMapReport.fiemap(f, f, 5 * 4096, 4096)).singleElement()
                .satisfies(m -> assertThat(m.offset()).isEqualTo(5 * 4096));

        // Two adjacent MAPPED mappings contiguous on the device merge; a gap on the device does not.
        IoMapOps split = (inode, pos, len, flags) -> pos < 4096
                ? new IoMap(0, 4096, IoMap.Type.MAPPED, 0, 65536, 1)
                : pos < 8192 ? new IoMap(4096, 4096, IoMap.Type.MAPPED, 0, 65536 + 4096, 2)
                : new IoMap(8192, 4096, IoMap.Type.MAPPED, 0, 1 << 20, 3);
        assertThat(IoMapReport.fiemap(f, split, 0, 12288)).containsExactly(
                new IoMap(0, 8192, IoMap.Type.MAPPED, 0, 65536, 1), new IoMap(8192, 4096, IoMap.Type.MAPPED, 0, 1 << 20, 3));
    }
}
