package org.foliofs.device;

import java.io.IOException;

/**
 * A device I/O that failed, naming the call, the range and the errno, e.g.
 * {@code "pwritev2 of 12288 bytes at offset 4096 on /tmp/a.img failed: EIO (Input/output error)"}.
 */
public final class DeviceException extends IOException {
    private final int errno;
    private final long offset;
    private final long length;

    public DeviceException(String call, String device, long offset, long length, int errno) {
        super(call + " of " + length + " bytes at offset " + offset + " on " + device
                + " failed: " + Errno.describe(errno));
        this.errno = errno;
        this.offset = offset;
        this.length = length;
    }

    public DeviceException(String message, int errno) {
        super(message + ": " + Errno.describe(errno));
        this.errno = errno;
        this.offset = -1;
        this.length = -1;
    }

    /** The positive errno value (EIO = 5 ...). */
    public int errno() { return errno; }

    /** Device offset of the failed request, or -1 when the failure was not about a range. */
    public long offset() { return offset; }

    /** Length in bytes of the failed request, or -1. */
    public long length() { return length; }
}
