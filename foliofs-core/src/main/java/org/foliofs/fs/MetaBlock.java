package org.foliofs.fs;

import java.lang.foreign.MemorySegment;

import static org.foliofs.fs.MetaBlockLayout.*;

/**
 * One metadata block in memory: its block number and a buffer of exactly one block, with accessors for
 * the header fields ({@link MetaBlockLayout}). Changes reach the store only through
 * {@link MetaStore#write(MetaBlock)}, which stamps the checksum.
 *
 * <p>Copy on write: a block a store hands out may wrap the store's own cached image
 * ({@link #shared}). Reading it ({@link #view()}, the header getters) costs no copy; the first
 * {@link #segment()} (the way to change it) copies the image into a buffer of the block's own.
 * A store that keeps a written block's buffer as its new image ({@link #share()}) turns the block
 * back into a shared one, so a later change copies again: a cached image is never changed in place.
 */
public final class MetaBlock {
    private final long blkno;
    private MemorySegment seg;
    private byte[] arr;        // seg's backing array (whole), or null when seg is not a whole byte[]
    private boolean shared;    // seg is an image the store keeps (read-only): copy before changing

    MetaBlock(long blkno, MemorySegment seg) {
        this.blkno = blkno;
        this.seg = seg;
        this.arr = seg.heapBase().orElse(null) instanceof byte[] a && a.length == seg.byteSize() && seg.address() == 0 ? a : null;
    }

    /**
     * A block over a store's cached image {@code img}, which it must not change ({@code view}: a
     * read-only segment over the whole of it): read-only until {@link #segment()} copies it.
     */
    static MetaBlock shared(long blkno, byte[] img, MemorySegment view) {
        MetaBlock b = new MetaBlock(blkno, view, img);
        b.shared = true;
        return b;
    }

    private MetaBlock(long blkno, MemorySegment seg, byte[] arr) {
        this.blkno = blkno;
        this.seg = seg;
        this.arr = arr;
    }

    /** A copy of {@code s} in a new array (not {@code MemorySegment.toArray}, which looks up the carrier's name per call). */
    static byte[] copyOf(MemorySegment s) {
        byte[] a = new byte[(int) s.byteSize()];
        MemorySegment.copy(s, 0, MemorySegment.ofArray(a), 0, a.length);
        return a;
    }

    public long blkno() { return blkno; }

    /** The block's bytes to change: its own buffer (a copy of a shared image, made once). */
    public MemorySegment segment() {
        if (shared) {
            arr = arr.clone();   // (MemorySegment.toArray looks up the carrier's name per call: 19% of an atomic remap's CPU)
            seg = MemorySegment.ofArray(arr);
            shared = false;
        }
        return seg;
    }

    /** The block's bytes to read, without a copy; never to be changed (it may be a store's cached image). */
    public MemorySegment view() { return seg; }

    /**
     * For a store's write: the block's buffer, to be kept as the store's image of the block from
     * now on; the block becomes shared (a later change copies). Null when the buffer cannot be
     * kept (not a whole heap array): the store copies.
     */
    byte[] share() {
        if (arr == null) return null;
        if (!shared) {
            seg = seg.asReadOnly();
            shared = true;
        }
        return arr;
    }

    public int size() { return (int) seg.byteSize(); }

    public int magic() { return seg.get(U32, MAGIC); }
    public long owner() { return seg.get(U64, OWNER); }
    public int level() { return Short.toUnsignedInt(seg.get(U16, LEVEL)); }
    public int numRecs() { return Short.toUnsignedInt(seg.get(U16, NRECS)); }
    public long left() { return seg.get(U64, LEFT); }
    public long right() { return seg.get(U64, RIGHT); }
    int reserved() { return seg.get(U32, RESERVED); }

    void level(int level) { segment().set(U16, LEVEL, (short) level); }
    void numRecs(int n) { segment().set(U16, NRECS, (short) n); }
    void left(long blk) { segment().set(U64, LEFT, blk); }
    void right(long blk) { segment().set(U64, RIGHT, blk); }

    @Override
    public String toString() {
        return "MetaBlock[" + blkno + " level " + level() + " nrecs " + numRecs() + "]";
    }
}
