package org.foliofs.device;

/**
 * How a {@link FileDevice} performs validated requests: {@link SyncEngine} (preadv2/pwritev2 on
 * the submitting thread) or {@link UringEngine} (io_uring, completions on a reaper thread).
 */
interface IoEngine {
    /** Performs or queues a validated, counted request; completes it exactly once. */
    void submit(IoRequest request);

    /** Waits for everything in flight, then releases the engine's resources. */
    void close();
}
