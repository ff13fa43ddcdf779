package org.foliofs.bench;

/** What one run measured: operations, bytes and time; derived IOPS, MB/s and mean latency. */
record Result(String tool, long ops, long bytes, double seconds, double meanLatencyMicros) {
    Result withTool(String t) { return new Result(t, ops, bytes, seconds, meanLatencyMicros); }

    double iops() { return ops / seconds; }
    double mibPerSecond() { return bytes / seconds / (1 << 20); }

    static Result of(String tool, long ops, long bytes, long nanos, int depth) {
        double s = nanos / 1e9;
        // Closed loop: each of `depth` slots is always busy, so mean latency = depth * time / ops.
        double lat = ops == 0 ? 0 : depth * (nanos / 1e3) / ops;
        return new Result(tool, ops, bytes, s, lat);
    }
}
