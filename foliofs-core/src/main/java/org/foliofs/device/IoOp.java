package org.foliofs.device;

/** The operation a {@link IoRequest} asks of a {@link BlockDevice}. */
public enum IoOp {
    /** Read into the request's segments, in order, from its device offset. */
    READ,
    /** Write the request's segments, in order, at its device offset. */
    WRITE,
    /** Make every write completed before this flush was submitted durable (drain the volatile cache). */
    FLUSH,
    /**
     * Tell the device the range's contents are no longer needed. Image files (hole punch), loop
     * devices and SimDevice then read zeros; on other raw disks the contents are unspecified.
     */
    DISCARD
}
