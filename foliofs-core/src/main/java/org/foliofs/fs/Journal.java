package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.IoRequest;

import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/**
 * The metadata journal and block cache: a write-ahead log of metadata block images (physical
 * logging, as jbd2 does; on volumes with {@link SuperblockLayout#INCOMPAT_LOG_DELTA} a block's
 * later records carry only its changed bytes, {@link #DELTA}), with transactions built from
 * {@link Handle}s.
 *
 * <h2>Model</h2>
 * Every metadata change happens in a {@link Handle} (one file system operation), under the journal's
 * lock, so handles run one at a time. A handle's block changes go into the cache at once (later
 * handles see them) and are remembered with their before-images so {@link Handle#abort} can undo them.
 * A finished handle joins the <em>running transaction</em>: the set of blocks changed since the last
 * commit. {@link #force} commits it: the current images of those blocks are written to the log as one
 * record (or a chain of records that recovery applies only as a whole), with PREFLUSH (so every data
 * write that completed before is durable first: metadata that exposes data is never durable before
 * the data) and FUA; or, when every handle declared the data it exposes ({@link Handle#dataDependency},
 * {@link Handle#exposesNoData}), without PREFLUSH: records, the last write with POSTFLUSH (a cache
 * flush after it, before it completes), and recovery checks the last
 * transaction's data ({@link #barrier}). Many handles share one commit: group commit. A commit
 * gathers under the lock (capturing the cached images, which are never changed in place:
 * {@link MetaBlock} is copy-on-write) and builds and writes its records without it; one commit is
 * in flight at a time. Callers whose data was complete before their handles wait without leading
 * when a commit is in flight ({@link #forceCommitted}, {@link #forceCommittedAsync}): the journal's
 * log thread then leads the next commit as soon as the current one ends. Until a checkpoint, committed
 * images are written nowhere else: the home locations keep the previous checkpoint's state. A
 * checkpoint writes every committed image home, flushes, and then moves the log tail (header write
 * with FUA). Recovery replays complete records from the tail; replaying whole images is idempotent,
 * so a crash during recovery is recovered by the next mount.
 *
 * <h2>Logged data</h2>
 * A handle may also log file data ({@link Handle#logData}: a small atomic overwrite): the blocks
 * follow the commit's metadata records in records of their own, as whole images, and after the commit is
 * durable the journal writes them home from the caller's segments (asynchronously, without the
 * lock; {@code homeLock} counts them, and a checkpoint waits for them before its flush). Until the
 * tail passes such a record, recovery may write that data home again: {@link #loggedDataOverlaps}
 * tells writers in place to {@link #checkpointLoggedData checkpoint} first, and the allocator to
 * keep the blocks busy until a checkpoint when they are freed. A failed home write stops the journal.
 *
 * <h2>Space</h2>
 * {@link #begin} takes a reservation: the most distinct blocks the handle may change. Before the
 * handle starts, the journal makes room (commit, then checkpoint if the log is too full), so a handle
 * never fails half-way for lack of log space; a handle that changes more blocks than it reserved is
 * a bug and is aborted cleanly ({@link IllegalStateException}). A running transaction is committed
 * when it reaches {@link #maxTransactionBlocks()}.
 *
 * <h2>On disk</h2>
 * See docs/FORMAT.md section 5. The log is {@code logBlocks} blocks from {@code logStart}: two header
 * blocks (written alternately; the valid one with the larger generation wins), then a circular area of
 * records. A record is a descriptor block (magic FLGR) followed by the images it lists (a delta
 * record: by its payload of per-block entries), written contiguously; a record that does not fit
 * before the end of the area starts at its beginning. The gather computes each block's delta
 * against its {@code logged} image under the lock (the record's size fixes its place in the log);
 * the record is built and written without it.
 */
public final class Journal implements AutoCloseable {
    /** Log-relative block where records start (blocks 0 and 1 are the headers). */
    static final int FIRST_RECORD = 2;
    static final long H_GEN = 40, H_TAIL_SEQ = 48, H_TAIL_POS = 56, H_LOG_ID = 64;
    static final long D_SEQ = 40, D_COUNT = 48, D_FLAGS = 52, D_CRC = 56, D_PAYLOAD = 60, D_LOG_ID = 64, D_BLKNOS = 72;
    static final int MORE = 1;
    /** Record flag: the record's images are followed by one data-dependency block (see {@link Handle#dataDependency}). */
    static final int DEPS = 2;
    /**
     * Record flag (volumes with {@link SuperblockLayout#INCOMPAT_LOG_DELTA}): instead of one image
     * per block, {@code D_PAYLOAD} blocks of entries follow, one per listed block: the byte ranges
     * that changed since the block's previous record in the log, or the whole block the first time
     * it is logged after a checkpoint (docs/FORMAT.md section 5.2).
     */
    static final int DELTA = 4;
    /** Two byte ranges of a delta entry closer than this are one range (a range costs 8 bytes of header). */
    private static final int DELTA_GAP = 8;
    private static final int IO_CHUNK = 1 << 20;

    private final BlockDevice dev;
    private final Superblock sb;
    private final int bs;
    private final long logStart, logBlocks, area;
    private final int perDescriptor;
    /** Whether commits write {@link #DELTA} records (the volume has {@link SuperblockLayout#INCOMPAT_LOG_DELTA}; else whole images). */
    private final boolean deltaRecords;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a commit's log I/O (done without the lock) ended. */
    private final java.util.concurrent.locks.Condition commitEnded = lock.newCondition();
    /**
     * Asynchronous forces ({@link #forceCommittedAsync}): each waits for commit number
     * {@code target} to be durable (ascending: targets only grow). The log thread ({@link #logLoop},
     * started by the first one) commits while {@code wanted} (the highest target) is not yet
     * gathered, back to back, so that no waiter has to wake up to lead the next commit.
     */
    private final java.util.ArrayDeque<Waiter> waiters = new java.util.ArrayDeque<>();
    private record Waiter(long target, java.util.function.Consumer<IOException> done) {}
    private final java.util.concurrent.locks.Condition logWork = lock.newCondition();
    private long wanted;
    private Thread logThread;
    private final BlockIo io;
    /** The log writes of commits (their I/O runs without the lock, beside handles' reads through {@link #io}); null when read-only. */
    private final BlockIo commitIo;
    private MetaSpace space;

    /** Block cache: every block read or written; clean ones are evicted beyond {@code cacheBlocks}. */
    private final LinkedHashMap<Long, Buf> cache = new LinkedHashMap<>(1024, 0.75f, true);
    private final int cacheBlocks;
    /** Blocks changed since the last commit, in first-change order. */
    private final LinkedHashSet<Long> running = new LinkedHashSet<>();
    private List<Runnable> runningCommitted = new ArrayList<>(), runningCheckpointed = new ArrayList<>();
    /**
     * Data dependencies: {@code runningPreflush} is set by every finished handle that changed
     * blocks without declaring what file data it exposes; a running transaction without one is
     * committed without PREFLUSH on a volatile-cache device (records, the last write with POSTFLUSH), its handles'
     * data blocks and their CRC32C listed in the record ({@code runningDeps}); recovery replays the
     * log's last transaction only if those blocks hold that data. {@code committingDeps} and
     * {@code lastDeps} (the newest durable commit's, until a later commit is durable) are the
     * blocks no write may change in place before {@link #barrier()}.
     */
    private boolean runningPreflush;
    private List<long[]> runningDeps = new ArrayList<>(), committingDeps = List.of(), lastDeps = List.of();
    /** Whether any of the three lists is non-empty; written under the lock, read without it by {@link #dependsOn}. */
    private volatile boolean depsLive;

    private void updateDepsLive() { depsLive = !runningDeps.isEmpty() || !committingDeps.isEmpty() || !lastDeps.isEmpty(); }
    /** Committed, not yet checkpointed: actions to run when the tail passes them. */
    private List<Runnable> pendingCheckpointed = new ArrayList<>();

    /**
     * Logged data ({@link Handle#logData}): file blocks whose new content is written into the
     * commit record itself, then home once the commit is durable. {@code runningData}: the entries
     * of finished handles, not yet gathered ({@code runningDataBlocks} blocks). {@code loggedData}:
     * every block with such content in the log since its tail, or running: recovery may write it
     * home again, so no other write may go to it in place before a checkpoint
     * ({@link #loggedDataOverlaps}), and a free keeps it busy until one. {@code homePending}: home
     * writes in flight (a checkpoint waits for them before it moves the tail); {@code homeFailure}:
     * the first that failed (the journal then refuses checkpoints: recovery must write it).
     */
    private List<DataEntry> runningData = new ArrayList<>();
    private int runningDataBlocks;
    private final java.util.HashSet<Long> loggedData = new java.util.HashSet<>();
    private volatile boolean loggedDataLive;
    private final Object homeLock = new Object();
    private int homePending;
    /** Under the lock: logged data was written home (plain writes) since the last checkpoint's flush. */
    private boolean dataHomeUnflushed;
    private IOException homeFailure;
    private long dataBlocksLogged, dataCheckpoints;

    /** One {@link Handle#logData} call: device blocks from {@code blkno}, their new content, and who to tell when it is home. */
    private record DataEntry(long blkno, MemorySegment[] segs, int blocks, java.util.function.BiConsumer<Throwable, Boolean> done) {}
    private final LinkedHashSet<Long> checkpointDirty = new LinkedHashSet<>();

    private long logId, headerGen, headSeq, headPos, tailSeq, usedBlocks;
    /**
     * Group commit: {@code gathered} counts commits whose blocks were taken from the running
     * transaction, {@code durable} those whose log I/O finished; while {@code committing} one
     * commit's I/O is in flight without the lock (at most one: the next waits for it).
     */
    private long gathered, durable;
    private boolean committing;
    /** The first failure of a commit's log I/O: the journal is then dead (every later commit throws it). */
    private IOException commitFailure;
    private long commits, checkpoints, blocksLogged, logBlocksWritten, handles, handleReads, handleWrites;
    private Handle active;
    private boolean closed;
    /** Opened with {@link #openReadOnly}: nothing is ever written (handles may only read). */
    private final boolean readOnly;

    private static final class Buf {
        private byte[] cur;        // current image, checksum stamped
        private MemorySegment view; // cur, read-only (made on first read: handle reads hand it out without a new segment each)
        byte[] logged;     // image of the last commit, not yet written home (null: home is current or never committed)

        void cur(byte[] img) {
            cur = img;
            view = null;
        }

        MetaBlock shared(long blkno) {
            MemorySegment v = view;
            if (v == null) view = v = MemorySegment.ofArray(cur).asReadOnly();
            return MetaBlock.shared(blkno, cur, v);
        }
    }

    private Journal(BlockDevice dev, Superblock sb, MetaSpace space, int cacheBlocks, boolean readOnly) {
        this.dev = dev;
        this.readOnly = readOnly;
        this.sb = sb;
        this.bs = sb.blockSize();
        this.logStart = sb.logStart();
        this.logBlocks = sb.logBlocks();
        this.area = logBlocks - FIRST_RECORD;
        this.perDescriptor = (bs - (int) D_BLKNOS) / 8;
        this.deltaRecords = (sb.incompatFeatures() & SuperblockLayout.INCOMPAT_LOG_DELTA) != 0;
        this.space = space;
        this.cacheBlocks = cacheBlocks;
        this.io = new BlockIo(dev, Math.max(bs, IO_CHUNK));
        this.commitIo = readOnly ? null : new BlockIo(dev, Math.max(bs, IO_CHUNK));   // a read-only journal never commits
    }

    // ------------------------------------------------------------------ format, open, recovery

    /** Writes an empty log (mkfs): header 0 valid with a fresh log id, header 1 and the first record slot zeroed. */
    static void formatLog(BlockDevice dev, Superblock sb) throws IOException {
        int bs = sb.blockSize();
        try (BlockIo io = new BlockIo(dev, bs)) {
            MemorySegment zero = MemorySegment.ofArray(new byte[bs]);
            io.write((sb.logStart() + 1) * bs, zero, 0);
            io.write((sb.logStart() + FIRST_RECORD) * bs, zero, 0);
            MemorySegment h = headerBlock(sb, 0, 1, 1, FIRST_RECORD, ThreadLocalRandom.current().nextLong() | 1);
            io.write(sb.logStart() * bs, h, 0);
        }
    }

    /** Log header {@code which} (0 or 1) with its fields, checksum stamped. */
    private static MemorySegment headerBlock(Superblock sb, int which, long gen, long tailSeq, long tailPos, long logId) {
        MemorySegment h = MemorySegment.ofArray(new byte[sb.blockSize()]);
        MetaBlockLayout.init(h, MetaType.LOG_HEADER, sb.logStart() + which, 0, sb.uuid());
        h.set(U64, H_GEN, gen);
        h.set(U64, H_TAIL_SEQ, tailSeq);
        h.set(U64, H_TAIL_POS, tailPos);
        h.set(U64, H_LOG_ID, logId);
        MetaBlockLayout.stampCrc(h);
        return h;
    }

    /** What {@link #open} found in the log. */
    public record Recovery(long transactions, long blocks, long tailSeq) {}

    private Recovery recovery;

    /**
     * Opens the journal of a volume: reads the log headers and replays every complete transaction from
     * the tail (writing the images home, FLUSH, then a new header with FUA).
     */
    public static Journal open(BlockDevice dev, Superblock sb, MetaSpace space, int cacheBlocks) throws IOException {
        return open(dev, sb, space, cacheBlocks, false);
    }

    /**
     * Opens the journal of a volume without writing anything: reads the log headers and scans the log
     * for complete transactions, but replays none ({@link #recovery()} counts them, and the images
     * stay in the log: a caller must refuse to use the volume when there are any, since the home
     * locations are older than what was committed). Handles of a read-only journal may read; every
     * change throws {@link ReadOnlyVolumeException}; commit, checkpoint and close write nothing.
     */
    public static Journal openReadOnly(BlockDevice dev, Superblock sb, MetaSpace space, int cacheBlocks) throws IOException {
        return open(dev, sb, space, cacheBlocks, true);
    }

    private static Journal open(BlockDevice dev, Superblock sb, MetaSpace space, int cacheBlocks, boolean readOnly)
            throws IOException {
        if (sb.logBlocks() < Mkfs.MIN_LOG_BLOCKS || sb.logStart() < AgHeader.RESERVED_BLOCKS
                || sb.logStart() + sb.logBlocks() > sb.agLength(0))
            throw new CorruptMetadataException(0, "superblock", "journal [" + sb.logStart() + ", +" + sb.logBlocks()
                    + ") is not inside allocation group 0 after its fixed blocks");
        Journal j = new Journal(dev, sb, space, cacheBlocks, readOnly);
        try {
            j.recovery = j.recover();
        } catch (IOException | RuntimeException e) {
            j.closeIo();
            throw e;
        }
        return j;
    }

    public Recovery recovery() { return recovery; }

    /**
     * Looks at a volume's log without writing or replaying (fsck's no-replay check): the first
     * committed record after the tail as {@code {seq, volume block}}, or null when recovery would
     * find nothing. Corrupt headers throw as they do at mount.
     */
    static long[] firstRecord(BlockDevice dev, Superblock sb, long[] blocksRead) throws IOException {
        Journal j = new Journal(dev, sb, null, 16, true);
        try {
            long[] h = j.validHeader();
            j.logId = h[3];
            for (long p : new long[] {h[2], FIRST_RECORD}) {
                if (j.readRecord(p, h[1]) != null) return new long[] {h[1], j.logStart + p};
            }
            return null;
        } finally {
            blocksRead[0] += j.scanBlocksRead;
            j.closeIo();
        }
    }

    /** {gen, tailSeq, tailPos, logId} of the newer valid header; throws when neither is valid or the tail is outside the area. */
    private long[] validHeader() throws IOException {
        long[] h0 = readHeader(0), h1 = readHeader(1);
        long[] h = h0 == null ? h1 : h1 == null ? h0 : (h0[0] >= h1[0] ? h0 : h1);
        if (h == null)
            throw new CorruptMetadataException(logStart, MetaType.LOG_HEADER.name(),
                    "neither journal header (blocks " + logStart + " and " + (logStart + 1) + ") is valid");
        if (h[2] < FIRST_RECORD || h[2] >= logBlocks)
            throw new CorruptMetadataException(logStart, MetaType.LOG_HEADER.name(), "tail position " + h[2]
                    + " is outside the record area [" + FIRST_RECORD + ", " + logBlocks + ")");
        return h;
    }

    /** Whether this journal was opened with {@link #openReadOnly}. */
    public boolean isReadOnly() { return readOnly; }

    private Recovery recover() throws IOException {
        long[] h = validHeader();
        headerGen = h[0];
        long tailPos = h[2];
        logId = h[3];
        // Scan: collect transactions (record chains) that are complete.
        long seq = h[1], pos = tailPos, txns = 0, blocks = 0;
        List<Rec> pendingChain = new ArrayList<>();   // the records of the open chain, images in memory
        // Each complete transaction is replayed once the next one is found valid: that one was
        // written after the previous commit's flush (PREFLUSH, or the post-flush of a commit without
        // it), so the previous one's data is durable. The
        // last one is replayed only if its data dependencies hold (DEPS records).
        List<Rec> lastTxn = null;
        Replayed replayed = new Replayed();   // each block's image as replayed so far (the base of its deltas)
        long endSeq = seq, endPos = pos, beforeLastSeq = seq, beforeLastPos = pos;
        long guard = 0;
        while (guard++ < area + 1) {
            Rec r = readRecord(pos, seq);
            if (r == null && pos != FIRST_RECORD) {
                r = readRecord(FIRST_RECORD, seq);
                if (r != null) pos = FIRST_RECORD;
            }
            if (r == null) break;
            pendingChain.add(r);
            long next = pos + 1 + r.bodyBlocks + (r.deps != null ? 1 : 0);
            seq++;
            pos = next >= logBlocks ? FIRST_RECORD : next;
            if ((r.flags & MORE) == 0) {
                if (lastTxn != null) {
                    for (Rec rec : lastTxn) blocks += readOnly ? rec.homes.length : replay(rec, replayed);
                    txns++;
                }
                lastTxn = new ArrayList<>(pendingChain);
                pendingChain.clear();
                beforeLastSeq = endSeq;
                beforeLastPos = endPos;
                endSeq = seq;
                endPos = pos;
            }
        }
        if (lastTxn != null) {
            if (dependenciesHold(lastTxn)) {
                for (Rec rec : lastTxn) blocks += readOnly ? rec.homes.length : replay(rec, replayed);
                txns++;
            } else {   // its commit never finished: the data it exposes is not on the device
                tornCommits++;
                endSeq = beforeLastSeq;
                endPos = beforeLastPos;
            }
        }
        replayReadBack = replayed.readBack;
        if (readOnly) {   // nothing replayed, nothing written: the log stays as found
            headSeq = tailSeq = h[1];
            headPos = tailPos;
            usedBlocks = 0;
            return new Recovery(txns, blocks, tailSeq);
        }
        // New records start after a gap in sequence numbers, so that no record left in the log (an
        // incomplete chain, a torn write) can ever be taken for a new one.
        headSeq = endSeq + area + 1;
        headPos = endPos;
        if (txns > 0) dev.flush();
        writeHeader(headSeq, headPos);
        tailSeq = headSeq;
        usedBlocks = 0;
        return new Recovery(txns, blocks, tailSeq);
    }

    /**
     * A valid record: where its blocks belong, its body (whole images, or with {@link #DELTA} the
     * entries, each starting at {@code entries[i]}), the blocks the body takes, its flags and its
     * data dependencies (null: none).
     */
    private record Rec(long[] homes, byte[] body, int[] entries, int bodyBlocks, int flags, long[][] deps) {}

    /** Last transactions dropped at recovery because their data dependencies did not hold (tests). */
    private long tornCommits;

    long tornCommits() { return tornCommits; }

    /** Whether every data dependency of {@code txn} holds: each range's blocks have the recorded CRC32C. */
    private boolean dependenciesHold(List<Rec> txn) throws IOException {
        for (Rec r : txn) {
            if (r.deps == null) continue;
            for (long[] d : r.deps) {
                CRC32C crc = new CRC32C();
                long bytes = d[1] * bs, base = d[0] * bs;
                for (long off = 0; off < bytes; off += IO_CHUNK) {
                    int len = (int) Math.min(IO_CHUNK, bytes - off);
                    crc.update(io.read(base + off, len).asByteBuffer());
                }
                if ((crc.getValue() & 0xffffffffL) != d[2]) return false;
            }
        }
        return true;
    }

    /**
     * Reads and checks the record at {@code pos} with sequence {@code seq}; null if none valid. The
     * images are kept (a chain is replayed only once complete, without reading it again).
     */
    private Rec readRecord(long pos, long seq) throws IOException {
        if (pos + 1 > logBlocks) return null;
        MemorySegment d = io.read((logStart + pos) * bs, bs);
        scanBlocksRead++;
        byte[] desc = d.toArray(ValueLayout.JAVA_BYTE);
        MemorySegment ds = MemorySegment.ofArray(desc);
        try {
            MetaBlockLayout.verify(ds, logStart + pos, MetaType.LOG_RECORD, 0, sb.uuid());
        } catch (CorruptMetadataException e) {
            return null;
        }
        if (ds.get(U64, D_SEQ) != seq || ds.get(U64, D_LOG_ID) != logId) return null;
        int count = ds.get(U32, D_COUNT);
        int flags = ds.get(U32, D_FLAGS), extra = (flags & DEPS) != 0 ? 1 : 0;
        boolean delta = (flags & DELTA) != 0;
        if (count < 0 || count > perDescriptor) return null;
        // A delta record's entries take at most 12 bytes more per block than whole images.
        long bodyBlocks = delta ? ds.get(U32, D_PAYLOAD) & 0xffffffffL : count;
        if (bodyBlocks > count + (12L * count + bs - 1) / bs || pos + 1 + bodyBlocks + extra > logBlocks) return null;
        long[] homes = new long[count];
        for (int i = 0; i < count; i++) {
            homes[i] = ds.get(U64, D_BLKNOS + 8L * i);
            if (homes[i] < 0 || homes[i] >= sb.totalBlocks()) return null;
        }
        byte[] body = new byte[(int) (bodyBlocks + extra) * bs];
        scanBlocksRead += bodyBlocks + extra;
        for (int off = 0; off < body.length; off += IO_CHUNK) {
            int len = Math.min(IO_CHUNK, body.length - off);
            MemorySegment.copy(io.read((logStart + pos + 1) * bs + off, len), 0, MemorySegment.ofArray(body), off, len);
        }
        CRC32C crc = new CRC32C();
        crc.update(body);
        if ((int) crc.getValue() != ds.get(U32, D_CRC)) return null;
        long[][] deps = null;
        if (extra == 1) {
            MemorySegment db = MemorySegment.ofArray(body).asSlice(bodyBlocks * bs, bs);
            int n = db.get(U32, 0);
            if (n < 0 || n > depsPerBlock()) return null;
            deps = new long[n][];
            for (int i = 0; i < n; i++) {
                long blk = db.get(U64, 8 + 16L * i), len = db.get(U32, 16 + 16L * i) & 0xffffffffL;
                if (blk < 0 || len < 1 || blk + len > sb.totalBlocks()) return null;
                deps[i] = new long[] {blk, len, db.get(U32, 20 + 16L * i) & 0xffffffffL};
            }
        }
        int[] entries = null;
        if (delta) {   // every entry must lie inside the body, every range inside its block
            entries = new int[count];
            MemorySegment p = MemorySegment.ofArray(body);
            long o = 0, end = bodyBlocks * bs;
            for (int i = 0; i < count; i++) {
                if (o + 4 > end) return null;
                entries[i] = (int) o;
                long nr = p.get(U32, o) & 0xffffffffL;
                o += 4;
                if (nr > bs) return null;
                for (long k = 0; k < nr; k++) {
                    if (o + 8 > end) return null;
                    long off = p.get(U32, o) & 0xffffffffL, len = p.get(U32, o + 4) & 0xffffffffL;
                    if (off + len > bs || o + 8 + len > end) return null;
                    o += 8 + len;
                }
            }
        }
        return new Rec(homes, body, entries, (int) bodyBlocks, flags, deps);
    }

    /**
     * Blocks this replay has written home, and the images of the most recently used of them (at
     * most 16 MiB of blocks, so a full log does not need its size in heap): a delta whose base is
     * no longer held reads it back from its home, where this replay wrote it.
     */
    private final class Replayed {
        private final int limit = replayCacheOverride > 0 ? replayCacheOverride : Math.max(64, (16 << 20) / bs);
        private final java.util.HashSet<Long> written = new java.util.HashSet<>();
        private final LinkedHashMap<Long, byte[]> recent = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, byte[]> e) { return size() > limit; }
        };
        long readBack;   // bases read back from home (tests)

        /** The block's image as this replay left it, or null if this replay has not written it. */
        byte[] get(long home) throws IOException {
            byte[] img = recent.get(home);
            if (img != null || !written.contains(home)) return img;
            readBack++;
            return io.read(home * bs, bs).toArray(ValueLayout.JAVA_BYTE);
        }

        void put(long home, byte[] img) {
            written.add(home);
            recent.put(home, img);
        }
    }

    /** Tests: images a replay keeps in memory as delta bases (0: the default, 16 MiB of blocks). */
    static volatile int replayCacheOverride;
    /** Delta bases the recovery read back from home instead of memory (tests). */
    long replayReadBack;
    /** Delta entries every recovery in this JVM applied, fsck's included (tests). */
    static final java.util.concurrent.atomic.LongAdder DELTAS_REPLAYED = new java.util.concurrent.atomic.LongAdder();

    /**
     * Writes the blocks of {@code r} home: whole images as they are; a delta entry applied to the
     * block's image from an earlier record of this replay ({@code replayed}, which gets every image
     * written). A delta without one is corrupt: the first record of a block after a checkpoint
     * always carries the whole block.
     */
    private long replay(Rec r, Replayed replayed) throws IOException {
        MemorySegment body = MemorySegment.ofArray(r.body);
        for (int i = 0; i < r.homes.length; i++) {
            long home = r.homes[i];
            byte[] img;
            if (r.entries == null) {
                img = java.util.Arrays.copyOfRange(r.body, i * bs, (i + 1) * bs);
            } else {
                long o = r.entries[i];
                int nr = body.get(U32, o);
                o += 4;
                boolean whole = nr == 1 && body.get(U32, o) == 0 && body.get(U32, o + 4) == bs;
                byte[] base = whole ? null : replayed.get(home);
                if (!whole && base == null)
                    throw new CorruptMetadataException(home, MetaType.LOG_RECORD.name(), "a journal record holds changes to block "
                            + home + " without the block's whole image in an earlier record since the tail");
                img = whole ? new byte[bs] : base.clone();
                if (!whole) DELTAS_REPLAYED.increment();
                for (int k = 0; k < nr; k++) {
                    int off = body.get(U32, o), len = body.get(U32, o + 4);
                    System.arraycopy(r.body, (int) o + 8, img, off, len);
                    o += 8 + len;
                }
            }
            io.write(home * bs, MemorySegment.ofArray(img), 0);
            replayed.put(home, img);
        }
        return r.homes.length;
    }

    /** Log blocks read by {@link #readHeader} and {@link #readRecord} (fsck's read statistics). */
    private long scanBlocksRead;

    /** {gen, tailSeq, tailPos, logId} of header {@code which}, or null if it is not valid. */
    private long[] readHeader(int which) throws IOException {
        scanBlocksRead++;
        MemorySegment s = MemorySegment.ofArray(io.read((logStart + which) * bs, bs).toArray(ValueLayout.JAVA_BYTE));
        try {
            MetaBlockLayout.verify(s, logStart + which, MetaType.LOG_HEADER, 0, sb.uuid());
        } catch (CorruptMetadataException e) {
            return null;
        }
        return new long[] {s.get(U64, H_GEN), s.get(U64, H_TAIL_SEQ), s.get(U64, H_TAIL_POS), s.get(U64, H_LOG_ID)};
    }

    private void writeHeader(long seq, long pos) throws IOException {
        headerGen++;
        int which = (int) (headerGen & 1);
        io.write((logStart + which) * bs, headerBlock(sb, which, headerGen, seq, pos, logId), IoRequest.FUA);
    }

    // ------------------------------------------------------------------ handles

    public void space(MetaSpace s) { this.space = s; }
    public Superblock superblock() { return sb; }
    public ReentrantLock lock() { return lock; }

    /** The most distinct blocks one transaction may hold (a quarter of the log's record area). */
    public long maxTransactionBlocks() { return area / 4; }

    /** Records needed to log {@code n} images: the images plus their descriptors. */
    private long recordBlocks(long n) {
        // (+1: logged data blocks start records of their own after the metadata's)
        long records = (n + perDescriptor - 1) / perDescriptor + 1;
        // a delta record of whole images: each entry costs 12 bytes more than its image
        long entryOverhead = deltaRecords ? (12L * perDescriptor + bs - 1) / bs : 0;
        return n + records * (1 + entryOverhead) + 2;
    }

    /** Data dependencies one record's dependency block holds. */
    private int depsPerBlock() { return (bs - 8) / 16; }

    /**
     * Starts a handle that may change up to {@code reserveBlocks} distinct blocks. Takes the
     * journal's lock (held until the handle commits or aborts); makes room in the log first.
     */
    public Handle begin(int reserveBlocks) throws IOException {
        if (reserveBlocks < 1 || reserveBlocks > maxTransactionBlocks())
            throw new IllegalArgumentException("reserveBlocks (" + reserveBlocks + ") must be in [1, "
                    + maxTransactionBlocks() + "] for a journal of " + logBlocks + " blocks");
        lock.lock();
        try {
            if (closed) throw new IOException("journal of " + dev.describe() + " is closed");
            if (active != null) throw new IllegalStateException("a handle is already active on this thread: " + active);
            // A commit's I/O runs without the lock: other handles may fill the transaction or the
            // log meanwhile, so check again after each.
            while (true) {
                long runningBlocks = running.size() + runningDataBlocks;
                if (runningBlocks + reserveBlocks > maxTransactionBlocks()) {
                    commitLocked();
                } else if (usedBlocks + 2 * recordBlocks(runningBlocks + reserveBlocks) > area) {
                    // Threads that queued here meanwhile find the log emptied by the first one's
                    // checkpoint: each checks again after its commit, or one full log would cost a
                    // checkpoint per waiting thread.
                    commitLocked();
                    if (usedBlocks + 2 * recordBlocks(running.size() + runningDataBlocks + reserveBlocks) > area) checkpointLocked();
                } else {
                    break;
                }
            }
            active = new Handle(reserveBlocks);
            handles++;
            return active;
        } catch (IOException | RuntimeException e) {
            lock.unlock();
            throw e;
        }
    }

    /** The handle this thread holds, if any (for code that nests within an operation). */
    public Handle active() {
        return lock.isHeldByCurrentThread() ? active : null;
    }

    /** One file system operation's changes: see {@link Journal}. */
    public final class Handle implements Txn, AutoCloseable {
        private final int reserve;
        private final Map<Long, Before> undo = new HashMap<>();   // blkno -> its state before this handle changed it
        private int added;
        private final List<Runnable> committed = new ArrayList<>(), checkpointed = new ArrayList<>(), aborted = new ArrayList<>();
        private boolean done;
        private boolean exposureDeclared;
        private final List<long[]> deps = new ArrayList<>(1);
        private List<DataEntry> data;
        private int dataBlocks;

        private Handle(int reserve) { this.reserve = reserve; }

        @Override public Superblock superblock() { return sb; }
        @Override public int blockSize() { return bs; }
        @Override public java.util.UUID volumeUuid() { return sb.uuid(); }

        @Override
        public MetaBlock read(long blkno, MetaType type, long owner) throws IOException {
            check();
            handleReads++;
            if (blkno < 0 || blkno >= sb.totalBlocks())
                throw MetaBlockLayout.corrupt(blkno, type, "block number is beyond the end of the volume (" + sb.totalBlocks() + " blocks)");
            Buf b = cache.get(blkno);
            byte[] img;
            if (b == null) {
                img = MetaBlock.copyOf(io.read(blkno * bs, bs));
                MetaBlockLayout.verify(MemorySegment.ofArray(img), blkno, type, owner, sb.uuid());
                b = new Buf();
                b.cur(img);
                cache.put(blkno, b);
                evict();
                return b.shared(blkno);
            }
            // The cached image itself, read-only (copied by the caller's first change: cached
            // images are never changed in place). Cached images were checksummed when read or
            // stamped when written: check what the caller expects (type, owner), not the CRC again.
            MetaBlock mb = b.shared(blkno);
            MetaBlockLayout.verifyIdentity(mb.view(), blkno, type, owner, sb.uuid());
            return mb;
        }

        @Override
        public MetaBlock allocate(MetaType type, long owner) throws IOException {
            check();
            if (readOnly) throw refused("allocation of a " + type.name() + " block");
            long b = space.allocMeta(this, type, owner);
            MemorySegment seg = MemorySegment.ofArray(new byte[bs]);
            MetaBlockLayout.init(seg, type, b, owner, sb.uuid());
            return new MetaBlock(b, seg);
        }

        @Override
        public void write(MetaBlock block) throws IOException {
            check();
            handleWrites++;
            if (readOnly) throw refused("change of metadata block " + block.blkno());
            long blkno = block.blkno();
            if (block.size() != bs) throw new IllegalArgumentException("block " + blkno + " is " + block.size() + " bytes, not " + bs);
            if (blkno < 0 || blkno >= sb.totalBlocks())
                throw new IllegalArgumentException("block " + blkno + " is beyond the end of the volume (" + sb.totalBlocks() + " blocks)");
            if (blkno >= logStart && blkno < logStart + logBlocks)
                throw new IllegalArgumentException("block " + blkno + " lies in the journal [" + logStart + ", +" + logBlocks + ")");
            touch(blkno);
            running.add(blkno);   // again, if this handle freed the block earlier (free takes it out)
            MetaBlockLayout.stampCrc(block.segment());
            Buf b = cache.get(blkno);
            if (b == null) { b = new Buf(); cache.put(blkno, b); }
            byte[] img = block.share();   // the block's own buffer becomes the image (the block turns copy-on-write)
            b.cur(img != null ? img : MetaBlock.copyOf(block.view()));
        }

        @Override
        public void free(long blkno) throws IOException {
            check();
            if (readOnly) throw refused("free of metadata block " + blkno);
            Buf b = cache.get(blkno);
            int magic = b == null ? 0 : MemorySegment.ofArray(b.cur).get(U32, 0);
            touch(blkno);
            cache.remove(blkno);
            checkpointDirty.remove(blkno);
            running.remove(blkno);
            space.freeMeta(this, blkno, magic == 0 ? MetaType.of("????", "unknown block") : typeOf(magic));
        }

        /** Remembers the before-state of {@code blkno} the first time this handle changes it. */
        private void touch(long blkno) {
            if (undo.containsKey(blkno)) return;
            Buf b = cache.get(blkno);
            boolean wasRunning = running.contains(blkno);
            if (!wasRunning) {
                if (added + dataBlocks + 1 > reserve)
                    throw new IllegalStateException("handle changed more than its reservation of " + reserve
                            + " blocks (block " + blkno + "): the operation is aborted, nothing was changed");
                added++;
                running.add(blkno);
            }
            undo.put(blkno, new Before(b == null ? null : b.cur, b == null ? null : b.logged, wasRunning,
                    checkpointDirty.contains(blkno)));
        }

        /**
         * Blocks this handle may still add to the running transaction ({@code reserve} minus the
         * distinct blocks it changed that were not already in it): operations that loop inside one
         * handle take another bounded step only while its worst case still fits.
         */
        public int reserveLeft() { return reserve - added - dataBlocks; }

        /**
         * Declares that this handle exposes no file data: it maps no blocks into a file and moves
         * no size over data (a staging allocation, a namespace change). Its commit needs no
         * PREFLUSH for it.
         */
        public void exposesNoData() { exposureDeclared = true; }

        /**
         * Declares that the file data this handle exposes is exactly device blocks
         * {@code [blkno, blkno + count)}, written (completed) before this handle, holding data whose
         * CRC32C is {@code crc}; may be called for several ranges. Without another undeclared
         * handle in the transaction, its commit needs no PREFLUSH on a volatile cache: the record
         * lists the ranges, and recovery replays the log's last transaction only when they hold that
         * data (an earlier one's data was made durable by the post-flush that ended its commit, which came
         * before any later commit). Blocks listed may not be written in place before
         * {@link Journal#barrier()} says so ({@link Journal#dependsOn}).
         */
        public void dataDependency(long blkno, long count, int crc) {
            check();
            if (count < 1 || blkno < 0 || blkno + count > sb.totalBlocks())
                throw new IllegalArgumentException("data dependency [" + blkno + ", +" + count + ") is not inside the volume");
            exposureDeclared = true;
            deps.add(new long[] {blkno, count, crc & 0xffffffffL});
        }

        /**
         * Logs file data: device blocks {@code [blkno, blkno + n)} get the content of {@code segs}
         * (whole blocks, {@code n} in all, in order), written into this handle's commit record and
         * home after that commit is durable, so the blocks change all at once (an untorn
         * overwrite of blocks a file already owns, written and unshared). The segments must stay
         * unchanged until {@code done} runs: after the home write {@code (null, true)}; with a
         * failure: {@code (e, false)} when the commit failed (the data may not be durable), {@code
         * (e, true)} when the home write did (the log holds the data: recovery writes it); never if the handle aborts (its caller's failure
         * path owns them then). The blocks count against the reservation. Until the log's tail
         * passes the record, the blocks may not be written in place by anything else
         * ({@link Journal#loggedDataOverlaps}) and are busy when freed.
         */
        public void logData(long blkno, MemorySegment[] segs, java.util.function.BiConsumer<Throwable, Boolean> done) throws IOException {
            check();
            if (readOnly) throw refused("logged write of block " + blkno);
            long bytes = 0;
            for (MemorySegment m : segs) {
                if (m.byteSize() == 0 || m.byteSize() % bs != 0)
                    throw new IllegalArgumentException("logged data segment of " + m.byteSize() + " bytes is not whole " + bs + "-byte blocks");
                bytes += m.byteSize();
            }
            int n = (int) (bytes / bs);
            if (n < 1 || blkno < 0 || blkno + n > sb.totalBlocks())
                throw new IllegalArgumentException("logged data [" + blkno + ", +" + n + ") is not inside the volume ("
                        + sb.totalBlocks() + " blocks)");
            if (blkno < logStart + logBlocks && blkno + n > logStart)
                throw new IllegalArgumentException("logged data [" + blkno + ", +" + n + ") overlaps the journal [" + logStart + ", +" + logBlocks + ")");
            if (added + dataBlocks + n > reserve)
                throw new IllegalStateException("handle logs more than its reservation of " + reserve + " blocks (data [" + blkno
                        + ", +" + n + ")): the operation is aborted, nothing was changed");
            if (data == null) data = new ArrayList<>(1);
            data.add(new DataEntry(blkno, segs.clone(), n, done));
            dataBlocks += n;
            exposureDeclared = true;   // the data is in the record itself: nothing it exposes needs a flush first
        }

        @Override public void onCommitted(Runnable r) { committed.add(r); }
        @Override public void onCheckpointed(Runnable r) { checkpointed.add(r); }
        @Override public void onAbort(Runnable r) { aborted.add(r); }

        /** Ends the handle: its changes join the running transaction (durable at the next commit). */
        public void commit() throws IOException {
            check();
            done = true;
            active = null;
            try {
                if (!exposureDeclared && !undo.isEmpty()) runningPreflush = true;
                if (!deps.isEmpty()) {
                    runningDeps.addAll(deps);
                    depsLive = true;
                }
                if (data != null && (commitFailure != null || closed)) {   // never to be committed: tell the owners now
                    IOException f = commitFailure != null ? commitFailure : new IOException("journal of " + dev.describe() + " is closed");
                    for (DataEntry e : data) e.done().accept(f, false);
                } else if (data != null) {
                    for (DataEntry e : data) for (int k = 0; k < e.blocks(); k++) loggedData.add(e.blkno() + k);
                    runningData.addAll(data);
                    runningDataBlocks += dataBlocks;
                    loggedDataLive = true;
                }
                runningCommitted.addAll(committed);
                runningCheckpointed.addAll(checkpointed);
                if (++joinedSince >= releasedLast && rejoinWaiting) logWork.signal();
                if (running.size() + runningDataBlocks >= maxTransactionBlocks()) commitLocked();
            } finally {
                lock.unlock();
            }
        }

        /** Undoes every change of this handle and ends it. */
        public void abort() {
            if (done) return;
            done = true;
            active = null;
            try {
                for (var e : undo.entrySet()) {
                    long blkno = e.getKey();
                    Before p = e.getValue();
                    if (p.cur == null) cache.remove(blkno);
                    else {
                        Buf b = cache.get(blkno);
                        if (b == null) { b = new Buf(); cache.put(blkno, b); }
                        b.cur(p.cur);
                        b.logged = p.logged;
                    }
                    if (!p.running) running.remove(blkno); else running.add(blkno);
                    if (p.ckpt) checkpointDirty.add(blkno); else checkpointDirty.remove(blkno);
                }
                for (Runnable r : aborted) r.run();
            } finally {
                lock.unlock();
            }
        }

        /** Aborts unless committed: {@code try (var h = journal.begin(n)) { ...; h.commit(); }}. */
        @Override
        public void close() { abort(); }

        private void check() {
            if (done) throw new IllegalStateException("handle already ended");
            if (!lock.isHeldByCurrentThread()) throw new IllegalStateException("handle used from another thread");
        }

        @Override public String toString() { return "Handle[reserve " + reserve + ", changed " + undo.size() + "]"; }
    }

    private ReadOnlyVolumeException refused(String what) {
        return new ReadOnlyVolumeException(dev.describe(), what + " refused: the volume is mounted read-only");
    }

    private record Before(byte[] cur, byte[] logged, boolean running, boolean ckpt) {}

    private static final Map<Integer, MetaType> TYPES = new HashMap<>();
    static {
        for (MetaType t : List.of(MetaType.FREE_BY_BLOCK, MetaType.FREE_BY_SIZE, MetaType.INODE_BTREE, MetaType.EXTENT_BTREE,
                MetaType.REFCOUNT_BTREE, MetaType.DIR_BTREE, MetaType.XATTR, MetaType.SYMLINK, AgHeader.TYPE))
            TYPES.put(t.magic(), t);
    }

    private static MetaType typeOf(int magic) {
        MetaType t = TYPES.get(magic);
        return t != null ? t : new MetaType(magic, "block with magic " + MetaType.describeMagic(magic));
    }

    private void evict() {
        if (cache.size() <= cacheBlocks) return;
        Iterator<Map.Entry<Long, Buf>> it = cache.entrySet().iterator();
        while (cache.size() > cacheBlocks && it.hasNext()) {
            var e = it.next();
            long blkno = e.getKey();
            if (running.contains(blkno) || checkpointDirty.contains(blkno)) continue;
            if (active != null && active.undo.containsKey(blkno)) continue;
            it.remove();
        }
    }

    // ------------------------------------------------------------------ commit and checkpoint

    /**
     * Makes every finished handle durable: commits the running transaction and waits for it.
     * Returns true when a commit gathered after this call made them durable (its PREFLUSH, issued
     * after the gather, also made every write that completed before this call durable); false when
     * there was nothing to commit, or only a commit already in flight held them (then the caller
     * must flush for its data: that commit's PREFLUSH may have come before it).
     *
     * <p>Group commit: the log I/O runs without the journal lock, so handles go on meanwhile, and
     * every force that arrives while a commit is in flight is served by the next one, which one of
     * them leads.
     */
    public boolean force() throws IOException {
        lock.lock();
        try {
            if (active != null && lock.getHoldCount() > 1)
                throw new IllegalStateException("force() inside an active handle");
            if (nothingRunning()) {
                // What finished before this call may be in the commit in flight: commitLocked waits
                // for it, then has nothing to log (it runs the callbacks of handles that changed nothing).
                commitLocked();
                return false;
            }
            long target = gathered + 1;   // the next gather takes everything finished before this call
            while (durable < target) {
                if (commitFailure != null) throw commitFailure;
                if (!committing) commitLocked();
                else commitEnded.awaitUninterruptibly();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@link #force} for a caller whose data was complete before the handles that expose it
     * committed, and that called after them (an atomic write's remap): waits until the commit
     * holding the newest handle finished before this call is durable, committing if that is the
     * running transaction. A commit already in flight counts (force would have the caller
     * flush): it was gathered after those handles, hence after the data completed, and its PREFLUSH
     * (issued with its first write) or post-flush (after its last) comes after that.
     */
    public void forceCommitted() throws IOException {
        SyncWaiter w = null;
        lock.lock();
        try {
            if (active != null && lock.getHoldCount() > 1)
                throw new IllegalStateException("forceCommitted() inside an active handle");
            long target = commitOfFinishedHandles();
            if (durable < target && committing && commitFailure == null && !closed) {
                // A commit is in flight: the log thread leads the next one as soon as it ends (no
                // waiter has to wake up and take the lock to lead it); this thread sleeps, without
                // the lock, until the commit it needs releases it (no wake-up at every commit).
                w = new SyncWaiter(Thread.currentThread());
                waitFor(target, w::release);
            } else {
                while (durable < target) {
                    if (commitFailure != null) throw commitFailure;
                    if (!committing) commitLocked();
                    else commitEnded.awaitUninterruptibly();
                }
                if (commitFailure != null) throw commitFailure;
            }
        } finally {
            lock.unlock();
        }
        if (w != null) w.await();
    }

    /** A synchronous thread waiting for a commit ({@link #forceCommitted}): parked until released. */
    private static final class SyncWaiter {
        private final Thread thread;
        private volatile boolean released;
        private IOException outcome;   // written before released, read after

        SyncWaiter(Thread thread) { this.thread = thread; }

        void release(IOException e) {
            outcome = e;
            released = true;
            java.util.concurrent.locks.LockSupport.unpark(thread);
        }

        void await() throws IOException {
            boolean interrupted = false;
            while (!released) {
                java.util.concurrent.locks.LockSupport.park(this);
                if (Thread.interrupted()) interrupted = true;   // the commit goes on regardless
            }
            if (interrupted) Thread.currentThread().interrupt();
            if (outcome != null) throw outcome;
        }
    }

    /**
     * Under the lock: the number of the commit that holds every handle finished so far (the
     * running transaction's, gathered next, or when nothing runs the last one gathered).
     */
    private long commitOfFinishedHandles() { return nothingRunning() ? gathered : gathered + 1; }

    /** No finished handle waits for a commit: no changed block, no logged data. */
    private boolean nothingRunning() { return running.isEmpty() && runningData.isEmpty(); }

    /** Under the lock: queues a waiter for commit {@code target} and has the log thread commit for it. */
    private void waitFor(long target, java.util.function.Consumer<IOException> done) {
        waiters.add(new Waiter(target, done));
        if (target > wanted) wanted = target;
        if (logThread == null) logThread = Thread.ofPlatform().daemon().name("foliofs-log " + dev.describe()).start(this::logLoop);
        logWork.signal();
    }

    /**
     * {@link #forceCommitted} without a thread waiting: {@code done} runs once the commit holding
     * the newest handle finished before this call is durable (with null), or the journal failed
     * or closed first (with the failure). It runs on the thread that ended that commit (after it
     * dropped the journal lock, or under the lock when that thread held it more than once or the
     * commit failed), or on this thread when nothing is left to wait for: it must only hand off
     * (no blocking, no journal calls). The commits are led by the journal's log thread, back to
     * back while waiters need them; synchronous forces still lead their own commit when none is
     * in flight.
     */
    public void forceCommittedAsync(java.util.function.Consumer<IOException> done) {
        IOException now = null;
        lock.lock();
        try {
            if (closed) {
                now = new IOException("journal of " + dev.describe() + " is closed");
            } else if (commitFailure != null) {
                now = commitFailure;
            } else {
                long target = commitOfFinishedHandles();
                if (durable < target) {
                    waitFor(target, done);
                    return;
                }
            }
        } finally {
            lock.unlock();
        }
        done.accept(now);
    }

    /** The log thread: commits while an asynchronous waiter needs a commit not yet gathered. */
    private void logLoop() {
        lock.lock();
        try {
            while (true) {
                while (!closed && commitFailure == null && (wanted <= gathered || committing)) logWork.awaitUninterruptibly();
                if (closed || commitFailure != null) {
                    if (commitFailure != null) failWaiters(commitFailure);   // none may be left unanswered
                    return;
                }
                try {
                    if (nothingRunning()) {   // cannot happen (a waiter's handles are running or gathered): end them anyway
                        wanted = gathered;
                        releaseWaiters();
                        continue;
                    }
                    awaitRejoin();
                    commitLocked();
                } catch (IOException | RuntimeException e) {
                    // commitFailure is set (the waiters were failed with it), or the journal closed
                    if (commitFailure == null && !closed) failWaiters(new IOException("journal commit on " + dev.describe() + " failed: " + e, e));
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Probe toggle: 0 turns {@link #awaitRejoin} off. */
    static volatile int rejoinToggle = 50;
    /** Waiters the last commit released; handles finished since (see {@link #awaitRejoin}); the last commit's I/O time. */
    private int releasedLast, joinedSince;
    private long lastCommitNanos;
    private boolean rejoinWaiting;

    /**
     * The log thread, before it leads a commit: the writers the previous commit released come back
     * with their next handle within a fraction of a commit (a logged write: a copy and a handle),
     * so it waits for as many handles as it released, at most half the previous commit's I/O time
     * (1 ms at most), and all of them share this commit instead of half of them waiting for the
     * next (two cohorts alternating, each commit half full).
     */
    private void awaitRejoin() {
        if (rejoinToggle == 0 || releasedLast <= 0 || lastCommitNanos <= 0) return;
        long deadline = System.nanoTime() + Math.min(lastCommitNanos * rejoinToggle / 100, 1_000_000);
        rejoinWaiting = true;
        try {
            while (joinedSince < releasedLast && !closed && commitFailure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                logWork.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            rejoinWaiting = false;
        }
    }

    /** Under the lock, after a commit ended: runs the waiters it made durable (all of them, failed, if it failed). */
    private void releaseWaiters() {
        if (commitFailure != null) { failWaiters(commitFailure); return; }
        for (Waiter w : takeReleased()) w.done().accept(null);
    }

    private void failWaiters(IOException e) {
        while (!waiters.isEmpty()) waiters.pollFirst().done().accept(e);
        commitEnded.signalAll();   // synchronous waiters check their outcome
    }

    /**
     * Whether device blocks {@code [blkno, blkno + count)} overlap a data dependency that recovery
     * may still check (running, committing, or the newest durable commit's): such blocks must not
     * be written in place before {@link #barrier()}. Cheap when there are none.
     */
    public boolean dependsOn(long blkno, long count) {
        // Without the lock first: a dependency on blocks a caller maps in place was registered
        // (under the lock) before the caller's mapping lookup (under the lock) found them.
        if (!depsLive) return false;
        lock.lock();
        try {
            return overlaps(runningDeps, blkno, count) || overlaps(committingDeps, blkno, count) || overlaps(lastDeps, blkno, count);
        } finally {
            lock.unlock();
        }
    }

    private static boolean overlaps(List<long[]> deps, long blkno, long count) {
        for (long[] d : deps) if (d[0] < blkno + count && blkno < d[0] + d[1]) return true;
        return false;
    }

    /**
     * Makes every transaction with data dependencies durable and not the log's last (a commit, then
     * a record without images if needed): afterwards their blocks may be overwritten in place
     * without recovery mistaking the new data for a torn commit. Call without a handle.
     */
    public void barrier() throws IOException {
        lock.lock();
        try {
            if (active != null && lock.getHoldCount() > 1) throw new IllegalStateException("barrier() inside an active handle");
            commitLocked();
            commitLocked(true);
        } finally {
            lock.unlock();
        }
    }

    /** Waits (releasing the lock) until no commit's log I/O is in flight; throws a commit's failure. */
    private void awaitCommit() throws IOException {
        while (committing) commitEnded.awaitUninterruptibly();
        if (commitFailure == null) {   // a failed home write of logged data: the journal stops (recovery writes it)
            synchronized (homeLock) { if (homeFailure != null) commitFailure = homeFailure; }
            // and so does every waiter: the log thread exits on a failure, and a waiter left
            // queued would never be answered (a handed-off DSYNC writer hung after a power cut)
            if (commitFailure != null) failWaiters(commitFailure);
        }
        if (commitFailure != null) {
            failRunningData(commitFailure);
            throw commitFailure;
        }
    }

    /** Under the lock: the running transaction's logged data will never be committed: tells its owners. */
    private void failRunningData(IOException e) {
        List<DataEntry> data = runningData;
        if (data.isEmpty()) return;
        runningData = new ArrayList<>();
        runningDataBlocks = 0;
        for (DataEntry d : data) d.done().accept(e, false);
    }

    /** Under the lock: counts {@code data}'s home writes as pending (a checkpoint waits for them, then flushes). */
    private void countDataHome(List<DataEntry> data) {
        if (data.isEmpty()) return;
        synchronized (homeLock) { homePending += data.size(); }
        dataHomeUnflushed = true;
    }

    /**
     * After the commit holding {@code data} is durable: writes each entry home from its segments
     * (one request each, asynchronously), once {@link #countDataHome} counted them; each
     * completion tells the entry's owner. A checkpoint waits for these writes before it moves
     * the tail past their record.
     */
    private void submitDataHome(List<DataEntry> data) {
        for (DataEntry e : data) {
            IoRequest r = new IoRequest().prepare(org.foliofs.device.IoOp.WRITE, e.blkno() * bs, 0, (req, result) -> {
                Throwable t = null;
                if (result < 0) t = req.error();
                else if (result != req.length())
                    t = new IOException("short home write of logged data: " + result + " of " + req.length() + " bytes at offset "
                            + req.offset() + " on " + dev.describe());
                homeWritten(e, t);
            });
            for (MemorySegment m : e.segs()) r.add(m);
            try {
                dev.submit(r);
            } catch (RuntimeException x) {   // rejected: never queued
                homeWritten(e, x);
            }
        }
    }

    private void homeWritten(DataEntry e, Throwable t) {
        try {
            if (t != null) {
                synchronized (homeLock) {
                    if (homeFailure == null)
                        homeFailure = new IOException("journal of " + dev.describe() + ": writing logged data home to [" + e.blkno()
                                + ", +" + e.blocks() + ") failed (the log keeps it: remount to have recovery write it): " + t, t);
                }
            }
            e.done().accept(t, true);
        } finally {
            synchronized (homeLock) {
                if (--homePending == 0) homeLock.notifyAll();
            }
        }
    }

    /** Waits until every home write of logged data has completed; throws the first that failed. */
    private void awaitDataHome() throws IOException {
        synchronized (homeLock) {
            boolean interrupted = false;
            while (homePending > 0) {
                try {
                    homeLock.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            if (homeFailure != null) throw homeFailure;
        }
    }

    /**
     * Whether device blocks {@code [blkno, blkno + count)} hold logged data the log may still
     * replay ({@link Handle#logData}, since the tail, or running). A write in place must then
     * first have the journal {@link #checkpointLoggedData checkpoint}; a free keeps them busy until
     * one. Cheap when there are none.
     */
    public boolean loggedDataOverlaps(long blkno, long count) {
        if (!loggedDataLive) return false;
        lock.lock();
        try {
            if (count > loggedData.size()) {
                for (long b : loggedData) if (b >= blkno && b < blkno + count) return true;
                return false;
            }
            for (long b = blkno; b < blkno + count; b++) if (loggedData.contains(b)) return true;
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A checkpoint for a write in place over logged data: afterwards no record the log may replay
     * holds data for the blocks (unless a logged write joined meanwhile: that one is newer).
     * Call without a handle.
     */
    public void checkpointLoggedData() throws IOException {
        lock.lock();
        try {
            if (active != null && lock.getHoldCount() > 1) throw new IllegalStateException("checkpoint inside an active handle");
            dataCheckpoints++;
            commitLocked();
            checkpointLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Commits and checkpoints: afterwards the log is empty and every block is home. */
    public void checkpoint() throws IOException {
        lock.lock();
        try {
            commitLocked();
            checkpointLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Commits the running transaction (called with the lock held, no handle active): waits for a
     * commit in flight, gathers the running blocks into log records (all bookkeeping under the
     * lock), then writes them with the lock released when the caller holds it once (handles go on
     * meanwhile; a checkpoint or the next commit waits for this one), and runs the committed
     * callbacks after the I/O.
     */
    private void commitLocked() throws IOException { commitLocked(false); }

    /**
     * {@code barrier}: with nothing running, still write a record (no images) when the newest
     * durable commit has data dependencies, so that it is no longer the log's last transaction.
     */
    private void commitLocked(boolean barrier) throws IOException {
        awaitCommit();
        if (readOnly && !running.isEmpty())   // handles refuse every change, so this cannot happen
            throw new IllegalStateException("read-only journal of " + dev.describe() + " has " + running.size() + " changed blocks");
        if (nothingRunning() && !(barrier && !lastDeps.isEmpty())) {
            runAll(runningCommitted);
            runningCommitted = new ArrayList<>();
            pendingCheckpointed.addAll(runningCheckpointed);
            runningCheckpointed = new ArrayList<>();
            return;
        }
        // Worst case: the record chain plus the end of the area skipped by a wrap. Checkpointing
        // writes only committed images home, so it is safe with a running transaction.
        if (usedBlocks + 2 * recordBlocks(running.size() + runningDataBlocks) > area) checkpointLocked();
        // Metadata blocks first, then the logged data blocks (whole images from their segments).
        int nMeta = running.size(), nData = runningDataBlocks;
        long[] blknos = new long[nMeta + nData];
        int bi = 0;
        for (long b : running) blknos[bi++] = b;
        List<DataEntry> data = runningData;
        MemorySegment[] dataSegs = new MemorySegment[nData];
        for (DataEntry e : data) {
            long blk = e.blkno();
            for (MemorySegment m : e.segs())
                for (long off = 0; off < m.byteSize(); off += bs) {
                    dataSegs[bi - nMeta] = m.asSlice(off, bs);
                    blknos[bi++] = blk++;
                }
        }
        runningData = new ArrayList<>();
        runningDataBlocks = 0;
        // Without PREFLUSH: every handle declared the data it exposes (none, or checksummed
        // ranges that fit one block), and the device has a volatile cache (else PREFLUSH and FUA
        // cost nothing). The records go down plain; the last write carries POSTFLUSH.
        boolean depsMode = !runningPreflush && dev.volatileWriteCache() && runningDeps.size() <= depsPerBlock();
        List<long[]> deps = depsMode ? runningDeps : List.of();
        runningDeps = new ArrayList<>();
        runningPreflush = false;
        // Records: the metadata blocks' (delta records on log-delta volumes), then the logged
        // data blocks' in records of their own, whole images (no per-entry overhead).
        int metaRecords = (nMeta + perDescriptor - 1) / perDescriptor, dataRecords = (nData + perDescriptor - 1) / perDescriptor;
        int records = Math.max(1, metaRecords + dataRecords);
        int[] recFrom = new int[records], recN = new int[records];
        boolean[] recDelta = new boolean[records];
        for (int r = 0; r < records; r++) {
            boolean meta = r < metaRecords || metaRecords + dataRecords == 0;
            recFrom[r] = meta ? r * perDescriptor : nMeta + (r - metaRecords) * perDescriptor;
            recN[r] = Math.min(perDescriptor, (meta ? nMeta : blknos.length) - recFrom[r]);
            recDelta[r] = meta && deltaRecords;
        }
        long[] at = new long[records], seqs = new long[records];   // log block and sequence of each record
        // The images as of this gather (cached images are never changed in place: a later handle
        // replaces the array), so the records are built after the lock is released.
        // Delta records: each block's changed ranges against its image in the log's previous record
        // (`logged`, which replay will have rebuilt by then), or the whole block when it has none
        // since the last checkpoint: replay never needs the home location's content.
        byte[][] imgs = new byte[nMeta][];
        int[][] ranges = deltaRecords ? new int[nMeta][] : null;
        for (int i = 0; i < nMeta; i++) {
            Buf b = cache.get(blknos[i]);
            imgs[i] = b.cur;
            if (ranges != null) ranges[i] = changedRanges(b.logged, imgs[i]);
        }
        int[] body = new int[records];   // blocks after each record's descriptor, without the dependency block
        for (int r = 0; r < records; r++) {
            body[r] = recDelta[r] ? payloadBlocks(ranges, recFrom[r], recN[r]) : recN[r];
            int extra = r == records - 1 && !deps.isEmpty() ? 1 : 0;   // the dependency block
            long pos = headPos;
            if (pos + 1 + body[r] + extra > logBlocks) {      // does not fit before the end: wrap
                usedBlocks += logBlocks - pos;
                pos = FIRST_RECORD;
            }
            at[r] = pos;
            seqs[r] = headSeq;
            headSeq++;
            headPos = pos + 1 + body[r] + extra;
            if (headPos >= logBlocks) headPos = FIRST_RECORD;
            usedBlocks += 1 + body[r] + extra;
            logBlocksWritten += 1 + body[r] + extra;
        }
        // Committed images: a checkpoint (which waits for this commit's I/O) writes them home.
        for (int i = 0; i < nMeta; i++) {
            Buf b = cache.get(blknos[i]);
            b.logged = b.cur;
            checkpointDirty.add(blknos[i]);
        }
        running.clear();
        long g = ++gathered;
        blocksLogged += nMeta;
        dataBlocksLogged += nData;
        List<Runnable> done = runningCommitted;
        runningCommitted = new ArrayList<>();
        pendingCheckpointed.addAll(runningCheckpointed);
        runningCheckpointed = new ArrayList<>();
        committingDeps = deps;
        committing = true;
        boolean unlocked = lock.getHoldCount() == 1;
        if (unlocked) lock.unlock();
        IOException failure = null;
        long ioStart = System.nanoTime();
        try {
            boolean first = true;
            for (int r = 0; r < records; r++) {
                int from = recFrom[r], n = recN[r];
                int extra = r == records - 1 && !deps.isEmpty() ? 1 : 0;   // the dependency block
                int recBytes = (body[r] + 1 + extra) * bs;
                long pos = at[r];
                // A record that fits the commit buffer is built in it (no heap copy); a larger one
                // is built on the heap and written in pieces.
                boolean direct = recBytes <= IO_CHUNK;
                MemorySegment rs = direct ? commitIo.buffer(recBytes) : MemorySegment.ofArray(new byte[recBytes]);
                buildRecord(rs, from, n, body[r], extra, r < records - 1, blknos, imgs, dataSegs, recDelta[r] ? ranges : null, deps, at[r], seqs[r]);
                for (int off = 0; off < recBytes; off += IO_CHUNK) {
                    int len = Math.min(IO_CHUNK, recBytes - off);
                    boolean last = r == records - 1 && off + len == recBytes;
                    // depsMode: the records are written one after the other, each completed before
                    // the next, so the last one's post-flush makes them all durable, with every data
                    // write completed before the commit (what a separate FLUSH did, one request less).
                    int flags = depsMode ? (last ? IoRequest.POSTFLUSH : 0)
                            : IoRequest.FUA | (first ? IoRequest.PREFLUSH : 0);
                    first = false;
                    if (direct) commitIo.writeBuffer((logStart + pos) * bs, len, flags);
                    else commitIo.write((logStart + pos) * bs + off, rs.asSlice(off, len), flags);
                }
            }
        } catch (IOException e) {
            failure = e;
        } catch (RuntimeException e) {
            failure = new IOException("journal commit on " + dev.describe() + " failed: " + e, e);
        } finally {
            if (unlocked) lock.lock();
            committing = false;
            if (failure != null && commitFailure == null)
                commitFailure = new IOException("journal of " + dev.describe() + " failed writing a commit (the volume must be"
                        + " remounted; recovery replays what was durable): " + failure.getMessage(), failure);
            if (failure == null) {
                durable = g;
                commits++;
                lastCommitNanos = System.nanoTime() - ioStart;
                lastDeps = committingDeps;   // this commit is now the log's newest: the one recovery checks
            }
            committingDeps = List.of();
            updateDepsLive();
            commitEnded.signalAll();
            if (failure != null) releaseWaiters();
        }
        if (failure != null) {
            for (DataEntry e : data) e.done().accept(commitFailure, false);
            throw commitFailure;
        }
        // Durable in the log now: home may change (a torn home write is replayed whole).
        countDataHome(data);
        if (!unlocked || outsideToggle == 0 || commitFailure != null) {
            submitDataHome(data);
            runAll(done);
            releaseWaiters();   // after the commit's callbacks, as a synchronous force returns after them
            return;
        }
        // The home writes' submission and the waiters' callbacks (a wake-up each) run without the
        // lock, so the handles of the writers coming back do not wait behind them. What must hold
        // under the lock does: the home writes count as pending (a checkpoint waits for them from
        // now on), the commit's callbacks ran, the waiters to release are taken in order.
        runAll(done);
        List<Waiter> released = takeReleased();
        lock.unlock();
        try {
            Runnable hook = afterCommitUnlock;
            if (hook != null) hook.run();
            submitDataHome(data);
            for (Waiter w : released) w.done().accept(null);
        } finally {
            lock.lock();
        }
    }

    /** A/B switch of the probe (scripts/atomic-probe): 0 releases the waiters under the journal lock. */
    static int outsideToggle = 1;
    /** Test hook: runs after a commit dropped the lock, before its home writes are submitted. */
    static volatile Runnable afterCommitUnlock;

    /** {@link #releaseWaiters} without running the callbacks: returns the waiters to release, in order (the caller runs them). */
    private List<Waiter> takeReleased() {
        List<Waiter> out = new ArrayList<>();
        while (!waiters.isEmpty() && waiters.peekFirst().target() <= durable) out.add(waiters.pollFirst());
        if (!out.isEmpty()) {
            releasedLast = out.size();
            joinedSince = 0;
        }
        if (wanted > gathered) logWork.signal();   // more to commit: the log thread goes on at once
        return out;
    }

    /**
     * One record of a commit, built into {@code rs} (exactly its size): its descriptor (sequence,
     * the {@code n} block numbers from {@code from}, flags, CRC32C of the rest), the images of its
     * blocks, and with {@code extra} the dependency block after them. Reads only what the gather
     * captured (no journal state): runs without the lock.
     */
    private void buildRecord(MemorySegment rs, int from, int n, int body, int extra, boolean more, long[] blknos, byte[][] imgs,
                             MemorySegment[] dataSegs, int[][] ranges, List<long[]> deps, long pos, long seq) {
        if (ranges == null) {
            for (int i = 0; i < n; i++) {
                int k = from + i;
                if (k < imgs.length) MemorySegment.copy(imgs[k], 0, rs, ValueLayout.JAVA_BYTE, (long) (i + 1) * bs, bs);
                else MemorySegment.copy(dataSegs[k - imgs.length], 0, rs, (long) (i + 1) * bs, bs);
            }
        } else {
            // Entries, one per block: u32 range count, then per range u32 offset, u32 length, the bytes.
            MemorySegment p = rs.asSlice(bs, (long) body * bs);
            long o = 0;
            for (int i = from; i < from + n; i++) {
                int[] rg = ranges[i];
                p.set(U32, o, rg.length / 2);
                o += 4;
                for (int k = 0; k < rg.length; k += 2) {
                    p.set(U32, o, rg[k]);
                    p.set(U32, o + 4, rg[k + 1]);
                    if (i < imgs.length) MemorySegment.copy(imgs[i], rg[k], p, ValueLayout.JAVA_BYTE, o + 8, rg[k + 1]);
                    else MemorySegment.copy(dataSegs[i - imgs.length], rg[k], p, o + 8, rg[k + 1]);
                    o += 8 + rg[k + 1];
                }
            }
            p.asSlice(o).fill((byte) 0);
        }
        if (extra == 1) {
            MemorySegment db = rs.asSlice((long) (body + 1) * bs, bs).fill((byte) 0);
            db.set(U32, 0, deps.size());
            for (int i = 0; i < deps.size(); i++) {
                long[] dp = deps.get(i);
                db.set(U64, 8 + 16L * i, dp[0]);
                db.set(U32, 16 + 16L * i, (int) dp[1]);
                db.set(U32, 20 + 16L * i, (int) dp[2]);
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(rs.asSlice(bs, (long) (body + extra) * bs).asByteBuffer());
        MemorySegment d = rs.asSlice(0, bs).fill((byte) 0);
        MetaBlockLayout.init(d, MetaType.LOG_RECORD, logStart + pos, 0, sb.uuid());
        d.set(U64, D_SEQ, seq);
        d.set(U32, D_COUNT, n);
        d.set(U32, D_FLAGS, (more ? MORE : 0) | (extra == 1 ? DEPS : 0) | (ranges != null ? DELTA : 0));
        d.set(U32, D_CRC, (int) crc.getValue());
        if (ranges != null) d.set(U32, D_PAYLOAD, body);
        d.set(U64, D_LOG_ID, logId);
        for (int i = 0; i < n; i++) d.set(U64, D_BLKNOS + 8L * i, blknos[from + i]);
        MetaBlockLayout.stampCrc(d);
    }

    /**
     * The byte ranges where {@code cur} differs from {@code base}, as (offset, length) pairs, ranges
     * less than {@link #DELTA_GAP} bytes apart joined; the whole block when {@code base} is null.
     */
    static int[] changedRanges(byte[] base, byte[] cur) {
        int bs = cur.length;
        if (base == null) return new int[] {0, bs};
        int[] out = new int[8];
        int k = 0, p = 0;
        while (p < bs) {
            int m = java.util.Arrays.mismatch(base, p, bs, cur, p, bs);
            if (m < 0) break;
            int start = p + m, end = start + 1;
            while (end < bs) {
                if (base[end] != cur[end]) { end++; continue; }
                int lim = Math.min(bs, end + DELTA_GAP);
                int q = java.util.Arrays.mismatch(base, end, lim, cur, end, lim);
                if (q < 0) break;   // DELTA_GAP equal bytes (or the block's end): the range ends here
                end += q + 1;
            }
            if (k + 2 > out.length) out = java.util.Arrays.copyOf(out, out.length * 2);
            out[k++] = start;
            out[k++] = end - start;
            p = end;
        }
        return java.util.Arrays.copyOf(out, k);
    }

    /** Blocks that the entries of {@code ranges[from, from + n)} take in a delta record. */
    private int payloadBlocks(int[][] ranges, int from, int n) {
        long bytes = 0;
        for (int i = from; i < from + n; i++) {
            bytes += 4;
            for (int k = 1; k < ranges[i].length; k += 2) bytes += 8 + ranges[i][k];
        }
        return (int) ((bytes + bs - 1) / bs);
    }

    private void checkpointLocked() throws IOException {
        awaitCommit();   // never write home images whose commit is not yet durable
        awaitDataHome();   // nor move the tail past logged data that is not home
        if (readOnly && (!checkpointDirty.isEmpty() || tailSeq != headSeq))
            throw new IllegalStateException("read-only journal of " + dev.describe() + " has blocks to checkpoint");
        // Logged data written home since the last checkpoint went down as plain writes: they are in
        // the device's volatile cache until a flush, so one is due before the tail moves past their
        // records even when no metadata block is dirty (without it a crash lost acknowledged logged
        // writes: LoggedAtomicWriteTest.concurrentLoggedWritersWithCheckpointsSurviveAPowerCut).
        boolean flush = dataHomeUnflushed;
        if (!checkpointDirty.isEmpty()) {
            long[] order = checkpointDirty.stream().mapToLong(Long::longValue).sorted().toArray();
            writeHome(order);
            for (long blkno : order) cache.get(blkno).logged = null;
            checkpointDirty.clear();
            flush = true;
        }
        if (flush) {
            dev.flush();
            dataHomeUnflushed = false;
        }
        if (tailSeq != headSeq) {
            writeHeader(headSeq, headPos);
            tailSeq = headSeq;
        }
        lastDeps = List.of();   // the log is empty: no transaction left for recovery to check
        updateDepsLive();
        loggedData.clear();   // only running data (not in the log yet) is left to replay
        for (DataEntry e : runningData) for (int k = 0; k < e.blocks(); k++) loggedData.add(e.blkno() + k);
        loggedDataLive = !loggedData.isEmpty();
        usedBlocks = 0;
        checkpoints++;
        List<Runnable> done = pendingCheckpointed;
        pendingCheckpointed = new ArrayList<>();
        runAll(done);
        evict();
    }

    /** Bytes of home writes a checkpoint keeps in flight at most (in requests of contiguous blocks). */
    private static final int HOME_WINDOW = 8 << 20;

    /**
     * Writes the committed images of {@code order} (sorted block numbers) home: each run of
     * contiguous blocks is one request (up to 1 MiB), and the requests of up to
     * {@link #HOME_WINDOW} bytes are in flight together, instead of one synchronous block at a
     * time. The caller flushes afterwards.
     */
    private void writeHome(long[] order) throws IOException {
        int maxRun = Math.max(1, IO_CHUNK / bs);
        int i = 0;
        while (i < order.length) {
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
                List<IoRequest> window = new ArrayList<>();
                long bytes = 0;
                while (i < order.length && bytes < HOME_WINDOW) {
                    int j = i + 1;
                    while (j < order.length && order[j] == order[j - 1] + 1 && j - i < maxRun) j++;
                    MemorySegment buf = arena.allocate((long) (j - i) * bs, BlockIo.ALIGNMENT);
                    for (int k = i; k < j; k++) MemorySegment.copy(cache.get(order[k]).logged, 0, buf, ValueLayout.JAVA_BYTE, (long) (k - i) * bs, bs);
                    IoRequest r = IoRequest.write(order[i] * bs, buf, 0, null);
                    dev.submit(r);
                    window.add(r);
                    bytes += buf.byteSize();
                    i = j;
                }
                IOException failure = null;
                for (IoRequest r : window) {   // every request is waited for before its memory goes
                    try {
                        long n = r.await();
                        if (n != r.length() && failure == null)
                            failure = new IOException("short checkpoint write of " + n + " of " + r.length() + " bytes at offset "
                                    + r.offset() + " on " + dev.describe());
                    } catch (IOException e) {
                        if (failure == null) failure = e;
                    }
                }
                if (failure != null) throw failure;
            }
        }
    }

    private void closeIo() {
        io.close();
        if (commitIo != null) commitIo.close();
    }

    private static void runAll(List<Runnable> rs) {
        for (Runnable r : rs) r.run();
    }

    /** Commits, checkpoints and closes (clean unmount: recovery then finds nothing to replay). */
    @Override
    public void close() throws IOException {
        lock.lock();
        try {
            if (closed) return;
            if (active != null) throw new IllegalStateException("close with an active handle: " + active);
            if (readOnly) { closed = true; closeIo(); return; }   // nothing to write
            try {
                commitLocked();
                checkpointLocked();
            } finally {
                closed = true;
                failWaiters(new IOException("journal of " + dev.describe() + " closed"));
                failRunningData(new IOException("journal of " + dev.describe() + " closed"));
                logWork.signalAll();
                closeIo();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Closes without writing anything (a simulated crash or a failed device): nothing is flushed. */
    public void abandon() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                // A commit in flight (another thread, without the lock) uses commitIo: let it end first.
                while (committing) commitEnded.awaitUninterruptibly();
                failWaiters(new IOException("journal of " + dev.describe() + " abandoned: the commit never happened"));
                failRunningData(new IOException("journal of " + dev.describe() + " abandoned: the commit never happened"));
                logWork.signalAll();
                closeIo();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Counters; {@code handles}, {@code handleReads}, {@code handleWrites}: handles begun, block reads
     * and writes in them; {@code blocksLogged}: changed blocks committed; {@code logBlocksWritten}:
     * log blocks their records took (descriptors, images or delta entries, dependency blocks);
     * {@code dataBlocksLogged}: blocks of file data logged ({@link Handle#logData});
     * {@code dataCheckpoints}: checkpoints a write in place over logged data needed.
     */
    public record Stats(long commits, long checkpoints, long blocksLogged, long logUsedBlocks, long logAreaBlocks,
                        long cachedBlocks, long runningBlocks, long handles, long handleReads, long handleWrites,
                        long logBlocksWritten, long dataBlocksLogged, long dataCheckpoints) {}

    public Stats stats() {
        lock.lock();
        try {
            return new Stats(commits, checkpoints, blocksLogged, usedBlocks, area, cache.size(), running.size(), handles, handleReads,
                    handleWrites, logBlocksWritten, dataBlocksLogged, dataCheckpoints);
        } finally {
            lock.unlock();
        }
    }
}
