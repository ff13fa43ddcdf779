package org.foliofs.fs;

import java.nio.charset.StandardCharsets;

/**
 * What a metadata block is: its magic number (stored at offset 0 of the block) and the human name used
 * in error messages. The magics of all structures are listed in docs/FORMAT.md.
 */
public record MetaType(int magic, String name) {
    public static final MetaType FREE_BY_BLOCK = of("FSBB", "free-space by-block btree node");
    public static final MetaType FREE_BY_SIZE = of("FSBS", "free-space by-size btree node");
    public static final MetaType INODE_BTREE = of("FINO", "inode btree node");
    public static final MetaType EXTENT_BTREE = of("FEXT", "extent-map btree node");
    public static final MetaType REFCOUNT_BTREE = of("FREF", "refcount btree node");
    public static final MetaType DIR_BTREE = of("FDIR", "directory btree node");
    public static final MetaType XATTR = of("FXAT", "extended attribute block");
    public static final MetaType SYMLINK = of("FSYM", "symlink target block");
    public static final MetaType LOG_HEADER = of("FLOG", "journal header");
    public static final MetaType LOG_RECORD = of("FLGR", "journal record descriptor");

    public MetaType {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("name must not be empty");
        if (magic == 0) throw new IllegalArgumentException("magic of " + name + " must not be zero");
    }

    /** A type whose magic is four ASCII characters, stored so that a hex dump shows them in order. */
    public static MetaType of(String fourChars, String name) {
        byte[] b = fourChars.getBytes(StandardCharsets.US_ASCII);
        if (b.length != 4) throw new IllegalArgumentException("magic (" + fourChars + ") must be 4 ASCII characters");
        return new MetaType((b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24, name);
    }

    /** The magic as hex and, when printable, as its characters: {@code 0x42425346 ('FSBB')}. */
    static String describeMagic(int magic) {
        StringBuilder sb = new StringBuilder(String.format("0x%08x", magic));
        char[] c = new char[4];
        for (int i = 0; i < 4; i++) {
            int ch = (magic >>> (8 * i)) & 0xff;
            if (ch < 0x20 || ch > 0x7e) return sb.toString();
            c[i] = (char) ch;
        }
        return sb.append(" ('").append(c).append("')").toString();
    }
}
