package org.foliofs.nio;

import java.io.IOException;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;
import org.foliofs.device.FileDevice;
import org.foliofs.fs.FolioFs;

/**
 * One mounted image as a {@link FileSystem}. Every operation runs under the read side of
 * {@link #closeLock} (many at once; the file system serialises metadata operations itself); {@link #close}
 * takes the write side, so it waits for running operations, then closes the open channels and
 * unmounts cleanly (dirty data written back, journal checkpointed). Afterwards every operation throws
 * {@link ClosedFileSystemException}.
 */
final class FolioFileSystem extends FileSystem {
    static final Set<String> VIEWS = Set.of("basic", "posix", "owner", "foliofs");

    private final FolioFileSystemProvider provider;
    private final Path image;
    private final FileDevice device;
    private final FolioFs folio;
    private final FsConfig config;
    private final PathOps ops;
    private final FolioFileStore store;
    private final Principals principals;
    private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
    private final Set<FolioFileChannel> channels = ConcurrentHashMap.newKeySet();
    private final ConcurrentHashMap<Long, OpenInode> openInodes = new ConcurrentHashMap<>();
    private volatile boolean open = true;

    FolioFileSystem(FolioFileSystemProvider provider, Path image, FileDevice device, FolioFs folio, FsConfig config) {
        this.provider = provider;
        this.image = image;
        this.device = device;
        this.folio = folio;
        this.config = config;
        this.principals = Principals.forCurrentProcess();
        this.ops = new PathOps(this);
        this.store = new FolioFileStore(this);
    }

    Path image() { return image; }
    FolioFs folio() { return folio; }
    FileDevice device() { return device; }
    FsConfig config() { return config; }
    PathOps core() { return ops; }
    Principals principals() { return principals; }

    // ---- operation bracket ------------------------------------------------------------------------

    /** Starts an operation: takes the read side of the close lock; throws if the file system is closed. */
    void begin() {
        closeLock.readLock().lock();
        if (!open) {
            closeLock.readLock().unlock();
            throw new ClosedFileSystemException();
        }
    }

    void end() { closeLock.readLock().unlock(); }

    /** {@link #begin()} plus a check that changes are allowed. */
    void beginWrite() {
        begin();
        if (config.readOnly()) {
            end();
            throw new ReadOnlyFileSystemException();
        }
    }

    void checkOpen() {
        if (!open) throw new ClosedFileSystemException();
    }

    // ---- open files -----------------------------------------------------------------------------------

    /** Shared state of an inode's open channels: the append lock and the in-process file locks. */
    OpenInode acquireInode(long ino) {
        return openInodes.compute(ino, (k, v) -> {
            if (v == null) v = new OpenInode(ino);
            v.refs++;
            return v;
        });
    }

    void releaseInode(OpenInode oi) {
        openInodes.computeIfPresent(oi.ino, (k, v) -> --v.refs == 0 ? null : v);
    }

    void register(FolioFileChannel ch) { channels.add(ch); }
    void unregister(FolioFileChannel ch) { channels.remove(ch); }

    // ---- FileSystem -----------------------------------------------------------------------------------

    @Override public FolioFileSystemProvider provider() { return provider; }

    /**
     * Clean unmount: closes open channels, writes back dirty data and checkpoints the journal.
     * Idempotent. The channels are closed before the close lock is taken (a channel's close may run a
     * DELETE_ON_CLOSE delete, which takes its read side); channels opened meanwhile are closed under it.
     */
    @Override
    public void close() throws IOException {
        if (!open) return;
        IOException err = closeChannels(null);
        closeLock.writeLock().lock();
        try {
            if (!open) return;
            err = closeChannels(err);
            open = false;
            try {
                folio.close();
            } catch (IOException e) {
                if (err == null) err = e; else err.addSuppressed(e);
            } finally {
                device.close();
                provider.removed(this);
            }
            if (err != null) throw Errors.translate(err, image, null);
        } finally {
            closeLock.writeLock().unlock();
        }
    }

    private IOException closeChannels(IOException err) {
        for (FolioFileChannel ch : new ArrayList<>(channels)) {
            try {
                ch.close();
            } catch (IOException e) {
                if (err == null) err = e; else err.addSuppressed(e);
            }
        }
        return err;
    }

    @Override public boolean isOpen() { return open; }
    @Override public boolean isReadOnly() { return config.readOnly(); }
    @Override public String getSeparator() { return "/"; }

    @Override
    public Iterable<Path> getRootDirectories() {
        checkOpen();
        return List.of(FolioPath.parse(this, "/"));
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        checkOpen();
        return List.of(store);
    }

    FolioFileStore store() { return store; }

    @Override public Set<String> supportedFileAttributeViews() { return VIEWS; }

    @Override
    public FolioPath getPath(String first, String... more) {
        return FolioPath.parse(this, first, more);
    }

    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        int colon = syntaxAndPattern.indexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("path matcher '" + syntaxAndPattern + "' must be syntax:pattern");
        String syntax = syntaxAndPattern.substring(0, colon), pattern = syntaxAndPattern.substring(colon + 1);
        Pattern p = switch (syntax.toLowerCase(java.util.Locale.ROOT)) {
            case "glob" -> Pattern.compile(Glob.toRegex(pattern));
            case "regex" -> Pattern.compile(pattern);
            default -> throw new UnsupportedOperationException("path matcher syntax '" + syntax + "' is not supported (glob, regex)");
        };
        return path -> p.matcher(path.toString()).matches();
    }

    @Override public UserPrincipalLookupService getUserPrincipalLookupService() { return principals; }

    @Override
    public WatchService newWatchService() {
        throw new UnsupportedOperationException("foliofs: watch services are not supported");
    }

    @Override
    public String toString() { return "foliofs:" + image + (open ? "" : " (closed)"); }

    /** Whether a host path is an image this provider can mount (a FolioFS superblock at the start). */
    static boolean looksLikeImage(Path p) { return Files.isRegularFile(p); }
}
