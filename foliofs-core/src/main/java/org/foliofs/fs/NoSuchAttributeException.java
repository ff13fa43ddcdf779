package org.foliofs.fs;

import java.io.IOException;

/** ENODATA: the extended attribute named does not exist (e.g. a {@link Xattrs#REPLACE} set of a missing one). */
public class NoSuchAttributeException extends IOException {
    private final String attribute;

    public NoSuchAttributeException(String attribute, String message) {
        super(message);
        this.attribute = attribute;
    }

    /** The attribute's full name, e.g. "user.comment". */
    public String attribute() { return attribute; }
}
