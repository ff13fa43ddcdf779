package org.foliofs.device;

import java.lang.foreign.MemorySegment;

/**
 * The checks every device applies in submit(), before anything is written, in one place so the
 * messages are the same for every device kind. All throws here are cold paths.
 */
final class RequestValidator {
    private RequestValidator() {}

    /**
     * Validates a request against the device geometry. Throws IllegalArgumentException naming the
     * bad value, or UnsupportedOperationException for an ATOMIC write the device cannot do.
     */
    static void validate(BlockDevice dev, IoRequest r) {
        long off = r.offset();
        long len = r.length();
        int lbs = dev.logicalBlockSize();
        switch (r.op()) {
            case FLUSH -> { return; }
            case DISCARD -> {
                checkRange(dev, r, off, len, lbs);
                return;
            }
            case READ, WRITE -> {
                if (r.segmentCount() == 0 || len == 0) throw bad(r, dev, "has no data segments");
                checkRange(dev, r, off, len, lbs);
                int memAlign = dev.memoryAlignment();
                for (int i = 0; i < r.segmentCount(); i++) {
                    MemorySegment s = r.segment(i);
                    if (s.byteSize() % lbs != 0) {
                        throw bad(r, dev, "segment " + i + " length (" + s.byteSize()
                                + ") is not a multiple of the logical block size " + lbs);
                    }
                    if (memAlign > 1 && (!s.isNative() || s.address() % memAlign != 0)) {
                        throw bad(r, dev, "segment " + i + (s.isNative()
                                ? " address (0x" + Long.toHexString(s.address()) + ") is not aligned to " + memAlign + " bytes"
                                : " is on the Java heap; direct I/O needs native memory aligned to " + memAlign
                                  + " bytes (use a BufferPool)"));
                    }
                    if (r.op() == IoOp.READ && s.isReadOnly()) {
                        throw bad(r, dev, "segment " + i + " is read-only and cannot receive data");
                    }
                }
                if (r.hasFlag(IoRequest.ATOMIC)) checkAtomic(dev, r, off, len);
            }
        }
    }

    private static void checkRange(BlockDevice dev, IoRequest r, long off, long len, int lbs) {
        if (off < 0 || off % lbs != 0) {
            throw bad(r, dev, "offset (" + off + ") is not a non-negative multiple of the logical block size " + lbs);
        }
        if (len % lbs != 0) {
            throw bad(r, dev, "length (" + len + ") is not a multiple of the logical block size " + lbs);
        }
        if (off + len > dev.capacity() || off + len < 0) {
            throw bad(r, dev, "range [" + off + ", " + (off + len) + ") is beyond the device capacity " + dev.capacity());
        }
    }

    private static void checkAtomic(BlockDevice dev, IoRequest r, long off, long len) {
        int min = dev.atomicWriteUnitMin(), max = dev.atomicWriteUnitMax();
        if (max == 0) {
            throw new UnsupportedOperationException("ATOMIC write of " + len + " bytes at " + off + " on " + dev.describe()
                    + ": the device has no atomic write support (atomic write unit max is 0)");
        }
        if (Long.bitCount(len) != 1 || len < min || len > max) {
            throw bad(r, dev, "ATOMIC write length (" + len + ") must be a power of two between the atomic write units "
                    + min + " and " + max);
        }
        if (off % len != 0) {
            throw bad(r, dev, "ATOMIC write of " + len + " bytes at " + off + " is not naturally aligned to its length");
        }
    }

    private static IllegalArgumentException bad(IoRequest r, BlockDevice dev, String what) {
        return new IllegalArgumentException(r.op() + " at offset " + r.offset() + " of " + r.length() + " bytes on "
                + dev.describe() + ": " + what);
    }

    static IllegalStateException closed(BlockDevice dev, IoRequest r) {
        return new IllegalStateException(r.op() + " at offset " + r.offset() + " of " + r.length() + " bytes: device "
                + dev.describe() + " is closed");
    }
}
