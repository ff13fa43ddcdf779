package org.foliofs.device;

/**
 * What {@link SimDevice#crash()} did to the writes that were pending (completed but not durable)
 * at the power loss.
 *
 * @param seed          the seed the crash used; {@code crash(seed)} on the same history replays it
 * @param pendingWrites pending writes (and discards) at the crash, after removing those fully
 *                      overwritten by later durable writes
 * @param lost          writes of which nothing was applied
 * @param applied       writes applied whole
 * @param torn          writes of which a proper, non-empty subset of logical blocks was applied
 */
public record CrashReport(long seed, int pendingWrites, int lost, int applied, int torn) {
    @Override
    public String toString() {
        return "crash[seed=" + seed + ", pending=" + pendingWrites + ", lost=" + lost + ", applied=" + applied
                + ", torn=" + torn + "]";
    }
}
