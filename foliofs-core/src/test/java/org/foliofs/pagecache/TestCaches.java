package org.foliofs.pagecache;

/** Helpers shared by the page-cache tests. */
final class TestCaches {
    private TestCaches() {}

    static final WritebackTarget NO_WRITEBACK = (cache, max) -> 0;

    static PageCache small(long memoryBytes) {
        return new PageCache(PageCache.Config.builder().memoryBytes(memoryBytes).build());
    }

    /** The seed for a randomized test: {@code -Dfoliofs.seed=N} replays one, printed with its replay command. */
    static long seed(String testClass, String method, long fallback) {
        String p = System.getProperty("foliofs.seed");
        long seed = p != null ? Long.decode(p) : fallback;
        System.out.println(testClass + "#" + method + " seed " + seed + "; replay: mvn -pl foliofs-core test -Dtest='" + testClass
                + "#" + method + "' -Dfoliofs.seed=" + seed);
        return seed;
    }
}
