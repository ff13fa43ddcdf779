package org.foliofs.iomap;

/**
 * Optional capability of an {@link IoMapOps}: tells whether a mapping it returned is still valid
 * (typically {@code map.cookie()} equals the inode's current mapping sequence number, bumped by
 * every change of the extent map). The direct I/O engine asks right before it issues the device
 * requests of a mapping; when the answer is false it passes the mapping to {@link IoMapOps#end}
 * with the {@link IoMap#STALE} flag and no bytes processed, and calls {@link IoMapOps#begin} again
 * for the same position. It must be cheap and must not block.
 */
@FunctionalInterface
public interface IoMapValidity {
    boolean isValid(IoInode inode, IoMap map);
}
