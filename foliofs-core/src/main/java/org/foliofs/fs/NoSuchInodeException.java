package org.foliofs.fs;

import java.io.IOException;

/** ENOENT/ESTALE for an inode number: no inode record with that number exists (or its group does not). */
public final class NoSuchInodeException extends IOException {
    private final long ino;

    public NoSuchInodeException(long ino, String why) {
        super("inode " + ino + " (group " + Inode.agOf(ino) + ", local " + Inode.localOf(ino) + ") " + why);
        this.ino = ino;
    }

    /** The inode number asked for. */
    public long ino() { return ino; }
}
