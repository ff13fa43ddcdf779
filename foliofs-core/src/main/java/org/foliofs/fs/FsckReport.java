package org.foliofs.fs;

import java.util.List;
import java.util.SortedMap;

/**
 * What {@link Fsck#check} found.
 *
 * @param superblock             the superblock the check used (primary, or the backup mount would use)
 * @param problems               one line per inconsistency, each naming the block, inode or directory entry
 * @param notes                  what is not a problem but worth saying: journal recovered, orphans that the
 *                               next mount frees, CoW staging extents, structures summarised
 * @param recoveredTransactions  journal transactions replayed by this check (0 in no-replay mode)
 * @param needsRecovery          no-replay mode found committed transactions in the journal (then the rest of
 *                               the volume was not checked: its home blocks are stale)
 * @param inodes                 inodes found in the inode trees
 * @param metadata               every checksummed metadata block reached, block number -&gt; what it is
 *                               (superblocks, group headers, tree nodes, xattr and symlink blocks)
 * @param reads                  how the check read the volume
 */
public record FsckReport(Superblock superblock, List<String> problems, List<String> notes, long recoveredTransactions,
                         boolean needsRecovery, long inodes, SortedMap<Long, String> metadata, Reads reads) {

    /**
     * Blocks the check read: {@code syncBlocks} one at a time (waiting for each), {@code aheadBlocks}
     * read ahead in {@code aheadRequests} requests submitted together (nearby blocks in one request,
     * with {@code gapBlocks} between them read along and dropped). Journal blocks that a replay reads
     * are not counted.
     */
    public record Reads(long syncBlocks, long aheadBlocks, long aheadRequests, long gapBlocks) {
        @Override
        public String toString() {
            return (syncBlocks + aheadBlocks) + " blocks read: " + aheadBlocks + " ahead in " + aheadRequests + " requests (+"
                    + gapBlocks + " gap blocks), " + syncBlocks + " one at a time";
        }
    }

    public FsckReport {
        problems = List.copyOf(problems);
        notes = List.copyOf(notes);
        metadata = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(metadata));
    }

    /** No problem found (recovering the journal is not a problem). */
    public boolean clean() {
        return problems.isEmpty();
    }

    /** Problems then notes, one per line (notes prefixed "note: "). */
    public String describe() {
        StringBuilder b = new StringBuilder();
        for (String p : problems) b.append(p).append('\n');
        for (String n : notes) b.append("note: ").append(n).append('\n');
        return b.toString();
    }
}
