package org.foliofs.fs;

import java.io.IOException;

/**
 * A device that this build cannot open as a FolioFS volume, though nothing in it is necessarily
 * corrupt: not a FolioFS volume at all (bad magic), a newer major format version or unknown
 * incompatible features, or an image shorter than the volume its superblock describes. The message
 * names the value: {@code "not a FolioFS volume: bad magic 0x... at block 0 of ... (expected 'FOLIOFS1')"}.
 */
public final class VolumeFormatException extends IOException {
    public VolumeFormatException(String message) {
        super(message);
    }
}
