package org.foliofs.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;

import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The output of {@code foliofs bench}'s standard comparison: one Markdown table, a CSV file and a
 * PNG chart (XChart, rendered headless) of the same lines. Pure formatting: it measures nothing, so
 * it is tested with made-up lines.
 */
public final class StandardReport {
    private StandardReport() {}

    /**
     * One row of the comparison.
     *
     * @param section    the chart panel it belongs to, e.g. "4 KiB random writes"
     * @param mode       what was measured, e.g. "FolioFS write-through + DSYNC"
     * @param depth      threads or asynchronous calls in flight
     * @param blockBytes bytes per operation
     * @param unit       what {@code opsPerSecond} counts, e.g. "IOPS" or "pages/s" (the chart's y axis)
     * @param vsDevice   ops/s divided by the device limit's at the same depth (NaN: not comparable)
     * @param note       short remark, e.g. "32 threads" or "0.71x non-atomic"
     */
    public record Line(String section, String mode, int depth, int blockBytes, String unit, double opsPerSecond,
                       double mibPerSecond, double p50Micros, double p99Micros, double vsDevice, String note) {
        public Line {
            if (depth < 1) throw new IllegalArgumentException("depth (" + depth + ") must be at least 1");
            if (mode.isBlank()) throw new IllegalArgumentException("mode must not be blank");
        }
    }

    /** Where {@link #write} put the chart and the CSV. */
    public record Outputs(Path png, Path csv) {}

    /** The Markdown table: mode, depth, IOPS, MiB/s, p50/p99 latency, ratio to the device limit, note. */
    public static String table(List<Line> lines) {
        StringBuilder sb = new StringBuilder();
        sb.append("| mode | size | depth | IOPS | MiB/s | p50 lat (us) | p99 lat (us) | x device limit | note |\n");
        sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for (Line l : lines) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", l.mode(), size(l.blockBytes()), l.depth(),
                    fixed(l.opsPerSecond(), 0), fixed(l.mibPerSecond(), 1), fixed(l.p50Micros(), 1), fixed(l.p99Micros(), 1),
                    Double.isNaN(l.vsDevice()) ? "-" : String.format(Locale.ROOT, "%.2fx", l.vsDevice()),
                    l.unit().equals("IOPS") ? l.note() : (l.note().isEmpty() ? l.unit() : l.unit() + "; " + l.note())));
        }
        return sb.toString();
    }

    static final String CSV_HEADER = "section,mode,depth,block_bytes,unit,ops_per_s,mib_per_s,p50_us,p99_us,ratio_to_device,note";

    /** The same lines as CSV (RFC 4180 quoting; empty cells for values that were not measured). */
    public static String csv(List<Line> lines) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (Line l : lines) {
            sb.append(String.join(",", quote(l.section()), quote(l.mode()), Integer.toString(l.depth()), Integer.toString(l.blockBytes()),
                    quote(l.unit()), plain(l.opsPerSecond(), 1), plain(l.mibPerSecond(), 2), plain(l.p50Micros(), 1),
                    plain(l.p99Micros(), 1), plain(l.vsDevice(), 3), quote(l.note()))).append('\n');
        }
        return sb.toString();
    }

    /**
     * The chart: one bar panel per section (in order), modes along x, one series per depth, the
     * panel's unit on y (logarithmic when the values span more than 20x). {@code title} heads the
     * first panel (machine and date).
     */
    public static void chart(List<Line> lines, String title, OutputStream png) throws IOException {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        Map<String, List<Line>> sections = new LinkedHashMap<>();
        for (Line l : lines) sections.computeIfAbsent(l.section(), k -> new ArrayList<>()).add(l);
        if (sections.isEmpty()) throw new IllegalArgumentException("no lines to chart");
        List<CategoryChart> charts = new ArrayList<>();
        boolean first = true;
        for (Map.Entry<String, List<Line>> e : sections.entrySet()) {
            charts.add(panel(first ? title + "\n" + e.getKey() : e.getKey(), e.getValue()));
            first = false;
        }
        BitmapEncoder.saveBitmap(charts, charts.size(), 1, png, BitmapEncoder.BitmapFormat.PNG);
    }

    private static CategoryChart panel(String title, List<Line> lines) {
        Set<String> modes = new LinkedHashSet<>();
        Set<Integer> depths = new TreeSet<>();
        double min = Double.MAX_VALUE, max = 0;
        for (Line l : lines) {
            modes.add(l.mode());
            depths.add(l.depth());
            if (l.opsPerSecond() > 0) {
                min = Math.min(min, l.opsPerSecond());
                max = Math.max(max, l.opsPerSecond());
            }
        }
        boolean log = max > 0 && max / min > 20;
        Set<String> units = new LinkedHashSet<>();
        for (Line l : lines) units.add(l.unit() + " (" + size(l.blockBytes()) + ")");
        String yTitle = String.join(" or ", units) + (log ? ", log scale" : "");
        int height = title.contains("\n") ? 680 : 600;
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(height).title(title.replace("\n", " | "))
                .xAxisTitle("mode").yAxisTitle(yTitle).build();
        var st = chart.getStyler();
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setPlotGridLinesColor(new Color(220, 220, 220));
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        st.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        st.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        st.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
        st.setLegendLayout(Styler.LegendLayout.Horizontal);
        st.setXAxisLabelRotation(20);
        st.setYAxisLogarithmic(log);
        st.setYAxisDecimalPattern("#,###");
        st.setLabelsVisible(true);
        st.setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        st.setLabelsRotation(90);
        st.setLabelsPosition(0.5);
        st.setLabelsFontColorAutomaticEnabled(true);
        st.setAvailableSpaceFill(0.8);
        st.setSeriesColors(new Color[] {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728)});
        if (log) {
            // bars start at the axis minimum: a power of ten below the smallest value (the default, 0, has no logarithm)
            st.setYAxisMin(Math.pow(10, Math.floor(Math.log10(min))));
            st.setYAxisMax(max * 2.5);
        } else {
            st.setYAxisMin(0.0);
            st.setYAxisMax(max * 1.15);
        }
        List<String> x = new ArrayList<>(modes);
        for (int d : depths) {
            List<Number> y = new ArrayList<>();
            for (String m : x) {
                Double v = null;
                for (Line l : lines) if (l.mode().equals(m) && l.depth() == d && l.opsPerSecond() > 0) v = l.opsPerSecond();
                y.add(v);
            }
            CategorySeries s = chart.addSeries("depth " + d + (d == 1 ? " (one call at a time)" : " (in flight)"), x, y);
            s.setChartCategorySeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Bar);
        }
        return chart;
    }

    /** Writes {@code <base>.png} and {@code <base>.csv} into {@code dir} (created if missing). */
    public static Outputs write(List<Line> lines, String title, Path dir, String base) throws IOException {
        Files.createDirectories(dir);
        Path png = dir.resolve(base + ".png"), csv = dir.resolve(base + ".csv");
        try (OutputStream o = Files.newOutputStream(png)) {
            chart(lines, title, o);
        }
        Files.writeString(csv, csv(lines), StandardCharsets.UTF_8);
        return new Outputs(png, csv);
    }

    static String size(int bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : bytes % 1024 == 0 ? (bytes >> 10) + " KiB" : bytes + " B";
    }

    private static String fixed(double d, int decimals) {
        return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%." + decimals + "f", d);
    }

    private static String plain(double d, int decimals) {
        return Double.isNaN(d) ? "" : String.format(Locale.ROOT, "%." + decimals + "f", d);
    }

    private static String quote(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
