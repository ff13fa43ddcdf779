package org.foliofs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.foliofs.fs.FolioFs.ROOT_INO;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.foliofs.device.DeviceStats;
import org.foliofs.device.IoOp;
import org.foliofs.device.SimDevice;
import org.junit.jupiter.api.Test;

/** {@link FolioFs#mountReadOnly}: reads work, every change is refused, nothing reaches the device. */
class ReadOnlyMountTest {
    static final int BS = 4096;

    private static SimDevice device(long seed) {
        return SimDevice.builder().capacity(64L << 20).seed(seed).build();
    }

    private static long writesAndFlushes(SimDevice dev) {
        DeviceStats s = dev.stats();
        return s.requests(IoOp.WRITE) + s.requests(IoOp.FLUSH) + s.requests(IoOp.DISCARD);
    }

    private static void refused(ThrowingCallable c) {
        assertThatThrownBy(c).isInstanceOf(ReadOnlyVolumeException.class).hasMessageContaining("Read-only file system")
                .hasMessageContaining("read-only");
    }

    @Test
    void readsWorkAndEveryChangeIsRefusedWithoutAnyWrite() throws Exception {
        try (SimDevice dev = device(1)) {
            byte[] data = FolioFileTest.pattern(5, 3 * BS + 100);
            long fino;
            try (FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults())) {
                fino = fs.create(ROOT_INO, "f", 0644, 1, 2).ino();
                long d = fs.mkdir(ROOT_INO, "d", 0755, 0, 0).ino();
                fs.symlink(d, "l", "../f", 0, 0);
                fs.setxattr(fino, "user.k", "v".getBytes(StandardCharsets.UTF_8), 0);
                try (FolioFile f = fs.openFile(fino)) {
                    FolioFileTest.write(f, 0, data);
                }
            }
            long before = writesAndFlushes(dev);
            try (FolioFs fs = FolioFs.mountReadOnly(dev)) {
                assertThat(fs.isReadOnly()).isTrue();
                assertThat(fs.mountLog()).contains("mounted read-only");
                // reads
                assertThat(fs.list(ROOT_INO)).extracting(e -> new String(e.name(), StandardCharsets.UTF_8)).contains("f", "d");
                long d = fs.resolve("/d");
                assertThat(fs.readlink(fs.lookup(d, "l"))).isEqualTo("../f");
                assertThat(fs.getxattr(fino, "user.k")).isEqualTo("v".getBytes(StandardCharsets.UTF_8));
                assertThat(fs.listxattr(fino)).containsExactly("user.k");
                assertThat(fs.getattr(fino).size()).isEqualTo(data.length);
                assertThat(fs.statfs().inodes()).isEqualTo(5);
                fs.sync();                                   // nothing to make durable: a no-op
                try (FolioFile f = fs.openFile(fino)) {
                    byte[] back = new byte[data.length];
                    assertThat(f.read(0, MemorySegment.ofArray(back))).isEqualTo(data.length);
                    assertThat(back).isEqualTo(data);
                    MemorySegment aligned = Arena.ofAuto().allocate(BS, BS);
                    assertThat(f.readDirect(BS, aligned, 0)).isEqualTo(BS);
                    assertThat(aligned.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                            .isEqualTo(java.util.Arrays.copyOfRange(data, BS, 2 * BS));
                    assertThat(f.readAsync(0, MemorySegment.ofArray(new byte[10]), 0).get()).isEqualTo(10);
                    assertThat(f.extents(0, Long.MAX_VALUE)).isNotEmpty();
                    f.fsync(false);                          // no-op
                    // every change of the file
                    refused(() -> f.write(0, MemorySegment.ofArray(new byte[1])));
                    refused(() -> f.write(0, MemorySegment.ofArray(new byte[1]), FolioFile.WRITETHROUGH));
                    refused(() -> f.write(0, aligned, FolioFile.DIRECT));
                    refused(() -> f.writeDirect(0, aligned, 0));
                    assertThatThrownBy(() -> f.writeAsync(0, aligned, FolioFile.DIRECT).get())
                            .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(ReadOnlyVolumeException.class);
                    refused(() -> f.truncate(1));
                    refused(() -> f.fallocate(0, 0, BS));
                    refused(() -> f.fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, 0, BS));
                    refused(() -> f.cloneFrom(f));
                    assertThat(f.size()).isEqualTo(data.length);
                }
                // every change of the namespace and attributes
                refused(() -> fs.create(ROOT_INO, "new", 0644, 0, 0));
                refused(() -> fs.mknod(ROOT_INO, "fifo", Inode.S_IFREG | 0644, 0, 0));
                refused(() -> fs.mkdir(ROOT_INO, "nd", 0755, 0, 0));
                refused(() -> fs.symlink(ROOT_INO, "nl", "f", 0, 0));
                refused(() -> fs.link(fino, ROOT_INO, "f2"));
                refused(() -> fs.unlink(ROOT_INO, "f"));
                refused(() -> fs.rmdir(ROOT_INO, "d"));
                refused(() -> fs.rename(ROOT_INO, "f", ROOT_INO, "g", 0));
                refused(() -> fs.setattr(fino, FolioFs.SetAttr.mode(0600)));
                refused(() -> fs.setattr(fino, FolioFs.SetAttr.size(0)));
                refused(() -> fs.setxattr(fino, "user.k", new byte[1], 0));
                refused(() -> fs.removexattr(fino, "user.k"));
                // the choke point: any metadata change inside a handle, whatever the caller
                refused(() -> fs.op(h -> {   // (an unchanged record is not written at all)
                    Inode i = Inodes.get(h, fino);
                    i.mtime++;
                    Inodes.put(h, i);
                    return null;
                }));
                refused(() -> fs.op(h -> Inodes.allocate(h, 0, Inode.S_IFREG | 0644, FolioFs.now())));
                assertThat(fs.getattr(fino).mode() & 07777).isEqualTo(0644);
                assertThat(fs.list(ROOT_INO)).hasSize(2);
            }
            assertThat(writesAndFlushes(dev)).as("device writes, flushes and discards of a read-only mount").isEqualTo(before);
            try (FolioFs fs = FolioFs.mount(dev)) {       // and the volume is still fine
                assertThat(fs.mountLog()).isEmpty();
                assertThat(fs.getattr(fs.resolve("/f")).size()).isEqualTo(data.length);
            }
        }
    }

    @Test
    void aVolumeThatNeedsJournalRecoveryIsRefusedUntouched() throws Exception {
        try (SimDevice dev = device(2)) {
            FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults());
            fs.create(ROOT_INO, "a", 0644, 0, 0);
            fs.mkdir(ROOT_INO, "b", 0755, 0, 0);
            fs.sync();                 // committed to the log, not checkpointed
            fs.abandon();              // crash
            dev.crash();
            long before = writesAndFlushes(dev);
            assertThatThrownBy(() -> FolioFs.mountReadOnly(dev)).isInstanceOf(RecoveryNeededException.class)
                    .hasMessageContaining(dev.describe()).hasMessageContaining("needs journal recovery (1 transactions")
                    .hasMessageContaining("mount it read-write once");
            assertThat(writesAndFlushes(dev)).isEqualTo(before);
            try (FolioFs rw = FolioFs.mount(dev)) {
                assertThat(rw.mountLog()).anyMatch(s -> s.contains("replayed 1 transactions"));
            }
            try (FolioFs ro = FolioFs.mountReadOnly(dev)) {
                assertThat(ro.list(ROOT_INO)).hasSize(2);
            }
        }
    }

    @Test
    void orphansACrashLeftAreLeftAloneAndInvisible() throws Exception {
        try (SimDevice dev = device(3)) {
            FolioFs fs = FolioFs.format(dev, Mkfs.Options.defaults());
            long ino = fs.create(ROOT_INO, "g", 0644, 0, 0).ino();
            try (FolioFile f = fs.openFile(ino)) {
                FolioFileTest.write(f, 0, new byte[3 * BS]);
                f.fsync(false);
                fs.unlink(ROOT_INO, "g");
                fs.journal().checkpoint();   // the log is empty; the orphan is home
                fs.abandon();                // crash with g open
            } catch (IllegalStateException | java.io.IOException closedAfterAbandon) {
                // FolioFile.close after abandon: the volume is gone
            }
            dev.crash();
            long before = writesAndFlushes(dev);
            try (FolioFs ro = FolioFs.mountReadOnly(dev)) {
                assertThat(ro.mountLog()).contains("1 orphaned inodes left for the next read-write mount to free");
                assertThat(ro.list(ROOT_INO)).isEmpty();
                assertThat(ro.list(FolioFs.ORPHANAGE_INO)).hasSize(1);
                assertThatThrownBy(() -> ro.openFile(ino)).hasMessageContaining("deleted");
            }
            assertThat(writesAndFlushes(dev)).isEqualTo(before);
            try (FolioFs rw = FolioFs.mount(dev)) {
                assertThat(rw.mountLog()).anyMatch(s -> s.contains("freed 1 orphaned inodes"));
            }
        }
    }

    @Test
    void mountLogNamesNothingForACleanVolume() throws Exception {
        try (SimDevice dev = device(4)) {
            FolioFs.format(dev, Mkfs.Options.defaults()).close();
            try (FolioFs ro = FolioFs.mountReadOnly(dev)) {
                assertThat(ro.mountLog()).isEqualTo(List.of("mounted read-only"));
                assertThat(ro.journal().isReadOnly()).isTrue();
            }
        }
    }
}
