package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.foliofs.device.SimDevice;
import org.foliofs.iomap.BufferedIo;
import org.foliofs.iomap.WriteThroughFaults;
import org.foliofs.pagecache.PageCache;
import org.junit.jupiter.api.Test;

/**
 * Crash campaign for buffered write-through (WRITETHROUGH.md sections 1-9; issue 5): seeded random
 * rounds of write-through, write-through+DSYNC (synchronous, and asynchronous batches of several
 * calls in flight), plain buffered writes (under each per-file write mode), fsync, direct writes
 * (+DSYNC, sync and async), truncate up and down, fallocate (preallocate, punch, zero), page cache
 * eviction and journal commits, over holes, unwritten and written ranges, sub-block to multi-extent
 * sizes, on 4096- and 1024-byte blocks, with and without native FUA. Each round ends in a crash:
 * a {@link SimDevice#powerCutAt power cut} at a random write or flush (that write may be torn), a
 * plain {@link SimDevice#crash()} of a live device, or a crash while asynchronous write-throughs
 * have their data on the device but their end-of-I/O work (unwritten conversion, size update,
 * DSYNC sync) not yet run. Then mount (journal recovery) and check, per file, against an oracle:
 * <ul>
 *   <li>every byte reads as a value some write, truncate or fallocate since the last durable point
 *       put there (or the durable value itself), or, past the size an earlier recovery found, a
 *       value a crashed round wrote there (the file's own data whose size update was lost: "once
 *       written there"): never stale data (the device starts filled with a marker), never data of
 *       another file or offset, never bytes a truncate removed;</li>
 *   <li>every acknowledged DSYNC write (of any kind) and every range covered by a completed fsync
 *       reads back exactly (unless a later call changed it, whose values are then admitted);</li>
 *   <li>the size lies between what acknowledged DSYNC writes and fsyncs made durable (lowered by
 *       later truncates) and the largest size any call asked for;</li>
 * </ul>
 * then a clean unmount and {@link Fsck} must find no problem.
 *
 * <p>Determinism: completions are inline, writeback end-of-I/O work runs inline and the
 * asynchronous calls' end-of-I/O work is held by {@link HoldingExecutor} until the test runs it,
 * so a seed replays the same history. Default:
 * 1,000 crash points ({@code -Dfoliofs.wtcrash.rounds=N} for a long run); a failure names the
 * seed and the replay command ({@code -Dfoliofs.wtcrash.seed=S}).
 * {@link #campaignCatchesSkippedDsyncSync} proves the campaign fails when DSYNC write-through skips
 * its journal force, {@link #campaignCatchesNewBlocksMappedWrittenBeforeTheirData} when new blocks
 * are mapped written before their data reached the device (stale data).
 */
class WriteThroughCrashTest {
    static final int WT = FolioFile.WRITETHROUGH, DSYNC = FolioFile.DSYNC, DIRECT = FolioFile.DIRECT;
    /** Writes start below SPAN; nothing reaches past MAX. */
    static final int SPAN = 448 << 10, MAX = 640 << 10;
    /** Asynchronous batches put one call in each of distinct windows: folios (at most 64 KiB, aligned) never cross one. */
    static final int WINDOW = 128 << 10;
    static final int FILES = 3;
    static final int VOLUME_ROUNDS = Integer.getInteger("foliofs.wtcrash.volumeRounds", 100);

    // ---- deterministic asynchronous end-of-I/O work -------------------------------------------------------

    /**
     * The volume's engine executor. While {@link #hold} is on, the end-of-I/O work of asynchronous
     * write-throughs (submitted from IoCall.finishOnExecutor on the test thread: completions are
     * inline) is queued until {@link #runHeld}, so a seed always replays the same request order, and
     * a round can crash before it runs. Other work submitted by the test thread (writeback
     * end-of-I/O) runs inline on it, in order; work from other threads goes to the default pool.
     */
    static final class HoldingExecutor implements Executor {
        private static final StackWalker WALKER = StackWalker.getInstance();
        final Executor delegate = BufferedIo.Options.defaults().executor();
        final Thread owner = Thread.currentThread();
        final ArrayDeque<Runnable> held = new ArrayDeque<>();
        boolean hold;

        @Override
        public void execute(Runnable r) {
            if (Thread.currentThread() != owner) delegate.execute(r);
            else if (hold && fromWriteThrough()) held.add(r);
            else r.run();   // writeback end-of-I/O work: inline, in submission order (deterministic)
        }

        private static boolean fromWriteThrough() {
            return WALKER.walk(s -> s.filter(f -> !f.getClassName().equals(HoldingExecutor.class.getName()))
                    .findFirst()
                    // IoCall.finishOnExecutor: on this (BufferedIo) executor only WriteThrough calls finish
                    .map(f -> f.getClassName().equals("org.foliofs.iomap.IoCall") && f.getMethodName().equals("finishOnExecutor"))
                    .orElse(false));
        }

        void runHeld() {
            Runnable r;
            while ((r = held.poll()) != null) r.run();
        }
    }

    /** Thrown by a step to end the round at once (a crash with held end-of-I/O work). */
    static final class CrashNow extends RuntimeException {
        CrashNow() { super("crash now", null, false, false); }
    }

    // ---- the oracle ---------------------------------------------------------------------------------------

    /** One change since the last durable point: [a, b) got the pattern of gen (zeros when gen is 0). */
    record Op(String what, int a, int b, long gen) {}

    static byte byteAt(long fid, long gen, long pos) {
        if (gen == 0) return 0;
        long x = fid * 0x9E3779B97F4A7C15L + gen * 0xC2B2AE3D27D4EB4FL;
        long v = x + pos * 0x165667B19E3779F9L;
        v ^= v >>> 29;
        return (byte) (v * 0x94D049BB133111EBL >>> 56);
    }

    static byte[] data(long fid, long gen, long pos, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) b[i] = byteAt(fid, gen, pos + i);
        return b;
    }

    /** What the test knows about one file. */
    static final class F {
        final long fid, ino;
        final int mode;             // per-file write mode (Inode.WMODE_*)
        FolioFile file;
        final byte[] cur = new byte[MAX];   // what reads return now (zeros past the size)
        int size;
        byte[] base = new byte[0];  // the durable content at the last durable point
        /**
         * Values past the size that may still be on the device: what a crashed round's changes put
         * past the size recovery found (the file's own data at that offset, written there once);
         * admitted like the base until a durable point covers the byte. Nothing ever removes them
         * beyond the size (the oracle admits "any value once written there, or zero").
         */
        final List<Op> ghosts = new ArrayList<>();
        final List<Op> ops = new ArrayList<>();
        final int[] floor = new int[MAX];   // per byte: ops below floor - 1 and (if > 0) the base are no longer admissible
        int sizeLo, sizeHi;
        String sizeLoWhy = "the last durable point";

        F(long fid, long ino, int mode) {
            this.fid = fid;
            this.ino = ino;
            this.mode = mode;
        }

        /** Records a change before the call makes it (a call that fails may have done any part of it). */
        int change(String what, int a, int b, long gen) {
            if (a >= b) return -1;
            ops.add(new Op(what, a, b, gen));
            for (int p = a; p < b; p++) cur[p] = byteAt(fid, gen, p);
            return ops.size() - 1;
        }

        int write(String what, int pos, int len, long gen) {
            if (pos > size) change("zeros before " + what, size, pos, 0);
            int k = change(what, pos, pos + len, gen);
            grow(pos + len);
            return k;
        }

        void grow(int end) {
            if (end > size) size = end;
            sizeHi = Math.max(sizeHi, size);
        }

        void truncate(int t) {
            if (t < size) {
                change("truncate to " + t, t, size, 0);
                // the bound still rests on what set it before (an acknowledged write, say): keep that in the message
                if (t < sizeLo) { sizeLo = t; sizeLoWhy = "truncate to " + t + ", below " + sizeLoWhy; }
            } else {
                change("truncate up to " + t, size, t, 0);
            }
            size = t;
            sizeHi = Math.max(sizeHi, t);
        }

        /** Op k (a DSYNC write of [a, b)) was acknowledged: its bytes are durable. */
        void durable(int k, int a, int b) {
            if (k < 0) return;
            for (int p = a; p < b; p++) floor[p] = Math.max(floor[p], k + 1);
            if (b > sizeLo) { sizeLo = b; sizeLoWhy = ops.get(k).what() + " (acknowledged)"; }
        }

        /** Everything is durable as it is now (fsync, or the state found after recovery). */
        void rebase() {
            List<Op> keep = new ArrayList<>();
            for (Op g : ghosts) if (g.b() > size) keep.add(new Op(g.what(), Math.max(g.a(), size), g.b(), g.gen()));
            ghosts.clear();
            ghosts.addAll(keep);
            base = Arrays.copyOf(cur, size);
            ops.clear();
            Arrays.fill(floor, 0);
            sizeLo = sizeHi = size;
            sizeLoWhy = "the last durable point";
        }

        void check(byte[] got, String ctx) {
            int n = got.length;
            if (n < sizeLo || n > sizeHi) {
                throw new AssertionError(ctx + ": size " + n + " outside [" + sizeLo + ", " + sizeHi + "] (lower bound from " + sizeLoWhy
                        + "; " + ops.size() + " ops since the last durable point)");
            }
            boolean[] ok = new boolean[n];
            for (int p = 0; p < n; p++) ok[p] = floor[p] == 0 && got[p] == (p < base.length ? base[p] : 0);
            for (Op g : ghosts) {
                for (int p = g.a(), e = Math.min(g.b(), n); p < e; p++) if (!ok[p] && floor[p] == 0 && got[p] == byteAt(fid, g.gen(), p)) ok[p] = true;
            }
            for (int k = 0; k < ops.size(); k++) {
                Op o = ops.get(k);
                for (int p = o.a(), e = Math.min(o.b(), n); p < e; p++) {
                    if (!ok[p] && floor[p] <= k + 1 && got[p] == byteAt(fid, o.gen(), p)) ok[p] = true;
                }
            }
            for (int p = 0; p < n; p++) {
                if (ok[p]) continue;
                int bad = p;
                while (bad < n && !ok[bad]) bad++;
                StringBuilder why = new StringBuilder(ctx + ": bytes [" + p + ", " + bad + ") read 0x" + Integer.toHexString(got[p] & 0xff)
                        + "... which no admissible change put there (size " + n + ")");
                if (floor[p] > 0) {
                    why.append("; durable since ").append(ops.get(floor[p] - 1)).append(" was acknowledged (want 0x")
                            .append(Integer.toHexString(byteAt(fid, ops.get(floor[p] - 1).gen(), p) & 0xff)).append(")");
                } else {
                    why.append("; base 0x").append(p < base.length ? Integer.toHexString(base[p] & 0xff) : "00 (past the base size " + base.length + ")");
                }
                why.append("; read around it from ").append(Math.max(0, p - 16)).append(": ").append(hex(got, Math.max(0, p - 16), Math.min(n, bad + 16)));
                why.append("; bad ranges:");
                int shown = 0;
                for (int q = p; q < n && shown < 12; q++) {
                    if (ok[q]) continue;
                    int e = q;
                    while (e < n && !ok[e]) e++;
                    why.append(" [").append(q).append(", ").append(e).append(')');
                    shown++;
                    q = e;
                }
                why.append("; changes since the last durable point covering it: ");
                for (int k = 0; k < ops.size(); k++) {
                    Op o = ops.get(k);
                    if (o.a() <= p && p < o.b()) why.append('#').append(k).append(' ').append(o.what()).append(", ");
                }
                throw new AssertionError(why.toString());
            }
        }
    }

    static String hex(byte[] b, int from, int to) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to; i++) sb.append(String.format("%02x", b[i] & 0xff));
        return sb.toString();
    }

    // ---- the campaign -------------------------------------------------------------------------------------

    static final class Campaign {
        final long seed;
        final Random rnd;
        final Random hookRnd;
        SimDevice dev;
        FolioFs fs;
        HoldingExecutor exec;
        int bs;
        final List<F> files = new ArrayList<>();
        long nextGen = 1;
        int crashPoints, powerCuts, heldCrashes, dsyncAcks, asyncCalls, volumes;
        final StringBuilder log = new StringBuilder();
        String volumeDesc;

        Campaign(long seed) throws IOException {
            this.seed = seed;
            rnd = new Random(seed);
            hookRnd = new Random(~seed);
            FsIoMapOps.afterAllocate = fi -> { if (hookRnd.nextInt(3) == 0) fi.fs.syncMetadata(); };
            freshVolume();
        }

        void freshVolume() throws IOException {
            if (fs != null) fs.abandon();
            if (dev != null) dev.close();
            files.clear();
            volumes++;
            bs = rnd.nextBoolean() ? 4096 : 1024;
            boolean fua = rnd.nextInt(3) != 0;
            dev = SimDevice.builder().capacity(16L << 20).supportsFua(fua).seed(rnd.nextLong()).build();
            FsCrashTest.Campaign.fillMarker(dev);
            fs = FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(bs).withAgCount(2));
            config();
            for (int i = 0; i < FILES; i++) {
                int mode = switch (rnd.nextInt(6)) {
                    case 0 -> Inode.WMODE_WRITETHROUGH;
                    case 1 -> Inode.WMODE_WRITETHROUGH_DSYNC;
                    default -> Inode.WMODE_DEFAULT;
                };
                long ino = fs.create(FolioFs.ROOT_INO, "f" + i, 0644, 0, 0).ino();
                if (mode != Inode.WMODE_DEFAULT) fs.setattr(ino, new FolioFs.SetAttr(null, null, null, null, null, null, null, mode));
                F f = new F(volumes * 100L + i, ino, mode);
                files.add(f);
            }
            fs.sync();
            openAll();
            volumeDesc = "volume " + volumes + ": block size " + bs + ", FUA " + fua;
        }

        void config() {
            exec = new HoldingExecutor();
            fs.setPageCacheConfig(PageCache.Config.builder().memoryBytes(32L << 20).dirtyExpireMillis(3_600_000).build());
            fs.setBufferedIoOptions(BufferedIo.Options.defaults().withMaxFolioOrder(4).withExecutor(exec));
        }

        void openAll() throws IOException {
            for (F f : files) f.file = fs.openFile(f.ino);
        }


        /** One round: random steps until the power cut (or the end), crash, mount, check, unmount, fsck, mount. */
        void round(int maxOps) throws Exception {
            log.setLength(0);
            log.append(volumeDesc).append('\n');
            boolean cut = rnd.nextInt(8) != 0;
            int at = 1 + rnd.nextInt(40);
            if (cut) dev.powerCutAt(at);
            note(cut ? "power cut at the " + at + "th write/flush from now" : "no power cut (crash at the end)");
            boolean crashNow = false;
            try {
                for (int k = 0; k < maxOps; k++) step();
            } catch (CrashNow e) {
                crashNow = true;
            } catch (Exception e) {
                if (!dev.powerOff()) {
                    throw new AssertionError("step failed without a power cut; log:\n" + log, e);
                }
                note("power off: " + e);
            }
            if (dev.powerOff()) powerCuts++;
            if (crashNow) heldCrashes++;
            exec.held.clear();          // end-of-I/O work never run: the crash came first
            for (F f : files) f.file = null;
            fs.abandon();
            dev.crash();
            crashPoints++;
            fs = FolioFs.mount(dev);
            config();
            for (F f : files) {
                byte[] got;
                try (FolioFile ff = fs.openFile(f.ino)) {
                    got = new byte[(int) ff.size()];
                    long n = ff.read(0, MemorySegment.ofArray(got));
                    assertThat(n).isEqualTo(got.length);
                }
                try {
                    f.check(got, "file " + f.ino + " after recovery");
                } catch (AssertionError e) {
                    throw new AssertionError(e.getMessage() + "\nround log:\n" + log, e);
                }
                // the state found is the new durable point (a clean unmount follows)
                for (Op o : f.ops) if (o.gen() != 0 && o.b() > got.length) f.ghosts.add(new Op("ghost of " + o.what(), Math.max(o.a(), got.length), o.b(), o.gen()));
                Arrays.fill(f.cur, (byte) 0);
                System.arraycopy(got, 0, f.cur, 0, got.length);
                f.size = got.length;
                f.rebase();
            }
            fs.close();
            FsckReport r = Fsck.check(dev);
            if (!r.problems().isEmpty()) throw new AssertionError("fsck after recovery: " + r.describe() + "\nround log:\n" + log);
            fs = FolioFs.mount(dev);
            config();
            openAll();
        }

        int len() {
            return switch (rnd.nextInt(6)) {
                case 0 -> 1 + rnd.nextInt(700);                  // sub-block
                case 1 -> bs;                                    // one block
                case 2, 3 -> 1 + rnd.nextInt(16 << 10);
                case 4 -> 1 + rnd.nextInt(64 << 10);
                default -> 1 + rnd.nextInt(192 << 10);            // multi-folio, often multi-extent
            };
        }

        int pos() {
            return switch (rnd.nextInt(4)) {
                case 0 -> rnd.nextInt(SPAN / bs) * bs;           // block aligned
                default -> rnd.nextInt(SPAN);
            };
        }

        void note(String s) { log.append(s).append('\n'); }

        void step() throws Exception {
            F f = files.get(rnd.nextInt(files.size()));
            int op = rnd.nextInt(100);
            if (op < 14) {                                              // plain write: the file's write mode decides
                int pos = pos(), len = Math.min(len(), MAX - pos);
                boolean ds = f.mode == Inode.WMODE_WRITETHROUGH_DSYNC;
                writeSync(f, pos, len, 0, ds, "write(mode " + f.mode + ")");
            } else if (op < 20) {                                       // buffered + DSYNC (write then range fsync)
                int pos = pos(), len = Math.min(len(), MAX - pos);
                writeSync(f, pos, len, DSYNC, true, "write(DSYNC)");
            } else if (op < 32) {                                       // write-through
                int pos = pos(), len = Math.min(len(), MAX - pos);
                writeSync(f, pos, len, WT, false, "WT");
            } else if (op < 46) {                                       // write-through + DSYNC
                int pos = pos(), len = Math.min(len(), MAX - pos);
                writeSync(f, pos, len, WT | DSYNC, true, "WT|DSYNC");
            } else if (op < 58) {
                asyncBatch();
            } else if (op < 66) {                                       // direct (+DSYNC), sync or async
                int lbs = 512;
                int pos = rnd.nextInt(SPAN / lbs) * lbs, len = Math.min((1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 96)) * lbs, MAX - pos);
                boolean ds = rnd.nextInt(3) == 0;
                boolean async = rnd.nextBoolean();
                String what = "direct" + (ds ? "|DSYNC" : "") + (async ? " async" : "");
                int k = f.write(what + " [" + pos + ", +" + len + ")", pos, len, nextGen);
                note(f.ino + ": " + f.ops.get(k).what());
                MemorySegment src = MemorySegment.ofArray(data(f.fid, nextGen++, pos, len));
                long n = async ? f.file.writeAsync(pos, src, DIRECT | (ds ? DSYNC : 0)).join()
                        : f.file.writeDirect(pos, src, ds ? DSYNC : 0);
                expect(n, len, what);
                if (ds) { f.durable(k, pos, pos + len); dsyncAcks++; }
            } else if (op < 74) {                                       // fsync: everything durable as it is
                boolean dataOnly = rnd.nextBoolean();
                note(f.ino + ": fsync(" + dataOnly + ")");
                f.file.fsync(dataOnly);
                f.rebase();
            } else if (op < 80) {                                       // truncate up or down
                int t = rnd.nextInt(4) == 0 ? rnd.nextInt(SPAN / bs) * bs : rnd.nextInt(MAX);
                note(f.ino + ": truncate " + f.size + " -> " + t);
                f.truncate(t);
                f.file.truncate(t);
            } else if (op < 88) {                                       // fallocate
                int off = pos(), len = Math.min(1 + rnd.nextInt(96 << 10), MAX - off);
                int end = off + len;
                switch (rnd.nextInt(5)) {
                    case 0 -> {
                        note(f.ino + ": fallocate keep-size [" + off + ", " + end + ")");
                        f.file.fallocate(FolioFile.FALLOC_KEEP_SIZE, off, len);
                    }
                    case 1 -> {
                        note(f.ino + ": fallocate [" + off + ", " + end + ")");
                        if (end > f.size) { f.change("fallocate zeros", f.size, end, 0); f.grow(end); }
                        f.file.fallocate(0, off, len);
                    }
                    case 2 -> {
                        note(f.ino + ": punch [" + off + ", " + end + ")");
                        f.change("punch [" + off + ", " + end + ")", off, Math.min(end, f.size), 0);
                        f.file.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, off, len);
                    }
                    default -> {
                        boolean keep = rnd.nextBoolean();
                        note(f.ino + ": zero range [" + off + ", " + end + ")" + (keep ? " keep-size" : ""));
                        int e = keep ? Math.min(end, f.size) : end;
                        if (e > f.size) f.change("zeros before zero range", f.size, off, 0);
                        f.change("zero range [" + off + ", " + end + ")", off, e, 0);
                        if (!keep) f.grow(end);
                        f.file.fallocate(FolioFile.FALLOC_ZERO_RANGE | (keep ? FolioFile.FALLOC_KEEP_SIZE : 0), off, len);
                    }
                }
            } else if (op < 92) {                                       // reads return what was written
                int pos = rnd.nextInt(MAX), len = Math.min(1 + rnd.nextInt(64 << 10), MAX - pos);
                if (rnd.nextBoolean()) fs.pageCache().evict(Long.MAX_VALUE);
                byte[] got = new byte[len];
                long n = f.file.read(pos, MemorySegment.ofArray(got));
                expect(n, Math.max(0, Math.min(len, f.size - pos)), "read of " + len + " at " + pos + " (size " + f.size + ")");
                int bad = Arrays.mismatch(Arrays.copyOf(got, (int) n), Arrays.copyOfRange(f.cur, pos, pos + (int) n));
                if (bad >= 0) throw new AssertionError("file " + f.ino + ": read before the crash differs at " + (pos + bad) + "; log:\n" + log);
            } else if (op < 96) {
                note("evict");
                fs.pageCache().evict(Long.MAX_VALUE);
            } else {
                note("sync");
                fs.sync();
            }
        }

        /** A synchronous write through FolioFile.write with {@code flags}; {@code dsync}: acknowledged means durable. */
        void writeSync(F f, int pos, int len, int flags, boolean dsync, String what) throws IOException {
            long gen = nextGen++;
            int k = f.write(what + " [" + pos + ", +" + len + ")", pos, len, gen);
            note(f.ino + ": " + f.ops.get(k).what());
            long n = f.file.write(pos, MemorySegment.ofArray(data(f.fid, gen, pos, len)), flags);
            expect(n, len, what);
            if (dsync) { f.durable(k, pos, pos + len); dsyncAcks++; }
        }

        /**
         * 1-4 asynchronous write-throughs (+DSYNC, or plain writes under a write-through mode) in flight
         * at once, in distinct windows of one or more files; their end-of-I/O work is held, then run (or,
         * sometimes, the round crashes first); then joined.
         */
        void asyncBatch() throws IOException {
            int k = 1 + rnd.nextInt(4);
            record Call(F f, int op, int pos, int len, boolean dsync, CompletableFuture<Long> fut) {}
            List<Call> calls = new ArrayList<>();
            List<long[]> used = new ArrayList<>();   // {ino, window}
            exec.hold = true;
            try {
                for (int i = 0; i < k; i++) {
                    F f = files.get(rnd.nextInt(files.size()));
                    int w = rnd.nextInt(MAX / WINDOW);
                    int pos = w * WINDOW + (rnd.nextBoolean() ? rnd.nextInt(WINDOW / bs) * bs : rnd.nextInt(WINDOW));
                    int len = Math.min(len(), (w + 1) * WINDOW - pos);
                    // a write past the size zeroes the old last block first (its window must be ours or free)
                    int eofWindow = pos > f.size && f.size % bs != 0 ? f.size / WINDOW : w;
                    if (usedBy(used, f.ino, w) || usedBy(used, f.ino, eofWindow)) continue;
                    used.add(new long[] {f.ino, w});
                    used.add(new long[] {f.ino, eofWindow});
                    int flags;
                    boolean dsync;
                    String what;
                    if (f.mode != Inode.WMODE_DEFAULT && rnd.nextInt(3) == 0) {
                        flags = 0;
                        dsync = f.mode == Inode.WMODE_WRITETHROUGH_DSYNC;
                        what = "async write(mode " + f.mode + ")";
                    } else {
                        dsync = rnd.nextBoolean();
                        flags = WT | (dsync ? DSYNC : 0);
                        what = dsync ? "async WT|DSYNC" : "async WT";
                    }
                    long gen = nextGen++;
                    int op = f.write(what + " [" + pos + ", +" + len + ")", pos, len, gen);
                    note(f.ino + ": " + f.ops.get(op).what());
                    asyncCalls++;
                    calls.add(new Call(f, op, pos, len, dsync, f.file.writeAsync(pos, MemorySegment.ofArray(data(f.fid, gen, pos, len)), flags)));
                }
                if (!exec.held.isEmpty() && !dev.powerOff() && rnd.nextInt(6) == 0) {
                    note("crash with " + exec.held.size() + " end-of-I/O works held");
                    throw new CrashNow();
                }
            } finally {
                exec.hold = false;
            }
            exec.runHeld();
            note("end-of-I/O work run");
            for (Call c : calls) {
                long n = c.fut().join();
                expect(n, c.len(), "async write at " + c.pos());
                if (c.dsync()) { c.f().durable(c.op(), c.pos(), c.pos() + c.len()); dsyncAcks++; }
            }
        }

        /** A call's byte count: short only when the power is off (the round ends), else the campaign fails. */
        void expect(long got, long want, String what) throws IOException {
            if (got == want) return;
            if (dev.powerOff()) throw new IOException(what + " returned " + got + " of " + want + " bytes after the power cut");
            throw new AssertionError(what + " returned " + got + " bytes, want " + want + "; log:\n" + log);
        }

        static boolean usedBy(List<long[]> used, long ino, int w) {
            for (long[] u : used) if (u[0] == ino && u[1] == w) return true;
            return false;
        }

        void close() {
            FsIoMapOps.afterAllocate = null;
            try {
                fs.abandon();
            } finally {
                dev.close();
            }
        }
    }

    static long seed() {
        String s = System.getProperty("foliofs.wtcrash.seed");
        return s != null ? Long.parseLong(s) : System.nanoTime();
    }

    static String replay(String method, long seed, int rounds) {
        return "mvn -o -q -pl foliofs-core test -Dtest=WriteThroughCrashTest#" + method + " -Dfoliofs.wtcrash.seed=" + seed
                + (rounds != 1000 ? " -Dfoliofs.wtcrash.rounds=" + rounds : "");
    }

    /** Runs rounds until done; a failing round rethrows with the seed and the replay command. */
    static Campaign run(String method, long seed, int rounds) throws Exception {
        Campaign c = new Campaign(seed);
        try {
            for (int i = 0; i < rounds; i++) {
                if (i > 0 && i % VOLUME_ROUNDS == 0) c.freshVolume();
                try {
                    c.round(2 + c.rnd.nextInt(24));
                } catch (Throwable t) {
                    throw new AssertionError("round " + i + " failed (seed " + seed + "); replay: " + replay(method, seed, rounds)
                            + "\n" + t.getMessage(), t);
                }
            }
            return c;
        } finally {
            c.close();
        }
    }

    @Test
    void crashCampaign() throws Exception {
        long seed = seed();
        int rounds = Integer.getInteger("foliofs.wtcrash.rounds", 1000);
        System.out.println("WriteThroughCrashTest seed=" + seed + " (replay: " + replay("crashCampaign", seed, rounds) + ")");
        long t0 = System.nanoTime();
        Campaign c = run("crashCampaign", seed, rounds);
        System.out.printf("WriteThroughCrashTest: %d crash points (%d power cuts mid-round, %d with end-of-I/O work held), %d volumes,"
                        + " %d DSYNC acknowledgements checked, %d async calls, %.1f s%n",
                c.crashPoints, c.powerCuts, c.heldCrashes, c.volumes, c.dsyncAcks, c.asyncCalls, (System.nanoTime() - t0) / 1e9);
        assertThat(c.crashPoints).isGreaterThanOrEqualTo(rounds);
        assertThat(c.powerCuts).as("power cuts mid-round").isGreaterThan(rounds / 3);
        assertThat(c.heldCrashes).as("crashes with end-of-I/O work held").isPositive();
        assertThat(c.dsyncAcks).isGreaterThan(rounds);
    }

    @Test
    void campaignCatchesSkippedDsyncSync() throws Exception {
        long seed = seed();
        System.out.println("WriteThroughCrashTest (broken DSYNC) seed=" + seed);
        WriteThroughFaults.skipDsyncSync(true);
        try {
            Throwable t = catchThrowable(() -> run("campaignCatchesSkippedDsyncSync", seed, 2000));
            assertThat(t).as("the campaign with DSYNC write-through skipping its journal force").isInstanceOf(AssertionError.class)
                    .satisfiesAnyOf(
                            e -> assertThat(e).hasMessageContaining("was acknowledged"),
                            e -> assertThat(e).hasMessageContaining("(acknowledged)"));
            System.out.println("caught as expected: " + t.getMessage().lines().limit(3).toList());
        } finally {
            WriteThroughFaults.skipDsyncSync(false);
        }
    }

    @Test
    void campaignCatchesNewBlocksMappedWrittenBeforeTheirData() throws Exception {
        long seed = seed();
        System.out.println("WriteThroughCrashTest (new blocks written at allocation) seed=" + seed);
        FsIoMapOps.brokenAllocateWritten = true;
        try {
            Throwable t = catchThrowable(() -> run("campaignCatchesNewBlocksMappedWrittenBeforeTheirData", seed, 2000));
            // Stale data shows after the crash, or (some seeds, e.g. 30781868876633) already in a
            // read before it, when a reader reaches the new blocks before their data: both are the bug.
            assertThat(t).as("the campaign with new blocks mapped written before their data I/O").isInstanceOf(AssertionError.class);
            assertThat(t.getMessage()).containsAnyOf("which no admissible change put there", "read before the crash differs");
            System.out.println("caught as expected: " + t.getMessage().lines().limit(3).toList());
        } finally {
            FsIoMapOps.brokenAllocateWritten = false;
        }
    }
}
