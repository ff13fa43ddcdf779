package org.foliofs.fuse;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MountOptionsTest {
    private static MountOptions parse(String s) { return MountOptions.parse(s, MountOptions.defaults()); }

    @Test
    void defaultsAndParsing() {
        MountOptions d = MountOptions.defaults();
        assertThat(d.directIo()).isTrue();
        assertThat(d.threads()).isEqualTo(4);
        assertThat(parse("")).isEqualTo(d);
        MountOptions o = parse("kernel_cache,threads=8,cache=256M,attr_timeout=0.5,entry_timeout=2,nocheck,allow_other,writemode=writeback");
        assertThat(o.directIo()).isFalse();
        assertThat(o.threads()).isEqualTo(8);
        assertThat(o.cacheBytes()).isEqualTo(256L << 20);
        assertThat(o.attrTimeout()).isEqualTo(0.5);
        assertThat(o.entryTimeout()).isEqualTo(2.0);
        assertThat(o.check()).isFalse();
        assertThat(o.allowOther()).isTrue();
        assertThat(parse("kernel_cache,direct_io").directIo()).isTrue();
        assertThat(o.kernelOptions("foliofs:/a,b.img")).isEqualTo("fsname=foliofs:/a\\,b.img,subtype=foliofs,default_permissions,allow_other");
    }

    @Test
    void readOnly() {
        assertThat(MountOptions.defaults().readOnly()).isFalse();
        assertThat(parse("rw").readOnly()).isFalse();
        MountOptions ro = parse("ro,threads=2");
        assertThat(ro.readOnly()).isTrue();
        assertThat(ro.threads()).isEqualTo(2);
        assertThat(ro).isEqualTo(MountOptions.defaults().withThreads(2).withReadOnly(true));
        assertThat(parse("ro,rw").readOnly()).isFalse();   // the last one wins, as with mount(8)
        assertThat(parse("rw,ro").readOnly()).isTrue();
        assertThat(ro.kernelOptions("foliofs:/v.img")).isEqualTo("fsname=foliofs:/v.img,subtype=foliofs,default_permissions,ro");
        assertThat(MountOptions.known()).contains("ro", "rw");
    }

    @Test
    void badOptionsAreNamed() {
        assertThatThrownBy(() -> parse("bogus")).hasMessageStartingWith("unknown mount option bogus (known: direct_io");
        assertThatThrownBy(() -> parse("threads=65")).hasMessage("threads (65) must be from 1 to 64");
        assertThatThrownBy(() -> parse("threads=x")).hasMessage("mount option threads=x: x is not an integer");
        assertThatThrownBy(() -> parse("threads")).hasMessage("mount option threads needs a value (threads=...)");
        assertThatThrownBy(() -> parse("kernel_cache=1")).hasMessage("mount option kernel_cache=1 takes no value");
        assertThatThrownBy(() -> parse("cache=12Q")).hasMessage("mount option cache=12Q: 12Q is not a size (e.g. 256M)");
        assertThatThrownBy(() -> parse("cache=1K")).hasMessage("cache (1024 bytes) must be at least 1M");
        assertThatThrownBy(() -> parse("attr_timeout=-1")).hasMessage("attr_timeout (-1.0) must be from 0 to 86400 seconds");
        assertThatThrownBy(() -> parse("writemode=fast")).hasMessage("writemode=fast is not one of writeback, writethrough, writethrough+dsync");
        assertThat(parse("writemode=writethrough+dsync").writeMode().fsMode()).isEqualTo(org.foliofs.fs.Inode.WMODE_WRITETHROUGH_DSYNC);
        assertThat(parse("writemode=writethrough").writeMode().fsMode()).isEqualTo(org.foliofs.fs.Inode.WMODE_WRITETHROUGH);
        assertThatThrownBy(() -> parse("ro=1")).hasMessage("mount option ro=1 takes no value");
    }
}
