package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * Symbolic link targets: 1..{@link #MAX_TARGET} bytes, no NUL. The target length is the inode's
 * {@code size}. Methods change the symlink inode's {@code format, size, nrecs, inline}; the caller
 * writes the inode record afterwards.
 *
 * <p>A target of at most {@value Inode#INLINE_SIZE} bytes is stored in the inline area
 * ({@code format = FORMAT_INLINE}, the rest of the area zero). A longer one is cut into pieces of
 * {@code blockSize - 48} bytes, each in a {@link MetaType#SYMLINK} block owned by the inode
 * ({@code format = FORMAT_BLOCKS}, {@code nrecs} = number of blocks, the inline area lists the block
 * numbers as u64, the rest zero; at most five blocks with 1 KiB blocks):
 * <pre>
 *  0                                                      40
 *  +------------------------------------------------------+   common metadata header
 *  | magic 'FSYM' | crc32c | blkno | owner = ino | uuid   |   (MetaBlockLayout)
 *  +--------------------------+---------------------------+
 * 40                         44                          48
 *  | length u32 (bytes here)  | offset u32 (in the target)|
 *  +--------------------------+---------------------------+
 * 48
 *  | target bytes [offset, offset + length) ... zero to the end of the block
 *  +----------------------------------------------------------------
 * </pre>
 * Write changes at most five blocks, read reads at most five.
 */
public final class Symlinks {
    private Symlinks() {}

    /** Longest target (PATH_MAX - 1, room for the terminating NUL). */
    public static final int MAX_TARGET = 4095;
    static final long LENGTH = 40, OFFSET = 44;
    static final int HEADER = 48;

    /** Bytes of target one block holds. */
    public static int bytesPerBlock(int blockSize) {
        return MetaBlockLayout.checkBlockSize(blockSize) - HEADER;
    }

    /** Stores {@code target} as the link's target (replacing and freeing any earlier one). */
    public static void write(Txn tx, Inode link, byte[] target) throws IOException {
        checkLink(link);
        if (target == null) throw new NullPointerException("symlink target");
        if (target.length < 1 || target.length > MAX_TARGET)
            throw new IllegalArgumentException("symlink target is " + target.length + " bytes; it must be 1.."
                    + MAX_TARGET);
        for (int i = 0; i < target.length; i++)
            if (target[i] == 0) throw new IllegalArgumentException("symlink target has a NUL byte at offset " + i);
        if (link.size != 0 || link.format != Inode.FORMAT_INLINE) destroy(tx, link);
        Arrays.fill(link.inline, (byte) 0);
        if (target.length <= Inode.INLINE_SIZE) {
            System.arraycopy(target, 0, link.inline, 0, target.length);
            link.format = Inode.FORMAT_INLINE;
            link.nrecs = 0;
        } else {
            int per = bytesPerBlock(tx.blockSize()), n = (target.length + per - 1) / per;
            MemorySegment inl = link.inlineSegment();
            for (int i = 0; i < n; i++) {
                int off = i * per, len = Math.min(per, target.length - off);
                MetaBlock b = tx.allocate(MetaType.SYMLINK, link.ino);
                MemorySegment s = b.segment();
                s.asSlice(LENGTH).fill((byte) 0); // allocate() leaves a B+tree node header here
                s.set(U32, LENGTH, len);
                s.set(U32, OFFSET, off);
                MemorySegment.copy(target, off, s, ValueLayout.JAVA_BYTE, HEADER, len);
                tx.write(b);
                inl.set(U64, 8L * i, b.blkno());
            }
            link.format = Inode.FORMAT_BLOCKS;
            link.nrecs = n;
        }
        link.size = target.length;
    }

    /** The link's target. */
    public static byte[] read(Txn tx, Inode link) throws IOException {
        checkLink(link);
        int n = checkShape(tx.blockSize(), link);
        int len = (int) link.size;
        byte[] t = new byte[len];
        if (link.format == Inode.FORMAT_INLINE) {
            System.arraycopy(link.inline, 0, t, 0, len);
        } else {
            int per = bytesPerBlock(tx.blockSize());
            MemorySegment inl = link.inlineSegment();
            for (int i = 0; i < n; i++) {
                long blk = inl.get(U64, 8L * i);
                MetaBlock b = tx.read(blk, MetaType.SYMLINK, link.ino);
                MemorySegment s = b.view();
                int off = i * per, want = Math.min(per, len - off);
                long got = Integer.toUnsignedLong(s.get(U32, LENGTH)), at = Integer.toUnsignedLong(s.get(U32, OFFSET));
                if (got != want || at != off)
                    throw MetaBlockLayout.corrupt(blk, MetaType.SYMLINK, "piece " + i + " of the target of inode "
                            + link.ino + " says " + got + " bytes at offset " + at + " where " + want + " at " + off
                            + " expected");
                MemorySegment.copy(s, ValueLayout.JAVA_BYTE, HEADER, t, off, want);
                for (int j = HEADER + want; j < b.size(); j++)
                    if (s.get(ValueLayout.JAVA_BYTE, j) != 0)
                        throw MetaBlockLayout.corrupt(blk, MetaType.SYMLINK, "byte " + j + " after the target piece is not zero");
            }
        }
        for (int i = 0; i < len; i++)
            if (t[i] == 0)
                throw new CorruptMetadataException(-1, "symlink inode " + link.ino, "target has a NUL byte at offset " + i);
        return t;
    }

    /** Frees the target's blocks, if any, and leaves an empty inline link (size 0). */
    public static void destroy(Txn tx, Inode link) throws IOException {
        checkLink(link);
        if (link.format == Inode.FORMAT_BLOCKS) {
            int n = checkShape(tx.blockSize(), link);
            MemorySegment inl = link.inlineSegment();
            for (int i = 0; i < n; i++) {
                long blk = inl.get(U64, 8L * i);
                tx.read(blk, MetaType.SYMLINK, link.ino); // never free a block that is not this link's
                tx.free(blk);
            }
        }
        Arrays.fill(link.inline, (byte) 0);
        link.format = Inode.FORMAT_INLINE;
        link.nrecs = 0;
        link.size = 0;
    }

    private static void checkLink(Inode link) {
        if (link == null) throw new NullPointerException("link");
        if (!link.isSymlink())
            throw new IllegalArgumentException("inode " + link.ino + " (mode 0" + Integer.toOctalString(link.mode)
                    + ") is not a symbolic link");
    }

    /** Checks size/format/nrecs; returns the number of target blocks (0 inline). */
    private static int checkShape(int blockSize, Inode link) throws CorruptMetadataException {
        String structure = "symlink inode " + link.ino;
        if (link.size < 1 || link.size > MAX_TARGET)
            throw new CorruptMetadataException(-1, structure, "target length " + link.size + " outside 1.." + MAX_TARGET);
        int per = bytesPerBlock(blockSize), n = (int) ((link.size + per - 1) / per);
        if (link.format == Inode.FORMAT_INLINE) {
            if (link.size > Inode.INLINE_SIZE)
                throw new CorruptMetadataException(-1, structure, "inline target of " + link.size
                        + " bytes, more than the " + Inode.INLINE_SIZE + " that fit");
            return 0;
        }
        if (link.format != Inode.FORMAT_BLOCKS)
            throw new CorruptMetadataException(-1, structure, "format " + link.format + ", neither INLINE nor BLOCKS");
        if (link.size <= Inode.INLINE_SIZE || link.nrecs != n)
            throw new CorruptMetadataException(-1, structure, "a " + link.size + "-byte target in " + link.nrecs
                    + " blocks (expected " + n + " blocks of " + per + " bytes, for targets over " + Inode.INLINE_SIZE + " bytes)");
        return n;
    }
}
