package org.foliofs.device;

/** Linux errno values the stack produces or interprets, with their names for messages. */
public final class Errno {
    public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11,
            ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EISDIR = 21, EINVAL = 22,
            EFBIG = 27, ENOSPC = 28, EROFS = 30, ENOTTY = 25, EOPNOTSUPP = 95, ETIMEDOUT = 110,
            ECANCELED = 125;

    private Errno() {}

    public static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case EISDIR -> "EISDIR";
            case EINVAL -> "EINVAL";
            case EFBIG -> "EFBIG";
            case ENOSPC -> "ENOSPC";
            case EROFS -> "EROFS";
            case ENOTTY -> "ENOTTY";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ETIMEDOUT -> "ETIMEDOUT";
            case ECANCELED -> "ECANCELED";
            default -> "errno " + errno;
        };
    }

    /** "EIO (Input/output error)", using the C library's strerror when it is available. */
    public static String describe(int errno) {
        String text;
        try {
            text = Native.strerror(errno);
        } catch (LinkageError e) { // native access unavailable: names are still fine
            text = null;
        }
        return text == null ? name(errno) : name(errno) + " (" + text + ")";
    }
}
