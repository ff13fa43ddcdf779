package org.foliofs.iomap;

/** Test-only switches of {@link WriteThrough} for tests outside this package (crash campaigns that must be able to fail). */
public final class WriteThroughFaults {
    private WriteThroughFaults() {}

    /** While on, write-through DSYNC calls that need a journal force and flush skip them (a durability bug). */
    public static void skipDsyncSync(boolean on) { WriteThrough.brokenSkipDsyncSync = on; }
}
