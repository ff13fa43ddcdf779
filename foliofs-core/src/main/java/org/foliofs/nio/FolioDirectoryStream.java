package org.foliofs.nio;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.foliofs.fs.DirEntry;

/**
 * A directory's entries, read lazily in batches of {@value #BATCH} by readdir cookie (entries added or
 * removed while iterating may or may not be seen; each entry that stays is returned exactly once).
 * "." and ".." are not returned. Not a {@link java.nio.file.SecureDirectoryStream}.
 */
final class FolioDirectoryStream implements DirectoryStream<Path> {
    static final int BATCH = 256;

    private final FolioPath dir;
    private final long ino;
    private final Filter<? super Path> filter;
    private volatile boolean closed;
    private boolean iterated;

    private FolioDirectoryStream(FolioPath dir, long ino, Filter<? super Path> filter) {
        this.dir = dir;
        this.ino = ino;
        this.filter = filter;
    }

    static FolioDirectoryStream open(FolioPath dir, Filter<? super Path> filter) throws IOException {
        PathOps ops = dir.getFileSystem().core();
        long ino = ops.call(false, dir, null, () -> {
            PathOps.Node n = ops.resolve(dir, true);
            if (!n.attr().isDir()) throw new NotDirectoryException(dir.toString());
            return n.ino();
        });
        return new FolioDirectoryStream(dir, ino, filter);
    }

    @Override
    public synchronized Iterator<Path> iterator() {
        if (closed) throw new IllegalStateException("directory stream of " + dir + " is closed");
        if (iterated) throw new IllegalStateException("directory stream of " + dir + " has already returned its iterator");
        iterated = true;
        return new Iterator<>() {
            private final ArrayDeque<Path> batch = new ArrayDeque<>();
            private long cookie;
            private boolean end;

            @Override
            public boolean hasNext() {
                while (batch.isEmpty() && !end && !closed) fill();
                return !batch.isEmpty() && !closed;
            }

            @Override
            public Path next() {
                if (!hasNext()) throw new NoSuchElementException();
                return batch.poll();
            }

            private void fill() {
                ArrayDeque<DirEntry> got = new ArrayDeque<>();
                try {
                    dir.getFileSystem().core().call(false, dir, null, () -> {
                        dir.getFileSystem().folio().readdir(ino, cookie, e -> {
                            got.add(e);
                            return got.size() < BATCH;
                        });
                        return null;
                    });
                } catch (IOException e) {
                    throw new DirectoryIteratorException(e);
                }
                if (got.size() < BATCH) end = true;
                for (DirEntry e : got) {
                    cookie = e.cookie();
                    Path p = dir.resolve(new String(e.name(), StandardCharsets.UTF_8));
                    try {
                        if (filter == null || filter.accept(p)) batch.add(p);
                    } catch (IOException x) {
                        throw new DirectoryIteratorException(x);
                    }
                }
            }
        };
    }

    @Override
    public void close() { closed = true; }
}
