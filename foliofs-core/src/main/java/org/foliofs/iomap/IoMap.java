package org.foliofs.iomap;

import java.util.Objects;

/**
 * One mapping: the answer of {@link IoMapOps#begin} to "what is at this file offset?". The file
 * range {@code [offset, offset + length)} is of one {@link Type}; for MAPPED and UNWRITTEN it lies
 * on the device at {@code [deviceAddress, deviceAddress + length)} (bytes), for HOLE and DELALLOC
 * {@code deviceAddress} is {@link #NO_ADDRESS}.
 *
 * <p>Fields and their contract (the engine relies on each):
 * <ul>
 *   <li>{@code offset}, {@code length}: file bytes, {@code length > 0}; the mapping returned for
 *       position {@code pos} must contain it ({@code offset <= pos < offset + length}). It may
 *       extend before {@code pos} and beyond the requested length; the engine clips. Mappings are
 *       aligned to the file system block size, except that the last one may end at any block.</li>
 *   <li>{@code type}: see {@link Type}.</li>
 *   <li>{@code flags}: {@link #NEW} (blocks allocated by this begin: their old device contents are
 *       garbage, so the engine zeroes what a sub-block write does not cover), {@link #SHARED}
 *       (copy-on-write / shared blocks: never FUA), {@link #DIRTY} (the file has metadata not yet
 *       committed that is needed to read the data back: a DSYNC write cannot be made durable by
 *       FUA alone), {@link #STALE} (set by the engine only, on the mapping passed to
 *       {@link IoMapOps#end} when it found the mapping invalid and will remap).</li>
 *   <li>{@code cookie}: opaque to the engine; a file system that implements {@link IoMapValidity}
 *       compares it with its current sequence number to tell whether the mapping went stale.</li>
 * </ul>
 */
public record IoMap(long offset, long length, Type type, int flags, long deviceAddress, long cookie) {

    /** The device address of HOLE and DELALLOC mappings. */
    public static final long NO_ADDRESS = -1;

    /** Blocks newly allocated for this operation; their device contents are not yet initialised. */
    public static final int NEW = 1;
    /** Blocks shared with another file or snapshot (copy-on-write); a write needs end-of-I/O work. */
    public static final int SHARED = 2;
    /** Uncommitted metadata is needed to read the data back; DSYNC needs a metadata sync, not just FUA. */
    public static final int DIRTY = 4;
    /** Set by the engine on a mapping it found invalid (see {@link IoMapValidity}); it remaps. */
    public static final int STALE = 8;
    /**
     * An atomic write's MAPPED mapping whose data the file system logs in its journal instead of a
     * device request ({@link IoEndHandler#logAtomic}): the blocks change all at once when the
     * commit holding the data is durable, and the journal writes them home after it.
     */
    public static final int LOGGED = 16;
    static final int ALL_FLAGS = NEW | SHARED | DIRTY | STALE | LOGGED;

    /** What a file range is. */
    public enum Type {
        /** No blocks: reads return zeros; a write must first allocate. */
        HOLE,
        /** Reserved but not yet allocated (buffered writes only): data lives in the page cache. */
        DELALLOC,
        /** Allocated and written: reads and writes go to the device. */
        MAPPED,
        /** Allocated but never written: reads return zeros; a write converts it at end of I/O. */
        UNWRITTEN
    }

    public IoMap {
        Objects.requireNonNull(type, "type");
        if (offset < 0) throw new IllegalArgumentException("mapping offset (" + offset + ") must not be negative");
        if (length <= 0) throw new IllegalArgumentException("mapping length (" + length + ") must be positive");
        if (offset + length < 0) {
            throw new IllegalArgumentException("mapping [" + offset + ", +" + length + ") overflows the file offset range");
        }
        if ((flags & ~ALL_FLAGS) != 0) {
            throw new IllegalArgumentException("mapping flags (0x" + Integer.toHexString(flags)
                    + ") has unknown bits; allowed are NEW, SHARED, DIRTY, STALE, LOGGED");
        }
        boolean addressed = type == Type.MAPPED || type == Type.UNWRITTEN;
        if (addressed && deviceAddress < 0) {
            throw new IllegalArgumentException(type + " mapping [" + offset + ", +" + length + ") needs a device address, not "
                    + deviceAddress);
        }
        if (!addressed && deviceAddress != NO_ADDRESS) {
            throw new IllegalArgumentException(type + " mapping [" + offset + ", +" + length
                    + ") must have deviceAddress NO_ADDRESS (-1), not " + deviceAddress);
        }
        if (addressed && deviceAddress + length < 0) {
            throw new IllegalArgumentException(type + " mapping at device address " + deviceAddress + " of " + length
                    + " bytes overflows");
        }
    }

    /** A hole over {@code [offset, offset + length)}. */
    public static IoMap hole(long offset, long length, long cookie) {
        return new IoMap(offset, length, Type.HOLE, 0, NO_ADDRESS, cookie);
    }

    /** First file byte after the mapping. */
    public long end() { return offset + length; }

    public boolean hasFlag(int flag) { return (flags & flag) != 0; }

    /** True when {@code pos} lies inside the mapping. */
    public boolean contains(long pos) { return pos >= offset && pos - offset < length; }

    /** Device address of file position {@code pos} (which must lie inside a MAPPED or UNWRITTEN mapping). */
    public long deviceAddressOf(long pos) { return deviceAddress + (pos - offset); }

    /** The same mapping with other flags. */
    public IoMap withFlags(int newFlags) {
        return new IoMap(offset, length, type, newFlags, deviceAddress, cookie);
    }

    static String flagString(int flags) {
        if (flags == 0) return "none";
        StringBuilder sb = new StringBuilder();
        if ((flags & NEW) != 0) sb.append("NEW|");
        if ((flags & SHARED) != 0) sb.append("SHARED|");
        if ((flags & DIRTY) != 0) sb.append("DIRTY|");
        if ((flags & STALE) != 0) sb.append("STALE|");
        if ((flags & LOGGED) != 0) sb.append("LOGGED|");
        return sb.substring(0, sb.length() - 1);
    }

    @Override
    public String toString() {
        return type + "[" + offset + ", " + end() + ")" + (deviceAddress >= 0 ? " @" + deviceAddress : "")
                + (flags != 0 ? " " + flagString(flags) : "") + " cookie=" + cookie;
    }
}
