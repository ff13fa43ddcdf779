package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Crash campaign for the file operations beyond plain writes, on top of {@link FsCrashTest}'s
 * campaign (same oracle, same power cuts, torn log writes included): its seeded random steps add
 * fallocate in every mode (allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE,
 * UNSHARE_RANGE), reflink clones (whole file, ranges, within one file, to EOF unaligned; later writes
 * to either side copy on write), extended attributes (set, replace, remove) and full fsyncs. Clones
 * are cut into handles of 1 to 3 steps, so power cuts land between them. After every crash: fsck
 * (journal replay) must be clean, then mount; every fsynced, unchanged file has its content and
 * (after a full fsync) its xattrs; no file shows bytes or xattr values never written to it; the
 * allocator verifies.
 *
 * <p>A crash part-way through a multi-handle operation leaves a state between the old and new
 * image (a prefix of a clone or an unshare, a partly shifted collapse or insert, a punch without the
 * preallocation of a zero range): every byte is then the old image's, the new one's, or zero, which
 * the per-byte oracle accepts; fsck checks the structure.
 *
 * <p>Default: {@value #DEFAULT_ROUNDS} crash points (fsck after each);
 * {@code -Dfoliofs.crash.rounds=100000} for a long run; {@code -Dfoliofs.seed=S} replays. A failure
 * prints the seed and the replay command. {@link #campaignCatchesCloneWithoutRefcounts} proves the
 * campaign fails when clones do not count their sharing.
 */
class FsOpsCrashTest {
    static final int BS = FsCrashTest.BS;
    static final int DEFAULT_ROUNDS = 600;
    static final int[] MODES = {0, FolioFile.FALLOC_KEEP_SIZE, FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE,
            FolioFile.FALLOC_ZERO_RANGE, FolioFile.FALLOC_ZERO_RANGE | FolioFile.FALLOC_KEEP_SIZE, FolioFile.FALLOC_COLLAPSE_RANGE,
            FolioFile.FALLOC_INSERT_RANGE, FolioFile.FALLOC_UNSHARE_RANGE, FolioFile.FALLOC_UNSHARE_RANGE | FolioFile.FALLOC_KEEP_SIZE};

    static final class OpsCampaign extends FsCrashTest.Campaign {
        int clones, fallocates, xattrOps;

        OpsCampaign(long seed) throws IOException {
            super(seed);
            // punch, zero range and collapse no longer write back the data they remove, so rounds
            // issue fewer device writes: a narrower window keeps about a third of the rounds cut mid-way
            cutWindow = 24;
            fsckEvery = 1;
            // Direct writes keep the base campaign's 512-byte unit: into shared blocks, the unaligned
            // ones fall back to write-through (FolioFile.writeDirect, as XFS falls back to buffered I/O).
        }

        @Override
        void step() throws IOException {
            List<FsCrashTest.Rec> live = live();
            int op = rnd.nextInt(100);
            if (live.isEmpty() || op < 50) {
                super.step();
                return;
            }
            FsCrashTest.Rec r = live.get(rnd.nextInt(live.size()));
            Reflink.testMaxStepsPerHandle = 1 + rnd.nextInt(3);
            if (op < 70) fallocate(r);
            else if (op < 85) cloneTo(r, live.get(rnd.nextInt(live.size())));
            else if (op < 93) xattr(r);
            else {
                r.file.fsync(false);
                r.synced = r.cur;
                r.syncedName = r.name;
                r.syncedValid = r.name != null;
                r.syncedX = new TreeMap<>(r.xattrs);
                r.xSyncedValid = true;
            }
        }

        void fallocate(FsCrashTest.Rec r) throws IOException {
            int mode = MODES[rnd.nextInt(MODES.length)];
            byte[] cur = r.cur;
            int size = cur.length;
            long off, len;
            byte[] now;
            boolean keep = (mode & FolioFile.FALLOC_KEEP_SIZE) != 0;
            if (mode == FolioFile.FALLOC_COLLAPSE_RANGE) {
                int m = (size - 1) / BS;                       // collapse must end before the size
                if (size == 0 || m < 1) return;
                int offB = rnd.nextInt(m), lenB = 1 + rnd.nextInt(m - offB);
                off = (long) offB * BS;
                len = (long) lenB * BS;
                now = new byte[size - (int) len];
                System.arraycopy(cur, 0, now, 0, (int) off);
                System.arraycopy(cur, (int) (off + len), now, (int) off, size - (int) (off + len));
            } else if (mode == FolioFile.FALLOC_INSERT_RANGE) {
                if (size == 0) return;
                int offB = rnd.nextInt((size - 1) / BS + 1), lenB = 1 + rnd.nextInt(8);
                off = (long) offB * BS;
                len = (long) lenB * BS;
                if (size + len > (256 << 10)) return;
                now = new byte[size + (int) len];
                System.arraycopy(cur, 0, now, 0, (int) off);
                System.arraycopy(cur, (int) off, now, (int) (off + len), size - (int) off);
            } else {
                off = rnd.nextInt(128 << 10);
                len = 1 + rnd.nextInt(32 << 10);
                int end = (int) (off + len);
                if ((mode & FolioFile.FALLOC_PUNCH_HOLE) != 0) {
                    now = cur.clone();
                    if (off < size) Arrays.fill(now, (int) off, Math.min(end, size), (byte) 0);
                } else if ((mode & FolioFile.FALLOC_ZERO_RANGE) != 0) {
                    now = Arrays.copyOf(cur, keep ? size : Math.max(size, end));
                    if (off < now.length) Arrays.fill(now, (int) off, Math.min(end, now.length), (byte) 0);
                } else {                                       // allocate / unshare: content unchanged
                    now = keep ? cur : Arrays.copyOf(cur, Math.max(size, end));
                }
            }
            fallocates++;
            note("fallocate " + r.ino + " mode 0x" + Integer.toHexString(mode) + " [" + off + ", +" + len + ") size " + size);
            if (!Arrays.equals(now, cur)) r.changed(now);      // before the call: a cut call may have done part of it
            r.file.fallocate(mode, off, len);
        }

        /** A clone into {@code r} from {@code s} (possibly the same file). */
        void cloneTo(FsCrashTest.Rec r, FsCrashTest.Rec s) throws IOException {
            byte[] from = s.cur;
            int ss = from.length;
            if (ss == 0) return;
            long srcOff = (long) rnd.nextInt(Math.ceilDiv(ss, BS)) * BS;
            long len, passLen;
            long maxB = (ss - srcOff) / BS;
            if (maxB == 0 || rnd.nextInt(3) == 0) {            // to the source's EOF, maybe unaligned
                len = ss - srcOff;
                passLen = rnd.nextBoolean() ? 0 : len;
            } else {
                len = (1 + rnd.nextInt((int) Math.min(maxB, 12))) * (long) BS;
                passLen = len;
            }
            long dstOff = (long) rnd.nextInt(48) * BS;
            if (len % BS != 0 && dstOff + len < r.cur.length) {   // an unaligned tail must not end inside the destination
                len = len / BS * BS;
                if (len == 0) return;
                passLen = len;
            }
            long blocks = Math.ceilDiv(len, BS) * BS;
            if (s == r && srcOff < dstOff + blocks && dstOff < srcOff + blocks) return;
            byte[] now = Arrays.copyOf(r.cur, (int) Math.max(r.cur.length, dstOff + len));
            System.arraycopy(from, (int) srcOff, now, (int) dstOff, (int) len);
            clones++;
            note("clone " + s.ino + " [" + srcOff + ", +" + len + ") to " + r.ino + " at " + dstOff + " (size " + r.cur.length
                    + ", steps/handle " + Reflink.testMaxStepsPerHandle + ")");
            r.changed(now);
            r.file.cloneRange(s.file, srcOff, dstOff, passLen);
        }

        void xattr(FsCrashTest.Rec r) throws IOException {
            String name = "user.k" + rnd.nextInt(4);
            xattrOps++;
            r.xSyncedValid = false;
            if (rnd.nextInt(3) == 0) {
                r.xattrs.remove(name);
                fs.removexattr(r.ino, name);
            } else {
                byte[] v = new byte[1 + rnd.nextInt(120)];
                rnd.nextBytes(v);
                r.xattrs.put(name, v);
                r.everX.add(xkey(name, v));
                fs.setxattr(r.ino, name, v, 0);
            }
        }
    }

    static void run(OpsCampaign c, long seed, int rounds) {
        for (int i = 0; i < rounds; i++) {
            try {
                if (i > 0 && i % FsCrashTest.VOLUME_ROUNDS == 0) c.freshVolume();
                c.round(3 + c.rnd.nextInt(20));
            } catch (Throwable t) {
                throw new AssertionError("round " + i + " failed after steps " + c.trace + " (seed=" + seed + "; replay: mvn -o -pl foliofs-core test"
                        + " -Dtest=FsOpsCrashTest#crashCampaign -Dfoliofs.seed=" + seed + ")", t);
            }
        }
    }

    @Test
    void crashCampaign() throws Exception {
        long seed = FsCrashTest.seed();
        int rounds = Integer.getInteger("foliofs.crash.rounds", DEFAULT_ROUNDS);
        OpsCampaign c = new OpsCampaign(seed);
        try {
            run(c, seed, rounds);
        } catch (Throwable t) {
            Reflink.testMaxStepsPerHandle = 0;
            FsIoMapOps.afterAllocate = null;
            c.fs.abandon();                 // the volume may be powered off: keep the failure, not a close error
            c.dev.close();
            throw t;
        }
        Reflink.testMaxStepsPerHandle = 0;
        c.close();
        System.out.println("crash points=" + c.crashPoints + " power cuts mid-round=" + c.powerCuts + " clones=" + c.clones
                + " fallocates=" + c.fallocates + " xattr ops=" + c.xattrOps);
        assertThat(c.crashPoints).isGreaterThanOrEqualTo(rounds);
        // About 26% of rounds (a cut at request 1-30 of rounds of 3-22 operations): at least a fifth
        // (rounds / 4 failed 1 run in ~10 with 150 of 600, by chance, with or without a change).
        assertThat(c.powerCuts).isGreaterThan(rounds / 5);
        assertThat(c.clones).isGreaterThan(rounds / 2);
        assertThat(c.fallocates).isGreaterThan(rounds / 2);
    }

    @Test
    void campaignCatchesCloneWithoutRefcounts() throws Exception {
        long seed = FsCrashTest.seed();
        Reflink.brokenNoRefcount = true;
        OpsCampaign c = new OpsCampaign(seed);
        try {
            assertThatThrownBy(() -> run(c, seed, 2000)).isInstanceOf(AssertionError.class)
                    .satisfiesAnyOf(
                            t -> assertThat(t.getCause()).hasMessageContaining("fsck after the crash found problems"),
                            t -> assertThat(t.getCause()).hasMessageContaining("content of fsynced file"),
                            t -> assertThat(t.getCause()).hasMessageContaining("never written"),
                            // the missing refcount can also surface as a double free while the campaign runs
                            t -> assertThat(t.getCause()).isInstanceOf(CorruptMetadataException.class));
        } finally {
            Reflink.brokenNoRefcount = false;
            Reflink.testMaxStepsPerHandle = 0;
            FsIoMapOps.afterAllocate = null;
            c.dev.close();
        }
    }
}
