package org.foliofs.iomap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.foliofs.device.SimDevice;
import org.foliofs.device.SimDeviceBuilder;
import org.foliofs.pagecache.FileCache;
import org.foliofs.pagecache.Folio;
import org.foliofs.pagecache.PageCache;

/**
 * One file over a garbage-filled SimDevice with a page cache, the buffered and direct engines, and
 * a {@link TestMapping} wired to its {@link BufferedFile} (the test "file system").
 */
final class BufferedFixture implements AutoCloseable {
    final SimDevice dev;
    final PageCache pc;
    final BufferedIo bio;
    final DirectIo dio;
    final TestMapping f;
    final BufferedFile file;
    final ErrSeq.Cursor cursor;

    BufferedFixture(SimDeviceBuilder device, PageCache.Config cache, BufferedIo.Options options, int bs, int maxBlocks)
            throws IOException {
        this.dev = DirectIoTest.device(device);
        this.pc = new PageCache(cache);
        this.bio = new BufferedIo(pc, dev, options);
        this.dio = new DirectIo(dev, DirectIo.Options.defaults().withMaxRequestBytes(options.maxRequestBytes()));
        this.f = new TestMapping(dev, bs, maxBlocks);
        this.file = bio.open(f, f, f);
        f.cache = file;
        this.cursor = file.errSeq().cursor();
    }

    /** 8 MiB device (lbs 512), 16 MiB cache with background writeback effectively off. */
    static BufferedFixture of(int bs, int maxFolioOrder) throws IOException {
        return new BufferedFixture(DirectIoTest.sim(512), quietCache(16L << 20),
                BufferedIo.Options.defaults().withMaxFolioOrder(maxFolioOrder), bs, (4 << 20) / bs);
    }

    /** A cache whose background writeback only runs when the test fills it (dirty expiry: an hour). */
    static PageCache.Config quietCache(long bytes) {
        return PageCache.Config.builder().memoryBytes(bytes).dirtyExpireMillis(3_600_000).build();
    }

    long write(long pos, byte[] data) throws IOException {
        return bio.write(f, f, pos, MemorySegment.ofArray(data));
    }

    byte[] read(long pos, int len) throws IOException {
        byte[] a = new byte[len];
        long n = bio.read(f, f, pos, MemorySegment.ofArray(a));
        return n == len ? a : java.util.Arrays.copyOf(a, (int) n);
    }

    void fsync() throws IOException {
        bio.fsync(f, 0, Long.MAX_VALUE, false, cursor);
    }

    /** Drops every clean folio that nobody references (what memory pressure would do). */
    void evictAll() {
        pc.evict(Long.MAX_VALUE);
    }

    /** Asserts nothing is left locked, under writeback or half-done in the cache. */
    void assertQuiescent() {
        FileCache fc = file.cache();
        if (fc.nextTagged(FileCache.Tag.WRITEBACK, 0) >= 0) throw new AssertionError("a folio is still under writeback");
        for (long i = fc.nextCachedIndex(0); i >= 0; ) {
            Folio g = fc.lookup(i);
            if (g != null) {
                if (!g.tryLock()) throw new AssertionError(g + " is left locked");
                g.unlock();
                i = g.index() + g.pages();
                g.put();
            } else {
                i++;
            }
            i = fc.nextCachedIndex(i);
        }
    }

    @Override
    public void close() {
        pc.close();
        dev.close();
    }
}
