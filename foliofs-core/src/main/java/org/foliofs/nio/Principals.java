package org.foliofs.nio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;

/**
 * Owners are numeric ids (the image has no user database): a user's name is its uid in decimal.
 * Lookup accepts a decimal id, {@code root} (0) and the name of the user running the JVM (its uid).
 * Files are created owned by the JVM's uid and gid ({@code /proc/self}; 0 where unknown), and access
 * checks use those ids against the mode bits (the superuser is not special).
 */
final class Principals extends UserPrincipalLookupService {
    record User(int uid) implements UserPrincipal {
        @Override public String getName() { return Integer.toUnsignedString(uid); }
        @Override public String toString() { return getName(); }
    }

    record Group(int gid) implements GroupPrincipal {
        @Override public String getName() { return Integer.toUnsignedString(gid); }
        @Override public String toString() { return getName(); }
    }

    final int uid, gid;

    private Principals(int uid, int gid) {
        this.uid = uid;
        this.gid = gid;
    }

    static Principals forCurrentProcess() {
        int uid = 0, gid = 0;
        try {
            Path self = Path.of("/proc/self");
            uid = (Integer) Files.getAttribute(self, "unix:uid");
            gid = (Integer) Files.getAttribute(self, "unix:gid");
        } catch (IOException | RuntimeException e) {
            // not Linux: ids 0
        }
        return new Principals(uid, gid);
    }

    @Override
    public UserPrincipal lookupPrincipalByName(String name) throws IOException {
        return new User(id(name, uid));
    }

    @Override
    public GroupPrincipal lookupPrincipalByGroupName(String group) throws IOException {
        return new Group(id(group, gid));
    }

    private static int id(String name, int own) throws UserPrincipalNotFoundException {
        if (name.equals("root")) return 0;
        if (name.equals(System.getProperty("user.name"))) return own;
        try {
            return Integer.parseUnsignedInt(name);
        } catch (NumberFormatException e) {
            throw new UserPrincipalNotFoundException(name);
        }
    }

    static int uidOf(UserPrincipal p) {
        if (p instanceof User u) return u.uid();
        throw new ProviderMismatchException("owner " + p + " is not a foliofs principal (use the file system's lookup service)");
    }

    static int gidOf(GroupPrincipal p) {
        if (p instanceof Group g) return g.gid();
        throw new ProviderMismatchException("group " + p + " is not a foliofs principal (use the file system's lookup service)");
    }
}
