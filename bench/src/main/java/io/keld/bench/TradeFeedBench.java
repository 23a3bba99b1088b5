package io.keld.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.kit.Json;
import io.keld.marketplace.book.BookOp;
import io.keld.node.KeldNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import com.sun.management.OperatingSystemMXBean;

/**
 * {@code bench/run trade-feed}: 200 providers connected to one node's WebSocket feed, each with an
 * ask on the {@code summarize} book and all subscribed to it, amend their asks at an aggregate
 * 2,000 amends/s (open loop). Every amend moves an ask to a price no other amend uses, so each
 * subscriber can tell when it has seen it; the figure is the time from sending the amend to the
 * delta carrying that price reaching the last of the 200 subscribers.
 *
 * <p>The node runs in this JVM; the providers run in a second one ({@link TradeFeedProviders}), as
 * they would run elsewhere in production: the node's CPU figure and its garbage collector are its
 * own. Both share the machine's cores (and PostgreSQL's), so the providers' work still competes
 * with the node's.
 */
final class TradeFeedBench {

  static final int PROVIDERS = 200;
  static final int AMENDS_PER_S = 2_000;
  /** A second, lower rate: the feed's own latency where the node has room to spare. */
  static final int LOW_RATE = 400;
  static final ObjectMapper JSON = Json.PLAIN;

  /** @param runs measured phases at the target rate (their median is the figure; every one is in the table) */
  static BenchReport run(boolean quick, int runs) throws Exception {
    KernelWriteback writeback = KernelWriteback.now();
    return BenchNode.onPostgres(Files.createTempDirectory("keld-trade-bench"), node -> measure(node, quick, runs, writeback));
  }

  private static BenchReport measure(KeldNode node, boolean quick, int runs, KernelWriteback writeback) throws Exception {
    String base = "http://127.0.0.1:" + node.httpAddress().getPort();
    String operator = node.bootstrapKey().orElseThrow().secret();
    HttpClient http = HttpClient.newHttpClient();
    System.err.printf("trade-feed: creating %d provider organizations...%n", PROVIDERS);
    List<String> credentials = new ArrayList<>();
    for (int i = 0; i < PROVIDERS; i++) {
      String org = call(http, base, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"bench-" + i + "\",\"kind\":\"provider\"}").path("id").asText();
      String key = call(http, base, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"feed\",\"role\":\"provider\"}").path("key").asText();
      call(http, base, "PUT", "/trade/v1/models/bench-model", key, "{\"use_cases\":[\"summarize\"]}");
      credentials.add(org + " " + key);
    }
    Path credentialsFile = Files.createTempFile("keld-trade-bench", ".keys");
    Files.write(credentialsFile, credentials);

    System.err.printf("trade-feed: connecting %d providers (a second JVM) to the feed...%n", PROVIDERS);
    try (Providers providers = Providers.start(base.replace("http://", "ws://"), credentialsFile)) {
      JsonNode asks = providers.read().path("asks");
      Files.deleteIfExists(credentialsFile); // read by now

      long directPerS = bookAlone(node, asks);
      System.err.printf("trade-feed: the book alone takes %,d amends/s (%d in flight, no feed)%n", directPerS, PROVIDERS);

      int warmUpS = quick ? 3 : 10;
      int measureS = quick ? 5 : 20;
      // Warm up at both rates (the JIT compiles the paths each one takes) before measuring either.
      providers.drive(LOW_RATE, warmUpS);
      providers.drive(AMENDS_PER_S, warmUpS);
      Phase low = phase(providers, LOW_RATE, measureS);
      List<Phase> targets = new ArrayList<>();
      for (int i = 0; i < runs; i++) targets.add(phase(providers, AMENDS_PER_S, measureS));
      providers.quit();
      return report(quick, directPerS, measureS, low, targets, writeback);
    }
  }

  /** The {@code summarize} book alone: amends straight to the sharded entity, one in flight per ask, for 5 s. */
  private static long bookAlone(KeldNode node, JsonNode asks) throws Exception {
    AtomicLong ops = new AtomicLong();
    long until = System.nanoTime() + 5_000_000_000L;
    AtomicLong price = new AtomicLong(30_000_000);
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (JsonNode ask : asks) {
      String org = ask.get(0).asText();
      String askId = ask.get(1).asText();
      CompletableFuture<Void> loop = new CompletableFuture<>();
      loops.add(loop);
      Runnable[] step = new Runnable[1];
      step[0] = () -> {
        if (System.nanoTime() > until) {
          loop.complete(null);
          return;
        }
        node.books().submit("summarize", new BookOp.AmendAsk(askId, org, price.incrementAndGet(), null, null, null, null))
            .whenComplete((r, e) -> {
              ops.incrementAndGet();
              step[0].run();
            });
      };
      step[0].run();
    }
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    return ops.get() / 5;
  }

  record Phase(int offered, long sent, long acked, long seen, double p50, double p99, double max, double nodeCpu, double providersCpu,
      double deltasPerSubscriberPerS, long errors, long unanswered) {}

  /** Measured phases so far (names the profile of each, with KELD_BENCH_PROFILE). */
  private static int phases;

  /** One measured phase: the providers drive at {@code rate}; the node's CPU is read over the same seconds. */
  private static Phase phase(Providers providers, int rate, int seconds) throws Exception {
    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long wall0 = System.nanoTime();
    try (PhaseRecording rec = PhaseRecording.start("trade-feed-" + rate + "-per-s-" + (++phases))) {
      providers.command("drive " + rate + " " + seconds);
      providers.read(); // {"driven":true}: the sending is over
    }
    double nodeCpu = (os.getProcessCpuTime() - cpu0) / (double) (System.nanoTime() - wall0) / Runtime.getRuntime().availableProcessors();
    JsonNode r = providers.read();
    Phase ph = new Phase(rate, r.path("sent").asLong(), r.path("acked").asLong(), r.path("seen").asLong(), r.path("p50_ms").asDouble(),
        r.path("p99_ms").asDouble(), r.path("max_ms").asDouble(), nodeCpu, r.path("cpu_share").asDouble(),
        r.path("deltas_per_subscriber_per_s").asDouble(), r.path("errors").asLong(), r.path("unanswered").asLong(-1));
    System.err.printf(Locale.ROOT, "trade-feed: %,d/s offered: %,d sent, %,d acknowledged in the phase, %,d seen by all, p50 %.1f ms, p99 %.1f ms, "
        + "node CPU %.0f%%, providers CPU %.0f%%, %.1f deltas/s per subscriber, %d refused%n", rate, ph.sent(), ph.acked(), ph.seen(), ph.p50(),
        ph.p99(), ph.nodeCpu() * 100, ph.providersCpu() * 100, ph.deltasPerSubscriberPerS(), ph.errors());
    return ph;
  }

  private static BenchReport report(boolean quick, long directPerS, int measureS, Phase low, List<Phase> targets,
      KernelWriteback writebackBefore) {
    // The phase with the median p99 stands for the target rate; every phase is in the table.
    List<Phase> byP99 = targets.stream().sorted(java.util.Comparator.comparingDouble(Phase::p99)).toList();
    Phase target = byP99.get(byP99.size() / 2);
    BenchReport report = new BenchReport("trade-feed", quick)
        .figure("phases_at_target", targets.size())
        .figure("p99_ms_phases", targets.stream().map(t -> String.format(Locale.ROOT, "%.1f", t.p99()))
            .collect(java.util.stream.Collectors.joining(" / ")))
        .figure("providers", PROVIDERS)
        .figure("book_alone_amends_per_s", directPerS)
        .figure("offered_amends_per_s", AMENDS_PER_S)
        .figure("acknowledged_amends_per_s", Math.round(target.acked() / (double) measureS))
        .figure("amends_never_answered", rowsOf(low, targets).stream().mapToLong(Phase::unanswered).sum())
        .figure("amends_refused", rowsOf(low, targets).stream().mapToLong(Phase::errors).sum())
        .figure("p50_ms", round(target.p50()))
        .figure("p99_ms", round(target.p99()))
        .figure("met_p99", target.p99() <= 50.0)
        .figure("node_cpu_share", round(target.nodeCpu()))
        .figure("providers_cpu_share", round(target.providersCpu()))
        .figure("deltas_per_subscriber_per_s", round(target.deltasPerSubscriberPerS()))
        .figure("low_rate_amends_per_s", LOW_RATE)
        .figure("low_rate_p50_ms", round(low.p50()))
        .figure("low_rate_p99_ms", round(low.p99()))
        .figure("low_rate_node_cpu_share", round(low.nodeCpu()));
    KernelWriteback writebackAfter = KernelWriteback.now();
    KernelWriteback.addFigures(report, writebackBefore);
    int cores = Runtime.getRuntime().availableProcessors();
    report.line(String.format(Locale.ROOT, "One node on PostgreSQL, and %d providers in a second JVM on the same machine, each connected to the "
        + "node's WebSocket feed (the benchmark's own small client, one selector thread for all), with an ask on the `summarize` book, "
        + "and subscribed to it. Amends are sent over the "
        + "feed (open loop, round robin), each to a price no other amend uses. Latency runs from sending an amend to the delta carrying its "
        + "price reaching the last of the %d subscribers (an amend overtaken by the same provider's next one before a delta went out is "
        + "never seen, and is not counted). CPU is each JVM's share of the machine's %d cores while it sends, %d s per phase, after a "
        + "warm-up at both rates; PostgreSQL's is not counted. The target rate is measured in %d consecutive phases; its figures "
        + "are those of the phase with the median p99. \"Amends acknowledged\" counts the acks that came within the phase; after it, the "
        + "providers wait up to 30 s for the rest: \"never answered\" is what was still unanswered then, \"refused\" the amends answered with an error.", PROVIDERS, PROVIDERS, cores, measureS, targets.size()));
    report.line("");
    report.line("| offered | amends acknowledged | never answered, refused | seen by all subscribers | deltas per subscriber | p50 | p99 | max | node CPU | providers' CPU | target p99 ≤ 50 ms |");
    report.line("|---|---|---|---|---|---|---|---|---|---|---|");
    for (Phase ph : rowsOf(low, targets)) {
      report.line(String.format(Locale.ROOT, "| %,d/s | %,.0f/s | %,d, %,d | %,d | %.1f/s | %.1f ms | %.1f ms | %.1f ms | %.0f%% | %.0f%% | %s |", ph.offered(),
          ph.acked() / (double) measureS, ph.unanswered(), ph.errors(), ph.seen(), ph.deltasPerSubscriberPerS(), ph.p50(), ph.p99(), ph.max(), ph.nodeCpu() * 100,
          ph.providersCpu() * 100, ph.offered() == AMENDS_PER_S ? (ph.p99() <= 50 ? "**met**" : "**not met**") : "—"));
    }
    report.line("");
    report.line(String.format(Locale.ROOT, "The `summarize` book alone (amends submitted inside the node, %d in flight, no WebSocket or index "
        + "work per amend; the subscribers still get the deltas) takes %,d amends/s here.", PROVIDERS, directPerS));
    report.line("");
    report.line("This machine's kernel writeback threshold while it ran (what a PostgreSQL checkpoint's sync can find left to write, "
        + "OPERATIONS.md, \"PostgreSQL settings\"; the database server's when it runs on this machine): "
        + KernelWriteback.describe(writebackBefore, writebackAfter) + ".");
    return report;
  }

  private static List<Phase> rowsOf(Phase low, List<Phase> targets) {
    List<Phase> rows = new ArrayList<>(List.of(low));
    rows.addAll(targets);
    return rows;
  }

  /** The providers' JVM, driven line by line (see {@link TradeFeedProviders}). */
  private static final class Providers implements AutoCloseable {
    private final Process process;
    private final PrintStream commands;
    private final BufferedReader answers;

    private Providers(Process process) {
      this.process = process;
      this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
      this.answers = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Starts the JVM with this one's collector and common-pool settings, and a heap of its own. */
    static Providers start(String wsBase, Path credentials) throws IOException {
      List<String> cmd = new ArrayList<>();
      cmd.add(ProcessHandle.current().info().command().orElse("java"));
      for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (arg.matches("-XX:\\+Use\\w+GC") || arg.startsWith("-Djava.util.concurrent.ForkJoinPool")) cmd.add(arg);
      }
      cmd.addAll(List.of("-Xms512m", "-Xmx1g", "-cp", System.getProperty("java.class.path"), TradeFeedProviders.class.getName(), wsBase,
          credentials.toString()));
      return new Providers(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start());
    }

    void command(String line) {
      commands.println(line);
    }

    /** One answer; fails if the providers' JVM ended. */
    JsonNode read() throws IOException {
      String line = answers.readLine();
      if (line == null) throw new IOException("the providers' JVM ended (exit " + (process.isAlive() ? "?" : process.exitValue()) + ")");
      return JSON.readTree(line);
    }

    /** A warm-up: drive, and skip the figures. */
    void drive(int rate, int seconds) throws IOException {
      command("drive " + rate + " " + seconds);
      read();
      read();
    }

    void quit() throws InterruptedException {
      command("quit");
      process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
      commands.close();
      process.destroy();
    }
  }

  private static JsonNode call(HttpClient http, String base, String method, String path, String key, String body) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() >= 300) throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private TradeFeedBench() {}
}
