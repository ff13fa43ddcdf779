package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.foliofs.device.BlockDevice;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The file system checker: walks a whole volume read-only and collects every inconsistency it finds
 * instead of stopping at the first ({@link FsckReport#problems()}, one line each, naming the block,
 * inode or directory entry).
 *
 * <h2>What is checked</h2>
 * <ol>
 *   <li>Superblock: the primary (a fallback to a backup is a problem naming block 0), every backup
 *       decodes, says its group and agrees with the primary field by field, and the rest of every
 *       superblock block is zero.</li>
 *   <li>Journal: with replay (default) committed transactions are replayed as mount does ("recovered N
 *       transactions", a note); without replay a committed record in the log is reported as "journal
 *       needs recovery" and nothing else is checked (the home blocks are stale).</li>
 *   <li>Every group: header (group number, length, roots inside the group), both free-space trees
 *       (structure, levels, the same extents, no overlapping or touching extents, inside the free area,
 *       header counts), the AGFL, the inode tree (structure, every record plausible, inode count, next
 *       inode number), the refcount tree (structure, records, CoW staging records).</li>
 *   <li>Every inode: extent map (structure, extents inside the volume and one group, {@code blocks}
 *       = data blocks + extent tree nodes), directory (structure, entries), symlink target, xattrs.</li>
 *   <li>Namespace: entries name existing inodes with the right type; the root and the orphanage are
 *       named by nobody; a directory is named once, by its {@code parent}, and has {@code nlink = 2 +
 *       subdirectories} (the orphanage: 1); a non-directory's nlink is the number of entries naming it;
 *       an inode with nlink 0 is listed in the orphanage exactly once (a note: the next mount frees it);
 *       every live inode is reachable from the root.</li>
 *   <li>Space: an ownership map of every block (superblocks, group headers, journal, every node of
 *       every tree, AGFL blocks, xattr and symlink blocks, data extents, CoW staging extents, free
 *       extents): no block has two owners unless it is file data shared as the refcount tree says, with
 *       exactly refcount owners; free space is exactly the complement of used space (no leaks).</li>
 * </ol>
 *
 * <h2>Decisions</h2>
 * CoW staging extents on a volume are not a problem: they are what a crash in the middle of a
 * copy-on-write leaves, they own their blocks, and are reported as notes ("freed at mount"). Inodes
 * with nlink 0 in the orphanage are notes too. If a structure cannot be read, its blocks are unknown,
 * so the leak check is skipped (said in one problem line) while double ownership is still checked.
 *
 * <p>Every structure is checked under its own try: a {@link CorruptMetadataException} (whose message
 * names the block) or any other exception becomes one problem line and the check goes on. Loops are
 * bounded by what {@link BTree#verify()} counted first. The check writes nothing, except the journal
 * replay (replay mode, only when the log holds committed transactions).
 *
 * <h2>Reading</h2>
 * The check is bound by metadata reads, so it reads each metadata block once where it can and many at a
 * time. Blocks are kept in a cache of {@code cacheBytes} ({@link #DEFAULT_CACHE_BYTES}, least recently
 * used out; a block's checksum is verified on its first use, later uses check its identity). Reads ahead
 * ({@link MetaStore#prefetch}, done by {@link Readahead}: sorted, nearby blocks joined into one request,
 * up to 64 requests submitted together) fetch: every group's superblock and header at once; the children
 * of every internal node before {@link BTree#verify(BTree.LeafVisitor)} descends, and the grandchildren
 * of the next 16 of them ({@link MetaStore#prefetchChildren}); the trees and xattr blocks of the next
 * {@value #INODE_CHUNK} inodes with any, level by level, before they are checked. Each read ahead takes
 * at most half the cache, so what it fetched stays while it is checked. Inode trees, free-space trees
 * and directories are checked in one pass each: verify hands over the leaves and their records are
 * decoded then (inodes, directory entries) or kept to be matched (free extents, {@link FreeSpaceCheck},
 * which {@link Allocator#verify} shares), instead of a cursor and a lookup per record afterwards; what a
 * pass decoded is used only once the whole tree verified. Read ahead images are verified by the read
 * that uses them, exactly as a synchronous read, so every problem names the same block as before; a
 * block that could not be read ahead is read again then. A read hands out a read-only view of the
 * cached image, not a copy (the check writes nothing; a write attempt would be a problem line).
 *
 * <p>{@link #check} throws (the volume cannot be checked at all) only if no superblock is usable:
 * {@link VolumeFormatException} (not FolioFS, newer version, truncated image) or
 * {@link CorruptMetadataException} (no valid superblock), or on a device error.
 */
public final class Fsck {
    private Fsck() {}

    /** Default memory for the check's block cache: 64 MiB. */
    public static final long DEFAULT_CACHE_BYTES = 64L << 20;
    /** Smallest block cache accepted: 1 MiB. */
    public static final long MIN_CACHE_BYTES = 1L << 20;

    /** Checks {@code dev}, replaying the journal first if it holds committed transactions. */
    public static FsckReport check(BlockDevice dev) throws IOException {
        return check(dev, true);
    }

    /**
     * Checks {@code dev}; with {@code replay} false nothing at all is written and a log that needs
     * recovery is reported as a problem.
     */
    public static FsckReport check(BlockDevice dev, boolean replay) throws IOException {
        return check(dev, replay, DEFAULT_CACHE_BYTES);
    }

    /**
     * Checks {@code dev} with a block cache of {@code cacheBytes} (at least {@link #MIN_CACHE_BYTES}):
     * metadata images read ahead and kept while their structure is checked. More memory than the
     * volume's metadata reads every block once; less re-reads some (see the class comment).
     */
    public static FsckReport check(BlockDevice dev, boolean replay, long cacheBytes) throws IOException {
        if (cacheBytes < MIN_CACHE_BYTES)
            throw new IllegalArgumentException("cacheBytes (" + cacheBytes + ") must be at least " + MIN_CACHE_BYTES + " (1 MiB)");
        List<String> warnings = new ArrayList<>();
        Superblock sb = Volume.readSuperblock(dev, warnings);
        Run r = new Run(dev, sb, replay, cacheBytes);
        for (String w : warnings) r.problem("block 0 (superblock): " + w);
        FsckReport.Reads reads;
        try (BlockIo io = new BlockIo(dev, sb.blockSize());
             Readahead ra = new Readahead(dev, sb.blockSize(), Math.min(Readahead.STAGE_BYTES, cacheBytes / 4))) {
            r.io = io;
            r.ra = ra;
            r.run();
            reads = new FsckReport.Reads(r.syncBlocks, ra.blocks(), ra.requests(), ra.gapBlocks());
        }
        return new FsckReport(sb, r.problems, r.notes, r.recovered, r.needsRecovery, r.inodes.size(), r.metadata, reads);
    }

    /** Most inode trees and xattr blocks read ahead together. */
    static final int INODE_CHUNK = 256;

    private enum Kind { FIXED, META, AGFL, DATA, COW, FREE }

    /** One claim on blocks [start, start + len). */
    private record Own(long start, long len, Kind kind, String what) {}

    private static final class Run implements Txn {
        final BlockDevice dev;
        final Superblock sb;
        final boolean replay;
        final int bs;
        BlockIo io;
        Readahead ra;
        final List<String> problems = new ArrayList<>(), notes = new ArrayList<>();
        final TreeMap<Long, String> metadata = new TreeMap<>();
        final List<Own> owns = new ArrayList<>();
        final TreeMap<Long, long[]> shared = new TreeMap<>();   // abs start -> {len, refcount}
        final Map<Long, Inode> inodes = new LinkedHashMap<>();   // in inode number order: groups, then keys, ascending
        final Set<Long> badInodes = new HashSet<>();
        long recovered;
        boolean needsRecovery;
        int unreadable;
        long syncBlocks;
        final Refcounts refs;

        // block cache (least recently used out beyond cacheBlocks) and read tracking
        final LinkedHashMap<Long, Img> cache = new LinkedHashMap<>(1024, 0.75f, true);
        final long cacheBlocks;
        final LinkedHashMap<Long, MetaType> touched = new LinkedHashMap<>();

        /** A cached block image; {@code crcOk} once its checksum was verified (later reads check identity only). */
        static final class Img {
            final byte[] bytes;
            boolean crcOk;

            Img(byte[] bytes) { this.bytes = bytes; }
        }

        Run(BlockDevice dev, Superblock sb, boolean replay, long cacheBytes) {
            this.dev = dev;
            this.sb = sb;
            this.replay = replay;
            this.bs = sb.blockSize();
            this.refs = new Refcounts(sb);
            this.cacheBlocks = Math.max(16, cacheBytes / bs);
        }

        void problem(String p) {
            if (problems.size() < 100_000) problems.add(p);
        }

        // ------------------------------------------------------------------ Txn (read-only)

        @Override public Superblock superblock() { return sb; }
        @Override public int blockSize() { return bs; }
        @Override public UUID volumeUuid() { return sb.uuid(); }

        @Override
        public MetaBlock read(long blkno, MetaType type, long owner) throws IOException {
            if (blkno < 0 || blkno >= sb.totalBlocks())
                throw MetaBlockLayout.corrupt(blkno, type, "block number is beyond the end of the volume (" + sb.totalBlocks()
                        + " blocks)");
            Img img = image(blkno);
            // The cached image itself, read-only (fsck writes nothing: a write attempt throws and becomes a
            // problem line), instead of a private copy per read.
            MemorySegment seg = MemorySegment.ofArray(img.bytes).asReadOnly();
            if (img.crcOk) {
                MetaBlockLayout.verifyIdentity(seg, blkno, type, owner, sb.uuid());
            } else {
                MetaBlockLayout.verify(seg, blkno, type, owner, sb.uuid());
                img.crcOk = true;
            }
            touched.put(blkno, type);
            return new MetaBlock(blkno, seg);
        }

        /** The cached image of {@code blkno}, read now (synchronously) if it is not cached. */
        Img image(long blkno) throws IOException {
            Img img = cache.get(blkno);
            if (img == null) {
                img = new Img(io.read(blkno * bs, bs).toArray(ValueLayout.JAVA_BYTE));
                syncBlocks++;
                cache(blkno, img);
            }
            return img;
        }

        void cache(long blkno, Img img) {
            cache.put(blkno, img);
            if (cache.size() > cacheBlocks) {
                var it = cache.entrySet().iterator();
                while (cache.size() > cacheBlocks && it.hasNext()) {
                    it.next();
                    it.remove();
                }
            }
        }

        /**
         * Reads the blocks of {@code blknos[0..count)} that are not cached, in block order, many at a
         * time (adjacent ones in one request), into the cache; at most half the cache per call, so what
         * was fetched stays while it is checked. Nothing is verified or reported here: the read that
         * needs a block does that, and one that could not be read ahead is read again then.
         */
        @Override
        public void prefetch(long[] blknos, int count) {
            if (ra == null || count <= 0) return;
            long[] want = new long[count];
            int n = 0;
            for (int i = 0; i < count; i++) {
                long b = blknos[i];
                if (b >= 0 && b < sb.totalBlocks() && !cache.containsKey(b)) want[n++] = b;
            }
            if (n == 0) return;
            java.util.Arrays.sort(want, 0, n);
            int u = 1;
            for (int i = 1; i < n; i++) if (want[i] != want[u - 1]) want[u++] = want[i];
            ra.read(want, (int) Math.min(u, cacheBlocks / 2), (blkno, bytes) -> cache(blkno, new Img(bytes)));
        }

        /**
         * Reads ahead the trees rooted at {@code roots[0..count)} level by level: the roots, then the
         * children of every root that is an internal node of a B+tree, and so on, up to half the cache.
         */
        void prefetchTrees(long[] roots, int count) {
            long budget = cacheBlocks / 2;
            long[] level = roots;
            int n = count;
            while (n > 0 && budget > 0) {
                int take = (int) Math.min(n, budget);
                prefetch(level, take);
                budget -= take;
                level = children(level, 0, take);
                n = level.length;
            }
        }

        @Override
        public void prefetchChildren(long[] nodes, int from, int to) {
            long[] c = children(nodes, from, to);
            prefetch(c, c.length);
        }

        /**
         * The child pointers of those of {@code nodes[from..to)} whose cached images look like internal
         * B+tree nodes (unverified: only the level and count are sanity-checked, the reads verify).
         */
        long[] children(long[] nodes, int from, int to) {
            int cap = BTree.nodeCapacity(bs);
            long[] out = new long[16];
            int m = 0;
            for (int i = from; i < to; i++) {
                Img img = cache.get(nodes[i]);
                if (img == null) continue;
                MetaBlock b = new MetaBlock(nodes[i], MemorySegment.ofArray(img.bytes));
                if (!BTREE_MAGICS.contains(b.magic())) continue;
                int nr = b.numRecs();
                if (b.level() == 0 || b.level() >= BTree.MAX_LEVELS || nr > cap) continue;
                for (int c = 0; c < nr; c++) {
                    if (m == out.length) out = java.util.Arrays.copyOf(out, m * 2);
                    out[m++] = BTree.childPointer(b.view(), bs, c);
                }
            }
            return java.util.Arrays.copyOf(out, m);
        }

        static final Set<Integer> BTREE_MAGICS = Set.of(MetaType.FREE_BY_BLOCK.magic(), MetaType.FREE_BY_SIZE.magic(),
                MetaType.INODE_BTREE.magic(), MetaType.REFCOUNT_BTREE.magic(), MetaType.DIR_BTREE.magic(),
                MetaType.EXTENT_BTREE.magic());

        @Override
        public MetaBlock allocate(MetaType type, long owner) {
            throw new IllegalStateException("fsck is read-only: allocate " + type.name() + " for owner " + owner);
        }

        @Override
        public void write(MetaBlock block) {
            throw new IllegalStateException("fsck is read-only: write of block " + block.blkno());
        }

        @Override
        public void free(long blkno) {
            throw new IllegalStateException("fsck is read-only: free of block " + blkno);
        }

        @Override public void onCommitted(Runnable r) {}
        @Override public void onCheckpointed(Runnable r) {}
        @Override public void onAbort(Runnable r) {}

        // ------------------------------------------------------------------ structure runner

        interface Body {
            void run() throws IOException;
        }

        /**
         * Runs one structure's checks; every block of one of {@code types} read meanwhile becomes owned
         * by {@code what}. An exception becomes a problem line.
         */
        boolean structure(String what, Set<MetaType> types, Body body) {
            touched.clear();
            try {
                body.run();
                return true;
            } catch (CorruptMetadataException e) {
                problem(e.getMessage() + " [while checking " + what + "]");
                unreadable++;
                return false;
            } catch (IOException | RuntimeException e) {
                problem(what + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
                unreadable++;
                return false;
            } finally {
                for (var e : touched.entrySet())
                    if (types.contains(e.getValue())) claimMeta(e.getKey(), e.getValue().name() + " of " + what);
                touched.clear();
            }
        }

        void claimMeta(long blkno, String what) {
            owns.add(new Own(blkno, 1, Kind.META, what));
            metadata.putIfAbsent(blkno, what);
        }

        void claim(long start, long len, Kind kind, String what) {
            if (len <= 0) return;
            long s = Math.max(0, start), e = Math.min(sb.totalBlocks(), start + len);
            if (s < e) owns.add(new Own(s, e - s, kind, what));
        }

        // ------------------------------------------------------------------ the check

        void run() throws IOException {
            if (!checkJournal()) return;
            checkSuperblocks();
            for (int g = 0; g < sb.agCount(); g++) checkGroup(g);
            checkInodes();
            checkNamespace();
            checkSpace();
        }

        /** Returns false when the rest cannot be checked (no-replay mode and the log needs recovery). */
        boolean checkJournal() throws IOException {
            claim(sb.logStart(), sb.logBlocks(), Kind.FIXED, "journal");
            if (sb.logBlocks() < Mkfs.MIN_LOG_BLOCKS || sb.logStart() < AgHeader.RESERVED_BLOCKS
                    || sb.logStart() + sb.logBlocks() > sb.agLength(0)) {
                problem("block 0 (superblock): journal [" + sb.logStart() + ", +" + sb.logBlocks()
                        + ") is not inside allocation group 0 after its fixed blocks");
                return true;
            }
            String pending;
            try {
                pending = pendingRecord();
            } catch (CorruptMetadataException e) {
                problem(e.getMessage());
                return true;
            }
            if (pending == null) return true;
            if (!replay) {
                needsRecovery = true;
                problem("journal needs recovery: " + pending + "; the rest of the volume was not checked (run without"
                        + " --no-replay, or mount it, to replay the journal)");
                return false;
            }
            MetaSpace none = new MetaSpace() {
                @Override public long allocMeta(Txn tx, MetaType type, long owner) {
                    throw new IllegalStateException("fsck allocates nothing");
                }
                @Override public void freeMeta(Txn tx, long blkno, MetaType type) {
                    throw new IllegalStateException("fsck frees nothing");
                }
            };
            Journal j = Journal.open(dev, sb, none, 64);
            recovered = j.recovery().transactions();
            j.abandon();
            cache.clear();
            notes.add("recovered " + recovered + " transactions (" + j.recovery().blocks() + " blocks) from the journal");
            return true;
        }

        /**
         * Looks at the log without writing: returns a description of the committed record at the tail
         * (recovery would replay it), or null if the log is empty.
         */
        String pendingRecord() throws IOException {
            long[] read = {0};
            long[] r = Journal.firstRecord(dev, sb, read);   // the journal's own header and record parsing
            syncBlocks += read[0];
            return r == null ? null : "committed record " + r[0] + " at block " + r[1];
        }

        void checkSuperblocks() throws IOException {
            long[] fixed = new long[2 * sb.agCount()];   // every group's superblock and header, adjacent
            for (int g = 0; g < sb.agCount(); g++) {
                fixed[2 * g] = sb.agStart(g);
                fixed[2 * g + 1] = sb.agStart(g) + AgHeader.HEADER_BLOCK;
            }
            prefetch(fixed, fixed.length);
            for (int g = 0; g < sb.agCount(); g++) {
                long blk = sb.agStart(g);
                String what = g == 0 ? "primary superblock" : "backup superblock of group " + g;
                claim(blk, 1, Kind.FIXED, what);
                metadata.put(blk, what);
                MemorySegment s = MemorySegment.ofArray(image(blk).bytes.clone());
                for (long off = SuperblockLayout.SIZE; off < bs; off++)
                    if (s.get(ValueLayout.JAVA_BYTE, off) != 0) {
                        problem("block " + blk + " (" + what + "): byte " + off + " after the 512-byte record is not zero");
                        break;
                    }
                if (g == 0) continue;   // the primary was decoded by Volume.readSuperblock (a fallback is reported)
                Superblock copy;
                try {
                    copy = SuperblockLayout.decode(s, blk, "block " + blk);
                } catch (CorruptMetadataException e) {
                    problem(e.getMessage() + " (" + what + ")");
                    continue;
                } catch (VolumeFormatException e) {
                    problem("block " + blk + " (" + what + "): " + e.getMessage());
                    continue;
                }
                int agno = SuperblockLayout.copyAgno(s);
                if (agno != g) problem("block " + blk + " (" + what + "): says it is the copy of group " + agno);
                if (!copy.equals(sb)) problem("block " + blk + " (" + what + "): disagrees with the superblock in use: " + copy
                        + " vs " + sb);
            }
        }

        void checkGroup(int g) {
            long start = sb.agStart(g), len = sb.agLength(g), hb = start + AgHeader.HEADER_BLOCK;
            String gname = "group " + g;
            claimMeta(hb, "allocation group header of " + gname);
            AgHeader[] hh = new AgHeader[1];
            if (!structure("allocation group header of " + gname, Set.of(), () -> {
                AgHeader h = agHeader(g);
                if (h.agno != g) problem("block " + hb + " (allocation group header): group number " + h.agno + " where " + g + " expected");
                if (h.length != len)
                    problem("block " + hb + " (allocation group header): length " + h.length + " where the superblock implies " + len);
                for (long[] root : new long[][] {{h.byBlockRoot, 0}, {h.bySizeRoot, 1}, {h.inoRoot, 2}, {h.refRoot, 3}})
                    if (root[0] < start + AgHeader.BY_BLOCK_ROOT || root[0] >= start + len)
                        throw MetaBlockLayout.corrupt(hb, AgHeader.TYPE, new String[] {"by-block", "by-size", "inode", "refcount"}[(int) root[1]]
                                + " tree root " + root[0] + " is outside the group [" + start + ", " + (start + len) + ")");
                hh[0] = h;
            })) return;
            AgHeader h = hh[0];
            // free space
            structure("free-space trees of " + gname, Set.of(MetaType.FREE_BY_BLOCK, MetaType.FREE_BY_SIZE), () ->
                FreeSpaceCheck.check(this, sb, g, h, new FreeSpaceCheck.Sink() {
                    @Override public void problem(FreeSpaceCheck.Problem p) { Run.this.problem(p.message()); }
                    @Override public void free(long s, long l) {
                        claim(start + s, l, Kind.FREE, "free extent [" + (start + s) + ", +" + l + ") of " + gname);
                    }
                }));
            // AGFL
            for (int i = 0; i < h.agflCount; i++) {
                long b = h.agfl[i], rel = b - start;
                if (rel <= AgHeader.HEADER_BLOCK || rel >= len)
                    problem("block " + hb + " (allocation group header of " + gname + "): AGFL entry " + i + " (block " + b
                            + ") is outside the group's usable blocks");
                else claim(b, 1, Kind.AGFL, "AGFL entry " + i + " of " + gname);
            }
            // inodes
            structure("inode tree of " + gname, Set.of(MetaType.INODE_BTREE), () -> {
                // One pass: verify hands over the leaves in key order and their records are decoded
                // then; nothing is used (inodes, problems in records) unless the whole tree verifies.
                BTree<Inode> t = Inodes.tree(this, g);
                List<Long> keys = new ArrayList<>();
                List<Object> found = new ArrayList<>();   // per key: the Inode, or what its record raised
                t.verify(leaf -> {
                    for (int k = 0; k < leaf.numRecs(); k++) {
                        keys.add(BTree.key(leaf, k));
                        try {
                            found.add(Inodes.decode(t, g, leaf, k));
                        } catch (CorruptMetadataException e) {
                            found.add(e);
                        }
                    }
                });
                if (keys.size() != h.inoCount)
                    problem("block " + hb + " (allocation group header of " + gname + "): inode count " + h.inoCount + " but the inode tree holds "
                            + keys.size());
                if (h.nextIno < 1 || h.nextIno > Inodes.LOCAL_LIMIT)
                    problem("block " + hb + " (allocation group header of " + gname + "): next inode number " + h.nextIno + " is outside [1, "
                            + Inodes.LOCAL_LIMIT + "]");
                else if (!keys.isEmpty() && Long.compareUnsigned(keys.getLast(), h.nextIno) >= 0)
                    problem("block " + hb + " (allocation group header of " + gname + "): next inode number " + h.nextIno
                            + " is not above the largest inode " + Inode.make(g, keys.getLast()));
                for (int k = 0; k < keys.size(); k++) {
                    long ino = Inode.make(g, keys.get(k));
                    if (found.get(k) instanceof Inode i) {
                        inodes.put(ino, i);
                    } else {
                        badInodes.add(ino);
                        problem(((CorruptMetadataException) found.get(k)).getMessage());
                    }
                }
            });
            // refcounts
            structure("refcount tree of " + gname, Set.of(MetaType.REFCOUNT_BTREE), () -> {
                BTree.Shape shape = refs.verify(this, g);
                BTree<RefcountOps.Rec> t = BTree.open(this, RefcountOps.INSTANCE, g, h.refRoot);
                long n = 0;
                for (BTree<RefcountOps.Rec>.Cursor c = t.first(); c.valid() && c.key() >= 0 && n++ <= shape.records(); c.next())
                    shared.put(start + c.key(), new long[] {c.record().length(), c.record().refcount()});
                for (long[] cow : refs.cowStaging(this, g)) {
                    claim(cow[0], cow[1], Kind.COW, "CoW staging extent [" + cow[0] + ", +" + cow[1] + ") of " + gname);
                    notes.add("CoW staging extent [" + cow[0] + ", +" + cow[1] + ") in " + gname
                            + ": left by an interrupted copy-on-write, to be freed at mount");
                }
            });
            // fixed blocks: superblock (claimed in checkSuperblocks) and header (claimed above)
        }

        final Map<Long, List<DirEntry>> dirEntries = new HashMap<>();

        /** Inodes (each {@link #checkInode}) in chunks whose trees and blocks are read ahead together. */
        void checkInodes() {
            List<Inode> all = List.copyOf(inodes.values());
            long[] roots = new long[2 * INODE_CHUNK];
            for (int i = 0; i < all.size(); ) {
                int j = i, n = 0;
                while (j < all.size() && n < INODE_CHUNK) {
                    Inode x = all.get(j++);
                    if (x.format == Inode.FORMAT_BTREE) roots[n++] = x.forkRoot;
                    if (x.xattrBlock != 0) roots[n++] = x.xattrBlock;
                }
                prefetchTrees(roots, n);
                for (; i < j; i++) checkInode(all.get(i));
            }
        }



        void checkInode(Inode i) {
            long ino = i.ino;
            String who = "inode " + ino;
            if (i.isDir()) {
                structure("directory " + who, Set.of(MetaType.DIR_BTREE), () -> {
                    List<DirEntry> ents = new ArrayList<>();
                    Directory.verify(this, i, ents::add);   // one pass: structure, records, then the entries
                    dirEntries.put(ino, ents);
                });
            } else if (i.isSymlink()) {
                structure("symlink " + who, Set.of(MetaType.SYMLINK), () -> Symlinks.read(this, i));
            } else {
                structure("extent map of " + who, Set.of(MetaType.EXTENT_BTREE), () -> {
                    ExtentMap.verify(this, i);
                    long nodes = 0;
                    for (MetaType t : touched.values()) if (t == MetaType.EXTENT_BTREE) nodes++;
                    long data = 0;
                    for (Extent e : ExtentMap.all(this, i)) {
                        data += e.length();
                        String ext = "data extent " + e + " of " + who;
                        long s = e.startBlock(), end = e.deviceEnd();
                        if (s < 0 || end > sb.totalBlocks() || end < s) {
                            problem(who + ": " + ext + " is outside the volume (" + sb.totalBlocks() + " blocks)");
                            continue;
                        }
                        int ag = agOf(s), agEnd = agOf(end - 1);
                        if (ag != agEnd) problem(who + ": " + ext + " crosses the boundary of allocation group " + ag);
                        claim(s, e.length(), Kind.DATA, ext);
                    }
                    if (i.blocks != data + nodes)
                        problem(who + ": blocks " + i.blocks + " but it maps " + data + " data blocks and " + nodes
                                + " extent tree nodes");
                });
            }
            if (i.xattrBlock != 0) {
                structure("extended attributes of " + who, Set.of(MetaType.XATTR), () -> {
                    for (String name : Xattrs.list(this, i)) Xattrs.get(this, i, name);
                });
            }
        }

        int agOf(long blkno) {
            return (int) Math.min(blkno / sb.agBlocks(), sb.agCount() - 1);
        }

        /** What the namespace check gathers about one inode (one hash lookup per directory entry). */
        static final class Node {
            final Inode inode;
            List<Named> names = List.of();   // entries naming it, outside the orphanage
            int orphans, subdirs;            // entries naming it in the orphanage; subdirectories it names
            Long namingDir;                  // the (last) directory naming it, if it is a directory
            boolean seen;                    // reachable from the root

            Node(Inode inode) { this.inode = inode; }

            void named(Named n) {
                if (names.isEmpty()) names = new ArrayList<>(1);
                names.add(n);
            }
        }

        void checkNamespace() {
            final long root = FolioFs.ROOT_INO, orph = FolioFs.ORPHANAGE_INO;
            List<Node> order = new ArrayList<>(inodes.size());
            Map<Long, Node> nodes = new HashMap<>(inodes.size() * 4 / 3 + 16);
            for (Inode i : inodes.values()) {
                Node n = new Node(i);
                order.add(n);
                nodes.put(i.ino, n);
            }
            for (var de : new TreeMap<>(dirEntries).entrySet()) {
                long d = de.getKey();
                Node dirNode = nodes.get(d);
                Inode dir = dirNode.inode;
                for (DirEntry e : de.getValue()) {
                    Named where = new Named(d, e);   // rendered only in a problem
                    if (e.ino() == root || e.ino() == orph) {
                        problem(where + " names " + (e.ino() == root ? "the root directory" : "the orphanage") + " (inode " + e.ino() + ")");
                        continue;
                    }
                    Node tn = nodes.get(e.ino());
                    if (tn == null) {
                        if (!badInodes.contains(e.ino()))
                            problem(where + " names inode " + e.ino() + ", which does not exist (dangling entry)");
                        continue;
                    }
                    Inode t = tn.inode;
                    if (e.type() != DirEntry.typeOf(t.mode))
                        problem(where + " says type " + e.type() + " but inode " + e.ino() + " has type " + DirEntry.typeOf(t.mode)
                                + " (mode 0" + Integer.toOctalString(t.mode) + ")");
                    if (d == orph) {
                        tn.orphans++;
                        if (!e.nameString().equals(Long.toHexString(e.ino())))
                            problem(where + " in the orphanage names inode " + e.ino() + " (orphan entries are named by the inode number in hex)");
                        continue;
                    }
                    if (dir.nlink == 0) {
                        problem(where + ": removed directory (nlink 0) still has entries");
                        continue;
                    }
                    tn.named(where);
                    if (t.isDir()) {
                        dirNode.subdirs++;
                        tn.namingDir = d;
                    }
                }
            }
            for (long special : new long[] {root, orph})
                if (!nodes.containsKey(special) && !badInodes.contains(special))
                    problem("inode " + special + " (" + (special == root ? "root directory" : "orphanage") + ") does not exist");
            for (Node node : order) {
                Inode i = node.inode;
                long ino = i.ino;
                String who = (i.isDir() ? "directory inode " : "inode ") + ino;
                List<Named> names = node.names;
                int orphans = node.orphans;
                long nlink = Integer.toUnsignedLong(i.nlink);
                if (ino == orph || ino == root) {
                    if (!i.isDir()) { problem(who + " (" + (ino == root ? "root" : "orphanage") + ") is not a directory"); continue; }
                    long expect = ino == root ? 2 + node.subdirs : 1;
                    if (nlink != expect) problem(who + " has nlink " + nlink + ", expected " + expect);
                    if (i.parent != ino) problem(who + ": parent " + i.parent + ", expected itself");
                    continue;
                }
                if (nlink == 0) {
                    if (orphans == 0) problem(who + " has nlink 0 but is not listed in the orphanage (lost inode)");
                    else if (orphans > 1) problem(who + " is listed " + orphans + " times in the orphanage");
                    else notes.add(who + " is an orphan (nlink 0, in the orphanage): the next mount frees it");
                    if (!names.isEmpty()) problem(who + " has nlink 0 but is named by " + join(names));
                    continue;
                }
                if (orphans > 0) problem(who + " has nlink " + nlink + " but is listed in the orphanage");
                if (i.isDir()) {
                    if (names.size() != 1) problem(who + " is named by " + names.size() + " entries" + (names.isEmpty() ? "" : ": "
                            + join(names)) + " (a directory must be named exactly once)");
                    Long p = node.namingDir;
                    if (p != null && p != i.parent) problem(who + ": parent (\"..\") is inode " + i.parent + " but it is named in directory inode " + p);
                    long expect = 2 + node.subdirs;
                    if (nlink != expect) problem(who + " has nlink " + nlink + ", expected " + expect + " (2 + "
                            + node.subdirs + " subdirectories)");
                } else if (nlink != names.size()) {
                    problem(who + " has nlink " + nlink + " but " + names.size() + " directory entries name it"
                            + (names.isEmpty() ? "" : ": " + join(names)));
                }
            }
            // reachability from the root
            ArrayDeque<Long> q = new ArrayDeque<>();
            q.add(root);
            Node rootNode = nodes.get(root);
            if (rootNode != null) rootNode.seen = true;
            while (!q.isEmpty()) {
                long d = q.poll();
                for (DirEntry e : dirEntries.getOrDefault(d, List.of())) {
                    if (e.ino() == orph) continue;
                    Node tn = nodes.get(e.ino());
                    if (tn == null || tn.seen) continue;
                    tn.seen = true;
                    if (tn.inode.isDir()) q.add(e.ino());
                }
            }
            for (Node node : order) {
                Inode i = node.inode;
                if (i.nlink != 0 && i.ino != FolioFs.ORPHANAGE_INO && !node.seen && !node.names.isEmpty())
                    problem("inode " + i.ino + " is not reachable from the root directory (a detached directory cycle)");
            }
        }

        /** A directory entry naming an inode, as problems name it. */
        record Named(long dir, DirEntry entry) {
            @Override
            public String toString() {
                return "directory inode " + dir + " entry " + Directory.show(entry.name());
            }
        }

        static String join(List<Named> names) {
            StringBuilder b = new StringBuilder();
            for (Named n : names) b.append(b.isEmpty() ? "" : ", ").append(n);
            return b.toString();
        }

        /** The ownership sweep: double ownership, refcounts, leaks. */
        void checkSpace() {
            TreeMap<Long, List<Own>> starts = new TreeMap<>();
            TreeMap<Long, Integer> points = new TreeMap<>();
            for (Own o : owns) {
                starts.computeIfAbsent(o.start, k -> new ArrayList<>()).add(o);
                points.put(o.start, 0);
                points.put(o.start + o.len, 0);
            }
            for (var e : shared.entrySet()) {
                points.put(e.getKey(), 0);
                points.put(e.getKey() + e.getValue()[0], 0);
            }
            points.put(0L, 0);
            points.put(sb.totalBlocks(), 0);
            List<Own> active = new ArrayList<>();
            String prevMsg = null;
            long prevStart = 0, prevEnd = -1;
            List<String> out = new ArrayList<>();
            Long[] pts = points.keySet().toArray(new Long[0]);
            for (int k = 0; k + 1 < pts.length; k++) {
                long a = pts[k], b = pts[k + 1];
                if (a >= sb.totalBlocks()) break;
                active.removeIf(o -> o.start + o.len <= a);
                List<Own> add = starts.get(a);
                if (add != null) active.addAll(add);
                var rec = shared.floorEntry(a);
                long rc = rec != null && rec.getKey() + rec.getValue()[0] > a ? rec.getValue()[1] : 1;
                String msg = classify(active, rc);
                if (msg != null && msg.equals(prevMsg) && prevEnd == a) {
                    prevEnd = b;
                    continue;
                }
                if (prevMsg != null) out.add(range(prevStart, prevEnd) + prevMsg);
                prevMsg = msg;
                prevStart = a;
                prevEnd = b;
            }
            if (prevMsg != null) out.add(range(prevStart, prevEnd) + prevMsg);
            for (String p : out) {
                if (p.endsWith(LEAK) && unreadable > 0) continue;
                problem(p);
            }
            if (unreadable > 0)
                problem("free-space accounting not checked for leaks: " + unreadable + " structure(s) could not be read completely");
        }

        static final String LEAK = " neither free nor owned by anything (leaked space)";

        String range(long a, long b) {
            return b - a == 1 ? "block " + a + ":" : "blocks [" + a + ", +" + (b - a) + "):";
        }

        /** Problem text for a run of blocks with these owners and refcount, or null if fine. */
        String classify(List<Own> owners, long rc) {
            if (owners.isEmpty()) return rc > 1 ? " refcount " + rc + " but" + LEAK : LEAK;
            boolean anyFree = false, allData = true;
            for (Own o : owners) {
                if (o.kind == Kind.FREE) anyFree = true;
                if (o.kind != Kind.DATA) allData = false;
            }
            if (owners.size() == 1) {
                Own o = owners.getFirst();
                if (rc > 1) return " refcount record says " + rc + " owners but only " + o.what + " uses it";
                return null;
            }
            List<String> names = new ArrayList<>();
            for (Own o : owners) names.add(o.what);
            if (anyFree) return " free but also used by " + String.join(", ", names);
            if (allData) {
                if (rc == owners.size()) return null;
                if (rc == 1) return " owned " + owners.size() + " times without a refcount record: " + String.join(", ", names);
                return " refcount " + rc + " but " + owners.size() + " owners: " + String.join(", ", names);
            }
            return " owned " + owners.size() + " times: " + String.join(", ", names);
        }
    }
}
