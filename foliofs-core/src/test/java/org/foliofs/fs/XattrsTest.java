package org.foliofs.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Xattrs}: round trips, flags, limits with their messages, freeing, corruption. */
class XattrsTest {
    static final long INO = Inode.make(1, 42);

    static Inode file() {
        Inode i = new Inode(INO);
        i.mode = Inode.S_IFREG | 0644;
        return i;
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    @Test
    void roundTripAndList() throws Exception {
        var fx = new DirectoryTest.Fx(4096);
        Inode f = file();
        assertThat(Xattrs.get(fx, f, "user.none")).isNull();
        assertThat(Xattrs.list(fx, f)).isEmpty();
        Xattrs.set(fx, f, "user.comment", b("hello"), 0);
        assertThat(f.xattrBlock).isNotZero();
        long blk = f.xattrBlock;
        Xattrs.set(fx, f, "security.selinux", b("system_u:object_r:tmp_t"), 0);
        Xattrs.set(fx, f, "trusted.x", new byte[0], 0);
        Xattrs.set(fx, f, "system.posix_acl_access", new byte[]{1, 2, 3}, 0);
        Xattrs.set(fx, f, "user.ünïcode", b("v"), 0);
        assertThat(f.xattrBlock).isEqualTo(blk);
        assertThat(Xattrs.get(fx, f, "user.comment")).isEqualTo(b("hello"));
        assertThat(Xattrs.get(fx, f, "trusted.x")).isEmpty();
        assertThat(Xattrs.get(fx, f, "user.ünïcode")).isEqualTo(b("v"));
        assertThat(Xattrs.list(fx, f)).containsExactly("security.selinux", "system.posix_acl_access", "trusted.x",
                "user.comment", "user.ünïcode");
        Xattrs.set(fx, f, "user.comment", b("a longer value than before"), 0);
        assertThat(Xattrs.get(fx, f, "user.comment")).isEqualTo(b("a longer value than before"));
        assertThat(Xattrs.remove(fx, f, "user.missing")).isFalse();
        for (String n : Xattrs.list(fx, f)) assertThat(Xattrs.remove(fx, f, n)).isTrue();
        assertThat(f.xattrBlock).as("block freed with the last attribute").isZero();
        assertThat(fx.live).isEmpty();
        assertThat(Xattrs.remove(fx, f, "user.comment")).isFalse();
    }

    @Test
    void createAndReplaceFlags() throws Exception {
        var fx = new DirectoryTest.Fx(1024);
        Inode f = file();
        assertThatThrownBy(() -> Xattrs.set(fx, f, "user.a", b("1"), Xattrs.REPLACE))
                .isInstanceOf(NoSuchAttributeException.class)
                .hasMessage("inode " + INO + " has no xattr user.a to replace");
        assertThat(f.xattrBlock).isZero();
        Xattrs.set(fx, f, "user.a", b("1"), Xattrs.CREATE);
        assertThatThrownBy(() -> Xattrs.set(fx, f, "user.a", b("2"), Xattrs.CREATE))
                .isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining("inode " + INO + " already has xattr user.a");
        Xattrs.set(fx, f, "user.a", b("3"), Xattrs.REPLACE);
        assertThat(Xattrs.get(fx, f, "user.a")).isEqualTo(b("3"));
        assertThatThrownBy(() -> Xattrs.set(fx, f, "user.a", b("3"), 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("xattr set flags (3) must be 0, CREATE (1) or REPLACE (2)");
    }

    @Test
    void badNames() throws Exception {
        var fx = new DirectoryTest.Fx(4096);
        Inode f = file();
        assertThatThrownBy(() -> Xattrs.set(fx, f, "os2.foo", b("x"), 0))
                .isInstanceOf(Xattrs.UnsupportedNamespaceException.class)
                .hasMessage("xattr name \"os2.foo\" has no supported namespace prefix (user., trusted., security., system.)");
        assertThatThrownBy(() -> Xattrs.get(fx, f, "user.")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("xattr name \"user.\" has nothing after the prefix user.");
        assertThatThrownBy(() -> Xattrs.get(fx, f, "")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("xattr name \"\" must not be empty");
        assertThatThrownBy(() -> Xattrs.remove(fx, f, "user.a\0b")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("xattr name \"user.a\\x00b\" must not contain NUL");
        String longest = "user." + "n".repeat(250);
        Xattrs.set(fx, f, longest, b("ok"), 0);
        assertThat(Xattrs.get(fx, f, longest)).isEqualTo(b("ok"));
        assertThatThrownBy(() -> Xattrs.set(fx, f, longest + "n", b("x"), 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is 256 bytes, more than the 255 allowed");
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {1024, 4096, 65536})
    void oneBlockLimit(int bs) throws Exception {
        var fx = new DirectoryTest.Fx(bs);
        Inode f = file();
        int room = bs - 48 - 3 - "user.big".length();
        Xattrs.set(fx, f, "user.big", new byte[Math.min(room, Xattrs.VALUE_MAX)], 0);
        assertThat(Xattrs.get(fx, f, "user.big")).hasSize(Math.min(room, Xattrs.VALUE_MAX));
        if (room < Xattrs.VALUE_MAX) {
            assertThatThrownBy(() -> Xattrs.set(fx, f, "user.big", new byte[room + 1], 0))
                    .isInstanceOf(NoSpaceException.class)
                    .hasMessage("xattr user.big (8-byte name, " + (room + 1) + "-byte value) does not fit: the attributes of inode "
                            + INO + " would need " + (bs + 1) + " bytes, more than the " + bs + "-byte xattr block holds");
            assertThatThrownBy(() -> Xattrs.set(fx, f, "user.x", new byte[0], 0)).isInstanceOf(NoSpaceException.class);
            assertThat(Xattrs.list(fx, f)).containsExactly("user.big"); // nothing changed
        }
        assertThatThrownBy(() -> Xattrs.set(fx, f, "user.huge", new byte[65536], 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("value of xattr user.huge is 65536 bytes, more than the 65535 allowed");
        assertThat(Xattrs.remove(fx, f, "user.big")).isTrue();
        assertThat(fx.live).isEmpty();
    }

    @Test
    void randomAgainstTreeMap() throws Exception {
        long seed = DirectoryTest.seed("XattrsTest", "randomAgainstTreeMap");
        SplittableRandom rnd = new SplittableRandom(seed);
        var fx = new DirectoryTest.Fx(1024);
        Inode f = file();
        TreeMap<String, byte[]> model = new TreeMap<>((x, y) -> java.util.Arrays.compareUnsigned(b(x), b(y)));
        for (int op = 0; op < 3000; op++) {
            String name = List.of("user.", "trusted.", "security.", "system.").get(rnd.nextInt(4)) + "k" + rnd.nextInt(30);
            if (rnd.nextInt(3) > 0) {
                byte[] v = new byte[rnd.nextInt(rnd.nextInt(10) == 0 ? 600 : 40)];
                rnd.nextBytes(v);
                int need = 48 + model.entrySet().stream().filter(e -> !e.getKey().equals(name))
                        .mapToInt(e -> 3 + b(e.getKey()).length + e.getValue().length).sum() + 3 + b(name).length + v.length;
                if (need > 1024) {
                    assertThatThrownBy(() -> Xattrs.set(fx, f, name, v, 0)).as("op %d seed %d", op, seed)
                            .isInstanceOf(NoSpaceException.class);
                } else {
                    Xattrs.set(fx, f, name, v, 0);
                    model.put(name, v);
                }
            } else {
                assertThat(Xattrs.remove(fx, f, name)).as("op %d seed %d", op, seed).isEqualTo(model.remove(name) != null);
            }
            assertThat(Xattrs.list(fx, f)).as("op %d seed %d", op, seed).containsExactlyElementsOf(model.keySet());
            assertThat(f.xattrBlock == 0).isEqualTo(model.isEmpty());
            for (var e : model.entrySet()) assertThat(Xattrs.get(fx, f, e.getKey())).isEqualTo(e.getValue());
        }
        Xattrs.destroy(fx, f);
        assertThat(f.xattrBlock).isZero();
        assertThat(fx.live).isEmpty();
    }

    @Test
    void corruptionNamesTheBlock() throws Exception {
        var fx = new DirectoryTest.Fx(4096);
        Inode f = file();
        Xattrs.set(fx, f, "user.a", b("one"), 0);
        Xattrs.set(fx, f, "user.b", b("two"), 0);
        long blk = f.xattrBlock;
        byte[] good = fx.tx.raw(blk).clone();
        String prefix = "block " + blk + " (extended attribute block): ";

        fx.tx.raw(blk)[60] ^= 4;
        assertThatThrownBy(() -> Xattrs.get(fx, f, "user.a")).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith(prefix + "CRC32C");

        patch(fx, blk, good, s -> s.set(ValueLayout.JAVA_BYTE, 48, (byte) 200)); // first name length
        assertThatThrownBy(() -> Xattrs.list(fx, f)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith(prefix + "entry 0 at byte 48 (200-byte name, 3-byte value) runs past the used bytes");

        patch(fx, blk, good, s -> s.set(ValueLayout.JAVA_BYTE, 48 + 3 + 5, (byte) 'z')); // "user.a" -> "user.z"
        assertThatThrownBy(() -> Xattrs.list(fx, f)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage(prefix + "entry 1: name \"user.b\" is not after \"user.z\"");

        patch(fx, blk, good, s -> s.set(ValueLayout.JAVA_BYTE, 48 + 3, (byte) 'X')); // "Xser.a"
        assertThatThrownBy(() -> Xattrs.get(fx, f, "user.b")).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("entry 0: name \"Xser.a\" has no supported namespace prefix");

        patch(fx, blk, good, s -> s.set(MetaBlockLayout.U16, Xattrs.COUNT, (short) 0));
        assertThatThrownBy(() -> Xattrs.remove(fx, f, "user.b")).isInstanceOf(CorruptMetadataException.class)
                .hasMessage(prefix + "no attributes (an empty block should have been freed)");

        patch(fx, blk, good, s -> s.set(ValueLayout.JAVA_BYTE, 4000, (byte) 1));
        assertThatThrownBy(() -> Xattrs.destroy(fx, f)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage(prefix + "byte 4000 after the entries is not zero");

        Inode other = file();
        other.ino = INO + 1;
        other.xattrBlock = blk;
        System.arraycopy(good, 0, fx.tx.raw(blk), 0, good.length);
        assertThatThrownBy(() -> Xattrs.get(fx, other, "user.a")).isInstanceOf(CorruptMetadataException.class)
                .hasMessage(prefix + "owner " + INO + " where " + (INO + 1) + " expected");
        assertThat(Xattrs.get(fx, f, "user.a")).isEqualTo(b("one"));
    }

    static void patch(DirectoryTest.Fx fx, long blk, byte[] good, java.util.function.Consumer<MemorySegment> f) {
        byte[] raw = fx.tx.raw(blk);
        System.arraycopy(good, 0, raw, 0, good.length);
        MemorySegment s = MemorySegment.ofArray(raw);
        f.accept(s);
        MetaBlockLayout.stampCrc(s);
    }
}
