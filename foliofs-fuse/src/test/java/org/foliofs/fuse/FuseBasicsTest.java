package org.foliofs.fuse;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The namespace and file operations through a real mount, with coreutils. */
class FuseBasicsTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void fuse() { MountFixture.assumeFuse(); }

    @Test
    void namespaceOperations() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    mkdir -p a/b/c
                    echo hello > a/f
                    cat a/f
                    ln a/f a/hard
                    ln -s f a/sym
                    readlink a/sym
                    cat a/sym
                    stat -c '%h %s %F' a/f
                    mv a/f a/b/g
                    ls -a a | tr '\\n' ' '; echo
                    rm a/hard a/sym
                    rmdir a/b/c
                    ls a/b
                    """);
            assertThat(out).contains("hello\nf\nhello\n2 6 regular file\n", ". .. b hard sym \n", "g\n");
            m.unmountAndCheck();
        }
    }

    @Test
    void errorsAreErrnos() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    mkdir d; touch d/x f
                    rmdir d 2>&1 || true
                    mkdir d 2>&1 || true
                    cat missing 2>&1 || true
                    rm d 2>&1 || true
                    ls f/x 2>&1 || true
                    mkdir f/y 2>&1 || true
                    touch $(printf 'n%.0s' {1..300}) 2>&1 || true
                    """);
            assertThat(out).contains("Directory not empty", "File exists", "No such file or directory", "Is a directory",
                    "Not a directory", "File name too long");
            assertThat(m.log()).as("no unexpected errors logged").doesNotContain("foliofs: ");
            m.unmountAndCheck();
        }
    }

    @Test
    void renameFlagsXattrsTruncateFallocateSeek() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    echo one > a; echo two > b
                    python3 - <<'PY'
                    import ctypes, os, errno
                    libc = ctypes.CDLL(None, use_errno=True)
                    def renameat2(a, b, flags):
                        r = libc.renameat2(-100, a.encode(), -100, b.encode(), flags)
                        return 0 if r == 0 else ctypes.get_errno()
                    print("noreplace", errno.errorcode.get(renameat2("a", "b", 1)))
                    print("exchange", renameat2("a", "b", 2), open("a").read().strip(), open("b").read().strip())
                    print("exchange-missing", errno.errorcode.get(renameat2("a", "zz", 2)))
                    os.setxattr("a", "user.k", b"v1")
                    print("xattr", os.getxattr("a", "user.k"), os.listxattr("a"))
                    try:
                        os.setxattr("a", "user.k", b"v2", os.XATTR_CREATE)
                    except OSError as e:
                        print("create-existing", errno.errorcode[e.errno])
                    os.removexattr("a", "user.k")
                    try:
                        os.getxattr("a", "user.k")
                    except OSError as e:
                        print("missing", errno.errorcode[e.errno])
                    PY
                    truncate -s 1M sparse; stat -c 'size %s' sparse
                    truncate -s 100 a; stat -c 'size %s' a
                    xfs_io -f -c 'pwrite -q 0 64k' -c 'pwrite -q 1m 64k' -c 'seek -d 64k' -c 'seek -h 0' holes
                    xfs_io -c 'falloc 2m 64k' -c 'fpunch 0 4k' -c 'fzero 8k 4k' -c 'stat' holes | grep -E 'size'
                    cmp <(head -c 4096 holes) <(head -c 4096 /dev/zero) && echo punched
                    # the kernel's FUSE passes only KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE: EOPNOTSUPP for the rest
                    xfs_io -c 'fcollapse 0 64k' holes 2>&1 || true
                    xfs_io -c 'funshare 0 4k' holes 2>&1 || true
                    """);
            assertThat(out).contains("noreplace EEXIST", "exchange 0 two one", "exchange-missing ENOENT",
                    "xattr b'v1' ['user.k']", "create-existing EEXIST", "missing ENODATA", "size 1048576", "size 100",
                    "Whence\tResult\nDATA\t1048576", "HOLE\t65536", "stat.size = 2162688", "punched");
            assertThat(out.split("Operation not supported", -1)).as("EOPNOTSUPP twice in\n%s", out).hasSize(3);
            assertThat(m.log()).as("no unexpected errors logged").doesNotContain("foliofs: ");
            m.unmountAndCheck();
        }
    }

    /**
     * The kernel sends RELEASE without waiting for it: a stat right after close(2) may be served
     * while the release still writes back. It must report the written size, or the O_APPEND write
     * that follows lands at the old on-disk size 0 (it did, in about 2 of 3 rounds, before the fix).
     */
    @Test
    void appendRightAfterCloseAndStatSeesTheWrittenSize() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    for i in $(seq 1 60); do echo a > f$i; stat f$i > /dev/null; echo more >> f$i; done
                    cat f* | sort | uniq -c
                    """);
            assertThat(out).contains("60 a\n", "60 more\n");
            m.unmountAndCheck();
        }
    }

    @Test
    void busyMountIsForcedAfterTheGraceAndOpenFilesAreStillWrittenBack() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20).mount(MountOptions.defaults())) {
            Process holder = new ProcessBuilder("bash", "-c", "exec 3>kept; echo written-before-unmount >&3; echo ready; exec sleep 600")
                    .directory(m.mnt.toFile()).redirectErrorStream(true).start();
            try {
                assertThat(new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream())).readLine()).isEqualTo("ready");
                long t0 = System.nanoTime();
                m.mount.unmount(java.time.Duration.ofMillis(500));
                m.mount = null;
                assertThat(m.log()).contains("is still busy after 500 ms; forcing the unmount", "releasing 1 files left open");
                System.out.println("forced unmount took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            } finally {
                holder.destroyForcibly();
                holder.waitFor();
            }
            MountFixture.assertClean(m.image);
            m.mount(MountOptions.defaults());
            assertThat(m.sh("cat kept")).isEqualTo("written-before-unmount\n");
            m.unmountAndCheck();
        }
    }
}
