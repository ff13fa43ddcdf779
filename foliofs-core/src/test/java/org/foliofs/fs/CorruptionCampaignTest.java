package org.foliofs.fs;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Corruption campaign: a populated, cleanly closed volume; every round flips random bytes in one
 * random metadata block (superblocks, group headers, tree nodes, inode leaves, directory, xattr and
 * symlink blocks, as listed by a clean {@link Fsck} run). Then
 * <ul>
 *   <li>{@link Fsck#check} must report a problem naming the block (every such block is checksummed, so
 *       silence is a bug), or refuse the volume naming it (the primary superblock's version field);</li>
 *   <li>mount plus a full walk (attributes of every inode, every directory listed, symlinks and xattrs
 *       read) must succeed or fail with a {@link CorruptMetadataException} naming the block;</li>
 *   <li>neither may hang.</li>
 * </ul>
 * Rounds: {@code -Dfoliofs.rounds} (default 300); replay: {@code -Dfoliofs.seed}.
 */
class CorruptionCampaignTest {

    @Test
    void flippedMetadataBytesAreAlwaysDetectedAndNamed() throws Exception {
        long seed = Long.getLong("foliofs.seed", new Random().nextLong());
        int rounds = Integer.getInteger("foliofs.rounds", 300);
        System.out.println("seed=" + seed + " (replay: -Dfoliofs.seed=" + seed + ")");
        Random rnd = new Random(seed);
        SimDevice dev = FsckTest.device(8 * FsckTest.MiB);
        FolioFs fs = FsckTest.format(dev);
        FsckTest.populate(fs, new Random(seed));
        fs.close();
        FolioFs.mount(dev).close();   // frees the orphan: a steady state that mount does not change
        FsckReport clean = Fsck.check(dev);
        assertThat(clean.problems()).as(clean.describe()).isEmpty();
        List<Map.Entry<Long, String>> meta = new ArrayList<>(clean.metadata().entrySet());
        assertThat(meta).hasSizeGreaterThan(30);
        int bs = clean.superblock().blockSize();
        byte[] image = DiskBytes.read(dev, 0, (int) dev.capacity());
        int mountFailed = 0, fsckRefused = 0;
        for (int round = 0; round < rounds; round++) {
            var target = meta.get(rnd.nextInt(meta.size()));
            long blk = target.getKey();
            String what = "round " + round + " (seed " + seed + "): block " + blk + " (" + target.getValue() + ")";
            SimDevice d = SimDevice.builder().capacity(dev.capacity()).build();
            DiskBytes.write(d, 0, image);
            byte[] b = DiskBytes.read(d, blk * bs, bs);
            int flips = 1 + rnd.nextInt(3);
            for (int k = 0; k < flips; k++) b[rnd.nextInt(bs)] ^= (byte) (1 + rnd.nextInt(255));
            DiskBytes.write(d, blk * bs, b);
            Pattern names = Pattern.compile("\\bblock " + blk + "\\b");

            // fsck: must name the block
            boolean refused = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                try {
                    FsckReport r = Fsck.check(d, false);
                    assertThat(r.problems()).as(what + ": fsck must report a problem naming the block\n" + r.describe())
                            .anyMatch(p -> names.matcher(p).find());
                    return false;
                } catch (CorruptMetadataException | VolumeFormatException e) {
                    if (!names.matcher(e.getMessage()).find()) fail(what + ": fsck refused without naming the block: " + e, e);
                    return true;
                } catch (Exception e) {
                    fail(what + ": fsck threw " + e, e);
                    return true;
                }
            }, what + ": fsck hung");
            if (refused) fsckRefused++;

            // mount + walk: succeed or fail naming the block
            boolean failed = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                FolioFs m;
                try {
                    m = FolioFs.mount(d);
                } catch (CorruptMetadataException | VolumeFormatException e) {
                    if (!names.matcher(e.getMessage()).find()) fail(what + ": mount failed without naming the block: " + e, e);
                    return true;
                } catch (Exception e) {
                    fail(what + ": mount threw " + e, e);
                    return true;
                }
                try {
                    walk(m);
                    m.close();
                    return false;
                } catch (CorruptMetadataException e) {
                    m.abandon();
                    if (!names.matcher(e.getMessage()).find()) fail(what + ": walk failed without naming the block: " + e, e);
                    return true;
                } catch (Exception e) {
                    m.abandon();
                    fail(what + ": walk threw " + e, e);
                    return true;
                }
            }, what + ": mount or walk hung");
            if (failed) mountFailed++;
        }
        System.out.println(rounds + " rounds over " + meta.size() + " metadata blocks: mount+walk failed (naming the block) in "
                + mountFailed + ", fsck refused the volume in " + fsckRefused);
    }

    /** Reads every inode's attributes, lists every directory, reads symlinks and xattrs. */
    static void walk(FolioFs fs) throws Exception {
        ArrayDeque<Long> dirs = new ArrayDeque<>();
        dirs.add(FolioFs.ROOT_INO);
        fs.getattr(FolioFs.ROOT_INO);
        int guard = 0;
        while (!dirs.isEmpty() && guard++ < 100_000) {
            long d = dirs.poll();
            for (DirEntry e : fs.list(d)) {
                FolioFs.Attr a = fs.getattr(e.ino());
                if (a.isSymlink()) fs.readlink(e.ino());
                for (String x : fs.listxattr(e.ino())) fs.getxattr(e.ino(), x);
                if (a.isDir()) dirs.add(e.ino());
            }
            for (String x : fs.listxattr(d)) fs.getxattr(d, x);
        }
        fs.statfs();
    }
}
