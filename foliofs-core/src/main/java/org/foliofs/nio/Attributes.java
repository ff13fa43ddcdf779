package org.foliofs.nio;

import java.io.IOException;
import java.nio.file.LinkOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.foliofs.fs.Extent;
import org.foliofs.fs.ExtentMap;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Inode;
import org.foliofs.fs.Inodes;

/**
 * The attribute views: {@code basic}, {@code posix} (and {@code owner}), and {@code foliofs}, by class
 * and by name ({@code "posix:permissions"}, {@code "foliofs:*"}). See the README's table of the
 * {@code foliofs} attributes.
 */
final class Attributes {
    private Attributes() {}

    static final List<String> BASIC = List.of("lastModifiedTime", "lastAccessTime", "creationTime", "size", "isRegularFile",
            "isDirectory", "isSymbolicLink", "isOther", "fileKey");
    static final List<String> POSIX = List.of("permissions", "owner", "group");
    static final List<String> FOLIO = List.of("inode", "linkCount", "changeTime", "allocatedBytes", "writeMode", "extentCount",
            "sharedBytes", "atomicWriteUnitMin", "atomicWriteUnitMax");
    static final List<String> WRITE_MODES = List.of("default", "writeback", "writethrough", "writethrough+dsync");

    // ---- conversions ------------------------------------------------------------------------------

    private static final PosixFilePermission[] BITS = {   // bit 8 (owner read) down to bit 0 (others execute)
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE,
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE};

    static int toMode(Set<PosixFilePermission> perms) {
        int m = 0;
        for (int i = 0; i < 9; i++) if (perms.contains(BITS[i])) m |= 1 << (8 - i);
        return m;
    }

    static Set<PosixFilePermission> toPermissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < 9; i++) if ((mode & 1 << (8 - i)) != 0) s.add(BITS[i]);
        return s;
    }

    static FileTime time(long nanos) { return FileTime.from(nanos, TimeUnit.NANOSECONDS); }

    static Long nanos(FileTime t) { return t == null ? null : t.to(TimeUnit.NANOSECONDS); }

    /** The key of a file: its volume and inode. */
    record FileKey(java.util.UUID volume, long ino) {}

    /** A snapshot of an inode's attributes. */
    record Snapshot(FolioFs.Attr a, FileKey key) implements PosixFileAttributes {
        @Override public FileTime lastModifiedTime() { return time(a.mtime()); }
        @Override public FileTime lastAccessTime() { return time(a.atime()); }
        @Override public FileTime creationTime() { return time(a.btime()); }
        @Override public boolean isRegularFile() { return a.isRegular(); }
        @Override public boolean isDirectory() { return a.isDir(); }
        @Override public boolean isSymbolicLink() { return a.isSymlink(); }
        @Override public boolean isOther() { return !a.isRegular() && !a.isDir() && !a.isSymlink(); }
        @Override public long size() { return a.size(); }
        @Override public Object fileKey() { return key; }
        @Override public UserPrincipal owner() { return new Principals.User(a.uid()); }
        @Override public GroupPrincipal group() { return new Principals.Group(a.gid()); }
        @Override public Set<PosixFilePermission> permissions() { return toPermissions(a.mode()); }
    }

    static Snapshot snapshot(FolioFileSystem fs, FolioFs.Attr a) {
        return new Snapshot(a, new FileKey(fs.folio().superblock().uuid(), a.ino()));
    }

    // ---- views ----------------------------------------------------------------------------------

    /** The basic, owner and posix views of one path (resolved at each call). */
    static final class View implements PosixFileAttributeView {
        private final FolioPath path;
        private final LinkOption[] options;
        private final String name;

        View(FolioPath path, String name, LinkOption... options) {
            this.path = path;
            this.name = name;
            this.options = options;
            LinkOptions.follow(options);
        }

        @Override public String name() { return name; }

        @Override
        public Snapshot readAttributes() throws IOException {
            return snapshot(path.getFileSystem(), path.getFileSystem().core().attr(path, options));
        }

        @Override
        public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime) throws IOException {
            // creationTime is set when the file is made and cannot be changed (as on Linux): ignored
            if (lastModifiedTime == null && lastAccessTime == null) return;
            set(path, options, new FolioFs.SetAttr(null, null, null, null, nanos(lastAccessTime), nanos(lastModifiedTime), null, null));
        }

        @Override
        public void setPermissions(Set<PosixFilePermission> perms) throws IOException {
            for (Object p : perms)
                if (!(p instanceof PosixFilePermission)) throw new ClassCastException("not a PosixFilePermission: " + p);
            set(path, options, FolioFs.SetAttr.mode(toMode(perms)));
        }

        @Override
        public void setOwner(UserPrincipal owner) throws IOException {
            set(path, options, new FolioFs.SetAttr(null, Principals.uidOf(owner), null, null, null, null, null, null));
        }

        @Override
        public void setGroup(GroupPrincipal group) throws IOException {
            set(path, options, new FolioFs.SetAttr(null, null, Principals.gidOf(group), null, null, null, null, null));
        }

        @Override public UserPrincipal getOwner() throws IOException { return readAttributes().owner(); }
    }

    static void set(FolioPath path, LinkOption[] options, FolioFs.SetAttr s) throws IOException {
        boolean follow = LinkOptions.follow(options);
        PathOps ops = path.getFileSystem().core();
        ops.call(true, path, null, () -> path.getFileSystem().folio().setattr(ops.resolve(path, follow).ino(), s));
    }

    @SuppressWarnings("unchecked")
    static <V> V view(FolioPath path, Class<V> type, LinkOption... options) {
        if (type == BasicFileAttributeView.class) return (V) new View(path, "basic", options);
        if (type == PosixFileAttributeView.class) return (V) new View(path, "posix", options);
        if (type == FileOwnerAttributeView.class) return (V) new View(path, "owner", options);
        return null;
    }

    @SuppressWarnings("unchecked")
    static <A extends BasicFileAttributes> A read(FolioPath path, Class<A> type, LinkOption... options) throws IOException {
        if (type == BasicFileAttributes.class || type == PosixFileAttributes.class)
            return (A) new View(path, "posix", options).readAttributes();
        throw new UnsupportedOperationException("attributes of type " + type.getName() + " are not supported");
    }

    // ---- by name --------------------------------------------------------------------------------

    /** {@code Files.readAttributes(path, "view:a,b")}: basic, posix, owner and foliofs; {@code *} for all. */
    static Map<String, Object> read(FolioPath path, String attributes, LinkOption... options) throws IOException {
        int colon = attributes.indexOf(':');
        String view = colon < 0 ? "basic" : attributes.substring(0, colon);
        String[] names = (colon < 0 ? attributes : attributes.substring(colon + 1)).split(",");
        List<String> known = switch (view) {
            case "basic" -> BASIC;
            case "posix" -> concat(BASIC, POSIX);
            case "owner" -> List.of("owner");
            case "foliofs" -> concat(BASIC, FOLIO);
            default -> throw new UnsupportedOperationException("attribute view '" + view + "' is not supported (basic, posix, owner, foliofs)");
        };
        Snapshot s = new View(path, view, options).readAttributes();
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : names) {
            if (n.equals("*")) {
                for (String k : known) out.put(k, value(path, s, k));
            } else if (known.contains(n)) {
                out.put(n, value(path, s, n));
            } else {
                throw new IllegalArgumentException("'" + n + "' is not an attribute of view " + view + " (" + String.join(", ", known) + ")");
            }
        }
        return out;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }

    private static Object value(FolioPath path, Snapshot s, String name) throws IOException {
        FolioFs.Attr a = s.a();
        FolioFileSystem fs = path.getFileSystem();
        return switch (name) {
            case "lastModifiedTime" -> s.lastModifiedTime();
            case "lastAccessTime" -> s.lastAccessTime();
            case "creationTime" -> s.creationTime();
            case "size" -> s.size();
            case "isRegularFile" -> s.isRegularFile();
            case "isDirectory" -> s.isDirectory();
            case "isSymbolicLink" -> s.isSymbolicLink();
            case "isOther" -> s.isOther();
            case "fileKey" -> s.fileKey();
            case "permissions" -> s.permissions();
            case "owner" -> s.owner();
            case "group" -> s.group();
            case "inode" -> a.ino();
            case "linkCount" -> a.nlink();
            case "changeTime" -> time(a.ctime());
            case "allocatedBytes" -> a.blocks() * fs.folio().blockSize();
            case "writeMode" -> WRITE_MODES.get(a.writeMode());
            case "extentCount" -> extents(path, a)[0];
            case "sharedBytes" -> extents(path, a)[1];
            case "atomicWriteUnitMin" -> a.isRegular() ? fs.folio().atomicWriteUnitMin() : 0L;
            case "atomicWriteUnitMax" -> a.isRegular() ? fs.folio().atomicWriteUnitMax() : 0L;
            default -> throw new IllegalStateException(name);
        };
    }

    /** {extent count, shared bytes} of the on-disk extent map (delayed allocations not yet written back are not counted). */
    private static long[] extents(FolioPath path, FolioFs.Attr a) throws IOException {
        if (!a.isRegular()) return new long[] {0, 0};
        FolioFileSystem fs = path.getFileSystem();
        FolioFs folio = fs.folio();
        return path.getFileSystem().core().call(false, path, null, () -> folio.op(h -> {
            Inode i = Inodes.get(h, a.ino());
            List<Extent> all = ExtentMap.all(h, i);
            long shared = 0;
            for (Extent e : all)
                for (long[] r : folio.refcounts().shared(h, e.startBlock(), e.length())) shared += r[1];
            return new long[] {all.size(), shared * folio.blockSize()};
        }));
    }

    /** {@code Files.setAttribute(path, "view:name", value)}. */
    static void set(FolioPath path, String attribute, Object value, LinkOption... options) throws IOException {
        int colon = attribute.indexOf(':');
        String view = colon < 0 ? "basic" : attribute.substring(0, colon);
        String name = colon < 0 ? attribute : attribute.substring(colon + 1);
        if (!FolioFileSystem.VIEWS.contains(view))
            throw new UnsupportedOperationException("attribute view '" + view + "' is not supported (basic, posix, owner, foliofs)");
        View v = new View(path, view, options);
        try {
            switch (name) {
                case "lastModifiedTime" -> v.setTimes((FileTime) value, null, null);
                case "lastAccessTime" -> v.setTimes(null, (FileTime) value, null);
                case "creationTime" -> v.setTimes(null, null, (FileTime) value);
                case "permissions" -> {
                    if (view.equals("basic") || view.equals("owner")) throw unsettable(view, name);
                    @SuppressWarnings("unchecked") Set<PosixFilePermission> p = (Set<PosixFilePermission>) value;
                    v.setPermissions(p);
                }
                case "owner" -> {
                    if (view.equals("basic")) throw unsettable(view, name);
                    v.setOwner((UserPrincipal) value);
                }
                case "group" -> {
                    if (!view.equals("posix")) throw unsettable(view, name);
                    v.setGroup((GroupPrincipal) value);
                }
                case "writeMode" -> {
                    if (!view.equals("foliofs")) throw unsettable(view, name);
                    int m = WRITE_MODES.indexOf(String.valueOf(value));
                    if (m < 0) throw new IllegalArgumentException("foliofs:writeMode '" + value + "' must be one of " + WRITE_MODES);
                    set(path, options, new FolioFs.SetAttr(null, null, null, null, null, null, null, m));
                }
                default -> throw unsettable(view, name);
            }
        } catch (ClassCastException e) {
            throw new ClassCastException("value of " + view + ":" + name + " has the wrong type " + value.getClass().getName());
        }
    }

    private static IllegalArgumentException unsettable(String view, String name) {
        return new IllegalArgumentException("'" + view + ":" + name + "' cannot be set (settable: basic:lastModifiedTime,"
                + " basic:lastAccessTime, posix:permissions, posix:owner, posix:group, foliofs:writeMode)");
    }
}
