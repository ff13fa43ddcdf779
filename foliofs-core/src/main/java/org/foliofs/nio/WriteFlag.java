package org.foliofs.nio;

/** Flags of one write ({@link FolioFileChannel#write(java.nio.ByteBuffer, long, WriteFlag...)}), as RWF_* flags of pwritev2. */
public enum WriteFlag {
    /** The written data is durable when the call returns (RWF_DSYNC). */
    DSYNC,
    /** The write goes to the device before it returns ({@link FolioOpenOption#WRITETHROUGH}). */
    WRITETHROUGH,
    /** The write is all-or-nothing across a crash (RWF_ATOMIC, {@link FolioOpenOption#ATOMIC}). */
    ATOMIC
}
