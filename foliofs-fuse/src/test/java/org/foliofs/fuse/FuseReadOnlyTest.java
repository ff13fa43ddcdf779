package org.foliofs.fuse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Fsck;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code -o ro}: reads work, every change is EROFS, the image's bytes never change, image locks. */
class FuseReadOnlyTest {
    private static final MountOptions RO = MountOptions.defaults().withReadOnly(true);

    @TempDir
    Path tmp;

    @BeforeAll
    static void fuse() { MountFixture.assumeFuse(); }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** Fills the fixture's image through a read-write mount and unmounts it clean; returns the sha256sum of big. */
    private static String populate(MountFixture m) throws Exception {
        m.mount(MountOptions.defaults());
        String sum = m.sh("""
                mkdir -p d/sub
                echo hello > d/f
                head -c 300000 /dev/urandom > big
                ln -s d/f sym
                sha256sum < big
                """);
        m.unmountAndCheck();
        return sum;
    }

    @Test
    void readsWorkChangesAreRefusedAndTheImageIsUntouched() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 64 << 20)) {
            String bigSum = populate(m);
            String before = sha256(m.image);
            m.mount(RO);
            assertThat(m.sh("grep ' " + m.mnt + " ' /proc/mounts")).as("kernel mount flags").containsPattern(" ro[, ]");
            String out = m.sh("""
                    cat d/f
                    ls d | tr '\\n' ' '; echo
                    stat -c '%s %F' d/f big
                    readlink sym; cat sym
                    sha256sum < big
                    """);
            assertThat(out).contains("hello\n", "f sub \n", "6 regular file\n300000 regular file\n", "d/f\nhello\n", bigSum);
            String refused = m.sh("""
                    for c in 'echo x > d/f' 'echo x >> d/f' 'touch new' 'touch d/f' 'mkdir m' 'rm d/f' 'rmdir d/sub' \\
                             'mv d/f d/g' 'ln -s x s2' 'ln d/f h' 'chmod 600 d/f' 'truncate -s 0 d/f'; do
                        if out=$( (eval "$c") 2>&1 ); then echo "ALLOWED: $c"; else echo "$c: $out" | tr '\\n' ' '; echo; fi
                    done
                    python3 -c 'import os
                    try:
                        os.open("d/f", os.O_WRONLY)
                        print("ALLOWED: O_WRONLY")
                    except OSError as e:
                        print("O_WRONLY:", os.strerror(e.errno))
                    try:
                        os.setxattr("d/f", "user.a", b"b")
                        print("ALLOWED: setxattr")
                    except OSError as e:
                        print("setxattr:", os.strerror(e.errno))'
                    """);
            assertThat(refused).doesNotContain("ALLOWED");
            for (String c : new String[] {"echo x > d/f", "echo x >> d/f", "touch new", "touch d/f", "mkdir m", "rm d/f",
                    "rmdir d/sub", "mv d/f d/g", "ln -s x s2", "ln d/f h", "chmod 600 d/f", "truncate -s 0 d/f", "O_WRONLY", "setxattr"})
                assertThat(refused).as("output of the refused changes").containsPattern("(?m)^" + java.util.regex.Pattern.quote(c)
                        + ":.*Read-only file system");
            assertThat(m.sh("cat d/f; ls | tr '\\n' ' '")).isEqualTo("hello\nbig d sym ");
            assertThat(m.log()).as("mount log").contains("mounted read-only").doesNotContain("Exception");
            m.unmountAndCheck();
            assertThat(sha256(m.image)).as("image bytes after a read-only mount and unmount").isEqualTo(before);
        }
    }

    @Test
    void readOnlyMountsShareTheImageButNeverWithAReadWriteOne() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 32 << 20)) {
            populate(m);
            String before = sha256(m.image);
            Path mnt2 = Files.createDirectories(tmp.resolve("mnt2"));
            ByteArrayOutputStream log2 = new ByteArrayOutputStream();
            m.mount(RO);
            try (FolioMount second = FolioMount.mount(m.image, mnt2, RO, new PrintStream(log2, true))) {
                assertThat(Files.readString(mnt2.resolve("d/f"))).isEqualTo("hello\n");
                assertThatThrownBy(() -> FolioMount.mount(m.image, tmp.resolve("mnt"), MountOptions.defaults(), new PrintStream(log2, true)))
                        .hasMessageContaining(m.image + " is in use by another FolioFS process");
                assertThatThrownBy(() -> ImageLock.acquire(m.image)).hasMessageContaining("is in use");   // fsck, mkfs
            }
            m.unmountAndCheck();
            assertThat(sha256(m.image)).isEqualTo(before);
            m.mount(MountOptions.defaults());
            assertThatThrownBy(() -> FolioMount.mount(m.image, mnt2, RO, new PrintStream(log2, true)))
                    .hasMessageContaining(m.image + " is in use by another FolioFS process (it holds the image lock for writing)");
            m.unmountAndCheck();
        }
    }

    @Test
    void anImageThatNeedsRecoveryIsRefusedUntouched() throws Exception {
        try (MountFixture m = new MountFixture(tmp, 32 << 20)) {
            try (FileDevice dev = FileDevice.open(m.image, FileDevice.Options.defaults().withEngine(FileDevice.Engine.SYNC))) {
                FolioFs fs = FolioFs.mount(dev);
                fs.create(FolioFs.ROOT_INO, "after-crash", 0644, 0, 0);
                fs.sync();
                fs.abandon();   // a crash: the journal holds a transaction to replay
            }
            String before = sha256(m.image);
            for (MountOptions o : new MountOptions[] {RO, RO.withCheck(false)})
                assertThatThrownBy(() -> m.mount(o)).as("mount with %s", o)
                        .hasMessageContaining(m.image + " needs journal recovery (")
                        .hasMessageContaining("Mount it read-write once")
                        .hasMessageContaining("foliofs fsck " + m.image);
            assertThat(m.mount).isNull();
            assertThat(sha256(m.image)).as("image after the refused read-only mounts").isEqualTo(before);
            // read-write replays it; then read-only works and sees the file
            m.mount(MountOptions.defaults());
            m.unmountAndCheck();
            m.mount(RO);
            assertThat(m.sh("ls")).contains("after-crash");
            m.unmountAndCheck();
        }
    }
}
