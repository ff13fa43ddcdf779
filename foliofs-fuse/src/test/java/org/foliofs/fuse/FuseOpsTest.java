package org.foliofs.fuse;

import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Random;
import org.foliofs.fs.NoSpaceException;
import org.foliofs.fs.NoSuchAttributeException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The pure parts of the FUSE edge: directory offsets and errno mapping. */
class FuseOpsTest {
    @Test
    void directoryOffsetsArePositiveOrderedAndRoundTrip() {
        long seed = Long.getLong("foliofs.seed", System.nanoTime());
        System.out.println("seed " + seed + "; replay: mvn -pl foliofs-fuse test -Dtest='FuseOpsTest' -Dfoliofs.seed=" + seed);
        Random rnd = new Random(seed);
        long[] hashes = {0, 1, 0x7fff_ffffL, 0x8000_0000L, 0xffff_ffffL};
        for (int i = 0; i < 10_000; i++) {
            long hash = i < hashes.length ? hashes[i] : rnd.nextLong() & 0xffff_ffffL;
            long index = i % 3 == 0 ? 0 : rnd.nextInt(1 << 20);
            long cookie = (hash << 32 | index) + 1;
            long off = FuseOps.offsetOf(cookie);
            assertThat(off).as("offset of cookie %x", cookie).isGreaterThanOrEqualTo(3);
            assertThat(FuseOps.cookieAfter(off)).as("cookie after offset %d", off).isEqualTo(cookie);
            long cookie2 = ((hash << 32) | (index + 1)) + 1;
            assertThat(FuseOps.offsetOf(cookie2)).isGreaterThan(off);   // same order as the keys
        }
    }

    @Test
    void exceptionsMapToErrnos() {
        assertThat(Errnos.of(new NoSuchFileException("x"))).isEqualTo(Errnos.ENOENT);
        assertThat(Errnos.of(new FileAlreadyExistsException("x"))).isEqualTo(Errnos.EEXIST);
        assertThat(Errnos.of(new DirectoryNotEmptyException("x"))).isEqualTo(Errnos.ENOTEMPTY);
        assertThat(Errnos.of(new NotDirectoryException("x"))).isEqualTo(Errnos.ENOTDIR);
        assertThat(Errnos.of(new FileSystemException("x", null, "Is a directory (use rmdir)"))).isEqualTo(Errnos.EISDIR);
        assertThat(Errnos.of(new FileSystemException("x", null, "Invalid argument: not a symbolic link"))).isEqualTo(Errnos.EINVAL);
        assertThat(Errnos.of(new FileSystemException("x", null, "File too large: size"))).isEqualTo(Errnos.EFBIG);
        assertThat(Errnos.of(new FileSystemException("x", null, "Too many links"))).isEqualTo(Errnos.EMLINK);
        assertThat(Errnos.of(new NoSpaceException("full"))).isEqualTo(Errnos.ENOSPC);
        assertThat(Errnos.of(new org.foliofs.fs.ReadOnlyVolumeException("inode 5/a", "create refused"))).isEqualTo(Errnos.EROFS);
        assertThat(Errnos.unexpected(new org.foliofs.fs.ReadOnlyVolumeException("inode 5/a", "create refused"))).isFalse();
        assertThat(Errnos.of(new NoSuchAttributeException("user.a", "none"))).isEqualTo(Errnos.ENODATA);
        assertThat(Errnos.of(new UnsupportedOperationException("fallocate mode 0x40"))).isEqualTo(Errnos.EOPNOTSUPP);
        assertThat(Errnos.of(new IllegalArgumentException("directory entry name \"a\" is 300 bytes, more than the 255 allowed")))
                .isEqualTo(Errnos.ENAMETOOLONG);
        assertThat(Errnos.of(new IllegalArgumentException("rename flags (4) must be 0"))).isEqualTo(Errnos.EINVAL);
        assertThat(Errnos.of(new java.io.IOException("device"))).isEqualTo(Errnos.EIO);
        assertThat(Errnos.unexpected(new java.io.IOException("device"))).isTrue();
        assertThat(Errnos.unexpected(new NoSuchFileException("x"))).isFalse();
    }

    @Test
    void syncFlagMirrorsTheFilesOwnWriteThroughDsyncMode() {
        assertThat(FuseOps.fsFlags(attr(org.foliofs.fs.Inode.S_IFREG | 0644, org.foliofs.fs.Inode.WMODE_WRITETHROUGH_DSYNC)))
                .isEqualTo(FuseOps.FS_SYNC_FL);
        assertThat(FuseOps.fsFlags(attr(org.foliofs.fs.Inode.S_IFREG | 0644, org.foliofs.fs.Inode.WMODE_WRITETHROUGH))).isZero();
        assertThat(FuseOps.fsFlags(attr(org.foliofs.fs.Inode.S_IFREG | 0644, org.foliofs.fs.Inode.WMODE_DEFAULT))).isZero();
        assertThat(FuseOps.fsFlags(attr(org.foliofs.fs.Inode.S_IFDIR | 0755, org.foliofs.fs.Inode.WMODE_WRITETHROUGH_DSYNC))).isZero();
    }

    private static org.foliofs.fs.FolioFs.Attr attr(int mode, int writeMode) {
        return new org.foliofs.fs.FolioFs.Attr(5, mode, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, writeMode);
    }
}
