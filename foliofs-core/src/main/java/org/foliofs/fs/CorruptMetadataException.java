package org.foliofs.fs;

import java.io.IOException;

/**
 * A metadata block failed verification: wrong magic, checksum, block number, volume UUID or owner, or
 * a B+tree node whose contents are impossible (level, record count, key order). The message always
 * names the block and the structure: {@code "block 1234 (free-space by-block btree node): CRC32C
 * 0x1a2b3c4d does not match computed 0x5e6f7a8b"}.
 */
public final class CorruptMetadataException extends IOException {
    private final long blkno;
    private final String structure;

    public CorruptMetadataException(long blkno, String structure, String problem) {
        super("block " + blkno + " (" + structure + "): " + problem);
        this.blkno = blkno;
        this.structure = structure;
    }

    /** The block that failed verification. */
    public long blkno() {
        return blkno;
    }

    /** The structure the block was read as, e.g. "free-space by-block btree node". */
    public String structure() {
        return structure;
    }
}
