package org.foliofs.fs;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.foliofs.fs.DirEntry.DT_DIR;
import static org.foliofs.fs.DirEntry.DT_LNK;
import static org.foliofs.fs.DirEntry.DT_REG;

/**
 * {@link Directory}: names, inline and B+tree forms and the conversions between them, cookies, hash
 * collisions, a seeded model test against a HashMap, a 100,000-entry directory, corruption.
 * Replay a random test: {@code mvn -o -pl foliofs-core test -Dtest=DirectoryTest -Dfoliofs.seed=N}.
 */
class DirectoryTest {
    static final long DIR_INO = Inode.make(0, 100);

    static long seed(String test) {
        return seed("DirectoryTest", test);
    }

    static long seed(String testClass, String test) {
        String prop = System.getProperty("foliofs.seed");
        long seed = prop != null ? Long.parseLong(prop) : new Random().nextLong();
        System.out.println(testClass + "." + test + " seed=" + seed + " (replay: mvn -o -pl foliofs-core test -Dtest="
                + testClass + " -Dfoliofs.seed=" + seed + ")");
        return seed;
    }

    /**
     * A MemTxn whose metadata space remembers which blocks are live (a double free fails) and a
     * wrapper that records which blocks an operation changed.
     */
    static final class Fx implements Txn {
        final MemTxn tx;
        final Set<Long> live = new HashSet<>();
        final Set<Long> changed = new HashSet<>();
        long bump;

        Fx(int blockSize) throws IOException {
            tx = MemTxn.format(256L << 20, Mkfs.Options.defaults().withBlockSize(blockSize));
            bump = tx.superblock().totalBlocks() - 1;
            tx.space(new MetaSpace() {
                @Override public long allocMeta(Txn t, MetaType type, long owner) {
                    long b = bump--;
                    live.add(b);
                    return b;
                }

                @Override public void freeMeta(Txn t, long blkno, MetaType type) {
                    if (!live.remove(blkno)) throw new AssertionError("block " + blkno + " freed but not allocated");
                }
            });
        }

        static Inode dir() {
            Inode d = new Inode(DIR_INO);
            d.mode = Inode.S_IFDIR | 0755;
            d.parent = Inode.make(0, 1);
            return d;
        }

        @Override public Superblock superblock() { return tx.superblock(); }
        @Override public int blockSize() { return tx.blockSize(); }
        @Override public UUID volumeUuid() { return tx.volumeUuid(); }
        @Override public MetaBlock read(long blkno, MetaType type, long owner) throws IOException { return tx.read(blkno, type, owner); }
        @Override public MetaBlock allocate(MetaType type, long owner) throws IOException {
            MetaBlock b = tx.allocate(type, owner);
            changed.add(b.blkno());
            return b;
        }
        @Override public void write(MetaBlock block) { changed.add(block.blkno()); tx.write(block); }
        @Override public void free(long blkno) throws IOException { changed.add(blkno); tx.free(blkno); }
        @Override public void onCommitted(Runnable r) { tx.onCommitted(r); }
        @Override public void onCheckpointed(Runnable r) { tx.onCheckpointed(r); }
        @Override public void onAbort(Runnable r) { tx.onAbort(r); }
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static List<DirEntry> all(Txn tx, Inode dir) throws IOException {
        List<DirEntry> out = new ArrayList<>();
        Directory.readdir(tx, dir, 0, out::add);
        return out;
    }

    @AfterEach
    void resetHash() { Directory.hashForTests = null; }

    // ---- names -----------------------------------------------------------------------------------

    @Test
    void nameMaxDependsOnBlockSize() {
        assertThat(Directory.nameMax(1024)).isEqualTo(222);
        assertThat(Directory.nameMax(2048)).isEqualTo(255);
        assertThat(Directory.nameMax(4096)).isEqualTo(255);
        assertThat(Directory.nameMax(65536)).isEqualTo(255);
        // the record fits the B+tree's four-per-leaf rule exactly with 1 KiB blocks
        assertThat(DirOps.forBlockSize(1024).recordSize()).isEqualTo((1024 - 64) / 4 - 8);
        assertThatThrownBy(() -> Directory.nameMax(1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blockSize (1000)");
    }

    @Test
    void badNamesAreRejectedWithTheRule() throws Exception {
        Fx fx = new Fx(1024);
        Inode d = Fx.dir();
        assertThatThrownBy(() -> Directory.add(fx, d, b(""), 5, DT_REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("directory entry name must not be empty");
        assertThatThrownBy(() -> Directory.add(fx, d, b("a/b"), 5, DT_REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("directory entry name \"a/b\" must not contain '/'");
        assertThatThrownBy(() -> Directory.lookup(fx, d, new byte[]{'x', 0})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("directory entry name \"x\\x00\" must not contain NUL");
        assertThatThrownBy(() -> Directory.add(fx, d, b("."), 5, DT_REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\".\" is reserved");
        assertThatThrownBy(() -> Directory.remove(fx, d, b(".."))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"..\" is reserved");
        assertThatThrownBy(() -> Directory.lookup(fx, d, new byte[223])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is 223 bytes, more than the 222 allowed with 1024-byte blocks");
        byte[] max = "y".repeat(222).getBytes();
        Directory.add(fx, d, max, 5, DT_REG);
        assertThat(Directory.lookup(fx, d, max).ino()).isEqualTo(5);
        assertThat(d.format).isEqualTo(Inode.FORMAT_BTREE); // too long for the inline area

        Fx fx4 = new Fx(4096);
        Inode d4 = Fx.dir();
        Directory.add(fx4, d4, "z".repeat(255).getBytes(), 6, DT_REG);
        assertThatThrownBy(() -> Directory.add(fx4, d4, "z".repeat(256).getBytes(), 6, DT_REG))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is 256 bytes, more than the 255 allowed with 4096-byte blocks");
        assertThat(Directory.verify(fx4, d4)).isEqualTo(1);
    }

    @Test
    void badTargetsAndInodesAreRejected() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        assertThatThrownBy(() -> Directory.add(fx, d, "a", 0, DT_REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inode number 0 (0x0) is not valid for a directory entry");
        assertThatThrownBy(() -> Directory.add(fx, d, "a", Inode.make(2, 0), DT_REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inode number 8589934592 (0x200000000) is not valid for a directory entry");
        assertThatThrownBy(() -> Directory.add(fx, d, "a", 5, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("file type 3 is not a DT_* type (1, 2, 4, 6, 8, 10 or 12)");
        Inode reg = new Inode(7);
        reg.mode = Inode.S_IFREG | 0644;
        assertThatThrownBy(() -> Directory.lookup(fx, reg, "a")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inode 7 (mode 0100644) is not a directory");
        assertThat(d.nrecs).isZero();
        assertThat(DirEntry.typeOf(Inode.S_IFDIR | 0755)).isEqualTo(DT_DIR);
        assertThat(DirEntry.typeOf(Inode.S_IFLNK)).isEqualTo(DT_LNK);
        assertThat(DirEntry.typeOf(Inode.S_IFREG)).isEqualTo(DT_REG);
    }

    // ---- basics ----------------------------------------------------------------------------------

    @Test
    void inlineAddLookupRemoveReplace() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        assertThat(Directory.isEmpty(fx, d)).isTrue();
        Directory.add(fx, d, "a", 10, DT_REG);
        Directory.add(fx, d, "sub", 11, DT_DIR);
        Directory.add(fx, d, "héllo", 12, DT_LNK);
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(d.nrecs).isEqualTo(3);
        assertThat(fx.live).isEmpty();
        assertThat(Directory.isEmpty(fx, d)).isFalse();
        DirEntry e = Directory.lookup(fx, d, "héllo");
        assertThat(e.ino()).isEqualTo(12);
        assertThat(e.type()).isEqualTo(DT_LNK);
        assertThat(e.nameString()).isEqualTo("héllo");
        assertThat(e.cookie()).isEqualTo((Integer.toUnsignedLong(Directory.hash(b("héllo"))) << 32) + 1);
        assertThat(Directory.lookup(fx, d, "nope")).isNull();

        assertThatThrownBy(() -> Directory.add(fx, d, "sub", 99, DT_REG)).isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining("\"sub\"").hasMessageContaining("already has an entry \"sub\" (inode 11)");
        assertThat(Directory.remove(fx, d, "nope")).isNull();
        assertThatThrownBy(() -> Directory.replace(fx, d, "nope", 5, DT_REG)).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("has no entry \"nope\"");

        DirEntry old = Directory.replace(fx, d, "a", 20, DT_DIR);
        assertThat(old.ino()).isEqualTo(10);
        DirEntry now = Directory.lookup(fx, d, "a");
        assertThat(now.ino()).isEqualTo(20);
        assertThat(now.type()).isEqualTo(DT_DIR);
        assertThat(now.cookie()).isEqualTo(old.cookie());

        List<DirEntry> l = all(fx, d);
        assertThat(l).extracting(DirEntry::nameString).containsExactlyInAnyOrder("a", "sub", "héllo");
        for (int i = 1; i < l.size(); i++)
            assertThat(Long.compareUnsigned(l.get(i - 1).cookie(), l.get(i).cookie())).isNegative();

        assertThat(Directory.remove(fx, d, "sub").ino()).isEqualTo(11);
        assertThat(d.nrecs).isEqualTo(2);
        assertThat(Directory.lookup(fx, d, "sub")).isNull();
        Directory.destroy(fx, d);
        assertThat(d.nrecs).isZero();
        assertThat(Directory.isEmpty(fx, d)).isTrue();
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {1024, 4096})
    void conversionsKeepCookiesAndFreeBlocks(int bs) throws Exception {
        Fx fx = new Fx(bs);
        Inode d = Fx.dir();
        Map<String, Long> cookies = new HashMap<>();
        int i = 0;
        while (d.format == Inode.FORMAT_INLINE) {
            String n = "entry" + i;
            Directory.add(fx, d, n, 100 + i, DT_REG);
            cookies.put(n, Directory.lookup(fx, d, n).cookie());
            i++;
        }
        assertThat(i).isEqualTo(5); // 4 of 24 bytes fit in 112, the 5th converts
        assertThat(d.forkRoot).isNotZero();
        assertThat(fx.live).isNotEmpty();
        for (int j = i; j < 40; j++) {
            Directory.add(fx, d, "entry" + j, 100 + j, DT_REG);
            cookies.put("entry" + j, Directory.lookup(fx, d, "entry" + j).cookie());
        }
        for (var c : cookies.entrySet()) assertThat(Directory.lookup(fx, d, c.getKey()).cookie()).isEqualTo(c.getValue());
        for (int j = 39; j >= 3; j--) Directory.remove(fx, d, "entry" + j);
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(d.forkRoot).isZero();
        assertThat(fx.live).as("tree blocks freed on the way back inline").isEmpty();
        for (int j = 0; j < 3; j++)
            assertThat(Directory.lookup(fx, d, "entry" + j).cookie()).isEqualTo(cookies.get("entry" + j));
        assertThat(Directory.verify(fx, d)).isEqualTo(3);
    }

    // ---- the model test --------------------------------------------------------------------------

    private record Ent(long ino, int type, long cookie) {}

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {1024, 4096})
    void matchesHashMap(int bs) throws Exception {
        long seed = seed("matchesHashMap[" + bs + "]") ^ bs;
        try {
            runModel(bs, seed, 12000);
        } catch (Throwable t) {
            throw new AssertionError("blockSize " + bs + " derived seed " + seed + ": replay with the printed seed", t);
        }
    }

    private static void runModel(int bs, long seed, int ops) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        Fx fx = new Fx(bs);
        Inode d = Fx.dir();
        int nameMax = Directory.nameMax(bs);
        byte[][] pool = new byte[600][];
        for (int i = 0; i < pool.length; i++) pool[i] = randomName(rnd, nameMax);
        Map<ByteBuffer, Ent> model = new HashMap<>();
        int conversions = 0, maxLevels = 0, lastFormat = d.format;
        int phase = 1500;
        for (int op = 0; op < ops; op++) {
            boolean growing = (op / phase) % 2 == 0;
            byte[] name = !growing && rnd.nextInt(2) == 0 && !model.isEmpty() // shrink phases empty the directory
                    ? model.keySet().iterator().next().array()
                    : pool[rnd.nextInt(growing ? pool.length : Math.max(8, pool.length / 4))];
            ByteBuffer k = ByteBuffer.wrap(name);
            Ent m = model.get(k);
            int dice = rnd.nextInt(100);
            Inode before = d.copy();
            fx.changed.clear();
            String what;
            if (dice < (growing ? 50 : 10)) {
                what = "add";
                long ino = Inode.make(rnd.nextInt(4), 1 + rnd.nextInt(1 << 20));
                if (m != null) {
                    assertThatThrownBy(() -> Directory.add(fx, d, name, ino, DT_REG))
                            .isInstanceOf(FileAlreadyExistsException.class);
                } else {
                    Directory.add(fx, d, name, ino, DT_REG);
                    DirEntry e = Directory.lookup(fx, d, name);
                    model.put(k, new Ent(ino, DT_REG, e.cookie()));
                }
            } else if (dice < 85) {
                what = "remove";
                DirEntry r = Directory.remove(fx, d, name);
                if (m == null) assertThat(r).isNull();
                else {
                    assertThat(r).isEqualTo(new DirEntry(name, m.ino, m.type, m.cookie));
                    model.remove(k);
                }
            } else if (dice < 92) {
                what = "replace";
                long ino = Inode.make(0, 1 + rnd.nextInt(1000));
                if (m == null) {
                    assertThatThrownBy(() -> Directory.replace(fx, d, name, ino, DT_DIR)).isInstanceOf(NoSuchFileException.class);
                } else {
                    DirEntry r = Directory.replace(fx, d, name, ino, DT_DIR);
                    assertThat(r).isEqualTo(new DirEntry(name, m.ino, m.type, m.cookie));
                    model.put(k, new Ent(ino, DT_DIR, m.cookie));
                }
            } else {
                what = "lookup";
                DirEntry e = Directory.lookup(fx, d, name);
                assertThat(e).isEqualTo(m == null ? null : new DirEntry(name, m.ino, m.type, m.cookie));
            }
            assertThat(fx.changed.size()).as("blocks changed by %s at op %d", what, op)
                    .isLessThanOrEqualTo(Math.max(Directory.maxBlocksChanged(before), Directory.maxBlocksChanged(d)));
            assertThat(d.nrecs).as("nrecs after op %d", op).isEqualTo(model.size());
            if (d.format != lastFormat) conversions++;
            lastFormat = d.format;
            if (d.format == Inode.FORMAT_BTREE) maxLevels = Math.max(maxLevels, d.forkLevels);
            if (op % 500 == 0 || model.size() < 6) check(fx, d, model);
        }
        check(fx, d, model);
        assertThat(conversions).as("inline <-> btree conversions").isGreaterThanOrEqualTo(4);
        assertThat(maxLevels).as("tree depth reached").isGreaterThanOrEqualTo(bs == 1024 ? 3 : 2);
        for (var k : new ArrayList<>(model.keySet())) assertThat(Directory.remove(fx, d, k.array())).isNotNull();
        assertThat(Directory.isEmpty(fx, d)).isTrue();
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(fx.live).as("blocks left after removing everything").isEmpty();
    }

    private static void check(Fx fx, Inode d, Map<ByteBuffer, Ent> model) throws IOException {
        assertThat(Directory.verify(fx, d)).isEqualTo(model.size());
        Map<ByteBuffer, Ent> seen = new HashMap<>();
        long[] last = {0};
        Directory.readdir(fx, d, 0, e -> {
            assertThat(Long.compareUnsigned(e.cookie(), last[0])).isPositive();
            last[0] = e.cookie();
            assertThat(seen.put(ByteBuffer.wrap(e.name()), new Ent(e.ino(), e.type(), e.cookie()))).isNull();
            return true;
        });
        assertThat(seen).isEqualTo(model);
    }

    static byte[] randomName(SplittableRandom rnd, int nameMax) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-ABCé日";
        int len = switch (rnd.nextInt(4)) {
            case 0 -> 1 + rnd.nextInt(3);
            case 1, 2 -> 4 + rnd.nextInt(20);
            default -> 1 + rnd.nextInt(nameMax);
        };
        StringBuilder sb = new StringBuilder();
        while (true) {
            char c = alphabet.charAt(rnd.nextInt(alphabet.length()));
            if (sb.toString().getBytes(StandardCharsets.UTF_8).length + String.valueOf(c).getBytes(StandardCharsets.UTF_8).length > len) break;
            sb.append(c);
        }
        if (sb.isEmpty() || sb.toString().equals(".") || sb.toString().equals("..")) sb.append('q');
        return b(sb.toString());
    }

    // ---- cookies ---------------------------------------------------------------------------------

    @ParameterizedTest(name = "initial={0}")
    @ValueSource(ints = {2, 3000})
    void readdirSeesStableEntriesExactlyOnceAcrossChanges(int initial) throws Exception {
        long seed = seed("readdirSeesStableEntriesExactlyOnceAcrossChanges[" + initial + "]") ^ initial;
        SplittableRandom rnd = new SplittableRandom(seed);
        Fx fx = new Fx(1024);
        Inode d = Fx.dir();
        Set<String> present = new HashSet<>(), stable = new HashSet<>();
        int next = 0;
        for (; next < initial; next++) {
            Directory.add(fx, d, "f" + next, 1000 + next, DT_REG);
            present.add("f" + next);
        }
        stable.addAll(present);
        Map<String, Integer> seen = new HashMap<>();
        long cookie = 0;
        int calls = 0;
        boolean more = true;
        while (more) {
            int batch = 1 + rnd.nextInt(initial < 10 ? 2 : 60);
            List<DirEntry> got = new ArrayList<>();
            Directory.readdir(fx, d, cookie, e -> { got.add(e); return got.size() < batch; });
            more = got.size() == batch;
            for (DirEntry e : got) seen.merge(e.nameString(), 1, Integer::sum);
            if (!got.isEmpty()) cookie = got.getLast().cookie();
            calls++;
            // change the directory between calls: remove some (they leave the stable set), add some
            int changes = rnd.nextInt(initial < 10 ? 3 : 40);
            for (int c = 0; c < changes; c++) {
                if (rnd.nextBoolean() && !present.isEmpty()) {
                    String victim = present.stream().skip(rnd.nextInt(present.size())).findFirst().orElseThrow();
                    assertThat(Directory.remove(fx, d, victim)).isNotNull();
                    present.remove(victim);
                    stable.remove(victim);
                } else {
                    String n = "f" + next++;
                    Directory.add(fx, d, n, 1000 + next, DT_REG);
                    present.add(n);
                }
            }
        }
        assertThat(calls).isGreaterThan(1);
        for (String s : stable) assertThat(seen.get(s)).as("times %s was listed", s).isEqualTo(1);
        for (var e : seen.entrySet()) assertThat(e.getValue()).as("times %s was listed", e.getKey()).isEqualTo(1);
        assertThat(Directory.verify(fx, d)).isEqualTo(present.size());
    }

    @Test
    void cookieFromInlineContinuesInTheTree() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        for (int i = 0; i < 4; i++) Directory.add(fx, d, "n" + i, 10 + i, DT_REG);
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        List<DirEntry> first = new ArrayList<>();
        Directory.readdir(fx, d, 0, e -> { first.add(e); return first.size() < 2; });
        for (int i = 4; i < 100; i++) Directory.add(fx, d, "n" + i, 10 + i, DT_REG);
        assertThat(d.format).isEqualTo(Inode.FORMAT_BTREE);
        List<DirEntry> rest = new ArrayList<>();
        Directory.readdir(fx, d, first.getLast().cookie(), rest::add);
        Set<String> names = new HashSet<>();
        for (DirEntry e : first) assertThat(names.add(e.nameString())).isTrue();
        for (DirEntry e : rest) assertThat(names.add(e.nameString())).as("listed twice: %s", e).isTrue();
        for (int i = 0; i < 4; i++) assertThat(names).contains("n" + i);
        // continuing from the last cookie lists nothing more
        List<DirEntry> none = new ArrayList<>();
        Directory.readdir(fx, d, rest.getLast().cookie(), none::add);
        assertThat(none).isEmpty();
    }

    // ---- collisions ------------------------------------------------------------------------------

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {1024, 4096})
    void forcedCollisions(int bs) throws Exception {
        Directory.hashForTests = n -> n.length % 2 == 0 ? 0x7 : 0xffff_fff0; // two hashes for everything
        Fx fx = new Fx(bs);
        Inode d = Fx.dir();
        int n = 400;
        for (int i = 0; i < n; i++) Directory.add(fx, d, "c" + i, 1 + i, DT_REG);
        assertThat(d.forkLevels).isGreaterThanOrEqualTo(2); // the equal-hash run spans leaves
        for (int i = 0; i < n; i++) assertThat(Directory.lookup(fx, d, "c" + i).ino()).isEqualTo(1 + i);
        assertThat(Directory.lookup(fx, d, "c" + n)).isNull();
        assertThatThrownBy(() -> Directory.add(fx, d, "c17", 9, DT_REG)).isInstanceOf(FileAlreadyExistsException.class);
        // collision indexes: 0x7 / 0xfffffff0 in the high half, 0.. in the low half
        List<DirEntry> l = all(fx, d);
        assertThat(l).hasSize(n);
        assertThat(l.getFirst().cookie()).isEqualTo((7L << 32) + 1);
        assertThat(l.getLast().cookie() - 1 >>> 32).isEqualTo(0xffff_fff0L);
        // paging with cookies through runs of equal hashes lists everything once, in the same order
        for (int batch : new int[]{1, 3}) {
            List<DirEntry> paged = new ArrayList<>();
            long cookie = 0;
            while (true) {
                List<DirEntry> got = new ArrayList<>();
                Directory.readdir(fx, d, cookie, e -> { got.add(e); return got.size() < batch; });
                paged.addAll(got);
                if (got.size() < batch) break;
                cookie = got.getLast().cookie();
            }
            assertThat(paged).as("paged by %d", batch).isEqualTo(l);
        }
        // remove every other entry, then new names take the lowest free indexes (the holes)
        long holeKey = Directory.lookup(fx, d, "c10").cookie();
        for (int i = 0; i < n; i += 2) assertThat(Directory.remove(fx, d, "c" + i)).isNotNull();
        for (int i = 1; i < n; i += 2) assertThat(Directory.lookup(fx, d, "c" + i).ino()).isEqualTo(1 + i);
        assertThat(Directory.verify(fx, d)).isEqualTo(n / 2);
        Directory.add(fx, d, "x0", 77, DT_REG); // length 2, hash 7, like "c0": takes c0's index 0
        assertThat(Directory.lookup(fx, d, "x0").cookie()).isEqualTo((7L << 32) + 1);
        for (int i = 0; i < n; i += 2) if (i != 0) Directory.add(fx, d, "c" + i, 1 + i, DT_REG);
        assertThat(Directory.lookup(fx, d, "c10").cookie()).isEqualTo(holeKey);
        assertThat(Directory.verify(fx, d)).isEqualTo(n);
        for (DirEntry e : all(fx, d)) assertThat(Directory.remove(fx, d, e.name())).isEqualTo(e);
        assertThat(fx.live).isEmpty();
    }

    @Test
    void forcedCollisionsInline() throws Exception {
        Directory.hashForTests = n -> 42;
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        for (String s : new String[]{"a", "b", "c"}) Directory.add(fx, d, s, 5, DT_REG);
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(Directory.lookup(fx, d, "c").cookie()).isEqualTo((42L << 32) + 3);
        Directory.remove(fx, d, "a");
        Directory.add(fx, d, "d", 6, DT_REG);
        assertThat(Directory.lookup(fx, d, "d").cookie()).isEqualTo((42L << 32) + 1);
        assertThat(all(fx, d)).extracting(DirEntry::nameString).containsExactly("d", "b", "c");
    }

    /** Two real names with the same CRC32C, found by a deterministic birthday search. */
    @Test
    void realHashCollision() throws Exception {
        Map<Integer, String> byHash = new HashMap<>();
        String a = null, c = null;
        for (int i = 0; a == null; i++) {
            String s = "name-" + i;
            String prev = byHash.putIfAbsent(Directory.hash(b(s)), s);
            if (prev != null) { a = prev; c = s; }
        }
        assertThat(Directory.hash(b(a))).isEqualTo(Directory.hash(b(c)));
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        for (int i = 0; i < 50; i++) Directory.add(fx, d, "other" + i, 500 + i, DT_REG);
        Directory.add(fx, d, a, 1, DT_REG);
        Directory.add(fx, d, c, 2, DT_REG);
        assertThat(Directory.lookup(fx, d, a).ino()).isEqualTo(1);
        assertThat(Directory.lookup(fx, d, c).ino()).isEqualTo(2);
        assertThat(Directory.lookup(fx, d, c).cookie()).isEqualTo(Directory.lookup(fx, d, a).cookie() + 1);
        Directory.remove(fx, d, a);
        assertThat(Directory.lookup(fx, d, c).ino()).isEqualTo(2);
        assertThat(Directory.lookup(fx, d, a)).isNull();
    }

    // ---- scale -----------------------------------------------------------------------------------

    @Test
    void hundredThousandEntries() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        int n = 100_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) Directory.add(fx, d, "file-" + i, Inode.make(i & 3, 1 + i), DT_REG);
        long t1 = System.nanoTime();
        for (int i = 0; i < n; i++) assertThat(Directory.lookup(fx, d, "file-" + i).ino()).isEqualTo(Inode.make(i & 3, 1 + i));
        long t2 = System.nanoTime();
        Set<String> seen = new HashSet<>();
        Directory.readdir(fx, d, 0, e -> { assertThat(seen.add(e.nameString())).isTrue(); return true; });
        assertThat(seen).hasSize(n);
        assertThat(d.nrecs).isEqualTo(n);
        assertThat(Directory.verify(fx, d)).isEqualTo(n);
        long t3 = System.nanoTime();
        int levels = d.forkLevels;
        for (int i = 0; i < n; i++) assertThat(Directory.remove(fx, d, "file-" + i)).isNotNull();
        long t4 = System.nanoTime();
        System.out.printf("100k entries: add %d ms, lookup %d ms, readdir+verify %d ms, remove %d ms, levels %d%n",
                (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000, (t4 - t3) / 1_000_000, levels);
        assertThat(Directory.isEmpty(fx, d)).isTrue();
        assertThat(fx.live).isEmpty();
        assertThat((t4 - t0) / 1_000_000_000.0).as("seconds for 100k adds, lookups, readdir, removes").isLessThan(30);
    }

    @Test
    void destroyFreesEveryBlock() throws Exception {
        Fx fx = new Fx(1024);
        Inode d = Fx.dir();
        for (int i = 0; i < 3000; i++) Directory.add(fx, d, "some-longer-name-" + i, 1 + i, DT_REG);
        assertThat(d.forkLevels).isGreaterThanOrEqualTo(3);
        assertThat(fx.live).hasSizeGreaterThan(100);
        Directory.destroy(fx, d);
        assertThat(fx.live).isEmpty();
        assertThat(d.format).isEqualTo(Inode.FORMAT_INLINE);
        assertThat(d.nrecs).isZero();
        assertThat(Directory.isEmpty(fx, d)).isTrue();
        Directory.add(fx, d, "again", 5, DT_REG); // usable afterwards
        assertThat(Directory.lookup(fx, d, "again").ino()).isEqualTo(5);
    }

    // ---- corruption ------------------------------------------------------------------------------

    private static Inode treeDir(Fx fx, int n) throws IOException {
        Inode d = Fx.dir();
        for (int i = 0; i < n; i++) Directory.add(fx, d, "e" + i, 1 + i, DT_REG);
        assertThat(d.format).isEqualTo(Inode.FORMAT_BTREE);
        return d;
    }

    /** Changes a block's bytes in place and re-stamps the checksum (a consistent but wrong block). */
    private static void patch(Fx fx, long blk, java.util.function.Consumer<java.lang.foreign.MemorySegment> f) {
        var s = java.lang.foreign.MemorySegment.ofArray(fx.tx.raw(blk));
        f.accept(s);
        MetaBlockLayout.stampCrc(s);
    }

    @Test
    void flippedBitInALeafIsCorruptionNamingTheBlock() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = treeDir(fx, 8);
        assertThat(d.forkLevels).isEqualTo(1);
        fx.tx.raw(d.forkRoot)[200] ^= 1;
        assertThatThrownBy(() -> Directory.lookup(fx, d, "e1")).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + d.forkRoot + " (directory btree node): CRC32C");
    }

    @Test
    void badRecordsAreCorruptionNamingTheBlock() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = treeDir(fx, 6);
        long leaf = d.forkRoot;
        int max = BTree.open(fx, DirOps.forBlockSize(4096), d.ino, leaf).leafCapacity();
        long rec0 = MetaBlockLayout.BTREE_HEADER_SIZE + 8L * max;
        patch(fx, leaf, s -> s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, rec0 + DirOps.NAMELEN, (byte) 0));
        assertThatThrownBy(() -> all(fx, d)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + leaf + " (directory btree node): entry with key 0x")
                .hasMessageContaining("name length 0 outside 1..255");
        patch(fx, leaf, s -> {
            s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, rec0 + DirOps.NAMELEN, (byte) 2);
            s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, rec0 + DirOps.NAME, (byte) 'Z'); // name no longer hashes to the key
        });
        assertThatThrownBy(() -> Directory.verify(fx, d)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith("block " + leaf + " (directory btree node)").hasMessageContaining("has hash 0x");
        patch(fx, leaf, s -> s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, rec0 + DirOps.NAME, (byte) '/'));
        assertThatThrownBy(() -> all(fx, d)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("must not contain '/'");
    }

    @Test
    void inodeFieldsThatDisagreeWithTheTreeAreCorruption() throws Exception {
        Fx fx = new Fx(1024);
        Inode d = treeDir(fx, 200);
        Inode wrongLevels = d.copy();
        wrongLevels.forkLevels = d.forkLevels + 1;
        assertThatThrownBy(() -> Directory.lookup(fx, wrongLevels, "e1")).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + d.forkRoot + " (directory btree node): root has " + d.forkLevels
                        + " levels but directory inode " + d.ino + " says " + (d.forkLevels + 1));
        Inode wrongCount = d.copy();
        wrongCount.nrecs = 199;
        assertThatThrownBy(() -> Directory.verify(fx, wrongCount)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("tree holds 200 entries but directory inode " + d.ino + " says 199");
        Inode otherOwner = d.copy();
        otherOwner.ino = DIR_INO + 1;
        assertThatThrownBy(() -> Directory.lookup(fx, otherOwner, "e1")).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("owner " + DIR_INO + " where " + (DIR_INO + 1) + " expected");
    }

    @Test
    void corruptInlineAreaIsCorruptionNamingTheInode() throws Exception {
        Fx fx = new Fx(4096);
        Inode d = Fx.dir();
        Directory.add(fx, d, "abc", 5, DT_REG);
        Directory.add(fx, d, "xyz", 6, DT_REG);
        String first = all(fx, d).getFirst().nameString();
        Inode a = d.copy();
        a.inline[17] = 0; // first name length
        assertThatThrownBy(() -> Directory.lookup(fx, a, "abc")).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block -1 (inline directory of inode " + DIR_INO + "): entry 0 at byte 0 has name length 0");
        Inode b2 = d.copy();
        b2.nrecs = 9;
        assertThatThrownBy(() -> all(fx, b2)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("nrecs 9 is more than the 5 entries that fit");
        Inode c = d.copy();
        c.nrecs = 1; // second entry left behind as garbage
        assertThatThrownBy(() -> Directory.isEmpty(fx, c)).isInstanceOf(CorruptMetadataException.class)
                // byte 21 starts the left-over key, whose low half (collision index 0) is zero
                .hasMessageContaining("byte 25 after the last entry is not zero");
        Inode e = d.copy();
        e.inline[18] ^= 0x20; // upper case: the name does not hash to the stored key
        assertThatThrownBy(() -> Directory.verify(fx, e)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("entry 0: entry \"" + first.toUpperCase().charAt(0) + first.substring(1) + "\" has hash");
        Inode f = d.copy();
        f.format = 7;
        assertThatThrownBy(() -> all(fx, f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("directory inode " + DIR_INO + " has fork format 7, neither INLINE nor BTREE");
    }
}
