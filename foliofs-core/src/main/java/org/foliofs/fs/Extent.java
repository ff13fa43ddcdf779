package org.foliofs.fs;

/**
 * One mapping of a file's data fork: file blocks {@code [fileBlock, fileBlock + length)} live in device
 * blocks {@code [startBlock, startBlock + length)} (absolute block numbers). An unwritten extent is
 * allocated but reads as zeros (preallocation, or a direct write whose completion has not yet
 * converted it; see {@link ExtentMap#markWritten}).
 *
 * <p>How an extent is stored is {@link ExtentMap}'s business (24 bytes inline in the inode, or a
 * 16-byte record keyed by {@code fileBlock} in the inode's extent B+tree).
 *
 * @param fileBlock  first file block, {@code 0 <= fileBlock} and {@code fileBlock + length <= }
 *                   {@link ExtentMap#MAX_FILE_BLOCKS}
 * @param startBlock first device block, not negative
 * @param length     blocks, from 1 to {@link #MAX_LENGTH}
 * @param unwritten  allocated but not yet written (reads as zeros)
 */
public record Extent(long fileBlock, long startBlock, long length, boolean unwritten) {
    /** Longest extent: its length is stored in 32 bits, and kept positive as a Java int. */
    public static final long MAX_LENGTH = Integer.MAX_VALUE;

    public Extent {
        if (fileBlock < 0) throw new IllegalArgumentException("fileBlock (" + fileBlock + ") must not be negative");
        if (startBlock < 0) throw new IllegalArgumentException("startBlock (" + startBlock + ") must not be negative");
        if (length < 1 || length > MAX_LENGTH)
            throw new IllegalArgumentException("length (" + length + ") must be in [1, " + MAX_LENGTH + "]");
        if (fileBlock > ExtentMap.MAX_FILE_BLOCKS - length)
            throw new IllegalArgumentException("extent at fileBlock " + fileBlock + " of length " + length
                    + " ends beyond the maximum file size of " + ExtentMap.MAX_FILE_BLOCKS + " blocks (MAX_FILE_BLOCKS)");
        if (startBlock > Long.MAX_VALUE - length)
            throw new IllegalArgumentException("startBlock (" + startBlock + ") + length (" + length + ") overflows");
    }

    /** First file block after the extent. */
    public long fileEnd() { return fileBlock + length; }

    /** First device block after the extent. */
    public long deviceEnd() { return startBlock + length; }

    /** Whether file block {@code fb} lies in this extent. */
    public boolean contains(long fb) { return fb >= fileBlock && fb < fileEnd(); }

    /** The device block backing file block {@code fb}, which must lie in this extent. */
    public long deviceBlockOf(long fb) {
        if (!contains(fb)) throw new IllegalArgumentException("file block " + fb + " is not in " + this);
        return startBlock + (fb - fileBlock);
    }

    /** The part of this extent in file blocks {@code [from, to)} (which must overlap it). */
    public Extent slice(long from, long to) {
        long a = Math.max(from, fileBlock), b = Math.min(to, fileEnd());
        if (a >= b) throw new IllegalArgumentException("[" + from + ", " + to + ") does not overlap " + this);
        return new Extent(a, startBlock + (a - fileBlock), b - a, unwritten);
    }

    /** This extent moved to file block {@code fb} (same device blocks and state). */
    public Extent at(long fb) { return new Extent(fb, startBlock, length, unwritten); }

    /** Whether {@code next} continues this extent in the file and on the device in the same state. */
    public boolean joins(Extent next) {
        return fileEnd() == next.fileBlock && deviceEnd() == next.startBlock && unwritten == next.unwritten;
    }

    @Override
    public String toString() {
        return "[file " + fileBlock + "+" + length + " -> dev " + startBlock + (unwritten ? " unwritten]" : "]");
    }
}
