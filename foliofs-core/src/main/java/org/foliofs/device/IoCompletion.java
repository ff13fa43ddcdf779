package org.foliofs.device;

/**
 * Called exactly once when a submitted {@link IoRequest} completes. It runs on the device's
 * completion thread (the io_uring ring thread, SimDevice's completion thread), or on the
 * submitting thread for synchronous engines and inline SimDevice; it must not block for long. It
 * may submit further requests. It should not close the device: a FileDevice refuses that on
 * its io_uring ring thread (IllegalStateException), SimDevice allows it without waiting for itself. An exception it throws propagates
 * out of submit() where the completion runs inline, and is logged where it runs on a completion
 * thread (which carries on).
 */
@FunctionalInterface
public interface IoCompletion {
    /**
     * @param request the completed request ({@link IoRequest#result()} tells the outcome)
     * @param result  bytes transferred (may be short of the request's length), or a negative errno
     */
    void complete(IoRequest request, long result);
}
