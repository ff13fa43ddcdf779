package org.foliofs.nio;

import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.Set;

/**
 * The open options of a channel, checked once. {@code DIRECT} is {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}
 * (matched by name, so this compiles without jdk.unsupported). Unknown options throw
 * {@link UnsupportedOperationException} naming them.
 */
record OpenFlags(boolean read, boolean write, boolean append, boolean truncate, boolean create, boolean createNew,
                 boolean deleteOnClose, boolean sync, boolean dsync, boolean direct, boolean writeThrough, boolean atomic,
                 boolean follow) {

    static OpenFlags of(Set<? extends OpenOption> options) {
        boolean read = false, write = false, append = false, truncate = false, create = false, createNew = false, doc = false,
                sync = false, dsync = false, direct = false, wt = false, atomic = false, follow = true;
        for (OpenOption o : options) {
            Objects.requireNonNull(o, "open option");
            if (o instanceof StandardOpenOption s) {
                switch (s) {
                    case READ -> read = true;
                    case WRITE -> write = true;
                    case APPEND -> append = true;
                    case TRUNCATE_EXISTING -> truncate = true;
                    case CREATE -> create = true;
                    case CREATE_NEW -> createNew = true;
                    case DELETE_ON_CLOSE -> doc = true;
                    case SPARSE -> { }           // files are always sparse
                    case SYNC -> sync = true;
                    case DSYNC -> dsync = true;
                }
            } else if (o == LinkOption.NOFOLLOW_LINKS) {
                follow = false;
            } else if (o == FolioOpenOption.WRITETHROUGH) {
                wt = true;
            } else if (o == FolioOpenOption.ATOMIC) {
                atomic = true;
            } else if (o.getClass().getName().equals("com.sun.nio.file.ExtendedOpenOption") && o.toString().equals("DIRECT")) {
                direct = true;
            } else {
                throw new UnsupportedOperationException("unsupported open option " + o + " (" + o.getClass().getName() + ")");
            }
        }
        if (append) {
            if (read) throw new IllegalArgumentException("READ and APPEND cannot be combined");
            if (truncate) throw new IllegalArgumentException("APPEND and TRUNCATE_EXISTING cannot be combined");
            write = true;
        }
        if (!read && !write) read = true;
        if (!write) { create = false; createNew = false; truncate = false; }
        return new OpenFlags(read, write, append, truncate, create, createNew, doc, sync, dsync, direct, wt, atomic, follow);
    }
}
