package org.foliofs.fs;

import java.nio.file.FileSystemException;

/**
 * {@link FolioFs#mountReadOnly} refused a volume whose journal holds committed transactions (it was
 * not unmounted cleanly): a read-write mount must replay them first. The file is the device.
 */
public final class RecoveryNeededException extends FileSystemException {
    private static final long serialVersionUID = 1L;
    private final long transactions;

    public RecoveryNeededException(String device, long transactions, long blocks) {
        super(device, null, "volume needs journal recovery (" + transactions + " transactions, " + blocks
                + " blocks): it was not unmounted cleanly; mount it read-write once (e.g. foliofs fsck IMAGE or foliofs mount)"
                + " first, then read-only");
        this.transactions = transactions;
    }

    /** Complete transactions in the log. */
    public long transactions() { return transactions; }
}
