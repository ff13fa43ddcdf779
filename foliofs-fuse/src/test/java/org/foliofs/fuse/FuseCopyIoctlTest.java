package org.foliofs.fuse;

import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * copy_file_range (reflink where aligned) and the ioctls through a real mount: coreutils cp, Python's
 * os.copy_file_range and fcntl.ioctl, e2fsprogs chattr/lsattr, xfs_io. Sharing and write modes are
 * read back from the image after the unmount (the foliofs: attribute view).
 */
class FuseCopyIoctlTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void fuse() { MountFixture.assumeFuse(); }

    private static FileSystem open(Path image) throws Exception {
        return FileSystems.newFileSystem(URI.create("foliofs:" + image.toAbsolutePath()), Map.of());
    }

    private static long shared(FileSystem fs, String name) throws Exception {
        return (Long) Files.getAttribute(fs.getPath("/" + name), "foliofs:sharedBytes");
    }

    @Test
    void copyFileRangeReflinksAlignedRangesAndCopiesTheRest() throws Exception {
        FuseProgramsTest.assumeTool("python3");
        int bs = 4096;
        long size = (1 << 20) + 100;   // 257 blocks, the last one partial
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    python3 - <<'PY'
                    import os, errno, hashlib
                    data = os.urandom(%d)
                    with open("src", "wb") as f: f.write(data)
                    def cfr(dst, n, off_src, off_dst, src="src"):
                        s = os.open(src, os.O_RDONLY)
                        d = os.open(dst, os.O_RDWR | os.O_CREAT, 0o644)
                        done = 0
                        while done < n:
                            r = os.copy_file_range(s, d, n - done, off_src + done, off_dst + done)
                            if r == 0: break
                            done += r
                        os.close(s); os.close(d)
                        return done
                    def rd(name, off, n):
                        with open(name, "rb") as f:
                            f.seek(off); return f.read(n)
                    # whole file, aligned: a clone, the partial last block included (it ends at the source's EOF)
                    print("whole", cfr("whole", len(data), 0, 0), rd("whole", 0, 1 << 30) == data)
                    # unaligned and not congruent: copied
                    n = cfr("unaligned", 300000, 1000, 3)
                    print("unaligned", n, rd("unaligned", 3, n) == data[1000:301000], os.path.getsize("unaligned"))
                    # congruent offsets: a head copy to the block boundary, the whole blocks cloned, the tail copied
                    with open("congruent", "wb") as f: f.write(b"x" * 8192)
                    n = cfr("congruent", 500000, 1000, 1000)
                    got = rd("congruent", 0, 1 << 30)
                    print("congruent", n, got[:1000] == b"x" * 1000, got[1000:] == data[1000:501000])
                    # past the source's EOF: cut there, then 0
                    print("past-eof", cfr("tail", 1 << 20, len(data) - 10, 0), cfr("tail2", 100, len(data) + 5, 0))
                    # within one file: overlapping is EINVAL, disjoint works
                    with open("self", "wb") as f: f.write(data[:65536])
                    try:
                        cfr("self", 8192, 0, 4096, src="self")
                    except OSError as e:
                        print("overlap", errno.errorcode[e.errno])
                    print("self", cfr("self", 8192, 0, 65536, src="self"), rd("self", 65536, 8192) == data[:8192])
                    PY
                    cp src bycp && cmp src bycp && echo cp-same
                    # FICLONE: the VFS answers it itself (FUSE has no remap_file_range): never reaches the mount
                    cp --reflink=always src always 2>&1 || echo "cp-reflink-always failed"
                    python3 -c '
                    import fcntl, os, struct, errno
                    s = os.open("src", os.O_RDONLY); d = os.open("ficlone", os.O_RDWR | os.O_CREAT, 0o644)
                    for name, cmd, arg in [("FICLONE", 0x40049409, s), ("FICLONERANGE", 0x4020940d, struct.pack("qQQQ", s, 0, 4096, 0))]:
                        try:
                            fcntl.ioctl(d, cmd, arg); print(name, "ok")
                        except OSError as e:
                            print(name, errno.errorcode[e.errno])
                    '
                    """.formatted(size));
            System.out.println(out);
            assertThat(out).contains("whole " + size + " True", "unaligned 300000 True 300003", "congruent 500000 True True",
                    "past-eof 10 0", "overlap EINVAL", "self 8192 True", "cp-same", "cp-reflink-always failed",
                    "FICLONE ENOTSUP", "FICLONERANGE ENOTSUP");
            assertThat(m.log()).as("no unexpected errors logged").doesNotContain("foliofs: copy_file_range");
            m.unmountAndCheck();
        }
        try (FileSystem fs = open(tmp.resolve("volume.img"))) {
            long blocks = Math.ceilDiv(size, bs) * bs;
            assertThat(shared(fs, "whole")).as("whole: cloned").isEqualTo(blocks);
            assertThat(shared(fs, "bycp")).as("cp: copy_file_range cloned").isEqualTo(blocks);
            assertThat(shared(fs, "src")).isEqualTo(blocks);
            assertThat(shared(fs, "unaligned")).as("unaligned: copied").isZero();
            // [1000, 501000): head [1000, 4096) copied, [4096, 122 * 4096) cloned, the tail copied
            assertThat(shared(fs, "congruent")).isEqualTo((501000 / bs - 1) * (long) bs);
            assertThat(shared(fs, "self")).as("self: [0, 8K) cloned to 64K").isEqualTo(2L * 2 * bs);
        }
    }

    @Test
    void chattrSyncFlagSetsWriteThroughDsyncAndOnlyThat() throws Exception {
        FuseProgramsTest.assumeTool("chattr");
        FuseProgramsTest.assumeTool("xfs_io");
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    echo a > synced; echo b > cleared; echo c > xfs; mkdir dir
                    lsattr synced
                    chattr +S synced cleared
                    lsattr synced cleared
                    chattr -S cleared
                    lsattr cleared
                    echo more >> synced; cat synced
                    chattr +A synced 2>&1 || echo "chattr+A refused"
                    chattr +i synced 2>&1 || echo "chattr+i refused"
                    lsattr -d dir
                    chattr +S dir 2>&1 || echo "chattr+S dir refused"
                    chattr -S dir && echo "chattr-S dir ok"
                    xfs_io -c 'chattr +s' -c 'lsattr' xfs
                    xfs_io -c 'chattr +x' xfs 2>&1 || true
                    """);
            System.out.println(out);
            assertThat(out).contains("---------------------- synced\n", "--S------------------- synced\n--S------------------- cleared\n",
                    "---------------------- cleared\n", "a\nmore\n", "chattr+A refused", "chattr+i refused",
                    "---------------------- dir\n", "chattr+S dir refused", "chattr-S dir ok", "----s------------ xfs",
                    "Operation not supported");
            assertThat(m.log()).as("no unexpected errors logged").doesNotContain("foliofs: ");
            m.unmountAndCheck();
        }
        try (FileSystem fs = open(tmp.resolve("volume.img"))) {
            assertThat(Files.getAttribute(fs.getPath("/synced"), "foliofs:writeMode")).isEqualTo("writethrough+dsync");
            assertThat(Files.getAttribute(fs.getPath("/cleared"), "foliofs:writeMode")).isEqualTo("default");
            assertThat(Files.getAttribute(fs.getPath("/xfs"), "foliofs:writeMode")).isEqualTo("writethrough+dsync");
        }
    }
}
