package org.foliofs.fs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.IoRequest;

/** Test helper: raw reads and writes of a device's bytes, to inspect and corrupt what mkfs wrote. */
final class DiskBytes {
    private DiskBytes() {}

    static byte[] read(BlockDevice dev, long offset, int len) throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = a.allocate(len, 4096);
            IoRequest r = IoRequest.read(offset, s, null);
            dev.submit(r);
            r.await();
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    static void write(BlockDevice dev, long offset, byte[] bytes) throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = a.allocate(bytes.length, 4096);
            s.copyFrom(MemorySegment.ofArray(bytes));
            IoRequest r = IoRequest.write(offset, s, 0, null);
            dev.submit(r);
            r.await();
        }
    }

    /** Flips one bit of the byte at {@code offset} (reads and rewrites its 512-byte sector). */
    static void flip(BlockDevice dev, long offset) throws Exception {
        long sector = offset / 512 * 512;
        byte[] b = read(dev, sector, 512);
        b[(int) (offset - sector)] ^= 0x10;
        write(dev, sector, b);
    }
}
