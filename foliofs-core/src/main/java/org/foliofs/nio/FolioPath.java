package org.foliofs.nio;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A path of a {@link FolioFileSystem}: Unix syntax ({@code /} separates names, {@code /} alone is the
 * root, the working directory of relative paths is the root). Immutable; the names are stored split.
 * As in the JDK, the empty path has one name, the empty string.
 */
final class FolioPath implements Path {
    private static final String[] EMPTY_NAMES = {""};

    private final FolioFileSystem fs;
    private final boolean absolute;
    private final String[] names;       // no empty names, except the empty path's single ""
    private String string;              // cached toString

    private FolioPath(FolioFileSystem fs, boolean absolute, String[] names) {
        this.fs = fs;
        this.absolute = absolute;
        this.names = names;
    }

    /** Parses {@code first} and {@code more} joined by {@code /}. */
    static FolioPath parse(FolioFileSystem fs, String first, String... more) {
        StringBuilder sb = new StringBuilder(first);
        for (String m : more) if (!m.isEmpty()) { if (!sb.isEmpty()) sb.append('/'); sb.append(m); }
        String s = sb.toString();
        int nul = s.indexOf('\0');
        if (nul >= 0) throw new InvalidPathException(s, "NUL character not allowed", nul);
        boolean abs = s.startsWith("/");
        List<String> parts = new ArrayList<>();
        for (String p : s.split("/")) if (!p.isEmpty()) parts.add(p);
        if (!abs && parts.isEmpty()) return new FolioPath(fs, false, EMPTY_NAMES);
        return new FolioPath(fs, abs, parts.toArray(String[]::new));
    }

    private FolioPath make(boolean abs, String[] n) {
        if (!abs && n.length == 0) n = EMPTY_NAMES;
        return new FolioPath(fs, abs, n);
    }

    private boolean isEmptyPath() { return !absolute && names.length == 1 && names[0].isEmpty(); }

    /** The names (empty for the root, {@code [""]} for the empty path). */
    String[] names() { return names; }

    static FolioPath check(Path p) {
        Objects.requireNonNull(p, "path");
        if (!(p instanceof FolioPath fp)) throw new ProviderMismatchException("not a foliofs path: " + p + " (" + p.getClass().getName() + ")");
        return fp;
    }

    @Override public FolioFileSystem getFileSystem() { return fs; }
    @Override public boolean isAbsolute() { return absolute; }
    @Override public FolioPath getRoot() { return absolute ? make(true, new String[0]) : null; }

    @Override
    public FolioPath getFileName() {
        if (names.length == 0) return null;
        if (isEmptyPath()) return this;
        return make(false, new String[] {names[names.length - 1]});
    }

    @Override
    public FolioPath getParent() {
        if (names.length == 0 || isEmptyPath()) return null;
        if (names.length == 1) return getRoot();
        return make(absolute, Arrays.copyOf(names, names.length - 1));
    }

    @Override public int getNameCount() { return names.length; }

    @Override
    public FolioPath getName(int index) {
        if (index < 0 || index >= names.length)
            throw new IllegalArgumentException("name index " + index + " is out of range [0, " + names.length + ") for " + this);
        return make(false, new String[] {names[index]});
    }

    @Override
    public FolioPath subpath(int beginIndex, int endIndex) {
        if (beginIndex < 0 || endIndex > names.length || beginIndex >= endIndex)
            throw new IllegalArgumentException("subpath [" + beginIndex + ", " + endIndex + ") is out of range for " + this
                    + " (" + names.length + " names)");
        return make(false, Arrays.copyOfRange(names, beginIndex, endIndex));
    }

    @Override
    public boolean startsWith(Path other) {
        if (!(other instanceof FolioPath o) || o.fs != fs || o.absolute != absolute || o.names.length > names.length) return false;
        if (o.isEmptyPath()) return isEmptyPath();
        for (int i = 0; i < o.names.length; i++) if (!o.names[i].equals(names[i])) return false;
        return true;
    }

    @Override
    public boolean endsWith(Path other) {
        if (!(other instanceof FolioPath o) || o.fs != fs) return false;
        if (o.absolute) return equals(o);
        if (o.isEmptyPath()) return isEmptyPath();
        if (o.names.length > names.length) return false;
        int off = names.length - o.names.length;
        for (int i = 0; i < o.names.length; i++) if (!o.names[i].equals(names[off + i])) return false;
        return true;
    }

    @Override
    public FolioPath normalize() {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            if (n.equals(".") || n.isEmpty()) continue;
            if (n.equals("..")) {
                if (!out.isEmpty() && !out.getLast().equals("..")) { out.removeLast(); continue; }
                if (absolute) continue;           // "/.." is "/"
            }
            out.add(n);
        }
        return make(absolute, out.toArray(String[]::new));
    }

    @Override
    public FolioPath resolve(Path other) {
        FolioPath o = check(other);
        if (o.absolute) return o;
        if (o.isEmptyPath()) return this;
        if (isEmptyPath()) return o;
        String[] n = Arrays.copyOf(names, names.length + o.names.length);
        System.arraycopy(o.names, 0, n, names.length, o.names.length);
        return make(absolute, n);
    }

    @Override
    public FolioPath relativize(Path other) {
        FolioPath o = check(other);
        if (o.absolute != absolute)
            throw new IllegalArgumentException("cannot relativize " + o + " against " + this + ": one is absolute, the other not");
        if (equals(o)) return make(false, new String[0]);
        String[] a = isEmptyPath() ? new String[0] : names, b = o.isEmptyPath() ? new String[0] : o.names;
        int common = 0;
        while (common < a.length && common < b.length && a[common].equals(b[common])) common++;
        List<String> out = new ArrayList<>();
        for (int i = common; i < a.length; i++) out.add("..");
        out.addAll(Arrays.asList(b).subList(common, b.length));
        return make(false, out.toArray(String[]::new));
    }

    @Override
    public URI toUri() {
        try {
            return new URI(FolioFileSystemProvider.SCHEME, null, fs.image().toString() + "!" + toAbsolutePath(), null);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot make a URI of " + this + " in " + fs.image(), e);
        }
    }

    @Override
    public FolioPath toAbsolutePath() {
        if (absolute) return this;
        return make(true, isEmptyPath() ? new String[0] : names);
    }

    @Override
    public FolioPath toRealPath(LinkOption... options) throws IOException {
        return fs.core().realPath(this, LinkOptions.follow(options));
    }

    @Override
    public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
        throw new UnsupportedOperationException("foliofs: watch services are not supported (" + this + ")");
    }

    @Override
    public int compareTo(Path other) {
        return toString().compareTo(check(other).toString());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FolioPath p && p.fs == fs && p.toString().equals(toString());
    }

    @Override
    public int hashCode() { return toString().hashCode() * 31 + System.identityHashCode(fs); }

    @Override
    public String toString() {
        String s = string;
        if (s == null) {
            s = (absolute ? "/" : "") + String.join("/", names);
            string = s;
        }
        return s;
    }
}
