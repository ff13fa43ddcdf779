package org.foliofs.nio;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.spi.FileSystemProvider;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;
import org.foliofs.fs.Mkfs;
import org.foliofs.pagecache.PageCache;

/**
 * The {@code foliofs:} file system provider (registered in META-INF/services): a FolioFS image file
 * as a {@link FileSystem}.
 *
 * <pre>{@code
 * FileSystem fs = FileSystems.newFileSystem(URI.create("foliofs:/data/vol.img"), Map.of("create", true, "size", "1G"));
 * FileSystem fs = FileSystems.newFileSystem(Path.of("/data/vol.img"));   // an existing image
 * Path p = Path.of(URI.create("foliofs:/data/vol.img!/dir/file"));       // a path in an open one
 * }</pre>
 *
 * URIs are {@code foliofs:<absolute image path>!<absolute path inside>} (the image path must not
 * contain {@code "!/"}); the part after {@code !} is ignored by newFileSystem. One image is open at
 * most once: a second newFileSystem throws {@link FileSystemAlreadyExistsException}. The env keys are
 * described in {@link FsConfig}.
 *
 * <p>Creating a missing image needs the URI form: for {@code newFileSystem(Path, {create=true})} the
 * JDK asks the zip provider first, which creates an empty zip file instead.
 */
public final class FolioFileSystemProvider extends FileSystemProvider {
    static final String SCHEME = "foliofs";

    private final Map<Path, FolioFileSystem> open = new ConcurrentHashMap<>();

    public FolioFileSystemProvider() {}

    @Override public String getScheme() { return SCHEME; }

    // ---- file systems ---------------------------------------------------------------------------------

    @Override
    public FileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException {
        return newFileSystem(imageOf(uri), env);
    }

    @Override
    public FileSystem newFileSystem(Path image, Map<String, ?> env) throws IOException {
        if (image.getFileSystem() != java.nio.file.FileSystems.getDefault())
            throw new ProviderMismatchException("the image " + image + " must be a path of the default file system");
        FsConfig cfg = FsConfig.of(env);
        synchronized (open) {
            Path abs = image.toAbsolutePath().normalize();
            boolean created = false;
            if (!Files.exists(abs)) {
                if (!cfg.create())
                    throw new NoSuchFileException(abs.toString(), null, "image does not exist (env create=true formats a new one)");
                FileDevice.createImage(abs, cfg.size());
                created = true;
            }
            Path key = abs.toRealPath();
            if (open.containsKey(key)) throw new FileSystemAlreadyExistsException("foliofs:" + key + " is open already");
            // readOnly: the image is opened O_RDONLY (so a file without write permission or a
            // read-only block device works) and mounted without writing anything
            FileDevice dev = FileDevice.open(key, FileDevice.Options.defaults().withReadOnly(cfg.readOnly()));
            FolioFs folio = null;
            try {
                folio = created ? FolioFs.format(dev, Mkfs.Options.defaults().withBlockSize(cfg.blockSize()))
                        : cfg.readOnly() ? FolioFs.mountReadOnly(dev) : FolioFs.mount(dev);
                folio.setPageCacheConfig(PageCache.Config.builder().memoryBytes(cfg.cacheSize()).build());
                folio.setDefaultWriteMode(cfg.writeMode().inodeMode());
                FolioFileSystem fs = new FolioFileSystem(this, key, dev, folio, cfg);
                open.put(key, fs);
                return fs;
            } catch (IOException | RuntimeException e) {
                if (folio != null) folio.abandon();
                dev.close();
                if (created) Files.deleteIfExists(abs);
                if (e instanceof IOException io) throw Errors.translate(io, key, null);
                throw e;
            }
        }
    }

    void removed(FolioFileSystem fs) { open.remove(fs.image(), fs); }

    /** The image path of a {@code foliofs:} URI. */
    static Path imageOf(URI uri) {
        return Path.of(split(uri)[0]);
    }

    private static String[] split(URI uri) {
        if (!SCHEME.equalsIgnoreCase(uri.getScheme()))
            throw new IllegalArgumentException("URI " + uri + " does not have the scheme " + SCHEME);
        String p = uri.getPath();
        if (p == null || !p.startsWith("/"))
            throw new IllegalArgumentException("URI " + uri + " must be foliofs:<absolute image path>[!<absolute path inside>]");
        int bang = p.indexOf("!/");
        if (bang < 0) return new String[] {p.endsWith("!") ? p.substring(0, p.length() - 1) : p, "/"};
        return new String[] {p.substring(0, bang), p.substring(bang + 1)};
    }

    @Override
    public FileSystem getFileSystem(URI uri) {
        return fileSystemOf(uri);
    }

    private FolioFileSystem fileSystemOf(URI uri) {
        Path image = imageOf(uri).toAbsolutePath().normalize();
        FolioFileSystem fs = open.get(image);
        if (fs == null) {
            try {
                fs = open.get(image.toRealPath());
            } catch (IOException e) {
                // no such image: not found
            }
        }
        if (fs == null) throw new FileSystemNotFoundException("no foliofs file system is open on " + image);
        return fs;
    }

    @Override
    public Path getPath(URI uri) {
        return fileSystemOf(uri).getPath(split(uri)[1]);
    }

    // ---- files: check the path, normalise options, delegate ------------------------------------------

    private static FolioPath p(Path path) { return FolioPath.check(path); }

    @Override
    public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        return FolioFileChannel.open(p(path), options, attrs);
    }

    @Override
    public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        return FolioFileChannel.open(p(path), options, attrs);
    }

    /** The executor is not used: completion handlers run on the thread that completes the I/O. */
    @Override
    public AsynchronousFileChannel newAsynchronousFileChannel(Path path, Set<? extends OpenOption> options, ExecutorService executor,
                                                              FileAttribute<?>... attrs) throws IOException {
        return FolioAsyncChannel.open(p(path), options, attrs);
    }

    @Override
    public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter) throws IOException {
        return FolioDirectoryStream.open(p(dir), filter);
    }

    @Override
    public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
        p(dir).getFileSystem().core().createDirectory(p(dir), attrs);
    }

    @Override
    public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) throws IOException {
        p(link).getFileSystem().core().createSymbolicLink(p(link), p(target), attrs);
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        FolioPath l = p(link), e = p(existing);
        if (l.getFileSystem() != e.getFileSystem())
            throw new java.nio.file.FileSystemException(link.toString(), existing.toString(), "Invalid cross-device link");
        l.getFileSystem().core().createLink(l, e);
    }

    @Override
    public void delete(Path path) throws IOException {
        p(path).getFileSystem().core().delete(p(path));
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        return p(path).getFileSystem().core().deleteIfExists(p(path));
    }

    @Override
    public Path readSymbolicLink(Path link) throws IOException {
        return p(link).getFileSystem().core().readSymbolicLink(p(link));
    }

    @Override
    public void copy(Path source, Path target, CopyOption... options) throws IOException {
        p(source).getFileSystem().core().copy(p(source), p(target), options);
    }

    @Override
    public void move(Path source, Path target, CopyOption... options) throws IOException {
        p(source).getFileSystem().core().move(p(source), p(target), options);
    }

    @Override
    public boolean isSameFile(Path path, Path path2) throws IOException {
        FolioPath a = p(path);
        if (!(path2 instanceof FolioPath b)) return false;
        return a.getFileSystem().core().isSameFile(a, b);
    }

    @Override
    public boolean isHidden(Path path) {
        FolioPath f = p(path).getFileName();
        return f != null && f.toString().startsWith(".");
    }

    @Override
    public FileStore getFileStore(Path path) throws IOException {
        FolioPath f = p(path);
        f.getFileSystem().core().attr(f);
        return f.getFileSystem().store();
    }

    @Override
    public void checkAccess(Path path, AccessMode... modes) throws IOException {
        p(path).getFileSystem().core().checkAccess(p(path), modes);
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        return Attributes.view(p(path), type, options);
    }

    @Override
    public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options) throws IOException {
        return Attributes.read(p(path), type, options);
    }

    @Override
    public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options) throws IOException {
        return Attributes.read(p(path), attributes, options);
    }

    @Override
    public void setAttribute(Path path, String attribute, Object value, LinkOption... options) throws IOException {
        Attributes.set(p(path), attribute, value, options);
    }

    /** Test hook: the mounted volume under a foliofs file system. */
    static FolioFs volumeOf(FileSystem fs) {
        if (!(fs instanceof FolioFileSystem f)) throw new ProviderMismatchException("not a foliofs file system: " + fs);
        return f.folio();
    }
}
