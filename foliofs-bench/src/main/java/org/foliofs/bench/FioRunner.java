package org.foliofs.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs fio with the same parameters as a {@link Workload} on the same file: O_DIRECT, time
 * based, no random map, and reads IOPS, bandwidth and mean latency from its JSON output.
 */
final class FioRunner {
    private FioRunner() {}

    /** fio's version, or null when it is not installed. */
    static String version() {
        try {
            Process p = new ProcessBuilder("fio", "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * @param ioengine "io_uring" (depth = iodepth) or "psync" (depth = threads, numjobs)
     */
    static Result run(Path image, long size, Workload w, String ioengine, double warmupSeconds, double seconds)
            throws IOException, InterruptedException {
        List<String> cmd = command(image, size, w, ioengine, warmupSeconds, seconds);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) throw new IOException("fio exited with " + rc + ": " + err.strip() + "\ncommand: " + String.join(" ", cmd));
        String write = section(out, "\"write\"");
        double iops = number(write, "iops");
        double bw = number(write, "bw_bytes");
        double latNs = number(section(write, "\"lat_ns\""), "mean");
        long ops = Math.round(iops * seconds);
        return new Result("fio " + ioengine, ops, Math.round(bw * seconds), seconds, latNs / 1e3);
    }

    /** IOPS, bandwidth and completion-latency percentiles (clat_ns; fio keeps no percentiles of total latency by default). */
    record Detailed(double iops, double bwBytes, double p50Micros, double p99Micros) {}

    /** Runs a whole fio command line (with {@code --output-format=json}) and reads its write side. */
    static Detailed runDetailed(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) throw new IOException("fio exited with " + rc + ": " + err.strip() + "\ncommand: " + String.join(" ", cmd));
        String write = section(out, "\"write\"");
        String pct = section(section(write, "\"clat_ns\""), "\"percentile\"");
        return new Detailed(number(write, "iops"), number(write, "bw_bytes"), number(pct, "50.000000") / 1e3,
                number(pct, "99.000000") / 1e3);
    }

    static List<String> command(Path image, long size, Workload w, String ioengine, double warmupSeconds, double seconds) {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=foliofs-compare", "--filename=" + image,
                "--size=" + size, "--rw=" + w.fioRw(), "--bs=" + w.fioBs(), "--direct=1",
                "--ioengine=" + ioengine, "--time_based", "--runtime=" + Math.max(1, Math.round(seconds)),
                "--ramp_time=" + Math.max(1, Math.round(warmupSeconds)), "--norandommap", "--randrepeat=0",
                "--group_reporting", "--output-format=json"));
        if (ioengine.equals("psync")) {
            if (w.depth() > 1) {
                cmd.add("--numjobs=" + w.depth());
                cmd.add("--thread");
                if (!w.random()) cmd.add("--offset_increment=" + (size / w.depth() / w.blockSize() * w.blockSize()));
            }
        } else {
            cmd.add("--iodepth=" + w.depth());
            cmd.add("--iodepth_batch_submit=1");
            cmd.add("--iodepth_batch_complete_max=" + w.depth());
        }
        return cmd;
    }

    /** The JSON object that is the value of {@code key} (a key followed by ':' and '{', not a string value). */
    private static String section(String json, String key) {
        Matcher m = Pattern.compile(Pattern.quote(key) + "\\s*:\\s*\\{").matcher(json);
        if (!m.find()) throw new IllegalStateException("fio output has no " + key + " section");
        int open = m.end() - 1;
        int depth = 0;
        for (int j = open; j < json.length(); j++) {
            char c = json.charAt(j);
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return json.substring(open, j + 1);
        }
        throw new IllegalStateException("fio output: unterminated " + key + " section");
    }

    private static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*([-0-9.eE+]+)").matcher(json);
        if (!m.find()) throw new IllegalStateException("fio output has no \"" + key + "\"");
        return Double.parseDouble(m.group(1));
    }
}
