package io.keld.bench;

import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.node.demo.DemoTenancy;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench/run cli-batch}: {@code keld jobs run} on a 100,000-line OpenAI Batch file (20,000 with
 * {@code --quick}) against a node with one simulated fleet, the CLI in a JVM of its own. Samples the
 * CLI process every second from {@code /proc}: CPU time (user + system) and resident memory. The
 * figures are the CLI's CPU as a share of one core over the whole run and over its streaming part
 * (after the first results), and its resident memory at 10%, 50% and 90% of the items (flat means
 * it does not grow with the items). The fleet sets the pace (32 slots, 20 ms to the first token,
 * 16 tokens an answer); node, PostgreSQL, fleet and CLI share the machine's cores. The CLI runs with the
 * JVM options {@code ./keld} gives its client commands ({@code -Xms32m -Xmx512m -XX:+UseSerialGC}).
 */
final class CliBatchBench {

  private static final long CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

  static BenchReport run(boolean quick) throws Exception {
    int items = quick ? 20_000 : 100_000;
    Path dir = Files.createTempDirectory("keld-bench-cli");
    return BenchNode.onPostgres(dir.resolve("data"), node -> {
      SimulatedProvider fleet = SimulatedProvider.start(node.system(), "127.0.0.1", 0, "prv_bench", List.of("bench-model"),
          FleetSettings.healthy(32, 1_600, 20));
      try {
        node.flow().endpoint(new ProviderEndpoint("prv_bench", fleet.baseUrl(), null), new Capacity(32, 0));
        node.books().submit("chat", new BookOp.PostAsk(new Ask("ask_bench", "prv_bench", "bench-model", "chat", 300_000, 80, 32 * 1_600L,
            32, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "local", Set.of()))).toCompletableFuture().get(30, TimeUnit.SECONDS);
        DemoTenancy.Created demo = DemoTenancy.create(node.governance());
        Path input = batch(dir.resolve("batch.jsonl"), items);
        Path output = dir.resolve("batch.results.jsonl");

        // The JVM options ./keld gives its client commands.
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xms32m", "-Xmx512m",
            "-XX:+UseSerialGC", "-cp",
            System.getProperty("java.class.path"), "io.keld.node.cli.KeldCommand", "jobs", "run", input.toString(), "--deadline", "2h",
            "--ceiling", "2", "--progress", "lines", "--progress-every", "30"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("cli.log").toFile());
        pb.environment().put("KELD_URL", "http://127.0.0.1:" + node.httpAddress().getPort());
        pb.environment().put("KELD_API_KEY", demo.apiKey());
        String loadBefore = loadAverage();
        long started = System.nanoTime();
        Process cli = pb.start();
        long pid = cli.pid();
        List<long[]> samples = new ArrayList<>(); // {elapsed ms, cpu ms, rss kB, results}
        long firstResultMs = -1;
        while (cli.isAlive()) {
          long[] s = sample(pid, started, output);
          if (s != null) {
            samples.add(s);
            if (firstResultMs < 0 && s[3] > 0) firstResultMs = s[0];
            if (samples.size() % 15 == 0) {
              System.err.printf(Locale.ROOT, "cli-batch: %,d/%,d results, cpu %.1f s, rss %,d kB%n", s[3], items, s[1] / 1000.0, s[2]);
            }
          }
          cli.waitFor(1, TimeUnit.SECONDS);
        }
        long wallMs = (System.nanoTime() - started) / 1_000_000;
        int exit = cli.exitValue();
        long results = lines(output);
        long[] last = samples.isEmpty() ? new long[] {wallMs, 0, 0, 0} : samples.get(samples.size() - 1);
        // The last sample is at most a second before the exit: CPU of the whole run from the last sample.
        double cpuShareWhole = (double) last[1] / last[0];
        long[] atFirst = firstSampleWith(samples, 1);
        double cpuShareStreaming = atFirst == null || last[0] == atFirst[0] ? Double.NaN
            : (double) (last[1] - atFirst[1]) / (last[0] - atFirst[0]);
        long rss10 = rssAt(samples, items / 10);
        long rss50 = rssAt(samples, items / 2);
        long rss90 = rssAt(samples, items * 9 / 10);
        long rssMax = samples.stream().mapToLong(s -> s[2]).max().orElse(0);
        double itemsPerSecond = atFirst == null ? 0 : results * 1000.0 / Math.max(1, last[0] - atFirst[0]);

        BenchReport report = new BenchReport("cli-batch", quick)
            .figure("items", items).figure("results_written", results).figure("exit_code", exit)
            .figure("wall_s", Math.round(wallMs / 100.0) / 10.0).figure("items_per_s", Math.round(itemsPerSecond))
            .figure("cli_cpu_share_whole_run", Math.round(cpuShareWhole * 1000) / 1000.0)
            .figure("cli_cpu_share_streaming", Math.round(cpuShareStreaming * 1000) / 1000.0)
            .figure("cli_rss_kb_at_10pct", rss10).figure("cli_rss_kb_at_50pct", rss50).figure("cli_rss_kb_at_90pct", rss90)
            .figure("cli_rss_kb_max", rssMax)
            .figure("met_cpu_under_10pct", cpuShareStreaming < 0.10);
        report.line(String.format(Locale.ROOT, "`keld jobs run` on a %,d-line OpenAI Batch file, the CLI in its own JVM against a node with one simulated "
            + "fleet (32 slots, 20 ms to first token, 16 tokens an answer): exit %d, %,d results written in %.0f s (%,.0f items/s while streaming).",
            items, exit, results, wallMs / 1000.0, itemsPerSecond));
        report.line(String.format(Locale.ROOT, "**CLI CPU: %.1f%% of one core while streaming**, %.1f%% over the whole run (JVM start, the file's "
            + "check pass, quote and settlement included); target under 10%%.", cpuShareStreaming * 100, cpuShareWhole * 100));
        report.line(String.format(Locale.ROOT, "**CLI resident memory: %,d kB at 10%% of the items, %,d kB at 50%%, %,d kB at 90%%** (max %,d kB; "
            + "-Xms32m -Xmx512m -XX:+UseSerialGC, as ./keld runs it). Node, PostgreSQL, fleet and CLI share the machine's cores.", rss10, rss50, rss90, rssMax));
        report.figure("load_average_1m_before_after", loadBefore + " / " + loadAverage());
        report.line("The machine's 1-minute load average before and after the run: " + loadBefore + " / " + loadAverage()
            + " (other builds share it; the CLI's share is CPU time over wall time, so a busy machine slows the fleet and the CLI alike).");
        return report;
      } finally {
        fleet.close();
      }
    });
  }

  private static Path batch(Path path, int n) throws IOException {
    try (Writer w = Files.newBufferedWriter(path)) {
      for (int i = 0; i < n; i++) {
        w.write("{\"custom_id\":\"req-" + i + "\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o-mini\","
            + "\"messages\":[{\"role\":\"system\",\"content\":\"You label support tickets.\"},{\"role\":\"user\",\"content\":\"Ticket " + i
            + ": the invoice total does not match the order; please check and advise.\"}],\"max_tokens\":16}}\n");
      }
    }
    return path;
  }

  /** {elapsed ms, cpu ms, rss kB, results so far}, or null if the process is gone. */
  private static long[] sample(long pid, long startedNanos, Path output) throws IOException {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long cpuTicks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
      long rss = 0;
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.replaceAll("\\D+", ""));
      }
      return new long[] {(System.nanoTime() - startedNanos) / 1_000_000, cpuTicks * 1000 / CLOCK_TICKS_PER_SECOND, rss, lines(output)};
    } catch (NoSuchFileException gone) {
      return null;
    }
  }

  /** Lines of the output file, counted on from where the last count stopped (the file only grows). */
  private static long countedLines;
  private static long countedBytes;

  private static long lines(Path file) throws IOException {
    if (!Files.exists(file)) return 0;
    try (var ch = FileChannel.open(file)) {
      ch.position(countedBytes);
      ByteBuffer buf = ByteBuffer.allocate(1 << 16);
      for (int r; (r = ch.read(buf)) > 0; buf.clear()) {
        for (int i = 0; i < r; i++) if (buf.get(i) == '\n') countedLines++;
        countedBytes += r;
      }
    }
    return countedLines;
  }

  private static long[] firstSampleWith(List<long[]> samples, long results) {
    return samples.stream().filter(s -> s[3] >= results).findFirst().orElse(null);
  }

  private static long rssAt(List<long[]> samples, long results) {
    long[] s = firstSampleWith(samples, results);
    return s == null ? 0 : s[2];
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  private CliBatchBench() {}
}
