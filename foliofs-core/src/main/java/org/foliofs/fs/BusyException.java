package org.foliofs.fs;

/**
 * ENOSPC that is only temporary: the space asked for exists, but all of it was freed by transactions
 * that are not yet durable (or not yet checkpointed, for freed metadata), so it may not be reused.
 * The file system aborts its handle, calls {@code journal.checkpoint()} (which makes every free
 * reusable) and retries once.
 */
public final class BusyException extends NoSpaceException {
    public BusyException(String message) { super(message); }
}
