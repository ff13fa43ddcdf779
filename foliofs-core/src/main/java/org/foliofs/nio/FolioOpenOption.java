package org.foliofs.nio;

import java.nio.file.OpenOption;

/**
 * FolioFS open options, beside {@link java.nio.file.StandardOpenOption} and
 * {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}. They apply to every write of the channel; the
 * same flags per call: {@link FolioFileChannel#write(java.nio.ByteBuffer, long, WriteFlag...)}.
 */
public enum FolioOpenOption implements OpenOption {
    /** Each write goes to the device before it returns (write-through), instead of staying dirty in the page cache. */
    WRITETHROUGH,
    /** Each write is all-or-nothing across a crash (within the atomic write unit; larger or unaligned writes fail). */
    ATOMIC
}
