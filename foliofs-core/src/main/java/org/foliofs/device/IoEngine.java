package org.foliofs.device;

/**
 * How a {@link FileDevice} performs validated requests: {@link SyncEngine} (preadv2/pwritev2 on
 * the submitting thread) or {@link UringEngine} (io_uring, submissions and completions on one ring thread).
 */
interface IoEngine {
    /** Performs or queues a validated, counted request; completes it exactly once. */
    void submit(IoRequest request);

    /** Releases the engine's resources; called when no request is in flight any more. */
    void close();

    /** True when the calling thread is the engine's completion thread (it must not close the device). */
    default boolean isCompletionThread() { return false; }
}
