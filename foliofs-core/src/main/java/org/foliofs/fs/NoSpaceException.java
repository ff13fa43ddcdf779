package org.foliofs.fs;

import java.io.IOException;

/** ENOSPC: the volume (or the journal's reservation) has no room for what was asked; nothing was changed. */
public class NoSpaceException extends IOException {
    public NoSpaceException(String message) { super(message); }
}
