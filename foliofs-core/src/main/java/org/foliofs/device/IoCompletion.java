package org.foliofs.device;

/**
 * Called exactly once when a submitted {@link IoRequest} completes. It runs on the device's
 * completion thread (the io_uring reaper), or on the submitting thread for synchronous engines;
 * it must not block for long. It may submit further requests.
 */
@FunctionalInterface
public interface IoCompletion {
    /**
     * @param request the completed request ({@link IoRequest#result()} tells the outcome)
     * @param result  bytes transferred (may be short of the request's length), or a negative errno
     */
    void complete(IoRequest request, long result);
}
