package org.foliofs.nio;

import java.nio.file.LinkOption;
import java.util.Objects;

/** Link option checks (the only one is {@link LinkOption#NOFOLLOW_LINKS}). */
final class LinkOptions {
    private LinkOptions() {}

    /** Whether to follow a symbolic link at the end of the path. */
    static boolean follow(LinkOption... options) {
        boolean follow = true;
        for (LinkOption o : options) {
            if (Objects.requireNonNull(o, "link option") == LinkOption.NOFOLLOW_LINKS) follow = false;
            else throw new UnsupportedOperationException("unsupported link option " + o);
        }
        return follow;
    }
}
