package org.foliofs.fuse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Real programs nobody here wrote, on a mount: tar/cp/diff, fio with verification, sqlite3, stress-ng. */
class FuseProgramsTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void fuse() { MountFixture.assumeFuse(); }

    static void assumeTool(String tool) throws Exception {
        boolean found = new ProcessBuilder("bash", "-c", "command -v " + tool).start().waitFor() == 0;
        if (!found) System.out.println("SKIPPED: " + tool + " is not installed (.ci/run installs it)");
        assumeTrue(found, tool + " is not installed");
    }

    /** A source tree to copy: this repository's foliofs-core/src. */
    static Path sourceTree() {
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            Path src = p.resolve("foliofs-core/src");
            if (Files.isDirectory(src)) return src;
        }
        throw new IllegalStateException("foliofs-core/src not found above " + here);
    }

    @Test
    void tarCpDiffRoundTripSurvivesRemount() throws Exception {
        Path src = sourceTree();
        try (MountFixture m = new MountFixture(tmp, 128 << 20).mount(MountOptions.defaults())) {
            m.sh("mkdir tree && tar -C '" + src + "' -cf - . | tar -xf - -C tree\n"
                    + "cp -a tree copy\n"
                    + "diff -r '" + src + "' tree\n"
                    + "diff -r tree copy\n"
                    + "tar -cf tree.tar tree && mkdir back && tar -xf tree.tar -C back && diff -r tree back/tree\n"
                    + "rm -rf back && [ ! -e back ]\n");
            m.unmountAndCheck();
            m.mount(MountOptions.defaults());
            m.sh("diff -r '" + src + "' tree && diff -r '" + src + "' copy\n"
                    + "find tree -type f | wc -l\n");
            m.unmountAndCheck();
        }
    }

    @Test
    void fioRandwriteVerifiesWithEveryEngineAndMode() throws Exception {
        assumeTool("fio");
        try (MountFixture m = new MountFixture(tmp, 128 << 20).mount(MountOptions.defaults())) {
            for (String engine : new String[] {"psync", "io_uring"}) {
                for (int direct = 0; direct <= 1; direct++) {
                    for (int sync = 0; sync <= 1; sync++) {
                        String size = sync == 1 ? "1m" : "8m";
                        String name = engine + "-d" + direct + "-s" + sync;
                        String out = m.sh("fio --name=" + name + " --filename=" + name + " --rw=randwrite --bs=4k --size=" + size
                                + " --ioengine=" + engine + " --direct=" + direct + " --sync=" + sync
                                + " --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 --output-format=terse"
                                + " --terse-version=3 && rm " + name, 180);
                        assertThat(out).as("fio %s", name).doesNotContain("verify:").doesNotContain("bad magic");
                    }
                }
            }
            m.unmountAndCheck();
            m.mount(MountOptions.parse("kernel_cache", MountOptions.defaults()));   // the kernel's page cache in front
            for (int direct = 0; direct <= 1; direct++)
                m.sh("fio --name=kc" + direct + " --filename=kc" + direct + " --rw=randwrite --bs=4k --size=4m --ioengine=psync"
                        + " --direct=" + direct + " --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse", 180);
            m.sh("fio --name=mixed --directory=. --rw=randrw --bs=16k --size=8m --ioengine=io_uring --iodepth=8"
                    + " --numjobs=2 --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse --terse-version=3", 180);
            m.unmountAndCheck();
        }
    }

    @Test
    void sqlite3CreatesFillsAndIntegrityChecks() throws Exception {
        assumeTool("sqlite3");
        try (MountFixture m = new MountFixture(tmp, 128 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("""
                    sqlite3 db.sqlite <<'SQL'
                    PRAGMA journal_mode=DELETE;
                    CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
                    CREATE INDEX tk ON t(k);
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                      INSERT INTO t(k, v) SELECT hex(randomblob(8)), randomblob(100 + i % 400) FROM n;
                    DELETE FROM t WHERE id % 3 = 0;
                    UPDATE t SET v = randomblob(50) WHERE id % 5 = 0;
                    SQL
                    for i in $(seq 1 20); do sqlite3 db.sqlite "INSERT INTO t(k, v) VALUES ('x$i', randomblob(1000));"; done
                    sqlite3 db.sqlite 'VACUUM;'
                    sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM t;'
                    """);
            assertThat(out).contains("ok\n");
            m.unmountAndCheck();
            // WAL mode maps its -shm file shared, which needs the kernel's page cache (direct_io refuses shared mmap)
            m.mount(MountOptions.parse("kernel_cache", MountOptions.defaults()));
            assertThat(m.sh("""
                    sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) > 13000 FROM t;'
                    sqlite3 db.sqlite 'PRAGMA journal_mode=WAL;'
                    for i in $(seq 1 20); do sqlite3 db.sqlite "INSERT INTO t(k, v) VALUES ('w$i', randomblob(3000));"; done
                    sqlite3 db.sqlite 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; PRAGMA integrity_check;'
                    """)).contains("ok\n1\nwal\n", "delete\nok\n");
            m.unmountAndCheck();
        }
    }

    @Test
    void stressNgFilesystemStressorsVerify() throws Exception {
        assumeTool("stress-ng");
        try (MountFixture m = new MountFixture(tmp, 256 << 20).mount(MountOptions.defaults())) {
            String out = m.sh("stress-ng --temp-path . --verify --timeout 6s --metrics-brief"
                    + " --hdd 1 --hdd-bytes 8M --hdd-write-size 4k --dir 1 --dentry 1 --link 1 --symlink 1 --rename 1"
                    + " --fallocate 1 --fallocate-bytes 8M --seek 1 --seek-size 8M --xattr 1 --fstat 1 --fstat-dir . 2>&1", 120);
            assertThat(out).contains("successful run completed").doesNotContain("fail");
            m.unmountAndCheck();
        }
    }
}
