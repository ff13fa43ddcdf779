package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;

/**
 * Synchronous I/O for the filesystem's metadata code: one reused {@link IoRequest} and one buffer
 * aligned to 4096 bytes (any device's memory alignment), submit then await
 * ({@link BlockDevice#submitInline}: performed on the calling thread where the device can). Not thread-safe; the
 * buffer returned by {@link #read} is valid until the next call.
 */
final class BlockIo implements AutoCloseable {
    static final int ALIGNMENT = 4096;

    private final BlockDevice dev;
    private final Arena arena = Arena.ofShared();   // shared: async devices complete on their own thread
    private final MemorySegment buf;
    private final IoRequest req = new IoRequest();

    BlockIo(BlockDevice dev, int maxBytes) {
        this.dev = dev;
        this.buf = arena.allocate(maxBytes, ALIGNMENT);
    }

    BlockDevice device() { return dev; }

    /** Reads {@code len} bytes at {@code offset} into the internal buffer and returns that slice. */
    MemorySegment read(long offset, int len) throws IOException {
        MemorySegment s = buf.asSlice(0, len);
        req.prepare(IoOp.READ, offset, 0, null).add(s);
        dev.submitInline(req);   // synchronous: on this thread, no engine hand-off
        long n = req.await();
        if (n != len)
            throw new IOException("short read of " + n + " of " + len + " bytes at offset " + offset + " on " + dev.describe());
        return s;
    }

    /** Writes {@code from} (any memory) at {@code offset}, through the aligned buffer. */
    void write(long offset, MemorySegment from, int flags) throws IOException {
        int len = (int) from.byteSize();
        buf.asSlice(0, len).copyFrom(from);
        writeBuffer(offset, len, flags);
    }

    /** The first {@code len} bytes of the aligned buffer, to fill and then write with {@link #writeBuffer}. */
    MemorySegment buffer(int len) {
        return buf.asSlice(0, len);
    }

    /** Writes the first {@code len} bytes of the buffer (filled through {@link #buffer}) at {@code offset}: no copy. */
    void writeBuffer(long offset, int len, int flags) throws IOException {
        MemorySegment s = buf.asSlice(0, len);
        req.prepare(IoOp.WRITE, offset, flags, null).add(s);
        dev.submitInline(req);   // synchronous: on this thread, no engine hand-off
        long n = req.await();
        if (n != len)
            throw new IOException("short write of " + n + " of " + len + " bytes at offset " + offset + " on " + dev.describe());
    }

    @Override
    public void close() {
        arena.close();
    }
}
