package org.foliofs.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.foliofs.device.BlockDevice;
import org.foliofs.device.DeviceStats;
import org.foliofs.fs.FolioFile;
import org.foliofs.fs.FolioFs;
import org.foliofs.iomap.IoMap;
import org.foliofs.pagecache.PageCache;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands of {@code foliofs io}, shaped like xfs_io's: one open file at a time, commands run
 * in order, each printing what it did ("wrote 1048576/1048576 bytes at offset 0" and a timing
 * line). A failing command prints {@code <command>: <reason>} on stderr and the shell goes on with
 * the next one, as xfs_io does; {@link #failures()} counts them for the exit status. Offsets and
 * lengths take K/M/G/T suffixes (binary) like the other options.
 */
@Command(name = "io", description = "foliofs io commands", subcommands = CommandLine.HelpCommand.class)
final class IoShell implements AutoCloseable {
    /** xfs_io's default buffer size for pwrite and pread. */
    static final int DEFAULT_BS = 4096;
    /** xfs_io's default fill byte for pwrite. */
    static final int DEFAULT_SEED = 0xcd;
    private static final int MAX_BS = 64 << 20;

    private final FolioFs fs;
    private final BlockDevice dev;
    private final PrintWriter out, err;
    private final CommandLine cli;
    private int failures;

    private FolioFile file;
    private String path;
    private int openFlags;          // FolioFile.DIRECT | DSYNC | WRITETHROUGH from open -d -s -t
    private DeviceStats.Snapshot devBase;
    private PageCache.Stats cacheBase;

    IoShell(FolioFs fs, PrintWriter out, PrintWriter err) {
        this.fs = fs;
        this.dev = fs.device();
        this.out = out;
        this.err = err;
        this.cli = new CommandLine(this);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, where, parse) -> {
            fail(where.getCommandName(), Main.describe(ex));
            return 1;
        });
        cli.setParameterExceptionHandler((ex, args) -> {
            fail(ex.getCommandLine().getCommandName(), ex.getMessage());
            return 2;
        });
        resetStats();
    }

    int failures() { return failures; }

    /** Runs one command line ("pwrite -W 0 1m"); false if it failed (the error is printed). */
    boolean run(String line) {
        List<String> words;
        try {
            words = split(line);
        } catch (IllegalArgumentException e) {
            fail("io", e.getMessage());
            return false;
        }
        if (words.isEmpty()) return true;
        if (!cli.getSubcommands().containsKey(words.getFirst())) {
            fail("io", "command \"" + words.getFirst() + "\" not found (try: help)");
            return false;
        }
        int rc = cli.execute(words.toArray(String[]::new));
        out.flush();
        return rc == 0;
    }

    private void fail(String command, String message) {
        failures++;
        out.flush();
        err.println(command + ": " + message);
        err.flush();
    }

    /** Splits a command line into words; single or double quotes group, no escapes inside single quotes. */
    static List<String> split(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder w = null;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
                else w.append(c);
            } else if (c == '\'' || c == '"') {
                quote = c;
                if (w == null) w = new StringBuilder();
            } else if (Character.isWhitespace(c)) {
                if (w != null) { words.add(w.toString()); w = null; }
            } else {
                if (w == null) w = new StringBuilder();
                w.append(c);
            }
        }
        if (quote != 0) throw new IllegalArgumentException("unterminated quote (" + quote + ") in: " + line);
        if (w != null) words.add(w.toString());
        return words;
    }

    // ---- open / close -------------------------------------------------------------------------

    @Command(name = "open", description = "Opens PATH in the image (closing the file open before).")
    void open(@Option(names = "-c", description = "create the file if missing") boolean create,
              @Option(names = "-d", description = "direct I/O (O_DIRECT) for pread/pwrite") boolean direct,
              @Option(names = "-s", description = "every pwrite is DSYNC (O_DSYNC)") boolean dsync,
              @Option(names = "-t", description = "every pwrite is write-through") boolean writeThrough,
              @Parameters(paramLabel = "PATH") String p) throws IOException {
        closeFile();
        long ino = ImagePaths.regularFile(fs, p, create);
        file = fs.openFile(ino);
        path = p;
        openFlags = (direct ? FolioFile.DIRECT : 0) | (dsync ? FolioFile.DSYNC : 0) | (writeThrough ? FolioFile.WRITETHROUGH : 0);
        resetStats();
    }

    @Command(name = "close", description = "Closes the open file (its dirty data stays cached for background writeback; fsync first to make it durable).")
    void close_() throws IOException {
        need();
        closeFile();
    }

    private void closeFile() throws IOException {
        FolioFile f = file;
        file = null;
        path = null;
        if (f != null) f.close();
    }

    @Override
    public void close() throws IOException {
        closeFile();
    }

    private FolioFile need() {
        if (file == null) throw new IllegalStateException("no file is open (use: open [-c] PATH)");
        return file;
    }

    // ---- pwrite / pread -----------------------------------------------------------------------

    @Command(name = "pwrite", description = "Writes LEN bytes of the fill byte at OFF, in BS-sized calls.")
    void pwrite(@Option(names = "-W", description = "write-through (RWF_WRITETHROUGH)") boolean writeThrough,
                @Option(names = "-D", description = "DSYNC (RWF_DSYNC)") boolean dsync,
                @Option(names = "-A", description = "atomic (RWF_ATOMIC): untorn; needs -W, or a file opened with -d") boolean atomic,
                @Option(names = "-a", description = "asynchronous: issue every BS piece at once, then wait") boolean async,
                @Option(names = "-b", paramLabel = "BS", converter = SizeConverter.class) Long bs,
                @Option(names = "-S", paramLabel = "SEED", description = "fill byte (default 0xcd)") String seed,
                @Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
                @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws Exception {
        FolioFile f = need();
        int flags = openFlags | (writeThrough ? FolioFile.WRITETHROUGH : 0) | (dsync ? FolioFile.DSYNC : 0)
                | (atomic ? FolioFile.ATOMIC : 0);
        int b = bufferSize(bs, len);
        int fill = seed(seed);
        long done = 0, ops = 0, t0 = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(b, align());
            buf.fill((byte) fill);
            if (async) {
                List<CompletableFuture<Long>> pending = new ArrayList<>();
                for (long at = off; at < off + len; at += b) {
                    pending.add(f.writeAsync(at, buf.asSlice(0, Math.min(b, off + len - at)), flags));
                }
                ops = pending.size();
                for (CompletableFuture<Long> p : pending) done += join(p);
            } else {
                while (done < len) {
                    long n = f.write(off + done, buf.asSlice(0, Math.min(b, len - done)), flags);
                    ops++;
                    done += n;
                    if (n == 0) break;
                }
            }
        }
        long nanos = System.nanoTime() - t0;
        out.println("wrote " + done + "/" + len + " bytes at offset " + off);
        out.println(timing(done, ops, nanos));
    }

    @Command(name = "pread", description = "Reads LEN bytes at OFF in BS-sized calls (-v dumps them in hex).")
    void pread(@Option(names = "-v", description = "dump the data read") boolean verbose,
               @Option(names = "-b", paramLabel = "BS", converter = SizeConverter.class) Long bs,
               @Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
               @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws Exception {
        FolioFile f = need();
        int b = bufferSize(bs, len);
        long done = 0, ops = 0, t0 = System.nanoTime(), nanos = 0;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(b, align());
            while (done < len) {
                long t = System.nanoTime();
                long n = f.read(off + done, buf.asSlice(0, Math.min(b, len - done)), openFlags & FolioFile.DIRECT);
                nanos += System.nanoTime() - t;
                ops++;
                if (n <= 0) break;
                if (verbose) dump(buf, off + done, n);
                done += n;
                if (n < Math.min(b, len - done + n)) break;   // short: end of file
            }
        }
        if (!verbose) nanos = System.nanoTime() - t0;
        out.println("read " + done + "/" + len + " bytes at offset " + off);
        out.println(timing(done, ops, nanos));
    }

    /** xfs_io's dump: 16 bytes a line, the file offset in hex, then the bytes, then printable ASCII. */
    private void dump(MemorySegment buf, long fileOff, long n) {
        StringBuilder line = new StringBuilder();
        for (long i = 0; i < n; i += 16) {
            line.setLength(0);
            line.append(String.format("%08x: ", fileOff + i));
            StringBuilder ascii = new StringBuilder();
            for (long j = i; j < Math.min(n, i + 16); j++) {
                int v = buf.get(ValueLayout.JAVA_BYTE, j) & 0xff;
                line.append(String.format(" %02x", v));
                ascii.append(v >= 0x20 && v < 0x7f ? (char) v : '.');
            }
            for (long j = Math.min(n, i + 16); j < i + 16; j++) line.append("   ");
            out.println(line.append("  ").append(ascii));
        }
    }

    private int bufferSize(Long bs, long len) {
        long b = bs == null ? DEFAULT_BS : bs;
        if (b <= 0 || b > MAX_BS)
            throw new IllegalArgumentException("buffer size -b " + b + " must be from 1 to " + MAX_BS + " bytes");
        return (int) Math.max(1, Math.min(b, Math.max(len, 1)));
    }

    private static int seed(String s) {
        if (s == null) return DEFAULT_SEED;
        int v;
        try {
            v = Integer.decode(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("fill byte -S '" + s + "' is not a number (e.g. 0xcd or 205)");
        }
        if (v < 0 || v > 255) throw new IllegalArgumentException("fill byte -S " + s + " must be from 0 to 255 (0xff)");
        return v;
    }

    private long align() {
        return Math.max(4096, dev.memoryAlignment());
    }

    private static long join(CompletableFuture<Long> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception x) throw x;
            throw e;
        }
    }

    // ---- sync, size and space ----------------------------------------------------------------

    @Command(name = "fsync", description = "Writes back the file's data and metadata and waits (fsync(2)).")
    void fsync() throws IOException {
        need().fsync(false);
    }

    @Command(name = "fdatasync", description = "Writes back the file's data and the metadata needed to read it (fdatasync(2)).")
    void fdatasync() throws IOException {
        need().fsync(true);
    }

    @Command(name = "truncate", description = "Sets the file size to LEN.")
    void truncate(@Parameters(paramLabel = "LEN", converter = SizeConverter.class) long len) throws IOException {
        need().truncate(len);
    }

    @Command(name = "falloc", description = "Preallocates [OFF, OFF+LEN) as unwritten blocks (-k: keep the size).")
    void falloc(@Option(names = "-k", description = "keep the file size (FALLOC_FL_KEEP_SIZE)") boolean keep,
                @Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
                @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws IOException {
        need().fallocate(keep ? FolioFile.FALLOC_KEEP_SIZE : 0, off, len);
    }

    @Command(name = "fpunch", description = "Punches a hole over [OFF, OFF+LEN) (the size does not change).")
    void fpunch(@Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
                @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws IOException {
        need().fallocate(FolioFile.FALLOC_PUNCH_HOLE | FolioFile.FALLOC_KEEP_SIZE, off, len);
    }

    @Command(name = "fzero", description = "Zeroes [OFF, OFF+LEN) as unwritten blocks (-k: keep the size).")
    void fzero(@Option(names = "-k", description = "keep the file size") boolean keep,
               @Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
               @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws IOException {
        need().fallocate(FolioFile.FALLOC_ZERO_RANGE | (keep ? FolioFile.FALLOC_KEEP_SIZE : 0), off, len);
    }

    @Command(name = "reflink", description = "Shares LEN bytes of SRCPATH at SRCOFF into the open file at OFF (FICLONERANGE).")
    void reflink(@Parameters(index = "0", paramLabel = "SRCPATH") String src,
                 @Parameters(index = "1", paramLabel = "SRCOFF", converter = SizeConverter.class) long srcOff,
                 @Parameters(index = "2", paramLabel = "OFF", converter = SizeConverter.class) long off,
                 @Parameters(index = "3", paramLabel = "LEN", converter = SizeConverter.class) long len) throws Exception {
        FolioFile f = need();
        long t0 = System.nanoTime();
        try (FolioFile s = fs.openFile(ImagePaths.regularFile(fs, src, false))) {
            f.cloneRange(s, srcOff, off, len);
        }
        out.println("linked " + len + "/" + len + " bytes at offset " + off);
        out.println(timing(len, 1, System.nanoTime() - t0));
    }

    // ---- reports ------------------------------------------------------------------------------

    @Command(name = "stat", description = "Prints the open file's attributes.")
    void stat() throws IOException {
        FolioFile f = need();
        FolioFs.Attr a = fs.getattr(f.ino());
        out.println("fd.path = \"" + path + "\"");
        out.println("fd.flags = " + flagNames(openFlags));
        out.println("stat.ino = " + a.ino());
        out.println("stat.type = " + (a.isRegular() ? "regular file" : a.isDir() ? "directory" : "other"));
        out.println("stat.mode = 0" + Integer.toOctalString(a.mode() & 07777));
        out.println("stat.nlink = " + a.nlink());
        out.println("stat.size = " + f.size());
        out.println("stat.blocks = " + a.blocks() * fs.blockSize() / 512);
        out.println("stat.atime = " + time(a.atime()));
        out.println("stat.mtime = " + time(a.mtime()));
        out.println("stat.ctime = " + time(a.ctime()));
        out.println("stat.writemode = " + writeMode(a.writeMode()));
    }

    @Command(name = "statx", description = "Prints statx(2) fields of the open file, with the atomic write limits.")
    void statx() throws IOException {
        FolioFile f = need();
        FolioFs.Attr a = fs.getattr(f.ino());
        out.println("stat.ino = " + a.ino());
        out.println("stat.size = " + f.size());
        out.println("stat.blocks = " + a.blocks() * fs.blockSize() / 512);
        out.println("stat.blksize = " + fs.blockSize());
        out.println("stat.nlink = " + a.nlink());
        out.println("stat.mode = 0" + Integer.toOctalString(a.mode()));
        out.println("stat.btime = " + time(a.btime()));
        out.println("stat.mtime = " + time(a.mtime()));
        out.println("stat.dio_mem_align = " + dev.memoryAlignment());
        out.println("stat.dio_offset_align = " + dev.logicalBlockSize());
        // The file's limits: what FolioFile.ATOMIC accepts (pwrite -W -A, or open -d + pwrite -A), hardware or software path.
        out.println("stat.atomic_write_unit_min = " + fs.atomicWriteUnitMin());
        out.println("stat.atomic_write_unit_max = " + fs.atomicWriteUnitMax());
        out.println("stat.atomic_write_segments_max = " + fs.atomicWriteSegmentsMax());
        out.println("device.atomic_write_unit_min = " + dev.atomicWriteUnitMin());
        out.println("device.atomic_write_unit_max = " + dev.atomicWriteUnitMax());
        out.println("software atomic: out of place, remapped in one journal transaction");
    }

    @Command(name = "fiemap", description = "Prints the open file's extents in 512-byte units, like xfs_io fiemap.")
    void fiemap() throws IOException {
        FolioFile f = need();
        long size = f.size();
        List<IoMap> maps = f.extents(0, Long.MAX_VALUE);
        out.println(path + ":");
        int n = 0;
        long at = 0;
        for (IoMap m : maps) {
            if (m.offset() > at) out.println(extentLine(n++, at, m.offset(), "hole", ""));
            String where = m.type() == IoMap.Type.DELALLOC ? "delalloc"
                    : (m.deviceAddress() / 512) + ".." + ((m.deviceAddress() + m.length()) / 512 - 1);
            String flags = m.type() == IoMap.Type.UNWRITTEN ? " unwritten" : "";
            out.println(extentLine(n++, m.offset(), m.end(), where, flags));
            at = m.end();
        }
        if (at < size) out.println(extentLine(n, at, Math.ceilDiv(size, fs.blockSize()) * fs.blockSize(), "hole", ""));
    }

    private static String extentLine(int n, long from, long to, String where, String flags) {
        return "\t" + n + ": [" + from / 512 + ".." + (to / 512 - 1) + "]: " + where + flags;
    }

    @Command(name = "sha256", description = "Prints the SHA-256 of the bytes in [OFF, OFF+LEN) (short at the end of the file).")
    void sha256(@Parameters(index = "0", paramLabel = "OFF", converter = SizeConverter.class) long off,
                @Parameters(index = "1", paramLabel = "LEN", converter = SizeConverter.class) long len) throws IOException {
        FolioFile f = need();
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long done = 0;
        try (Arena arena = Arena.ofShared()) {
            int b = (int) Math.max(1, Math.min(1 << 20, len));
            MemorySegment buf = arena.allocate(b, align());
            while (done < len) {
                long n = f.read(off + done, buf.asSlice(0, Math.min(b, len - done)), openFlags & FolioFile.DIRECT);
                if (n <= 0) break;
                md.update(buf.asSlice(0, n).asByteBuffer());
                done += n;
            }
        }
        out.println(HexFormat.of().formatHex(md.digest()) + "  " + done + " bytes at offset " + off);
    }

    @Command(name = "stats", description = "Prints the device requests and page cache activity since the last stats (or the open).")
    void stats() {
        DeviceStats.Snapshot d = dev.stats().snapshot().minus(devBase);
        out.printf("device requests: %d reads, %d writes, %d flushes, %d discards%n", d.reads(), d.writes(), d.flushes(), d.discards());
        out.printf("device bytes: %d read, %d written%n", d.bytesRead(), d.bytesWritten());
        out.printf("device writes: %d FUA, %d preflush, %d postflush, %d atomic; %d errors%n", d.fuaWrites(), d.preflushWrites(), d.postflushWrites(), d.atomicWrites(), d.errors());
        PageCache pc = fs.pageCache();
        PageCache.Stats c = pc == null ? null : pc.stats();
        if (c == null) {
            out.println("page cache: not in use");
        } else {
            long hits = c.hits() - (cacheBase == null ? 0 : cacheBase.hits());
            long misses = c.misses() - (cacheBase == null ? 0 : cacheBase.misses());
            long evictions = c.evictions() - (cacheBase == null ? 0 : cacheBase.evictions());
            out.printf("page cache: %d hits, %d misses, %d evictions%n", hits, misses, evictions);
            out.printf("page cache now: %d dirty bytes, %d writeback bytes, %d bytes cached of %d%n",
                    c.dirtyBytes(), c.writebackBytes(), c.bytesCached(), c.memoryBytes());
        }
        resetStats();
    }

    private void resetStats() {
        devBase = dev.stats().snapshot();
        PageCache pc = fs.pageCache();
        cacheBase = pc == null ? null : pc.stats();
    }

    // ---- formatting ---------------------------------------------------------------------------

    /** xfs_io's second line: "1 MiB, 256 ops; 0.0012 sec (813.01 MiB/sec and 208130.0813 ops/sec)". */
    static String timing(long bytes, long ops, long nanos) {
        double sec = Math.max(nanos, 1) / 1e9;
        return String.format(Locale.ROOT, "%s, %d ops; %.4f sec (%s/sec and %.4f ops/sec)",
                Sizes.format(bytes), ops, sec, Sizes.format((long) (bytes / sec)), ops / sec);
    }

    private static String flagNames(int flags) {
        List<String> names = new ArrayList<>();
        names.add((flags & FolioFile.DSYNC) != 0 ? "dsync" : "non-sync");
        names.add((flags & FolioFile.DIRECT) != 0 ? "direct" : "non-direct");
        names.add((flags & FolioFile.WRITETHROUGH) != 0 ? "write-through" : "writeback");
        names.add("read-write");
        return String.join(",", names);
    }

    private static String writeMode(int mode) {
        return switch (mode) {
            case 0 -> "default";
            case 1 -> "writeback";
            case 2 -> "write-through";
            case 3 -> "write-through+dsync";
            default -> Integer.toString(mode);
        };
    }

    private static String time(long nanos) {
        return Instant.ofEpochSecond(0, nanos).toString();
    }
}
