package org.foliofs.fs;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.foliofs.device.CrashReport;
import org.foliofs.device.IoOp;
import org.foliofs.device.IoRequest;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The journal on its own: handles are atomic (all of a handle's blocks or none after a crash), forced
 * handles survive, recovery is idempotent, checkpoints move the tail, and aborts undo.
 */
class JournalTest {
    static final MetaType TEST = MetaType.of("TSTB", "journal test block");
    static final MetaSpace NO_SPACE = new MetaSpace() {
        @Override public long allocMeta(Txn tx, MetaType type, long owner) { throw new UnsupportedOperationException(); }
        @Override public void freeMeta(Txn tx, long blkno, MetaType type) {}
    };

    static SimDevice device(long seed) {
        return SimDevice.builder().capacity(16L << 20).seed(seed).build();
    }

    /** Test blocks live at the end of the volume (group 3), beyond anything mkfs writes. */
    static long home(Superblock sb, int i) { return sb.totalBlocks() - 1 - i; }

    static void set(MetaBlock b, long v) { b.segment().set(MetaBlockLayout.U64, 40, v); }
    static long get(MetaBlock b) { return b.segment().get(MetaBlockLayout.U64, 40); }

    static long[] readAll(Journal j, Superblock sb, int n) throws Exception {
        long[] v = new long[n];
        try (var h = j.begin(1)) {
            for (int i = 0; i < n; i++) v[i] = get(h.read(home(sb, i), TEST, 7));
            h.commit();
        }
        return v;
    }

    /** One handle that sets test block {@code i} to {@code v} and commits. */
    static void change(Journal j, Superblock sb, int i, long v) throws Exception {
        try (var h = j.begin(4)) {
            MetaBlock b = h.read(home(sb, i), TEST, 7);
            set(b, v);
            h.write(b);
            h.commit();
        }
    }

    static void init(Journal j, Superblock sb, int n) throws Exception {
        for (int from = 0; from < n; from += 4) initSome(j, sb, from, Math.min(n, from + 4));
        j.checkpoint();
    }

    private static void initSome(Journal j, Superblock sb, int from, int to) throws Exception {
        try (var h = j.begin(to - from)) {
            for (int i = from; i < to; i++) {
                MemorySegment s = MemorySegment.ofArray(new byte[sb.blockSize()]);
                MetaBlockLayout.init(s, TEST, home(sb, i), 7, sb.uuid());
                h.write(new MetaBlock(home(sb, i), s));
            }
            h.commit();
        }
    }

    @Test
    void committedHandlesSurviveReopenAndAbortUndoes() throws Exception {
        try (SimDevice dev = device(1)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            change(j, sb, 0, 42);
            try (var h = j.begin(4)) {
                MetaBlock b = h.read(home(sb, 1), TEST, 7);
                set(b, 99);
                h.write(b);
                // not committed: closed -> aborted
            }
            assertThat(readAll(j, sb, 4)).containsExactly(42, 0, 0, 0);
            j.force();
            j.abandon();   // crash without checkpoint: the record must be replayed
            dev.crash();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 1024);
            assertThat(j2.recovery().transactions()).isEqualTo(1);
            assertThat(readAll(j2, sb, 4)).containsExactly(42, 0, 0, 0);
            j2.close();
            Journal j3 = Journal.open(dev, sb, NO_SPACE, 1024);
            assertThat(j3.recovery().transactions()).isZero();
            assertThat(readAll(j3, sb, 4)).containsExactly(42, 0, 0, 0);
            j3.close();
        }
    }

    /**
     * Logged data ({@link Journal.Handle#logData}) in a commit with metadata changes: the data
     * blocks go into a record of their own after the metadata's delta record (a descriptor and
     * the whole blocks), home after the commit; a crash before the home write replays both, and
     * so does a crash after it. Data never committed (the handle's commit torn by a power cut)
     * leaves the old content, the metadata too.
     */
    @Test
    void loggedDataRidesInItsOwnRecordsAndReplaysWithTheMetadata() throws Exception {
        try (SimDevice dev = device(41)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            long data = sb.logStart() + sb.logBlocks() + 10;   // a free block past the journal (no file system on top)
            byte[] d1 = new byte[sb.blockSize() * 2];
            java.util.Arrays.fill(d1, (byte) 0x5A);
            MemorySegment seg = java.lang.foreign.Arena.global().allocate(d1.length, 4096).copyFrom(MemorySegment.ofArray(d1));
            java.util.concurrent.CompletableFuture<Boolean> home = new java.util.concurrent.CompletableFuture<>();
            long w0 = j.stats().logBlocksWritten();
            change(j, sb, 0, 1);   // metadata: block 0's first record since the checkpoint (whole, as a delta entry: 2 blocks)
            try (var h = j.begin(3)) {
                h.logData(data, new MemorySegment[] {seg}, (t, durable) -> home.complete(t == null));
                h.commit();
            }
            j.force();
            assertThat(j.stats().logBlocksWritten() - w0).as("metadata record (descriptor + 2) and data record (descriptor + 2)").isEqualTo(6);
            assertThat(home.get(10, java.util.concurrent.TimeUnit.SECONDS)).as("written home after the commit").isTrue();
            assertThat(j.loggedDataOverlaps(data + 1, 1)).isTrue();
            assertThat(j.loggedDataOverlaps(data + 2, 5)).isFalse();
            Journal j2 = crashAndReopen(j, dev, sb);
            assertThat(readAll(j2, sb, 4)).containsExactly(1, 0, 0, 0);
            try (BlockIo io = new BlockIo(dev, d1.length)) {
                assertThat(io.read(data * sb.blockSize(), d1.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(d1);
            }
            assertThat(j2.loggedDataOverlaps(data, 2)).as("recovery emptied the log").isFalse();
            // A commit cut by a power cut: neither its metadata nor its data
            byte[] d2 = new byte[d1.length];
            java.util.Arrays.fill(d2, (byte) 0x77);
            seg.copyFrom(MemorySegment.ofArray(d2));
            change(j2, sb, 1, 9);
            java.util.concurrent.CompletableFuture<Boolean> home2 = new java.util.concurrent.CompletableFuture<>();
            try (var h = j2.begin(3)) {
                h.logData(data, new MemorySegment[] {seg}, (t, durable) -> home2.complete(t == null));
                h.commit();
            }
            dev.powerCutAt(1);   // the first request of the commit (its first record) and everything after fail
            assertThatThrownBy(j2::force).isInstanceOf(IOException.class);
            assertThat(home2.get(10, java.util.concurrent.TimeUnit.SECONDS)).as("told of the failed commit").isFalse();
            Journal j3 = crashAndReopen(j2, dev, sb);
            assertThat(readAll(j3, sb, 4)).containsExactly(1, 0, 0, 0);
            try (BlockIo io = new BlockIo(dev, d1.length)) {
                assertThat(io.read(data * sb.blockSize(), d1.length).toArray(ValueLayout.JAVA_BYTE)).as("the old data").isEqualTo(d1);
            }
            j3.close();
        }
    }

    /** A crash of {@code j} (nothing more written, the device's volatile state lost), then a new journal that recovers. */
    static Journal crashAndReopen(Journal j, SimDevice dev, Superblock sb) throws IOException {
        j.abandon();
        dev.crash();
        return Journal.open(dev, sb, NO_SPACE, 1024);
    }

    /** {@code sb} with the incompatible features {@code incompat} instead of its own. */
    static Superblock withIncompat(Superblock sb, long incompat) {
        return new Superblock(sb.major(), sb.minor(), sb.uuid(), sb.blockSize(), sb.agCount(), sb.agBlocks(), sb.totalBlocks(),
                sb.rootIno(), sb.logStart(), sb.logBlocks(), sb.compatFeatures(), sb.roCompatFeatures(), incompat, sb.label());
    }

    /**
     * Delta records (mkfs sets {@link SuperblockLayout#INCOMPAT_LOG_DELTA}): a block's first record
     * after a checkpoint carries its whole image, later ones only the bytes that changed (a test
     * block's value and checksum: one descriptor and one payload block per commit); a crash
     * replays the deltas over the whole image.
     */
    @Test
    void laterRecordsOfABlockCarryOnlyItsChangedBytes() throws Exception {
        try (SimDevice dev = device(21)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            assertThat(sb.incompatFeatures() & SuperblockLayout.INCOMPAT_LOG_DELTA).isNotZero();
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            long w0 = j.stats().logBlocksWritten();
            change(j, sb, 0, 1);
            j.force();
            long w1 = j.stats().logBlocksWritten();
            assertThat(w1 - w0).as("descriptor + block 0 whole (its entry takes 12 bytes more than a block)").isEqualTo(3);
            change(j, sb, 0, 2);
            change(j, sb, 1, 20);
            j.force();
            long w2 = j.stats().logBlocksWritten();
            assertThat(w2 - w1).as("descriptor + block 0's delta and block 1 whole").isEqualTo(3);
            for (int v = 3; v <= 5; v++) {
                change(j, sb, 0, v);
                change(j, sb, 1, 10 * v);
                j.force();
            }
            assertThat(j.stats().logBlocksWritten() - w2).as("three commits of two deltas: descriptor + one payload block each").isEqualTo(6);
            Journal j2 = crashAndReopen(j, dev, sb);
            assertThat(j2.recovery().transactions()).isEqualTo(5);
            assertThat(readAll(j2, sb, 4)).containsExactly(5, 50, 0, 0);
            change(j2, sb, 2, 7);   // after recovery (the log emptied): whole images again, then deltas
            change(j2, sb, 0, 6);
            j2.force();
            change(j2, sb, 2, 8);
            j2.force();
            Journal j3 = crashAndReopen(j2, dev, sb);
            assertThat(j3.recovery().transactions()).isEqualTo(2);
            assertThat(readAll(j3, sb, 4)).containsExactly(6, 50, 8, 0);
            j3.close();
        }
    }

    /**
     * Replay keeps a bounded number of delta bases in memory: with room for one, the bases of the
     * other blocks are read back from their home, where the replay wrote them, and the result is
     * the same (each block's checksum is verified when it is read after recovery).
     */
    @Test
    void replayReadsDeltaBasesBackFromHomeBeyondItsMemory() throws Exception {
        int saved = Journal.replayCacheOverride;
        Journal.replayCacheOverride = 1;
        try (SimDevice dev = device(23)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            for (int v = 1; v <= 4; v++) {   // the first commit logs blocks 0-2 whole, the others their deltas
                for (int i = 0; i < 3; i++) change(j, sb, i, 10 * v + i);
                j.force();
            }
            Journal j2 = crashAndReopen(j, dev, sb);
            assertThat(j2.recovery().transactions()).isEqualTo(4);
            assertThat(j2.replayReadBack).as("bases read back from home").isPositive();
            assertThat(readAll(j2, sb, 4)).containsExactly(40, 41, 42, 0);
            j2.close();
        } finally {
            Journal.replayCacheOverride = saved;
        }
    }

    /**
     * A volume without {@link SuperblockLayout#INCOMPAT_LOG_DELTA} keeps whole-image records
     * (one block per changed block), and a build that writes deltas still replays them.
     */
    @Test
    void aVolumeWithoutTheDeltaFeatureKeepsWholeImageRecords() throws Exception {
        try (SimDevice dev = device(22)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Superblock whole = withIncompat(sb, 0);
            Journal j = Journal.open(dev, whole, NO_SPACE, 1024);
            init(j, whole, 4);
            long w0 = j.stats().logBlocksWritten();
            for (int v = 1; v <= 3; v++) {
                change(j, whole, 0, v);
                change(j, whole, 3, 100 + v);
                j.force();
            }
            assertThat(j.stats().logBlocksWritten() - w0).as("three commits of a descriptor and two images").isEqualTo(9);
            Journal j2 = crashAndReopen(j, dev, sb);
            assertThat(j2.recovery().transactions()).isEqualTo(3);
            assertThat(readAll(j2, sb, 4)).containsExactly(3, 0, 0, 103);
            j2.close();
        }
    }

    /**
     * {@code changedRanges} on random blocks and random changes (seeded; the seed is printed):
     * applying the ranges to the base gives the new image, the ranges are in order, start and end
     * on changed bytes, and are at least the joining gap apart; no base means the whole block.
     */
    @Test
    void changedRangesRebuildTheNewImage() {
        long seed = Long.getLong("foliofs.seed", System.nanoTime());
        System.out.println("JournalTest.changedRangesRebuildTheNewImage seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        Random rnd = new Random(seed);
        assertThat(Journal.changedRanges(null, new byte[512])).containsExactly(0, 512);
        for (int iter = 0; iter < 3000; iter++) {
            int bs = rnd.nextBoolean() ? 512 : 4096;
            byte[] base = new byte[bs];
            rnd.nextBytes(base);
            byte[] cur = base.clone();
            int changes = rnd.nextInt(12);
            for (int c = 0; c < changes; c++) {
                int at = rnd.nextInt(bs), len = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? bs : 24);
                for (int k = at; k < Math.min(bs, at + len); k++) cur[k] = (byte) rnd.nextInt();
            }
            int[] r = Journal.changedRanges(base, cur);
            byte[] rebuilt = base.clone();
            int prevEnd = -1;
            for (int k = 0; k < r.length; k += 2) {
                int off = r[k], len = r[k + 1];
                assertThat(len).as("seed %d iteration %d: range %d length", seed, iter, k / 2).isPositive();
                assertThat(off + len).as("seed %d iteration %d: range end", seed, iter).isLessThanOrEqualTo(bs);
                if (prevEnd >= 0) assertThat(off - prevEnd).as("seed %d iteration %d: gap before range %d", seed, iter, k / 2)
                        .isGreaterThanOrEqualTo(8);
                assertThat(cur[off] != base[off] && cur[off + len - 1] != base[off + len - 1])
                        .as("seed %d iteration %d: range %d starts and ends on changed bytes", seed, iter, k / 2).isTrue();
                System.arraycopy(cur, off, rebuilt, off, len);
                prevEnd = off + len;
            }
            assertThat(rebuilt).as("seed %d iteration %d: base + ranges", seed, iter).isEqualTo(cur);
        }
    }

    /**
     * A block read through a handle is the cached image itself, read-only (no copy per read): a
     * change copies it first, so neither a change that is never written nor a change after the
     * write reaches the cache; only written changes do, and an abort still restores the image.
     */
    @Test
    void readsShareTheCachedImageAndChangesCopyIt() throws Exception {
        try (SimDevice dev = device(11)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 2);
            try (var h = j.begin(4)) {
                MetaBlock a = h.read(home(sb, 0), TEST, 7);
                assertThat(a.view().isReadOnly()).as("a read is a read-only view").isTrue();
                assertThatThrownBy(() -> a.view().set(MetaBlockLayout.U64, 40, 5L)).hasMessageContaining("read-only");
                set(a, 5);                                  // copies; never written
                assertThat(get(h.read(home(sb, 0), TEST, 7))).as("an unwritten change stays private").isZero();
                MetaBlock b = h.read(home(sb, 1), TEST, 7);
                set(b, 6);
                h.write(b);
                set(b, 7);                                  // after the write: a new private copy
                assertThat(get(h.read(home(sb, 1), TEST, 7))).as("the written value, not the later change").isEqualTo(6);
                h.commit();
            }
            try (var h = j.begin(4)) {
                MetaBlock b = h.read(home(sb, 1), TEST, 7);
                set(b, 8);
                h.write(b);
                // aborted on close
            }
            assertThat(readAll(j, sb, 2)).as("the abort restored the committed image").containsExactly(0, 6);
            j.close();
        }
    }

    /**
     * Asynchronous forces: no thread waits; the journal's log thread commits and runs each
     * callback once the commit holding the handles before it is durable (a crash then replays
     * them), many waiters share commits, and a failed commit fails its waiters with the failure.
     */
    @Test
    void asynchronousForcesAreCommittedByTheLogThreadAndShareCommits() throws Exception {
        try (SimDevice dev = device(12)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 8);
            long commits = j.stats().commits();
            java.util.concurrent.ConcurrentLinkedQueue<String> ran = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.concurrent.CountDownLatch all = new java.util.concurrent.CountDownLatch(8);
            for (int i = 0; i < 8; i++) {
                change(j, sb, i, 100 + i);
                j.forceCommittedAsync(e -> {
                    ran.add(e == null ? Thread.currentThread().getName() : "failed: " + e);
                    all.countDown();
                });
            }
            assertThat(all.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(ran).as("each callback once, none failed").hasSize(8).allMatch(n -> !n.startsWith("failed"));
            assertThat(ran).as("run by the thread that ended the commit").anyMatch(n -> n.startsWith("foliofs-log"));
            assertThat(j.stats().commits() - commits).as("8 forces, at most 8 commits").isBetween(1L, 8L);
            // nothing running: the callback runs at once, on this thread
            String[] here = new String[1];
            j.forceCommittedAsync(e -> here[0] = Thread.currentThread().getName());
            assertThat(here[0]).isEqualTo(Thread.currentThread().getName());
            j.abandon();
            dev.crash();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 1024);
            assertThat(readAll(j2, sb, 8)).as("every acknowledged change replayed").containsExactly(100, 101, 102, 103, 104, 105, 106, 107);
            // a commit that fails: its waiter hears the failure
            dev.faultPlan(org.foliofs.device.FaultPlan.builder()
                    .failRange(sb.logStart() * sb.blockSize(), sb.logBlocks() * sb.blockSize(), IoOp.WRITE, org.foliofs.device.Errno.EIO).build());
            change(j2, sb, 0, 1);
            java.util.concurrent.CompletableFuture<IOException> failed = new java.util.concurrent.CompletableFuture<>();
            j2.forceCommittedAsync(failed::complete);
            assertThat(failed.get(10, java.util.concurrent.TimeUnit.SECONDS)).isNotNull().hasMessageContaining("EIO");
            j2.abandon();
        }
    }

    /**
     * Threads that queue in {@code begin} while the log is full find it emptied by the first one's
     * checkpoint: one checkpoint per filling of the log, not one per waiting thread (8 threads
     * forcing small changes through a small log wrote 10 times as many checkpoints as needed).
     */
    @Test
    void aFullLogIsCheckpointedOnceNotOncePerWaitingThread() throws Exception {
        try (SimDevice dev = device(13)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4).withLogBlocks(Mkfs.MIN_LOG_BLOCKS));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 64);
            dev.faultPlan(org.foliofs.device.FaultPlan.builder().slowAll(1).build());   // commits take a while: threads queue
            var s0 = j.stats();
            Thread[] ts = new Thread[8];
            java.util.concurrent.ConcurrentLinkedQueue<Throwable> failed = new java.util.concurrent.ConcurrentLinkedQueue<>();
            for (int t = 0; t < ts.length; t++) {
                int k = t;
                ts[t] = Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 60; i++) {
                            change(j, sb, (k * 8 + i) % 64, i);
                            j.force();
                        }
                    } catch (Throwable e) {
                        failed.add(e);
                    }
                });
            }
            for (Thread t : ts) t.join();
            assertThat(failed).isEmpty();
            var s1 = j.stats();
            long logged = s1.blocksLogged() - s0.blocksLogged() + 2 * (s1.commits() - s0.commits());   // images, descriptors and a little
            long fills = logged / s1.logAreaBlocks() + 1;
            assertThat(s1.checkpoints() - s0.checkpoints()).as("%d blocks logged through a log of %d", logged, s1.logAreaBlocks())
                    .isBetween(1L, 2 * fills);
            j.close();
        }
    }

    /**
     * A checkpoint writes runs of contiguous home blocks as one request each, all in flight
     * together (it wrote one synchronous block at a time); a crash after it replays nothing and
     * reads every value.
     */
    @Test
    void checkpointWritesContiguousHomeBlocksInFewRequests() throws Exception {
        try (SimDevice dev = device(9)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            int n = 200;
            init(j, sb, n);
            for (int from = 0; from < n; from += 50) {
                try (var h = j.begin(50)) {
                    for (int i = from; i < from + 50; i++) {
                        MetaBlock b = h.read(home(sb, i), TEST, 7);
                        set(b, 1000 + i);
                        h.write(b);
                    }
                    h.commit();
                }
            }
            j.force();
            long writes = dev.stats().requests(IoOp.WRITE);
            j.checkpoint();
            long homeWrites = dev.stats().requests(IoOp.WRITE) - writes - 1;   // minus the log header
            assertThat(homeWrites).as("200 contiguous blocks home").isLessThanOrEqualTo(2);
            j.abandon();
            dev.crash();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 1024);
            assertThat(j2.recovery().transactions()).isZero();
            long[] v = readAll(j2, sb, n);
            for (int i = 0; i < n; i++) assertThat(v[i]).isEqualTo(1000 + i);
            j2.close();
        }
    }

    /**
     * Data dependencies: a transaction whose handles declared the data they expose is committed
     * without PREFLUSH (records, the last write with POSTFLUSH, no FLUSH request); recovery replays
     * the log's last transaction only if its data is on the device (else its commit never finished:
     * dropped), and replays an earlier one regardless (a later commit came after its post-flush).
     */
    @Test
    void dataDependenciesReplaceThePreflushAndRecoveryChecksTheLastTransaction() throws Exception {
        for (int variant = 0; variant < 3; variant++) {
            try (SimDevice dev = device(20 + variant)) {
                Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
                Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
                init(j, sb, 4);
                long dataBlk = home(sb, 100);
                byte[] data = new byte[sb.blockSize()];
                new Random(variant).nextBytes(data);
                IoRequest w = IoRequest.write(dataBlk * sb.blockSize(), MemorySegment.ofArray(data), 0, null);
                dev.submit(w);
                w.await();
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(data);
                int good = (int) crc.getValue();
                long preflushes = dev.stats().preflushWrites(), flushes = dev.stats().requests(IoOp.FLUSH);
                long postflushes = dev.stats().postflushWrites(), writes = dev.stats().requests(IoOp.WRITE);
                try (var h = j.begin(4)) {
                    MetaBlock b = h.read(home(sb, 0), TEST, 7);
                    set(b, 42);
                    h.write(b);
                    h.dataDependency(dataBlk, 1, variant == 0 ? good : good + 1);   // 1, 2: the data is not there
                    h.commit();
                }
                assertThat(j.force()).isTrue();
                assertThat(dev.stats().preflushWrites()).as("no PREFLUSH").isEqualTo(preflushes);
                assertThat(dev.stats().postflushWrites()).as("one post-flush write: the last record's")
                        .isEqualTo(postflushes + 1);
                assertThat(dev.stats().requests(IoOp.FLUSH)).as("no separate FLUSH").isEqualTo(flushes);
                assertThat(dev.stats().requests(IoOp.WRITE)).as("the commit is one record write").isEqualTo(writes + 1);
                assertThat(dev.pendingWrites()).as("the post-flush left nothing volatile").isZero();
                assertThat(j.dependsOn(dataBlk, 1)).isTrue();
                assertThat(j.dependsOn(dataBlk + 1, 4)).isFalse();
                if (variant == 2) {   // a later commit: the first is no longer the last, recovery replays it unchecked
                    change(j, sb, 1, 43);
                    j.force();
                    assertThat(j.dependsOn(dataBlk, 1)).isFalse();
                }
                j.abandon();
                if (variant == 0)   // fsck's no-replay check reads the DEPS record (its CRC covers the dependency block) as a commit
                    assertThat(Fsck.check(dev, false).needsRecovery()).as("a DEPS record at the tail needs recovery").isTrue();
                dev.crash();
                Journal j2 = Journal.open(dev, sb, NO_SPACE, 1024);
                long[] v = readAll(j2, sb, 4);
                switch (variant) {
                    case 0 -> assertThat(v).containsExactly(42, 0, 0, 0);
                    case 1 -> {
                        assertThat(v).as("the last transaction's data is not there: dropped").containsExactly(0, 0, 0, 0);
                        assertThat(j2.tornCommits()).isEqualTo(1);
                    }
                    default -> assertThat(v).containsExactly(42, 43, 0, 0);
                }
                j2.close();
            }
        }
    }

    /** A barrier makes a transaction with data dependencies not the last: its blocks may then be overwritten. */
    @Test
    void aBarrierEndsTheDependency() throws Exception {
        try (SimDevice dev = device(31)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            long dataBlk = home(sb, 100);
            try (var h = j.begin(4)) {
                MetaBlock b = h.read(home(sb, 0), TEST, 7);
                set(b, 7);
                h.write(b);
                h.dataDependency(dataBlk, 1, 12345);   // whatever: the barrier comes before any check
                h.commit();
            }
            j.force();
            j.barrier();
            assertThat(j.dependsOn(dataBlk, 1)).isFalse();
            j.abandon();
            dev.crash();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 1024);
            assertThat(readAll(j2, sb, 4)).containsExactly(7, 0, 0, 0);
            assertThat(j2.tornCommits()).isZero();
            j2.close();
        }
    }

    @Test
    void aHandleOverItsReservationIsRefusedAndUndone() throws Exception {
        try (SimDevice dev = device(2)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 1024);
            init(j, sb, 4);
            try (var h = j.begin(2)) {
                for (int i = 0; i < 3; i++) {
                    MetaBlock b = h.read(home(sb, i), TEST, 7);
                    set(b, 5);
                    if (i < 2) h.write(b);
                    else assertThatThrownBy(() -> h.write(b)).isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("reservation of 2 blocks");
                }
            }
            assertThat(readAll(j, sb, 4)).containsExactly(0, 0, 0, 0);
            assertThatThrownBy(() -> j.begin(0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("reserveBlocks (0)");
            j.close();
        }
    }

    @Test
    void bothHeadersCorruptIsAnErrorNamingTheBlocks() throws Exception {
        try (SimDevice dev = device(3)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            DiskBytes.flip(dev, sb.logStart() * 4096L + 100);
            assertThatThrownBy(() -> Journal.open(dev, sb, NO_SPACE, 64))
                    .isInstanceOf(CorruptMetadataException.class)
                    .hasMessageContaining("neither journal header (blocks " + sb.logStart() + " and " + (sb.logStart() + 1) + ")");
        }
    }

    /**
     * The crash campaign of the journal alone: random handles over a few blocks, random forces and
     * checkpoints, a crash (pending writes lost, applied or torn), recovery. The recovered state must
     * be the state after some handle at or after the last forced one (atomicity + durability), and
     * recovering again (a crash during recovery, then mount) gives the same state.
     */
    @ParameterizedTest(name = "block size {0}")
    @ValueSource(ints = {1024, 4096})
    void crashCampaign(int bs) throws Exception {
        long base = Long.getLong("foliofs.seed", System.nanoTime());
        int rounds = Integer.getInteger("foliofs.journal.rounds", 150);
        System.out.println("JournalTest.crashCampaign bs=" + bs + " seed=" + base + " rounds=" + rounds
                + " (replay: -Dfoliofs.seed=" + base + ")");
        int tornLogWrites = 0, replayed = 0, deltas = 0;
        for (int round = 0; round < rounds; round++) {
            long seed = base + round * 7919L;
            try {
                int[] r = crashRound(bs, seed);
                replayed += r[0];
                tornLogWrites += r[1];
                deltas += r[2];
            } catch (AssertionError | Exception e) {
                throw new AssertionError("round " + round + " failed; replay with -Dfoliofs.seed=" + seed
                        + " -Dfoliofs.journal.rounds=1: " + e, e);
            }
        }
        System.out.println("  transactions replayed " + replayed + ", delta entries replayed " + deltas + ", crashes that tore writes "
                + tornLogWrites);
        assertThat(deltas).as("recovery applied delta records (not only whole images)").isPositive();
        assertThat(replayed).as("recovery replayed transactions").isPositive();
        assertThat(tornLogWrites).as("crashes tore writes").isPositive();
    }

    private static int[] crashRound(int bs, long seed) throws Exception {
        Random rnd = new Random(seed);
        int n = 12;
        try (SimDevice dev = SimDevice.builder().capacity(8L << 20).seed(seed).build()) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withBlockSize(bs).withAgCount(2)
                    .withLogBlocks(96 + rnd.nextInt(200)));
            Journal j = Journal.open(dev, sb, NO_SPACE, 8 + rnd.nextInt(64));
            init(j, sb, n);
            List<long[]> states = new ArrayList<>();
            long[] cur = new long[n];
            states.add(cur.clone());
            int forced = 0;
            int ops = 1 + rnd.nextInt(120);
            dev.powerCutAt(1 + rnd.nextInt(Math.max(1, ops / 2)));
            try {
            for (int op = 0; op < ops; op++) {
                int k = 1 + rnd.nextInt(6);
                try (var h = j.begin(k)) {
                    long[] next = cur.clone();
                    for (int t = 0; t < k; t++) {
                        int i = rnd.nextInt(n);
                        MetaBlock b = h.read(home(sb, i), TEST, 7);
                        next[i] = op * 100L + t + 1;
                        set(b, next[i]);
                        h.write(b);
                    }
                    if (rnd.nextInt(10) == 0) continue;   // abort
                    h.commit();
                    cur = next;
                    states.add(cur.clone());
                }
                int r = rnd.nextInt(20);
                if (r < 3) { j.force(); forced = states.size() - 1; }
                else if (r == 3) { j.checkpoint(); forced = states.size() - 1; }
            }
            } catch (java.io.IOException e) {
                if (!dev.powerOff()) throw e;
            }
            j.abandon();
            CrashReport cr = dev.crash();
            long deltasBefore = Journal.DELTAS_REPLAYED.sum();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 64);
            long deltas = Journal.DELTAS_REPLAYED.sum() - deltasBefore;
            long[] after = readAll(j2, sb, n);
            int match = -1;
            for (int s = states.size() - 1; s >= 0; s--) if (Arrays.equals(states.get(s), after)) { match = s; break; }
            if (match < forced)
                fail("recovered " + Arrays.toString(after) + " is not a state at or after the last forced one (#" + forced + " "
                        + Arrays.toString(states.get(forced)) + "), " + cr);
            long replayed = j2.recovery().transactions();
            // A crash right after recovery's replay writes (before its header): recover again, same state.
            j2.abandon();
            dev.crash();
            Journal j3 = Journal.open(dev, sb, NO_SPACE, 64);
            assertThat(readAll(j3, sb, n)).isEqualTo(after);
            j3.close();
            return new int[] {(int) replayed, cr.torn() > 0 ? 1 : 0, (int) deltas};
        }
    }

    @Test
    void manyCommitsWrapTheLogAndCheckpointByThemselves() throws Exception {
        try (SimDevice dev = device(4)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4).withLogBlocks(64));
            Journal j = Journal.open(dev, sb, NO_SPACE, 32);
            init(j, sb, 8);
            long[] model = new long[8];
            for (int op = 0; op < 500; op++) {
                try (var h = j.begin(3)) {
                    for (int i = 0; i < 3; i++) {
                        MetaBlock b = h.read(home(sb, (op + i) % 8), TEST, 7);
                        set(b, op);
                        model[(op + i) % 8] = op;
                        h.write(b);
                    }
                    h.commit();
                }
                if (op % 3 == 0) j.force();
            }
            Journal.Stats st = j.stats();
            assertThat(st.checkpoints()).isGreaterThan(5);
            j.force();
            j.abandon();
            dev.crash();
            Journal j2 = Journal.open(dev, sb, NO_SPACE, 32);
            assertThat(readAll(j2, sb, 8)).isEqualTo(model);
            j2.close();
        }
    }

    @Test
    void commitRecordsArePreflushedAndFua() throws Exception {
        try (SimDevice dev = device(5)) {
            Superblock sb = Mkfs.format(dev, Mkfs.Options.defaults().withAgCount(4));
            Journal j = Journal.open(dev, sb, NO_SPACE, 64);
            init(j, sb, 2);
            long before = dev.stats().requests(IoOp.WRITE), pre = dev.stats().preflushWrites(), fua = dev.stats().fuaWrites();
            try (var h = j.begin(2)) {
                MetaBlock b = h.read(home(sb, 0), TEST, 7);
                set(b, 1);
                h.write(b);
                h.commit();
            }
            assertThat(dev.stats().requests(IoOp.WRITE)).as("nothing written before the commit").isEqualTo(before);
            j.force();
            assertThat(dev.stats().requests(IoOp.WRITE)).as("one record write").isEqualTo(before + 1);
            assertThat(dev.stats().preflushWrites()).isEqualTo(pre + 1);
            assertThat(dev.stats().fuaWrites()).isEqualTo(fua + 1);
            j.close();
        }
    }
}
