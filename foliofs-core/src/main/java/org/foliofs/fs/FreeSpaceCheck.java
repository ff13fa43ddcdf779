package org.foliofs.fs;

import java.io.IOException;
import java.util.Arrays;

import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The one check of a group's free-space trees, used by {@link Fsck} (which reports every problem and
 * goes on) and {@link Allocator#verify} (which throws the first): both trees structurally
 * ({@link BTree#verify(BTree.LeafVisitor)}), the header's levels, every by-block extent inside the
 * group's free area and neither overlapping nor touching the previous one, every by-block extent in
 * the by-size tree and the same number of extents in both, and the header's free block count, extent
 * count and longest extent.
 *
 * <p>Each tree is read once: verify hands over the leaves, the by-block records are kept with the leaf
 * holding each (to name it), the by-size keys in an array (ascending, as verify checked), searched
 * instead of a tree lookup per extent. Nothing is acted on until both trees verified.
 */
final class FreeSpaceCheck {
    private FreeSpaceCheck() {}

    /** One problem: the block it names, what that block is, what is wrong. */
    record Problem(long blkno, String structure, String text) {
        String message() { return "block " + blkno + " (" + structure + "): " + text; }

        CorruptMetadataException exception() { return new CorruptMetadataException(blkno, structure, text); }
    }

    /** Receives the problems and the extents that are sound. */
    interface Sink {
        /** A problem; may throw to stop the check. */
        void problem(Problem p) throws CorruptMetadataException;

        /** A sound free extent [start, start + length), group-relative. */
        void free(long start, long length);
    }

    /** What the trees hold. */
    record Result(long freeBlocks, long extents, long longest, BTree.Shape byBlock, BTree.Shape bySize) {}

    /**
     * Checks group {@code g}'s free-space trees as header {@code h} describes them. Throws
     * {@link CorruptMetadataException} (naming the block) when a tree cannot be read or is structurally
     * unsound; every other problem goes to {@code sink}.
     */
    static Result check(MetaStore store, Superblock sb, int g, AgHeader h, Sink sink) throws IOException {
        long start = sb.agStart(g), len = sb.agLength(g), hb = AgHeader.blockOf(sb, g);
        String gname = "group " + g;
        BTree<Long> bb = BTree.open(store, FreeSpaceOps.BY_BLOCK, g, h.byBlockRoot);
        BTree<Long> bsz = BTree.open(store, FreeSpaceOps.BY_SIZE, g, h.bySizeRoot);
        Longs bKeys = new Longs(), bLens = new Longs(), bLeaves = new Longs(), sKeys = new Longs(), sLens = new Longs();
        BTree.Shape sbb = bb.verify(leaf -> {
            for (int i = 0; i < leaf.numRecs(); i++) {
                bKeys.add(BTree.key(leaf, i));
                bLens.add(leaf.view().get(U64, bb.recordOffset(i)));
                bLeaves.add(leaf.blkno());
            }
        });
        BTree.Shape sbs = bsz.verify(leaf -> {
            for (int i = 0; i < leaf.numRecs(); i++) {
                sKeys.add(BTree.key(leaf, i));
                sLens.add(leaf.view().get(U64, bsz.recordOffset(i)));
            }
        });
        if (bb.levels() != h.byBlockLevels || bsz.levels() != h.bySizeLevels)
            sink.problem(new Problem(hb, "allocation group header", "free-space tree levels " + bb.levels() + "/" + bsz.levels()
                    + ", header says " + h.byBlockLevels + "/" + h.bySizeLevels));
        long total = 0, extents = 0, longest = 0, end = AgHeader.RESERVED_BLOCKS
                + (g == 0 ? sb.logStart() + sb.logBlocks() - AgHeader.RESERVED_BLOCKS : 0);
        for (int k = 0; k < bKeys.size; k++) {
            long s = bKeys.a[k], l = bLens.a[k];
            String ext = "free extent [" + (start + s) + ", +" + l + ")";
            if (s < end || l < 1 || s + l > len) {
                sink.problem(new Problem(bLeaves.a[k], MetaType.FREE_BY_BLOCK.name() + " of " + gname, ext
                        + " overlaps or touches the previous free extent, or leaves the group's free area"));
            } else {
                sink.free(s, l);
            }
            int at = sKeys.indexOfUnsigned(FreeSpaceOps.sizeKey(s, l));
            if (at < 0 || sLens.a[at] != l)
                sink.problem(new Problem(hb, "allocation group header", ext + " of " + gname + " is missing from the by-size tree"));
            end = Math.max(end, s + l + 1);
            total += l;
            extents++;
            longest = Math.max(longest, l);
        }
        if (sbs.records() != extents)
            sink.problem(new Problem(h.bySizeRoot, MetaType.FREE_BY_SIZE.name() + " root of " + gname, "holds "
                    + sbs.records() + " extents, the by-block tree " + extents));
        if (total != h.freeBlocks || extents != h.freeExtents || longest != h.longestFree)
            sink.problem(new Problem(hb, "allocation group header of " + gname, "counts free " + h.freeBlocks + ", extents "
                    + h.freeExtents + ", longest " + h.longestFree + " where the free-space trees hold " + total + ", "
                    + extents + ", " + longest));
        return new Result(total, extents, longest, sbb, sbs);
    }

    /** A growable array of longs. */
    private static final class Longs {
        long[] a = new long[64];
        int size;

        void add(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            a[size++] = v;
        }

        /** Index of {@code key} in this array of unsigned-ascending values, or -1. */
        int indexOfUnsigned(long key) {
            int lo = 0, hi = size - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                int c = Long.compareUnsigned(a[mid], key);
                if (c == 0) return mid;
                if (c < 0) lo = mid + 1;
                else hi = mid - 1;
            }
            return -1;
        }
    }
}
