package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.foliofs.device.IoRequest;
import org.foliofs.device.SimDevice;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/**
 * Crash campaign for file data: seeded random rounds of create / buffered and direct writes / fsync /
 * truncate / unlink / rename / sync on a SimDevice whose power is cut at a random write or flush;
 * then crash, mount (recovery) and check against an oracle:
 * <ul>
 *   <li>a file fsynced and not changed since (content or name) exists under its name with exactly its
 *       fsynced content;</li>
 *   <li>no file shows data never written to it: every byte is 0 or the byte some version of that file
 *       had at that offset since the last check (data patterns depend on the file, and the device
 *       starts filled with a marker, so stale blocks from other files or never written ones show);</li>
 *   <li>no unknown file appears, and the allocator's trees verify; fsck (journal replay, before
 *       the mount) is clean after every {@link #FSCK_EVERY}-th crash.</li>
 * </ul>
 * Every allocating begin is followed, at random, by a journal force (what a concurrent fsync would
 * do), so converting blocks before their data I/O would be exposed: {@link #campaignCatchesConversionBeforeDataIo}
 * checks that the campaign fails then. Default: 1,000 crash points; {@code -Dfoliofs.crash.points=N} for
 * a long run; {@code -Dfoliofs.seed=S} replays.
 */
class FsCrashTest {
    static final int BS = 4096;
    /** Rounds per volume before a fresh format. */
    static final int VOLUME_ROUNDS = Integer.getInteger("foliofs.crash.volumeRounds", 150);
    /**
     * Allocator.verify (free-space trees, AGFL, header counts) after every recovery; on by default.
     * (It once found AG headers drifting from the trees: Inodes wrote back a stale header copy after an
     * inode-tree split had allocated; fixed in Inodes.insert/remove.)
     */
    static final boolean VERIFY_ALLOCATOR = Boolean.parseBoolean(System.getProperty("foliofs.crash.verifyAllocator", "true"));
    /**
     * Fsck (with journal replay, before the mount that recovers) after every N-th crash of this
     * campaign ({@code -Dfoliofs.crash.fsckEvery=N}, default 4; 0 = never). {@link FsOpsCrashTest} runs
     * it after every crash.
     */
    static final int FSCK_EVERY = Integer.getInteger("foliofs.crash.fsckEvery", 4);

    /** What the test knows about one file (one incarnation of an inode number). */
    static final class Rec {
        final long ino;
        final long fid;
        String name;
        FolioFile file;
        byte[] cur = new byte[0];
        final List<byte[]> images = new ArrayList<>();
        byte[] synced;
        String syncedName;
        boolean syncedValid;
        /** Extended attributes now, as of the last full fsync (valid while unchanged), and every (name, value) ever set. */
        Map<String, byte[]> xattrs = new TreeMap<>(), syncedX = new TreeMap<>();
        boolean xSyncedValid;
        final Set<String> everX = new HashSet<>();

        Rec(long ino, long fid, String name) {
            this.ino = ino;
            this.fid = fid;
            this.name = name;
            images.add(cur);
        }

        void changed(byte[] now) {
            cur = now;
            images.add(now);
            syncedValid = false;
        }
    }

    static class Campaign {
        /** A round's power cut comes at its 1st to cutWindow-th device write (if the round gets that far). */
        int cutWindow = 20;
        final Random rnd;
        final SimDevice dev;
        FolioFs fs;
        final Map<Long, List<Rec>> byIno = new HashMap<>();
        final Map<String, Rec> names = new HashMap<>();
        long nextFid = 1, nextName = 1;
        int crashPoints, powerCuts;
        /** Fsck (with journal replay) after every n-th crash, before the mount (0: never). */
        int fsckEvery = FSCK_EVERY;
        /** Alignment of direct writes (bytes). */
        int directUnit = 512;

        Campaign(long seed) throws IOException {
            rnd = new Random(seed);
            dev = SimDevice.builder().capacity(24L << 20).seed(seed).build();
            fillMarker();
            fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(2));
            config(fs);
            FsIoMapOps.afterAllocate = fi -> { if (rnd.nextInt(3) == 0) fi.fs.syncMetadata(); };
        }

        static void config(FolioFs fs) {
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(8L << 20).dirtyExpireMillis(3_600_000).build());
        }

        /** Starts over on a newly formatted, marker-filled volume (bounds what allocator drift can do). */
        void freshVolume() throws IOException {
            for (Rec r : live()) r.file = null;
            fs.abandon();
            byIno.clear();
            names.clear();
            fillMarker();
            fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(BS).withAgCount(2));
            config(fs);
        }

        void fillMarker() throws IOException { fillMarker(dev); }

        /**
         * Fills the whole device with a recognisable marker and flushes it: a block that reads as
         * the marker after a crash was never written by the file system (stale data shows up).
         */
        static void fillMarker(SimDevice dev) throws IOException {
            byte[] m = new byte[1 << 20];
            byte[] word = "STALE-MARKER!".getBytes();
            for (int i = 0; i < m.length; i++) m[i] = word[i % word.length];
            for (long off = 0; off < dev.capacity(); off += m.length) {
                IoRequest r = IoRequest.write(off, MemorySegment.ofArray(m), 0, null);
                dev.submit(r);
                r.await();
            }
            IoRequest f = IoRequest.flush(null);
            dev.submit(f);
            f.await();
        }

        static byte[] data(long fid, long gen, long pos, int len) {
            byte[] b = new byte[len];
            long x = fid * 0x9E3779B97F4A7C15L + gen * 0xC2B2AE3D27D4EB4FL;
            for (int i = 0; i < len; i++) {
                long v = (x + (pos + i) * 0x165667B19E3779F9L);
                v ^= v >>> 29;
                b[i] = (byte) (v * 0x94D049BB133111EBL >>> 56);
            }
            return b;
        }

        List<Rec> live() {
            List<Rec> l = new ArrayList<>();
            for (List<Rec> rs : byIno.values()) for (Rec r : rs) if (r.file != null) l.add(r);
            l.sort((a, b) -> Long.compare(a.fid, b.fid));
            return l;
        }

        /** One round: random ops until the power cut (or the end), crash, mount, verify. */
        /** The steps of the current round (printed when it fails). */
        final List<String> trace = new ArrayList<>();

        void note(String step) { trace.add(step); }

        void round(int maxOps) throws Exception {
            trace.clear();
            // Within the round's first cutWindow device requests (20 by default: since the last
            // close no longer writes back, rounds issue fewer requests, and a window of 30 let the
            // share of rounds cut mid-way fall to ~25%).
            dev.powerCutAt(1 + rnd.nextInt(cutWindow));
            try {
                for (int k = 0; k < maxOps; k++) step();
            } catch (Exception e) {
                if (!dev.powerOff()) throw e;
            }
            if (dev.powerOff()) powerCuts++;
            for (Rec r : live()) r.file = null;       // dropped with the volume
            fs.abandon();
            dev.crash();
            crashPoints++;
            if (fsckEvery > 0 && crashPoints % fsckEvery == 0) {
                FsckReport rep = Fsck.check(dev);
                if (!rep.problems().isEmpty()) throw new AssertionError("fsck after the crash found problems:\n" + rep.describe());
            }
            fs = FolioFs.mount(dev);
            config(fs);
            verify();
        }

        void step() throws IOException {
            List<Rec> live = live();
            int op = rnd.nextInt(100);
            if (live.isEmpty() || op < 8 && live.size() < 6) {
                String name = "f" + nextName++;
                long ino = fs.create(FolioFs.ROOT_INO, name, 0644, 0, 0).ino();
                Rec r = new Rec(ino, nextFid++, name);
                byIno.computeIfAbsent(ino, x -> new ArrayList<>()).add(r);
                names.put(name, r);
                r.file = fs.openFile(ino);
                note("create " + ino);
                return;
            }
            Rec r = live.get(rnd.nextInt(live.size()));
            long gen = rnd.nextLong();
            if (op < 45) {                                          // buffered write
                int pos = rnd.nextInt(96 << 10), len = 1 + rnd.nextInt(20 << 10);
                byte[] d = data(r.fid, gen, pos, len);
                byte[] now = Arrays.copyOf(r.cur, Math.max(r.cur.length, pos + len));
                System.arraycopy(d, 0, now, pos, len);
                r.changed(now);                     // before the call: a failed call may have done part of it
                note("write " + r.ino + " at " + pos + " +" + len);
                r.file.write(pos, MemorySegment.ofArray(d));
            } else if (op < 58) {                                   // direct write
                int u = directUnit, pos = rnd.nextInt(192 * 512 / u) * u, len = (1 + rnd.nextInt(40 * 512 / u)) * u;
                byte[] d = data(r.fid, gen, pos, len);
                byte[] now = Arrays.copyOf(r.cur, Math.max(r.cur.length, pos + len));
                System.arraycopy(d, 0, now, pos, len);
                r.changed(now);
                note("writeDirect " + r.ino + " at " + pos + " +" + len);
                r.file.writeDirect(pos, MemorySegment.ofArray(d), rnd.nextInt(4) == 0 ? FolioFile.DSYNC : 0);
            } else if (op < 75) {                                   // fsync
                boolean dataOnly = rnd.nextBoolean();
                note("fsync " + r.ino);
                r.file.fsync(dataOnly);
                r.synced = r.cur;
                r.syncedName = r.name;
                r.syncedValid = r.name != null;
                if (!dataOnly) {                                    // fsync (not fdatasync) covers the xattrs
                    r.syncedX = new TreeMap<>(r.xattrs);
                    r.xSyncedValid = true;
                }
            } else if (op < 84) {                                   // truncate
                int size = rnd.nextInt(100 << 10);
                byte[] now = Arrays.copyOf(r.cur, size);
                r.changed(now);
                note("truncate " + r.ino + " to " + size);
                r.file.truncate(size);
            } else if (op < 90) {                                   // unlink (closing the handle first or not)
                if (r.name == null) return;
                if (rnd.nextBoolean()) { FolioFile f = r.file; r.file = null; f.close(); }
                names.remove(r.name);
                String n = r.name;
                r.name = null;
                r.syncedValid = false;
                note("unlink " + r.ino);
                fs.unlink(FolioFs.ROOT_INO, n);
                if (r.file != null && rnd.nextBoolean()) { FolioFile f = r.file; r.file = null; f.close(); }
            } else if (op < 96) {                                   // rename, maybe over another file
                if (r.name == null) return;
                Rec victim = null;
                String to;
                if (rnd.nextBoolean() && names.size() > 1) {
                    List<String> ns = new ArrayList<>(names.keySet());
                    ns.sort(null);
                    to = ns.get(rnd.nextInt(ns.size()));
                    victim = names.get(to);
                    if (victim == r) return;
                } else {
                    to = "f" + nextName++;
                }
                String from = r.name;
                r.syncedValid = false;
                if (victim != null) { victim.syncedValid = false; victim.name = null; }
                names.remove(from);
                names.put(to, r);
                r.name = to;
                note("rename " + r.ino + " over " + (victim == null ? "nothing" : victim.ino));
                fs.rename(FolioFs.ROOT_INO, from, FolioFs.ROOT_INO, to, 0);
            } else {
                fs.sync();
            }
        }

        void verify() throws IOException {
            Map<String, Long> dir = new HashMap<>();
            for (DirEntry e : fs.list(FolioFs.ROOT_INO)) dir.put(new String(e.name()), e.ino());
            // fsynced, unchanged files are there with exactly their fsynced content
            for (List<Rec> rs : byIno.values()) {
                Rec r = rs.getLast();
                if (!r.syncedValid) continue;
                assertThat(dir.get(r.syncedName)).as("fsynced file %s (inode %d) after recovery", r.syncedName, r.ino)
                        .isEqualTo(r.ino);
                byte[] got = content(r.ino);
                if (!Arrays.equals(got, r.synced)) {
                    int at = Arrays.mismatch(got, r.synced);
                    throw new AssertionError("content of fsynced file " + r.syncedName + " (inode " + r.ino + ") differs at offset " + at
                            + ": size " + got.length + ", fsynced size " + r.synced.length + ", got 0x"
                            + (at < got.length ? Integer.toHexString(got[at] & 0xff) : "-") + " want 0x"
                            + (at < r.synced.length ? Integer.toHexString(r.synced[at] & 0xff) : "-"));
                }
                if (r.xSyncedValid) {
                    assertThat(hex(xattrs(r.ino))).as("xattrs of fsynced file %s (inode %d)", r.syncedName, r.ino)
                            .isEqualTo(hex(r.syncedX));
                }
            }
            Map<Long, List<Rec>> next = new HashMap<>();
            names.clear();
            for (Map.Entry<String, Long> e : dir.entrySet()) {
                long ino = e.getValue();
                List<Rec> rs = byIno.get(ino);
                assertThat(rs).as("file %s (inode %d) appeared from nowhere", e.getKey(), ino).isNotNull();
                byte[] got = content(ino);
                int max = 0;
                for (Rec r : rs) for (byte[] im : r.images) max = Math.max(max, im.length);
                assertThat(got.length).as("size of %s", e.getKey()).isLessThanOrEqualTo(max);
                boolean same = false;
                for (Rec r : rs) for (byte[] im : r.images) same |= Arrays.equals(im, got);
                for (int p = 0; !same && p < got.length; p++) {
                    if (got[p] == 0) continue;
                    boolean ok = false;
                    for (Rec r : rs) {
                        for (byte[] im : r.images) if (p < im.length && im[p] == got[p]) { ok = true; break; }
                        if (ok) break;
                    }
                    if (!ok) throw new AssertionError("file " + e.getKey() + " (inode " + ino + ") shows data never written to it at offset "
                            + p + " (byte 0x" + Integer.toHexString(got[p] & 0xff) + ", size " + got.length + ")");
                }
                Map<String, byte[]> gotX = xattrs(ino);
                for (Map.Entry<String, byte[]> x : gotX.entrySet()) {
                    String k = xkey(x.getKey(), x.getValue());
                    boolean known = false;
                    for (Rec r : rs) known |= r.everX.contains(k);
                    if (!known) throw new AssertionError("file " + e.getKey() + " (inode " + ino + ") shows xattr " + x.getKey()
                            + " with a value never set (" + x.getValue().length + " bytes)");
                }
                Rec base = new Rec(ino, rs.getLast().fid, e.getKey());
                base.xattrs = gotX;
                base.syncedX = new TreeMap<>(gotX);
                for (Map.Entry<String, byte[]> x : gotX.entrySet()) base.everX.add(xkey(x.getKey(), x.getValue()));
                base.changed(got);
                base.images.removeFirst();
                base.synced = got;
                base.syncedName = e.getKey();
                next.put(ino, new ArrayList<>(List.of(base)));
                names.put(e.getKey(), base);
            }
            if (VERIFY_ALLOCATOR) fs.op(h -> fs.allocator().verify(h));
            fs.sync();
            for (List<Rec> rs : next.values()) rs.getFirst().syncedValid = rs.getFirst().xSyncedValid = true;   // durable after the sync
            byIno.clear();
            byIno.putAll(next);
        }

        Map<String, byte[]> xattrs(long ino) throws IOException {
            Map<String, byte[]> m = new TreeMap<>();
            for (String n : fs.listxattr(ino)) m.put(n, fs.getxattr(ino, n));
            return m;
        }

        static String xkey(String name, byte[] value) { return name + "=" + HexFormat.of().formatHex(value); }

        static Map<String, String> hex(Map<String, byte[]> m) {
            Map<String, String> h = new TreeMap<>();
            for (Map.Entry<String, byte[]> e : m.entrySet()) h.put(e.getKey(), HexFormat.of().formatHex(e.getValue()));
            return h;
        }

        byte[] content(long ino) throws IOException {
            try (FolioFile f = fs.openFile(ino)) {
                byte[] a = new byte[(int) f.size()];
                long n = f.read(0, MemorySegment.ofArray(a));
                assertThat(n).isEqualTo(a.length);
                return a;
            }
        }

        void close() throws IOException {
            FsIoMapOps.afterAllocate = null;
            for (Rec r : live()) r.file.close();
            fs.close();
            dev.close();
        }
    }

    static long seed() {
        String s = System.getProperty("foliofs.seed");
        long seed = s != null ? Long.parseLong(s) : System.nanoTime();
        System.out.println("seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    @Test
    void crashCampaign() throws Exception {
        long seed = seed();
        int points = Integer.getInteger("foliofs.crash.points", 1000);
        Campaign c = new Campaign(seed);
        try {
            for (int i = 0; i < points; i++) {
                if (i > 0 && i % VOLUME_ROUNDS == 0) c.freshVolume();
                try {
                    c.round(3 + c.rnd.nextInt(20));
                } catch (Throwable t) {
                    throw new AssertionError("round " + i + " failed after steps " + c.trace + " (seed=" + seed
                            + "; replay: mvn -o -pl foliofs-core test -Dtest=FsCrashTest#crashCampaign -Dfoliofs.seed=" + seed + ")", t);
                }
            }
            System.out.println("crash points=" + c.crashPoints + " power cuts mid-round=" + c.powerCuts);
            assertThat(c.crashPoints).isGreaterThanOrEqualTo(points);
            assertThat(c.powerCuts).isGreaterThan(points / 4);
        } finally {
            FsIoMapOps.afterAllocate = null;
            c.close();
        }
    }

    @Test
    void campaignCatchesConversionBeforeDataIo() throws Exception {
        long seed = seed();
        FsIoMapOps.brokenAllocateWritten = true;
        Campaign c = new Campaign(seed);
        try {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 2000; i++) c.round(3 + c.rnd.nextInt(25));
            }).isInstanceOf(AssertionError.class).satisfiesAnyOf(
                    t -> assertThat(t).hasMessageContaining("never written"),
                    t -> assertThat(t).hasMessageContaining("content of fsynced file"));
        } finally {
            FsIoMapOps.brokenAllocateWritten = false;
            FsIoMapOps.afterAllocate = null;
            c.dev.close();
        }
    }
}
