package org.foliofs.nio;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;
import java.nio.file.attribute.PosixFileAttributeView;
import org.foliofs.fs.FolioFs;

/** The one store of a {@link FolioFileSystem}: the volume, sizes from statfs. Named after the image file. */
final class FolioFileStore extends FileStore {
    private final FolioFileSystem fs;

    FolioFileStore(FolioFileSystem fs) { this.fs = fs; }

    private FolioFs.StatFs statfs() throws IOException {
        fs.begin();
        try {
            return fs.folio().statfs();
        } catch (IOException e) {
            throw Errors.translate(e, fs.image(), null);
        } finally {
            fs.end();
        }
    }

    @Override public String name() { return String.valueOf(fs.image().getFileName()); }
    @Override public String type() { return "foliofs"; }
    @Override public boolean isReadOnly() { return fs.isReadOnly(); }

    @Override
    public long getTotalSpace() throws IOException {
        FolioFs.StatFs s = statfs();
        return s.totalBlocks() * s.blockSize();
    }

    @Override
    public long getUsableSpace() throws IOException {
        FolioFs.StatFs s = statfs();
        return s.availableBlocks() * s.blockSize();
    }

    @Override
    public long getUnallocatedSpace() throws IOException {
        FolioFs.StatFs s = statfs();
        return s.freeBlocks() * s.blockSize();
    }

    @Override
    public long getBlockSize() { return fs.folio().blockSize(); }

    @Override
    public boolean supportsFileAttributeView(Class<? extends FileAttributeView> type) {
        return type == BasicFileAttributeView.class || type == PosixFileAttributeView.class || type == FileOwnerAttributeView.class;
    }

    @Override
    public boolean supportsFileAttributeView(String name) { return FolioFileSystem.VIEWS.contains(name); }

    @Override
    public <V extends FileStoreAttributeView> V getFileStoreAttributeView(Class<V> type) { return null; }

    /** {@code totalSpace}, {@code usableSpace}, {@code unallocatedSpace}, {@code blockSize}, {@code inodes}, {@code nameMax}. */
    @Override
    public Object getAttribute(String attribute) throws IOException {
        return switch (attribute) {
            case "totalSpace" -> getTotalSpace();
            case "usableSpace" -> getUsableSpace();
            case "unallocatedSpace" -> getUnallocatedSpace();
            case "blockSize" -> getBlockSize();
            case "inodes" -> statfs().inodes();
            case "nameMax" -> statfs().nameMax();
            default -> throw new UnsupportedOperationException("file store attribute '" + attribute + "' is not supported");
        };
    }

    @Override public String toString() { return name() + " (foliofs)"; }
}
