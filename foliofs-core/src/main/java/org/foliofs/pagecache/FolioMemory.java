package org.foliofs.pagecache;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The page cache's folio memory: one anonymous private mapping (MAP_NORESERVE, so pages are
 * committed on first touch, not at start) of {@code chunks} x 2 MiB, aligned to 2 MiB and advised
 * MADV_HUGEPAGE, the same idea as the device layer's BufferPool (our own three-call FFM binding:
 * the device's Native is package-private). The mapping is wrapped in a shared Arena whose
 * cleanup unmaps it: after {@link #close()} any access through a folio's {@code data()} throws
 * IllegalStateException instead of touching unmapped memory.
 */
final class FolioMemory implements AutoCloseable {
    static final long CHUNK = 2L << 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final int MADV_HUGEPAGE = 14;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MMAP = bind("mmap", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MADVISE = bind("madvise", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));

    private final Arena arena = Arena.ofShared();
    private final MemorySegment region;
    private final boolean hugePages;

    FolioMemory(int chunks) {
        long size = chunks * CHUNK;
        long mapLength = size + CHUNK;  // slack to align the start to 2 MiB
        long addr;
        try {
            addr = (long) MMAP.invokeExact(MemorySegment.NULL, mapLength, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + mapLength + " bytes failed", t);
        }
        if (addr == -1L) throw new IllegalStateException("mmap of " + mapLength + " bytes for the page cache failed (out of address space?)");
        long start = (addr + CHUNK - 1) & -CHUNK;
        final long mapped = addr;
        this.region = MemorySegment.ofAddress(start).reinterpret(size, arena, s -> unmap(mapped, mapLength));
        int advice;
        try {
            advice = (int) MADVISE.invokeExact(start, size, MADV_HUGEPAGE);
        } catch (Throwable t) {
            advice = -1;
        }
        this.hugePages = advice == 0; // advice only: where THP is off the cache works on 4 KiB pages
    }

    boolean hugePages() { return hugePages; }

    /** The memory of a buddy block: 4096-aligned, aligned to its own size. */
    MemorySegment slice(int page, int order) {
        return region.asSlice((long) page << Folio.PAGE_SHIFT, (long) Folio.PAGE_SIZE << order);
    }

    @Override
    public void close() { arena.close(); }

    private static void unmap(long addr, long length) {
        try {
            int rc = (int) MUNMAP.invokeExact(addr, length);
            if (rc != 0) System.getLogger("org.foliofs.pagecache").log(System.Logger.Level.ERROR, "munmap of the page cache failed");
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }

    private static MethodHandle bind(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }
}
