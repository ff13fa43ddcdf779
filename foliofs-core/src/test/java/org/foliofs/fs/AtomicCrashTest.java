package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import org.foliofs.device.SimDevice;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/**
 * Crash campaign for atomic (untorn) write-through writes (WRITETHROUGH.md section 10). Each round
 * prepares one slot of a file durably over a hole, a written extent, an unwritten extent (fallocate
 * KEEP_SIZE) or an extent shared with another file (cloneRange), then cuts the power at a random
 * small request count and makes one {@code WRITETHROUGH | ATOMIC} or (half the rounds)
 * {@code DIRECT | ATOMIC} write of 16 KiB, 64 KiB or the
 * volume's maximum unit (sync or async, with or without DSYNC, sometimes followed by fdatasync or
 * {@code fs.sync()}; the latter acknowledges nothing: it forces the journal only);
 * then crash, fsck (with journal replay) clean, mount, and check:
 * <ul>
 *   <li>the range reads all old or all new, byte for byte (never torn, never stale);</li>
 *   <li>an acknowledged DSYNC write, or one followed by a completed sync, reads all new;</li>
 *   <li>the other file of a shared pair is unchanged.</li>
 * </ul>
 * A quarter of the rounds run on a device reporting atomic write units (4 KiB .. 1 MiB), so that
 * written, unshared, suitably aligned extents take the hardware path (one ATOMIC request in place).
 * In half the software rounds of 16 and 64 KiB, an atomic write of the same length to the other
 * file first (DSYNC in two thirds of them) stages its old blocks again for the pool, which the
 * armed write then takes once that write's commit is durable ({@link StagingPool#recycle}); that
 * range must read all old or all new too, all new if it was DSYNC (handing the blocks out before
 * the commit fails this within a few dozen rounds).
 * Every allocation is followed, at random, by a journal force. {@link #controlWithoutAtomicObservesTears}
 * runs the same campaign with plain write-through and direct writes over written extents and must see a torn range.
 * Default: 2,000 crash points; {@code -Dfoliofs.atomic.points=N} for a long run;
 * {@code -Dfoliofs.atomic.seed=S} replays.
 */
class AtomicCrashTest {
    static final int BS = 4096;
    static final int SLOTS = 6;
    static final String[] BASES = {"hole", "written", "unwritten", "shared"};

    static final class TornRange extends AssertionError {
        TornRange(String m) { super(m); }
    }

    static final class Campaign {
        final Random rnd;
        final SimDevice dev;
        final boolean hardware;
        final boolean atomic;
        FolioFs fs;
        long inoA, inoB;
        FolioFile a, b;
        long unit;          // the slot size: the volume's max atomic unit
        int crashPoints, cutsMidWrite, acked, ackedAndCut, tornSeen, directRounds, directDsync, recycleRounds, recycledTaken;
        int loggedRounds, loggedCommitted, loggedAcked;   // armed writes that took the logged path; of them committed; acknowledged
        int handedOff;   // synchronous armed atomic writes run as a handed-off call (FolioFile.write with other atomic callers)
        /** The logged-overwrite campaign: mostly written bases, write-through, logging on, small writes, and the scenarios below. */
        boolean loggedFocus;
        int midLogged, conflicts;   // a logged DSYNC write before the armed one; then an in-place overwrite of it (a checkpoint)
        final int[] byBase = new int[BASES.length], directByBase = new int[BASES.length];
        String trace = "";

        Campaign(long seed, boolean hardware, boolean atomic) throws IOException {
            this.rnd = new Random(seed);
            this.hardware = hardware;
            this.atomic = atomic;
            var bld = SimDevice.builder().capacity(48L << 20).seed(seed);
            if (hardware) bld = bld.atomicWriteUnits(BS, 1 << 20);
            dev = bld.build();
            fillMarker();
            fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(2));
            config(fs);
            unit = fs.atomicWriteUnitMax();
            a = create("a");
            b = create("b");
            inoA = a.ino();
            inoB = b.ino();
            a.truncate(SLOTS * unit);
            b.truncate(SLOTS * unit);
            a.fsync(false);
            b.fsync(false);
            fs.sync();
        }

        FolioFile create(String name) throws IOException {
            return fs.openFile(fs.create(FolioFs.ROOT_INO, name, 0644, 0, 0).ino());
        }

        static void config(FolioFs fs) {
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(16L << 20).dirtyExpireMillis(3_600_000).build());
        }

        void fillMarker() throws IOException { FsCrashTest.Campaign.fillMarker(dev); }

        byte[] read(FolioFile f, long pos, int len) throws IOException {
            byte[] d = new byte[len];
            long n = f.read(pos, MemorySegment.ofArray(d));
            assertThat(n).as("read of %d bytes at %d", len, pos).isEqualTo(len);
            return d;
        }

        /** One round: durable base state, power cut armed, one atomic write (+ maybe sync), crash, fsck, mount, check. */
        void round() throws Exception {
            long tStart = System.nanoTime();
            int slot = rnd.nextInt(SLOTS);
            int base = rnd.nextInt(BASES.length);
            if (!atomic || hardware && rnd.nextBoolean()) base = 1;                      // the control: in-place overwrites of written extents
            int len = switch (rnd.nextInt(3)) { case 0 -> 16 << 10; case 1 -> 64 << 10; default -> (int) unit; };
            if (loggedFocus) {
                if (rnd.nextInt(4) != 0) base = 1;
                len = new int[] {4096, 8192, 16384, 65536}[rnd.nextInt(4)];
            }
            long slotOff = slot * unit;
            long pos = slotOff + rnd.nextInt((int) (unit / len)) * (long) len;
            boolean dsync = rnd.nextBoolean(), async = rnd.nextInt(4) == 0, syncAfter = rnd.nextInt(4) == 0;
            boolean direct = !loggedFocus && rnd.nextBoolean();
            boolean logOn = loggedFocus ? rnd.nextInt(10) != 0 : rnd.nextBoolean();   // logged overwrites (the journal holds the data)
            long gen = rnd.nextLong();
            trace = "slot " + slot + " base " + BASES[base] + (direct ? " DIRECT" : " WRITETHROUGH") + " write " + len + " at " + pos
                    + (dsync ? " DSYNC" : "")
                    + (async ? " async" : "") + (syncAfter ? " +sync/fdatasync" : "") + (hardware ? " (atomic-unit device)" : "")
                    + (logOn ? " (logging on)" : "");
            // --- the base state, made durable
            byte[] old;
            byte[] bOld = null;
            long bPos = rnd.nextInt(SLOTS) * unit + (pos - slotOff);
            switch (BASES[base]) {
                case "hole" -> {
                    a.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, slotOff, unit);
                    old = new byte[len];
                }
                case "unwritten" -> {
                    a.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, slotOff, unit);
                    a.fallocate(FolioFile.FALLOC_KEEP_SIZE, slotOff, unit);
                    old = new byte[len];
                }
                case "written" -> {
                    if (rnd.nextBoolean()) a.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, slotOff, unit);
                    byte[] all = FsCrashTest.Campaign.data(1, gen ^ 0x5A, slotOff, (int) unit);   // the whole slot: one extent
                    a.write(slotOff, MemorySegment.ofArray(all), FolioFile.WRITETHROUGH);
                    old = Arrays.copyOfRange(all, (int) (pos - slotOff), (int) (pos - slotOff) + len);
                }
                default -> {                            // shared: b's range cloned over the slot's range
                    bOld = FsCrashTest.Campaign.data(2, gen ^ 0xA5, bPos, len);
                    b.write(bPos, MemorySegment.ofArray(bOld), FolioFile.WRITETHROUGH);
                    a.cloneRange(b, bPos, pos, len);
                    old = bOld;
                }
            }
            a.fsync(false);                             // (fs.sync() alone does not flush in-place data: see syncAfter)
            if (bOld != null) b.fsync(false);
            fs.sync();
            assertThat(read(a, pos, len)).as("base state before the write").isEqualTo(old);
            byBase[base]++;
            if (direct) { directRounds++; directByBase[base]++; if (dsync) directDsync++; }
            // --- half the software rounds: recycled blocks. An acknowledged atomic DSYNC write of the
            // same length elsewhere (in b, in a slot other than bPos's) stages its range's old blocks
            // again, and once its commit is durable the armed write takes them from the pool: blocks
            // of a committed remap, written again and remapped, under the power cut.
            // Without DSYNC that write's remap is not committed yet: the pool must not hand its old
            // blocks out (b's range must then read all old or all new after the crash).
            byte[] pre = null, preOld = null;
            boolean preSync = false;
            long prePos = -1, takenBefore = fs.staging().recycledCounts()[0];
            if (atomic && !hardware && !loggedFocus && len <= StagingPool.CHUNK_BLOCKS / 4 * BS && rnd.nextBoolean()) {
                int s2 = (int) ((bPos / unit + 1 + rnd.nextInt(SLOTS - 1)) % SLOTS);
                prePos = s2 * unit + rnd.nextInt((int) (unit / len)) * (long) len;
                preSync = rnd.nextInt(3) != 0;
                b.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, prePos, len);
                preOld = FsCrashTest.Campaign.data(3, gen ^ 0x77, prePos, len);
                b.write(prePos, MemorySegment.ofArray(preOld), FolioFile.WRITETHROUGH);
                b.fsync(false);
                pre = FsCrashTest.Campaign.data(4, gen ^ 0x99, prePos, len);
                int pf = FolioFile.WRITETHROUGH | FolioFile.ATOMIC | (preSync ? FolioFile.DSYNC : 0);
                fs.setAtomicLogMax(0);   // out of place: its old blocks are what the armed write takes
                assertThat(b.write(prePos, MemorySegment.ofArray(pre), pf)).isEqualTo(len);
                if (preSync)
                    assertThat(fs.staging().recycledCounts()[1]).as("blocks the DSYNC atomic write recycled").isGreaterThanOrEqualTo(len / BS);
                recycleRounds++;
                trace += "; recycled " + len + " from b at " + prePos + (preSync ? " (DSYNC)" : " (not committed)");
            }
            // --- logged campaign: a DSYNC logged write of the range first (the armed write then logs
            // the same blocks again: replay must apply both in order), and in half of those a plain
            // DSYNC overwrite in place after it (which must checkpoint first, or replay would bring
            // the logged data back over it)
            int scen = loggedFocus ? rnd.nextInt(3) : 0;
            if (scen >= 1) {
                fs.setAtomicLogMax(65536);
                long dl = fs.journal().stats().dataBlocksLogged();
                byte[] mid = FsCrashTest.Campaign.data(5, gen ^ 0x3C, pos, len);
                assertThat(a.write(pos, MemorySegment.ofArray(mid), FolioFile.WRITETHROUGH | FolioFile.ATOMIC | FolioFile.DSYNC)).isEqualTo(len);
                old = mid;
                boolean midWasLogged = fs.journal().stats().dataBlocksLogged() > dl;
                if (midWasLogged) midLogged++;
                trace += "; logged DSYNC write first" + (midWasLogged ? "" : " (not logged)");
                if (scen == 2) {
                    long cps = fs.journal().stats().dataCheckpoints();
                    byte[] plain = FsCrashTest.Campaign.data(6, gen ^ 0xC3, pos, len);
                    assertThat(a.write(pos, MemorySegment.ofArray(plain), FolioFile.WRITETHROUGH | FolioFile.DSYNC)).isEqualTo(len);
                    old = plain;
                    trace += "; then a plain DSYNC overwrite";
                    if (midWasLogged) {
                        conflicts++;
                        if (!FsIoMapOps.brokenSkipLoggedCheckpoint)
                            assertThat(fs.journal().stats().dataCheckpoints()).as("the overwrite of logged blocks checkpointed").isGreaterThan(cps);
                    }
                }
                assertThat(read(a, pos, len)).as("the state before the armed write").isEqualTo(old);
            }
            // --- the write, with the power cut armed
            byte[] neu = FsCrashTest.Campaign.data(1, gen, pos, len);
            long t0 = System.nanoTime(); T[0] += t0 - tStart;
            int flags = (direct ? FolioFile.DIRECT : FolioFile.WRITETHROUGH) | (atomic ? FolioFile.ATOMIC : 0) | (dsync ? FolioFile.DSYNC : 0);
            fs.setAtomicLogMax(logOn ? 65536 : 0);
            // eligible: an overwrite of a written, unshared extent (the base, or what the first write left)
            boolean logged = atomic && logOn && !direct && !hardware && (BASES[base].equals("written") || scen >= 1) && len <= 65536;
            if (logged) loggedRounds++;
            long dataLoggedBefore = fs.journal().stats().dataBlocksLogged();
            dev.powerCutAt(1 + rnd.nextInt(atomic ? 5 : 3));
            boolean ack = false;
            try {
                long n;
                if (async) {
                    try {
                        n = a.writeAsync(pos, MemorySegment.ofArray(neu), flags).get();
                    } catch (ExecutionException e) {
                        throw e.getCause() instanceof Exception x ? x : new IOException(e.getCause());
                    }
                } else if (atomic && rnd.nextBoolean()) {
                    // as if another atomic writer were in its call: this one is handed off (an
                    // asynchronous call its caller waits for, ending on the caller: CallerRuns)
                    long handed = fs.atomicHandedOff.sum();
                    fs.atomicCallers.incrementAndGet();
                    try {
                        n = a.write(pos, MemorySegment.ofArray(neu), flags);
                    } finally {
                        fs.atomicCallers.decrementAndGet();
                    }
                    if (fs.atomicHandedOff.sum() > handed) {
                        handedOff++;
                        trace += "; handed off";
                    }
                } else {
                    n = a.write(pos, MemorySegment.ofArray(neu), flags);
                }
                assertThat(n).isEqualTo(len);
                ack = dsync;
                if (syncAfter) {
                    // fdatasync acknowledges. fs.sync() does not: it only forces the journal (no device flush
                    // when the journal is empty), so an in-place (hardware-path) write stays volatile.
                    if (rnd.nextBoolean()) {
                        a.fsync(true);
                        ack = true;
                    } else {
                        fs.sync();
                    }
                }
            } catch (Exception e) {
                if (!dev.powerOff()) throw e;
            }
            boolean cut = dev.powerOff();
            if (cut) cutsMidWrite++;
            if (pre != null && fs.staging().recycledCounts()[0] > takenBefore) recycledTaken++;   // (only committed ones can be taken)
            if (ack) acked++;
            if (ack && cut) ackedAndCut++;
            if (fs.journal().stats().dataBlocksLogged() > dataLoggedBefore) {
                if (!logged) throw new AssertionError("the write was logged, but it is not an eligible overwrite");
                loggedCommitted++;
                if (ack) loggedAcked++;
            }
            long t1 = System.nanoTime();
            a = b = null;
            fs.abandon();
            dev.crash();
            crashPoints++;
            long t2 = System.nanoTime();
            FsckReport rep = Fsck.check(dev);
            long t3 = System.nanoTime();
            if (!rep.problems().isEmpty()) throw new AssertionError("fsck after the crash found problems:\n" + rep.describe());
            fs = FolioFs.mount(dev);
            config(fs);
            if (unit != fs.atomicWriteUnitMax()) throw new AssertionError("max unit changed across the mount: " + unit + " -> " + fs.atomicWriteUnitMax());
            a = fs.openFile(inoA);
            b = fs.openFile(inoB);
            long t4 = System.nanoTime();
            T[1] += t1 - t0; T[2] += t2 - t1; T[3] += t3 - t2; T[4] += t4 - t3;
            // --- the oracle
            byte[] got = read(a, pos, len);
            boolean isOld = Arrays.equals(got, old), isNew = Arrays.equals(got, neu);
            if (!isOld && !isNew) {
                tornSeen++;
                int firstNotOld = Arrays.mismatch(got, old), firstNotNew = Arrays.mismatch(got, neu);
                throw new TornRange("torn range " + pos + " +" + len + " after the crash (" + (cut ? "power cut mid-write" : "no cut")
                        + ", ack " + ack + "): differs from the old data at " + firstNotOld + " and from the new at " + firstNotNew
                        + "; 512-byte sectors (o old, n new, ? neither): " + sectors(got, old, neu));
            }
            if (ack && !isNew) throw new AssertionError("acknowledged " + (dsync ? "DSYNC " : "") + "write" + (syncAfter ? " + sync" : "")
                    + " of " + pos + " +" + len + " reads all old after the crash");
            if (pre != null) {
                byte[] preGot = read(b, prePos, len);
                if (preSync && !Arrays.equals(preGot, pre))
                    throw new AssertionError("the acknowledged atomic write whose old blocks were recycled, b at " + prePos + " +" + len
                            + ", does not read all new after the crash");
                if (!Arrays.equals(preGot, pre) && !Arrays.equals(preGot, preOld))
                    throw new AssertionError("the atomic write whose old blocks were recycled, b at " + prePos + " +" + len
                            + ", reads neither all old nor all new after the crash: " + sectors(preGot, preOld, pre));
            }
            if (bOld != null) {
                byte[] bGot = read(b, bPos, len);
                if (!Arrays.equals(bGot, bOld)) throw new AssertionError("the other file of the shared pair changed at " + bPos + " +"
                        + Arrays.mismatch(bGot, bOld) + " (range " + bPos + " +" + len + ")");
            }
            assertThat(a.size()).as("size of a").isEqualTo(SLOTS * unit);
            assertThat(b.size()).as("size of b").isEqualTo(SLOTS * unit);
        }

        static String sectors(byte[] got, byte[] old, byte[] neu) {
            StringBuilder sb = new StringBuilder();
            for (int o = 0; o < got.length; o += 512) {
                byte[] g = Arrays.copyOfRange(got, o, o + 512);
                sb.append(Arrays.equals(g, Arrays.copyOfRange(old, o, o + 512)) ? 'o' : Arrays.equals(g, Arrays.copyOfRange(neu, o, o + 512)) ? 'n' : '?');
            }
            return sb.toString();
        }

        /** {@link #close}, after a failed round: a close error (the device may be powered off) is added to the failure's suppressed ones. */
        void closeAfter(Throwable failure) {
            try {
                close();
            } catch (Throwable t) {
                failure.addSuppressed(t);
            }
        }

        void close() throws IOException {
            FsIoMapOps.afterAllocate = null;
            if (a != null) a.close();
            if (b != null) b.close();
            fs.close();
            dev.close();
        }
    }

    static final long[] T = new long[5];
    static long seed() {
        String s = System.getProperty("foliofs.atomic.seed");
        long seed = s != null ? Long.parseLong(s) : System.nanoTime();
        System.out.println("seed=" + seed + " (replay: -Dfoliofs.atomic.seed=" + seed + ")");
        return seed;
    }

    /** Runs {@code rounds} rounds over the two campaigns (a quarter on the atomic-unit device). */
    static void run(long seed, String test, int rounds, Campaign sw, Campaign hw, Random pick) throws Exception {
        for (int i = 0; i < rounds; i++) {
            Campaign c = hw != null && pick.nextInt(4) == 0 ? hw : sw;
            Random r = c.rnd;
            FsIoMapOps.afterAllocate = fi -> { if (r.nextInt(3) == 0) fi.fs.syncMetadata(); };
            try {
                c.round();
            } catch (Throwable t) {
                String m = "round " + i + " failed: " + c.trace + " (seed=" + seed + "; replay: mvn -o -pl foliofs-core test -Dtest=AtomicCrashTest#"
                        + test + " -Dfoliofs.atomic.seed=" + seed + ")";
                if (t instanceof TornRange) throw new TornRange(m + ": " + t.getMessage());
                throw new AssertionError(m, t);
            } finally {
                FsIoMapOps.afterAllocate = null;
            }
        }
    }

    @Test
    void atomicWritesAreUntornAcrossCrashes() throws Exception {
        long seed = seed();
        int points = Integer.getInteger("foliofs.atomic.points", 2000);
        Campaign sw = new Campaign(seed, false, true), hw = new Campaign(seed + 1, true, true);
        long hwAtomicBefore = hw.dev.stats().atomicWrites(), deltasBefore = Journal.DELTAS_REPLAYED.sum();
        try {
            run(seed, "atomicWritesAreUntornAcrossCrashes", points, sw, hw, new Random(seed ^ 0x1234));
            int cp = sw.crashPoints + hw.crashPoints, cuts = sw.cutsMidWrite + hw.cutsMidWrite;
            long hwAtomic = hw.dev.stats().atomicWrites() - hwAtomicBefore;
            System.out.println("crash points=" + cp + " (atomic-unit device " + hw.crashPoints + ") power cuts mid-write=" + cuts
                    + " acknowledged=" + (sw.acked + hw.acked) + " acknowledged then cut=" + (sw.ackedAndCut + hw.ackedAndCut)
                    + " bases sw=" + Arrays.toString(sw.byBase) + " hw=" + Arrays.toString(hw.byBase)
                    + " direct=" + (sw.directRounds + hw.directRounds) + " (DSYNC " + (sw.directDsync + hw.directDsync) + ", bases sw="
                    + Arrays.toString(sw.directByBase) + ")"
                    + " ms prep/write/crash/fsck/mount=" + Arrays.toString(Arrays.stream(T).map(x -> x / 1_000_000).toArray()) + " device ATOMIC writes=" + hwAtomic + " max unit=" + sw.unit
                    + " recycling rounds=" + sw.recycleRounds + " (the armed write took recycled blocks in " + sw.recycledTaken + ")"
                    + " delta journal entries replayed (by fsck and mount)=" + (Journal.DELTAS_REPLAYED.sum() - deltasBefore)
                    + " logged writes=" + sw.loggedRounds + " (gathered in a commit " + sw.loggedCommitted + ", acknowledged " + sw.loggedAcked + ")");
            assertThat(cp).isGreaterThanOrEqualTo(points);
            assertThat(Journal.DELTAS_REPLAYED.sum() - deltasBefore).as("recoveries applied delta journal records").isPositive();
            assertThat(sw.recycledTaken).as("armed writes into recycled blocks").isGreaterThan(points / 20);
            // ~2-3.5% of this campaign's rounds (45-71 of 2000 seen); the logged campaign below covers the path in depth
            assertThat(sw.loggedRounds).as("armed writes that took the logged path").isGreaterThan(points / 80);
            assertThat(sw.loggedAcked).as("logged writes acknowledged before the crash").isGreaterThan(points / 200);
            assertThat(cuts).as("power cuts during the write").isGreaterThan(points / 3);
            assertThat(sw.acked + hw.acked).as("acknowledged writes").isGreaterThan(points / 10);
            for (int k = 0; k < BASES.length; k++) assertThat(sw.byBase[k]).as("rounds over %s", BASES[k]).isGreaterThan(points / 20);
            for (int k = 0; k < BASES.length; k++)
                assertThat(sw.directByBase[k]).as("direct rounds over %s", BASES[k]).isGreaterThan(points / 40);
            assertThat(sw.directDsync + hw.directDsync).as("direct DSYNC rounds").isGreaterThan(points / 8);
            assertThat(hwAtomic).as("hardware-path writes on the atomic-unit device").isGreaterThan(0);
        } finally {
            sw.close();
            hw.close();
        }
    }

    /**
     * Logged atomic overwrites (the journal holds the data, {@link Journal.Handle#logData}): 4-64
     * KiB write-through overwrites of written extents, most with logging on, a quarter over the
     * other bases; before a third of the armed writes a DSYNC logged write of the same range, and
     * before another third the same followed by a plain DSYNC overwrite in place (which must
     * checkpoint first). Half the synchronous armed atomic writes run handed off, as with other
     * atomic writers in their calls (an asynchronous call that ends on its waiting caller). After
     * every crash the range reads all old or all new, all new if acknowledged; fsck is clean.
     * Default 600 crash points ({@code -Dfoliofs.atomic.loggedPoints=N}).
     */
    @Test
    void loggedAtomicOverwritesAreUntornAcrossCrashes() throws Exception {
        long seed = seed();
        int points = Integer.getInteger("foliofs.atomic.loggedPoints", 600);
        Campaign c = new Campaign(seed, false, true);
        c.loggedFocus = true;
        try {
            run(seed, "loggedAtomicOverwritesAreUntornAcrossCrashes", points, c, null, new Random(seed));
            System.out.println("logged campaign: crash points=" + c.crashPoints + " power cuts mid-write=" + c.cutsMidWrite
                    + " acknowledged=" + c.acked + " logged armed writes=" + c.loggedRounds + " (gathered " + c.loggedCommitted
                    + ", acknowledged " + c.loggedAcked + ") logged writes before them=" + c.midLogged
                    + " in-place overwrites of logged blocks=" + c.conflicts + " handed-off armed writes=" + c.handedOff
                    + " bases=" + Arrays.toString(c.byBase));
            assertThat(c.crashPoints).isGreaterThanOrEqualTo(points);
            assertThat(c.loggedRounds).as("logged armed writes").isGreaterThan(points / 3);
            assertThat(c.loggedAcked).as("logged armed writes acknowledged").isGreaterThan(points / 10);
            assertThat(c.midLogged).as("logged writes before the armed one").isGreaterThan(points / 4);
            assertThat(c.conflicts).as("in-place overwrites of logged blocks").isGreaterThan(points / 10);
            assertThat(c.handedOff).as("armed writes handed off (ending on their caller)").isGreaterThan(points / 5);
            assertThat(c.cutsMidWrite).as("power cuts during the write").isGreaterThan(points / 4);
        } catch (Throwable t) {
            c.closeAfter(t);
            throw t;
        }
        c.close();
    }

    /** The logged campaign with the checkpoint before an in-place overwrite of logged blocks skipped must fail: recovery brings the logged data back. */
    @Test
    void loggedControlWithoutTheCheckpointFails() throws Exception {
        long seed = seed();
        Campaign c = new Campaign(seed, false, true);
        c.loggedFocus = true;
        FsIoMapOps.brokenSkipLoggedCheckpoint = true;
        try {
            assertThatThrownBy(() -> run(seed, "loggedControlWithoutTheCheckpointFails", 600, c, null, new Random(seed)))
                    .isInstanceOf(AssertionError.class);
            System.out.println("logged control: failed after " + c.crashPoints + " crash points: " + c.trace);
        } finally {
            FsIoMapOps.brokenSkipLoggedCheckpoint = false;
            c.closeAfter(new AssertionError("closing after the expected failure"));
        }
    }

    @Test
    void controlWithoutAtomicObservesTears() throws Exception {
        long seed = seed();
        Campaign c = new Campaign(seed, false, false);
        try {
            assertThatThrownBy(() -> run(seed, "controlWithoutAtomicObservesTears", 2000, c, null, new Random(seed)))
                    .isInstanceOf(TornRange.class).hasMessageContaining("torn range");
            System.out.println("control: torn range after " + c.crashPoints + " crash points");
        } finally {
            c.close();
        }
    }

    /**
     * The hardware path must not overwrite in place blocks that another file shared until a
     * transaction not yet durable: a crash brings that sharing back.
     */
    @Test
    void hardwarePathDoesNotOverwriteBlocksUnsharedByANonDurableTransaction() throws Exception {
        try (SimDevice dev = SimDevice.builder().capacity(32L << 20).seed(5).atomicWriteUnits(BS, 1 << 20).build()) {
            FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(2));
            Campaign.config(fs);
            long inoA, inoB, at = dev.stats().atomicWrites();
            byte[] old = FsCrashTest.Campaign.data(1, 1, 0, 65536), bNew = FsCrashTest.Campaign.data(2, 2, 0, BS),
                    aNew = FsCrashTest.Campaign.data(1, 3, 0, BS);
            try (FolioFile a = fs.openFile(fs.create(FolioFs.ROOT_INO, "a", 0644, 0, 0).ino());
                 FolioFile b = fs.openFile(fs.create(FolioFs.ROOT_INO, "b", 0644, 0, 0).ino())) {
                inoA = a.ino();
                inoB = b.ino();
                a.write(0, MemorySegment.ofArray(old), FolioFile.WRITETHROUGH);
                b.truncate(65536);
                b.cloneRange(a, 0, 0, 65536);
                fs.sync();
                b.write(0, MemorySegment.ofArray(bNew), FolioFile.WRITETHROUGH);     // b moves off the shared block: not durable yet
                a.write(0, MemorySegment.ofArray(aNew), FolioFile.WRITETHROUGH | FolioFile.ATOMIC | FolioFile.DSYNC);
            }
            fs.abandon();
            dev.crash();
            fs = FolioFs.mount(dev);
            try (FolioFile a = fs.openFile(inoA); FolioFile b = fs.openFile(inoB)) {
                byte[] ga = new byte[BS], gb = new byte[BS];
                a.read(0, MemorySegment.ofArray(ga));
                b.read(0, MemorySegment.ofArray(gb));
                assertThat(Arrays.equals(ga, aNew)).as("a: acknowledged DSYNC atomic write reads all new").isTrue();
                assertThat(Arrays.equals(gb, aNew)).as("b reads a's new data (the in-place write hit a block b shared until a lost transaction)").isFalse();
                assertThat(Arrays.equals(gb, bNew) || Arrays.equals(gb, Arrays.copyOf(old, BS)))
                        .as("b reads its old or its new data").isTrue();
            }
            assertThat(dev.stats().atomicWrites() - at).as("not in place: the software path").isZero();
            fs.close();
        }
    }
}
