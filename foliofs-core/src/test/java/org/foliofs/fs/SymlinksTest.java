package org.foliofs.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.foliofs.fs.MetaBlockLayout.U32;
import static org.foliofs.fs.MetaBlockLayout.U64;

/** {@link Symlinks}: inline and block targets, limits, freeing, corruption. */
class SymlinksTest {
    static final long INO = Inode.make(2, 7);

    static Inode link() {
        Inode i = new Inode(INO);
        i.mode = Inode.S_IFLNK | 0777;
        return i;
    }

    static byte[] target(int len, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] t = new byte[len];
        for (int i = 0; i < len; i++) t[i] = (byte) (1 + r.nextInt(255));
        return t;
    }

    @ParameterizedTest(name = "blockSize={0} length={1} blocks={2}")
    @CsvSource({
            "1024, 1, 0", "1024, 112, 0", "1024, 113, 1", "1024, 976, 1", "1024, 977, 2", "1024, 4095, 5",
            "4096, 112, 0", "4096, 113, 1", "4096, 4048, 1", "4096, 4049, 2", "4096, 4095, 2",
            "65536, 4095, 1",
    })
    void roundTrip(int bs, int len, int blocks) throws Exception {
        var fx = new DirectoryTest.Fx(bs);
        Inode l = link();
        byte[] t = target(len, len * 31L + bs);
        Symlinks.write(fx, l, t);
        assertThat(l.size).isEqualTo(len);
        assertThat(l.format).isEqualTo(blocks == 0 ? Inode.FORMAT_INLINE : Inode.FORMAT_BLOCKS);
        assertThat(l.nrecs).isEqualTo(blocks);
        assertThat(fx.live).hasSize(blocks);
        // survives an encode/decode of the inode record
        MemorySegment rec = MemorySegment.ofArray(new byte[Inode.SIZE]);
        l.encode(rec, 0);
        Inode back = Inode.decode(INO, rec, 0);
        assertThat(Symlinks.read(fx, back)).isEqualTo(t);
        // rewriting replaces (and frees) the old target
        byte[] t2 = target(200, 9);
        Symlinks.write(fx, back, t2);
        assertThat(Symlinks.read(fx, back)).isEqualTo(t2);
        assertThat(fx.live).hasSize(1);
        Symlinks.destroy(fx, back);
        assertThat(fx.live).isEmpty();
        assertThat(back.size).isZero();
        assertThat(back.format).isEqualTo(Inode.FORMAT_INLINE);
    }

    @Test
    void limits() throws Exception {
        var fx = new DirectoryTest.Fx(4096);
        Inode l = link();
        assertThatThrownBy(() -> Symlinks.write(fx, l, new byte[0])).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("symlink target is 0 bytes; it must be 1..4095");
        assertThatThrownBy(() -> Symlinks.write(fx, l, target(4096, 1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("symlink target is 4096 bytes; it must be 1..4095");
        assertThatThrownBy(() -> Symlinks.write(fx, l, new byte[]{'a', 0, 'b'})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("symlink target has a NUL byte at offset 1");
        Inode dir = new Inode(5);
        dir.mode = Inode.S_IFDIR;
        assertThatThrownBy(() -> Symlinks.read(fx, dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inode 5 (mode 040000) is not a symbolic link");
        assertThat(fx.live).isEmpty();
        assertThat(l.size).isZero();
    }

    @Test
    void corruptBlocksNameTheBlock() throws Exception {
        var fx = new DirectoryTest.Fx(1024);
        Inode l = link();
        byte[] t = target(3000, 3);
        Symlinks.write(fx, l, t);
        long b1 = l.inlineSegment().get(U64, 8);
        String prefix = "block " + b1 + " (symlink target block): ";
        byte[] good = fx.tx.raw(b1).clone();

        fx.tx.raw(b1)[500] ^= 0x10;
        assertThatThrownBy(() -> Symlinks.read(fx, l)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageStartingWith(prefix + "CRC32C");

        XattrsTest.patch(fx, b1, good, s -> s.set(U32, Symlinks.LENGTH, 900));
        assertThatThrownBy(() -> Symlinks.read(fx, l)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage(prefix + "piece 1 of the target of inode " + INO + " says 900 bytes at offset 976 where 976 at 976 expected");

        XattrsTest.patch(fx, b1, good, s -> s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 48 + 10, (byte) 0));
        assertThatThrownBy(() -> Symlinks.read(fx, l)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block -1 (symlink inode " + INO + "): target has a NUL byte at offset 986");

        System.arraycopy(good, 0, fx.tx.raw(b1), 0, good.length);
        long b3 = l.inlineSegment().get(U64, 24); // the last piece: 3000 - 3 * 976 = 72 bytes
        byte[] good3 = fx.tx.raw(b3).clone();
        XattrsTest.patch(fx, b3, good3, s -> s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 48 + 72, (byte) 1));
        assertThatThrownBy(() -> Symlinks.read(fx, l)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block " + b3 + " (symlink target block): byte 120 after the target piece is not zero");
        System.arraycopy(good3, 0, fx.tx.raw(b3), 0, good3.length);

        assertThat(Symlinks.read(fx, l)).isEqualTo(t);

        Inode wrongCount = l.copy();
        wrongCount.nrecs = 2;
        assertThatThrownBy(() -> Symlinks.read(fx, wrongCount)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block -1 (symlink inode " + INO + "): a 3000-byte target in 2 blocks (expected 4 blocks"
                        + " of 976 bytes, for targets over 112 bytes)");
        Inode tooLong = l.copy();
        tooLong.size = 5000;
        assertThatThrownBy(() -> Symlinks.destroy(fx, tooLong)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block -1 (symlink inode " + INO + "): target length 5000 outside 1..4095");
        Inode inlineTooLong = link();
        inlineTooLong.size = 113;
        assertThatThrownBy(() -> Symlinks.read(fx, inlineTooLong)).isInstanceOf(CorruptMetadataException.class)
                .hasMessage("block -1 (symlink inode " + INO + "): inline target of 113 bytes, more than the 112 that fit");
        Inode otherOwner = l.copy();
        otherOwner.ino = INO + 1;
        assertThatThrownBy(() -> Symlinks.destroy(fx, otherOwner)).isInstanceOf(CorruptMetadataException.class)
                .hasMessageContaining("owner " + INO + " where " + (INO + 1) + " expected");
        assertThat(fx.live).hasSize(4); // nothing freed by the failed destroys
        Symlinks.destroy(fx, l);
        assertThat(fx.live).isEmpty();
    }
}
