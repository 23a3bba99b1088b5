package io.keld.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;

/**
 * A benchmark's figures: printed as text, then as one JSON object on the last line, and written
 * into its own section of BENCHMARKS.md (replacing the previous run's), with the machine and date.
 */
public final class BenchReport {

  private final String name;
  private final boolean quick;
  private final Map<String, Object> figures = new LinkedHashMap<>();
  private final StringBuilder markdown = new StringBuilder();
  private boolean draft;

  public BenchReport(String name, boolean quick) {
    this.name = name;
    this.quick = quick;
  }

  public BenchReport figure(String key, Object value) {
    figures.put(key, value);
    return this;
  }

  /** A partial run (some of its parts left out): printed, but not recorded in BENCHMARKS.md. */
  public BenchReport draft() {
    this.draft = true;
    return this;
  }

  public BenchReport line(String text) {
    markdown.append(text).append('\n');
    return this;
  }

  public String json() {
    Map<String, Object> all = new LinkedHashMap<>();
    all.put("benchmark", name);
    all.put("quick", quick);
    all.putAll(figures);
    return all.entrySet().stream()
        .map(e -> "\"" + e.getKey() + "\":" + (e.getValue() instanceof Number || e.getValue() instanceof Boolean
            ? e.getValue().toString() : "\"" + e.getValue().toString().replace("\"", "\\\"") + "\""))
        .collect(Collectors.joining(",", "{", "}"));
  }

  /** Prints the figures and the JSON line, and updates BENCHMARKS.md when a path is given. */
  public void publish(Path benchmarksMd) throws IOException {
    System.out.println();
    System.out.println(markdown);
    if (benchmarksMd != null && !draft) writeSection(benchmarksMd);
    System.out.println(json());
  }

  private void writeSection(Path file) throws IOException {
    String start = "<!-- " + name + ":start -->";
    String end = "<!-- " + name + ":end -->";
    String section = start + "\n## " + name + "\n\n"
        + "Measured " + LocalDate.now(ZoneOffset.UTC) + " on " + machine() + (quick ? " — **quick run** (short iterations)" : "") + ".\n\n"
        + markdown + "\n```json\n" + json() + "\n```\n" + end;
    String doc = Files.exists(file) ? Files.readString(file)
        : "# Keld benchmarks\n\nWritten by `bench/run NAME`; each section is replaced by the latest run of its benchmark.\n";
    int s = doc.indexOf(start);
    int e = doc.indexOf(end);
    doc = s >= 0 && e > s ? doc.substring(0, s) + section + doc.substring(e + end.length()) : doc.stripTrailing() + "\n\n" + section + "\n";
    Files.writeString(file, doc);
  }

  static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
    } catch (IOException ignored) {
      // not Linux
    }
    long memGb = Math.round(((OperatingSystemMXBean) ManagementFactory
        .getOperatingSystemMXBean()).getTotalMemorySize() / (1024.0 * 1024 * 1024));
    return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), " + memGb + " GiB, JDK "
        + System.getProperty("java.version");
  }
}
