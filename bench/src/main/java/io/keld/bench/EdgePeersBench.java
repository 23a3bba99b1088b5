package io.keld.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.keys.KeyStore;
import io.keld.atlas.tenancy.Organization;
import io.keld.exchange.ixp.JobIndex;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.node.KeldNode;
import io.keld.node.demo.DemoTenancy;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench/run edge-peers}: the same {@code POST /v1/chat/completions} (a ~1.3 KB answer) sent to
 * a mock upstream (nginx answering {@code return 200} on loopback) straight, through nginx as a plain
 * keepalive proxy, through the Portkey OSS gateway (Node.js, pinned in {@code bench/peers/portkey}),
 * and through a Keld node's real-time path (PostgreSQL, a project key, a book quote, a budget lease;
 * the mock registered as a provider through the Trade API), and through "Pekko HTTP alone" (a
 * {@link BarePekkoProxy} in the Keld node's ActorSystem: the stack used plainly, none of Keld's work).
 * The load generator is wrk, a separate
 * process: one connection (p50, p99, p99.9) and 64 connections (throughput, p99), each target in turn,
 * the order rotated every round, each warmed first. Then streaming: an SSE mock (nginx's echo module:
 * the first event at once, the rest 2 ms later), time to the first byte of the body, one connection.
 *
 * <p>Everything shares this machine's cores: absolute figures move with the machine's load; the
 * ratios between targets of one run are what to compare. {@code bench/peers/install} (run by
 * {@code bench/run}) installs nginx, its echo module, wrk and the gateway; a peer that does not
 * start fails the run with its log.
 */
final class EdgePeersBench {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MODEL = "bench-model";
  private static final String STREAM_MODEL = "bench-stream";
  static final String REQUEST = "{\"model\":\"" + MODEL + "\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}]}";
  static final String STREAM_REQUEST = "{\"model\":\"" + STREAM_MODEL + "\",\"max_tokens\":16,\"stream\":true,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}]}";
  static final int CONNECTIONS = 64;
  /** Each target is warmed with at least this many requests (C2 compiles a method after ~10,000 calls), for at most WARM_UP_MAX_SECONDS. */
  static final int WARM_UP_REQUESTS = 30_000;
  static final int WARM_UP_MAX_SECONDS = 90;
  private static final List<String> ALL_TARGETS = List.of("direct", "nginx", "portkey", "pekko", "keld");

  /** One way to reach the mock: where to send the chat request and the streamed one, with the headers each needs. */
  record Target(String name, String url, Map<String, String> headers, String streamUrl, Map<String, String> streamHeaders) {
    Target(String name, String url, String streamUrl, Map<String, String> headers) {
      this(name, url, headers, streamUrl, headers);
    }
  }

  /** What one target measured over all rounds. */
  static final class Figures {
    final Histogram oneConnection = new Histogram();
    final Histogram loaded = new Histogram();
    final Histogram ttfb = new Histogram();
    long loadedRequests;
    double loadedSeconds;
    long non2xx;
    long socketErrors;
    long streamsWithoutDone;
    /** This JVM's CPU and voluntary context switches per request, one connection and 64 (meaningful for Keld, which runs in it). */
    long oneConnectionRequests;
    double oneConnectionSwitches;
    double loadedCpuMicros;
    double loadedCpuMicrosWithoutJit;
    double loadedSwitches;
    /** PostgreSQL's CPU and WAL over the loaded phases (null figures where it could not be read). */
    double loadedPostgresCpuMicros;
    double loadedWalBytes;
    long loadedPostgresRequests;

    double rps() {
      return loadedSeconds == 0 ? 0 : loadedRequests / loadedSeconds;
    }
  }

  static BenchReport run(boolean quick) throws Exception {
    Path peersDir = Path.of(System.getProperty("keld.bench.peers", "bench/peers")).toAbsolutePath();
    Path work = Files.createTempDirectory("keld-bench-edge-peers");
    int rounds = quick ? 1 : 3;
    int latencySeconds = quick ? 3 : 8;
    int loadSeconds = quick ? 3 : 8;
    int warmSeconds = 5;
    int streamsPerRound = quick ? 300 : 1_000;

    // KELD_BENCH_TARGETS=direct,keld: a partial run, for working on one target (printed, not recorded).
    List<String> only = System.getenv("KELD_BENCH_TARGETS") == null ? ALL_TARGETS
        : List.of(System.getenv("KELD_BENCH_TARGETS").split(","));
    Peers peers = new Peers(work, peersDir);
    try {
      Peers.Mock mock = peers.startMock();
      Target direct = new Target("direct", mock.url(), mock.streamUrl(), Map.of());
      Target nginx = only.contains("nginx") ? peers.startNginxProxy(mock) : null;
      Target portkey = only.contains("portkey") ? peers.startPortkey(mock) : null;
      return BenchNode.onPostgres(work.resolve("keld"), node -> {
        KeldSetup keld = KeldSetup.register(node, mock);
        List<Target> targets = new ArrayList<>(List.of(direct, keld.target()));
        if (nginx != null) targets.add(1, nginx);
        if (portkey != null) targets.add(targets.size() - 1, portkey);
        BarePekkoProxy bare = only.contains("pekko") ? BarePekkoProxy.start(node.system(), mock) : null;
        if (bare != null) targets.add(targets.size() - 1, new Target("pekko", bare.url(), bare.streamUrl(), Map.of()));
        try {
          return measure(quick, targets, keld, work, rounds, latencySeconds, loadSeconds, warmSeconds, streamsPerRound);
        } finally {
          if (bare != null) bare.close();
        }
      });
    } finally {
      peers.close();
    }
  }

  private static BenchReport measure(boolean quick, List<Target> targets, KeldSetup keld, Path work, int rounds, int latencySeconds,
      int loadSeconds, int warmSeconds, int streamsPerRound) throws Exception {
    Map<String, Figures> figures = new LinkedHashMap<>();
    targets.forEach(t -> figures.put(t.name(), new Figures()));
    Wrk wrk = new Wrk(work);

    for (Target t : targets) {
      // Warm until the JIT has seen enough requests, however slow a busy machine makes them.
      long warmed = 0;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(WARM_UP_MAX_SECONDS);
      while (warmed < WARM_UP_REQUESTS && System.nanoTime() < until) {
        Wrk.Run warm = wrk.run(t, 2, CONNECTIONS, warmSeconds);
        if (warm.non2xx() > 0 || warm.requests() == 0) {
          throw new IllegalStateException(t.name() + " answered " + warm.non2xx() + " non-2xx of " + warm.requests() + " while warming");
        }
        warmed += warm.requests();
      }
      log("warmed %s: %d requests at %d connections", t.name(), warmed, CONNECTIONS);
    }
    for (int r = 0; r < rounds; r++) {
      for (Target t : rotated(targets, r)) {
        Wrk.Run one;
        ProcessCounters before = ProcessCounters.now();
        try (PhaseRecording rec = PhaseRecording.start(t.name() + "-1-connection-round-" + (r + 1))) {
          one = wrk.run(t, 1, 1, latencySeconds);
        }
        ProcessCounters after = ProcessCounters.now();
        Figures f = figures.get(t.name());
        f.oneConnectionSwitches += after.voluntarySwitchesPerRequest(before, one.requests()) * one.requests();
        f.oneConnectionRequests += one.requests();
        f.oneConnection.add(one.latency());
        f.non2xx += one.non2xx();
        f.socketErrors += one.socketErrors();
        log("round %d/%d, 1 connection, %s: p50 %d µs, p99 %d µs (%d requests); this JVM: %.1f context switches a request", r + 1, rounds,
            t.name(), one.latency().percentile(50), one.latency().percentile(99), one.requests(),
            after.voluntarySwitchesPerRequest(before, one.requests()));
      }
      for (Target t : rotated(targets, r + 1)) {
        Wrk.Run many;
        PostgresCounters dbBefore = BenchNode.postgresCounters();
        ProcessCounters before = ProcessCounters.now();
        try (PhaseRecording rec = PhaseRecording.start(t.name() + "-" + CONNECTIONS + "-connections-round-" + (r + 1))) {
          many = wrk.run(t, 2, CONNECTIONS, loadSeconds);
        }
        ProcessCounters after = ProcessCounters.now();
        // Keld writes a phase's usage in batches after it: wait until none waits, and a flush interval more
        // for the batch under way (a batch slower than that counts in part towards the next phase).
        keld.awaitUsageWritten(Duration.ofSeconds(10));
        Thread.sleep(JobIndex.FLUSH_INTERVAL.toMillis());
        PostgresCounters dbAfter = BenchNode.postgresCounters();
        Figures f = figures.get(t.name());
        if (dbBefore != null && dbAfter != null) {
          f.loadedPostgresCpuMicros += dbAfter.cpuMicrosPerRequest(dbBefore, many.requests()) * many.requests();
          f.loadedWalBytes += dbAfter.walBytesPerRequest(dbBefore, many.requests()) * many.requests();
          f.loadedPostgresRequests += many.requests();
        }
        f.loadedCpuMicros += after.cpuMicrosPerRequest(before, many.requests()) * many.requests();
        f.loadedCpuMicrosWithoutJit += after.cpuMicrosPerRequestWithoutJit(before, many.requests()) * many.requests();
        f.loadedSwitches += after.voluntarySwitchesPerRequest(before, many.requests()) * many.requests();
        f.loaded.add(many.latency());
        f.loadedRequests += many.requests();
        f.loadedSeconds += many.seconds();
        f.non2xx += many.non2xx();
        f.socketErrors += many.socketErrors();
        log("round %d/%d, %d connections, %s: %.0f requests/s, p99 %d µs; this JVM: %.0f µs CPU (%.0f without the JIT) and %.1f context switches a request; "
                + "PostgreSQL: %.0f µs CPU and %.0f bytes of WAL a request",
            r + 1, rounds, CONNECTIONS, t.name(), many.requests() / many.seconds(), many.latency().percentile(99),
            after.cpuMicrosPerRequest(before, many.requests()), after.cpuMicrosPerRequestWithoutJit(before, many.requests()),
            after.voluntarySwitchesPerRequest(before, many.requests()),
            dbBefore == null || dbAfter == null ? Double.NaN : dbAfter.cpuMicrosPerRequest(dbBefore, many.requests()),
            dbBefore == null || dbAfter == null ? Double.NaN : dbAfter.walBytesPerRequest(dbBefore, many.requests()));
      }
      for (Target t : rotated(targets, r + 2)) {
        StreamClient.Result s = StreamClient.timeToFirstByte(t, STREAM_REQUEST, r == 0 ? streamsPerRound / 5 : 0, streamsPerRound);
        Figures f = figures.get(t.name());
        f.ttfb.add(s.ttfb());
        f.non2xx += s.non2xx();
        f.streamsWithoutDone += s.withoutDone();
        log("round %d/%d, streaming, %s: time to first byte p50 %d µs (%d streams)", r + 1, rounds, t.name(), s.ttfb().percentile(50),
            s.ttfb().count());
      }
    }
    KeldSetup.Balance balance = keld.balance();
    return report(quick, targets, figures, balance, rounds, latencySeconds, loadSeconds, streamsPerRound);
  }

  private static List<Target> rotated(List<Target> targets, int by) {
    List<Target> out = new ArrayList<>(targets.size());
    for (int i = 0; i < targets.size(); i++) out.add(targets.get((i + by) % targets.size()));
    return out;
  }

  private static BenchReport report(boolean quick, List<Target> targets, Map<String, Figures> figures, KeldSetup.Balance balance,
      int rounds, int latencySeconds, int loadSeconds, int streams) {
    Figures direct = figures.get("direct");
    Figures keld = figures.get("keld");
    BenchReport report = new BenchReport("edge-peers", quick);
    boolean partial = !figures.containsKey("nginx") || !figures.containsKey("portkey");
    Figures nginx = figures.getOrDefault("nginx", new Figures());
    Figures portkey = figures.getOrDefault("portkey", new Figures());
    if (partial) report.draft();
    StringBuilder table = new StringBuilder();
    table.append("| path | p50 | p99 | p99.9 | added p50 | added p99 | req/s at 64 conn. | p99 at 64 conn. | stream TTFB p50 | TTFB p99 | non-2xx |\n");
    table.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
    long non2xx = 0;
    StringBuilder notes = new StringBuilder();
    for (Target t : targets) {
      Figures f = figures.get(t.name());
      Histogram one = f.oneConnection;
      boolean isDirect = f == direct;
      table.append(String.format(Locale.ROOT, "| %s | %d µs | %d µs | %d µs | %s | %s | %,.0f | %,d µs | %d µs | %d µs | %d |\n",
          label(t.name()), one.percentile(50), one.percentile(99), one.percentile(99.9),
          isDirect ? "—" : "+" + (one.percentile(50) - direct.oneConnection.percentile(50)) + " µs",
          isDirect ? "—" : "+" + (one.percentile(99) - direct.oneConnection.percentile(99)) + " µs",
          f.rps(), f.loaded.percentile(99), f.ttfb.percentile(50), f.ttfb.percentile(99), f.non2xx + f.socketErrors));
      String k = t.name();
      report.figure(k + "_p50_us", one.percentile(50)).figure(k + "_p99_us", one.percentile(99)).figure(k + "_p999_us", one.percentile(99.9))
          .figure(k + "_rps_64", Math.round(f.rps())).figure(k + "_p99_64_us", f.loaded.percentile(99))
          .figure(k + "_ttfb_p50_us", f.ttfb.percentile(50)).figure(k + "_ttfb_p99_us", f.ttfb.percentile(99))
          .figure(k + "_non_2xx", f.non2xx + f.socketErrors).figure(k + "_streams_without_done", f.streamsWithoutDone);
      if (f.streamsWithoutDone > 0) {
        notes.append(String.format(Locale.ROOT, " %s: %d streams (2xx) ended without `data: [DONE]`.", label(t.name()), f.streamsWithoutDone));
      }
      non2xx += f.non2xx + f.socketErrors;
    }
    long keldAddedP50 = keld.oneConnection.percentile(50) - direct.oneConnection.percentile(50);
    long nginxAddedP50 = nginx.oneConnection.percentile(50) - direct.oneConnection.percentile(50);
    long portkeyAddedP50 = portkey.oneConnection.percentile(50) - direct.oneConnection.percentile(50);
    double p99VsNginx = (double) keld.oneConnection.percentile(99) / nginx.oneConnection.percentile(99);
    double rpsVsNginx = keld.rps() / nginx.rps();
    double rpsVsPortkey = keld.rps() / portkey.rps();
    long ttfbAdded = keld.ttfb.percentile(50) - direct.ttfb.percentile(50);
    report.figure("keld_added_p50_us", keldAddedP50).figure("nginx_added_p50_us", nginxAddedP50).figure("portkey_added_p50_us", portkeyAddedP50)
        .figure("keld_over_nginx_p99", round2(p99VsNginx))
        .figure("keld_over_nginx_rps", round2(rpsVsNginx)).figure("keld_over_portkey_rps", round2(rpsVsPortkey))
        .figure("keld_ttfb_added_p50_us", ttfbAdded)
        .figure("keld_cpu_us_per_request_64", Math.round(keld.loadedCpuMicros / Math.max(1, keld.loadedRequests)))
        .figure("keld_cpu_us_per_request_64_without_jit", Math.round(keld.loadedCpuMicrosWithoutJit / Math.max(1, keld.loadedRequests)))
        .figure("keld_switches_per_request_1", round2(keld.oneConnectionSwitches / Math.max(1, keld.oneConnectionRequests)))
        .figure("keld_switches_per_request_64", round2(keld.loadedSwitches / Math.max(1, keld.loadedRequests)))
        .figure("keld_budget_spent_micro_usd", balance.spentMicroUsd()).figure("keld_usage_cost_micro_usd", balance.usageMicroUsd())
        .figure("keld_usage_records", balance.records())
        .figure("keld_usage_waiting_at_end", balance.waitingAtEnd()).figure("keld_usage_drain_seconds", balance.drainSeconds())
        .figure("met_added_p50_100us", keldAddedP50 <= 100)
        .figure("met_p99_within_2x_nginx", p99VsNginx <= 2.0)
        .figure("met_rps_10x_portkey", rpsVsPortkey >= 10).figure("met_rps_half_nginx", rpsVsNginx >= 0.5)
        .figure("met_ttfb_within_1ms", ttfbAdded <= 1_000)
        .figure("met_no_non_2xx", non2xx == 0).figure("met_budget_balances", balance.balances());
    report.line("The same `POST /v1/chat/completions` (a " + Peers.Mock.BODY.length() + "-byte answer) to a mock upstream (nginx `return 200` on loopback); "
        + "wrk " + rounds + " round(s), the targets' order rotated each round, each warmed first (" + WARM_UP_REQUESTS + " requests or " + WARM_UP_MAX_SECONDS + " s at 64 connections): one connection (`-t1 -c1`, " + latencySeconds
        + " s a round), then " + CONNECTIONS + " connections (`-t2 -c64`, " + loadSeconds + " s a round); then " + streams
        + " streams a round on one connection to an SSE mock (first event at once, the rest 2 ms later), time to the body's first byte. "
        + "Keld: the real-time path on PostgreSQL (project key, book quote, budget lease, usage recorded), the mock registered through the "
        + "Trade API. Load generator, peers, Keld and PostgreSQL share the machine's cores.");
    report.line("");
    report.line(table.toString());
    report.line(String.format(Locale.ROOT, "Keld against its peers in this run: **added p50 %+d µs** (nginx %+d µs, Portkey %+d µs; target ≤ 100 µs); "
            + "**p99 %.2f× nginx's** (target ≤ 2×); **throughput %.2f× nginx's, %.1f× Portkey's** (targets ≥ 0.5× and ≥ 10×); "
            + "stream time to first byte %+d µs over direct at p50 (target ≤ 1 ms). Non-2xx answers or socket errors: %d.%s",
        keldAddedP50, nginxAddedP50, portkeyAddedP50, p99VsNginx, rpsVsNginx, rpsVsPortkey, ttfbAdded, non2xx, notes));
    Figures pekko = figures.get("pekko");
    if (pekko != null) {
      long pekkoAddedP50 = pekko.oneConnection.percentile(50) - direct.oneConnection.percentile(50);
      report.figure("pekko_added_p50_us", pekkoAddedP50)
          .figure("pekko_over_nginx_rps", round2(pekko.rps() / nginx.rps()))
          .figure("pekko_cpu_us_per_request_64", Math.round(pekko.loadedCpuMicros / Math.max(1, pekko.loadedRequests)))
          .figure("pekko_cpu_us_per_request_64_without_jit", Math.round(pekko.loadedCpuMicrosWithoutJit / Math.max(1, pekko.loadedRequests)))
          .figure("pekko_switches_per_request_1", round2(pekko.oneConnectionSwitches / Math.max(1, pekko.oneConnectionRequests)))
          .figure("pekko_switches_per_request_64", round2(pekko.loadedSwitches / Math.max(1, pekko.loadedRequests)));
      report.line(String.format(Locale.ROOT, "A plain Pekko HTTP proxy (\"Pekko HTTP alone\": Pekko HTTP's server handing each request as it came to "
              + "its pooled client, in the Keld node's JVM and ActorSystem, none of Keld's work): added p50 %+d µs, %,.0f requests/s "
              + "(%.2f× nginx's), %.0f µs of CPU a request at %d connections (%.0f without the JIT), %.1f context switches a request at one "
              + "connection. Keld's own work (key, quote, budget lease, usage record, routing) adds %+d µs of p50 and %+.0f µs "
              + "of CPU a request over it.",
          pekkoAddedP50, pekko.rps(), pekko.rps() / nginx.rps(), pekko.loadedCpuMicros / Math.max(1, pekko.loadedRequests), CONNECTIONS,
          pekko.loadedCpuMicrosWithoutJit / Math.max(1, pekko.loadedRequests), pekko.oneConnectionSwitches / Math.max(1, pekko.oneConnectionRequests),
          keld.oneConnection.percentile(50) - pekko.oneConnection.percentile(50),
          keld.loadedCpuMicros / Math.max(1, keld.loadedRequests) - pekko.loadedCpuMicros / Math.max(1, pekko.loadedRequests)));
    }
    report.line(String.format(Locale.ROOT, "Keld's JVM (node only; wrk, peers and PostgreSQL are other processes): %.0f µs of CPU a request at %d "
            + "connections (%.0f µs without the JIT compiler's threads); %.1f voluntary context switches (thread hand-offs and waits) a request at one connection, %.1f at %d. These "
            + "hardly move with the machine's load, unlike the latencies.",
        keld.loadedCpuMicros / Math.max(1, keld.loadedRequests), CONNECTIONS, keld.loadedCpuMicrosWithoutJit / Math.max(1, keld.loadedRequests),
        keld.oneConnectionSwitches / Math.max(1, keld.oneConnectionRequests),
        keld.loadedSwitches / Math.max(1, keld.loadedRequests), CONNECTIONS));
    if (keld.loadedPostgresRequests > 0) {
      report.figure("keld_postgres_cpu_us_per_request_64", Math.round(keld.loadedPostgresCpuMicros / keld.loadedPostgresRequests))
          .figure("keld_wal_bytes_per_request_64", Math.round(keld.loadedWalBytes / keld.loadedPostgresRequests));
      report.line(String.format(Locale.ROOT, "PostgreSQL, on the same cores, for Keld's requests at %d connections (the whole server's CPU and WAL, "
              + "from just before each phase until its usage was written): %.0f µs of CPU and %,.0f bytes of WAL a request.",
          CONNECTIONS, keld.loadedPostgresCpuMicros / keld.loadedPostgresRequests, keld.loadedWalBytes / keld.loadedPostgresRequests));
    }
    report.line(String.format(Locale.ROOT, "Budget check after the run (leases settled, no usage record waiting: %,d waited when the last "
            + "request ended, written %d s later): the project's budget shows %,d micro-USD spent; its %,d usage records sum to %,d micro-USD: %s.",
        balance.waitingAtEnd(), balance.drainSeconds(), balance.spentMicroUsd(), balance.records(), balance.usageMicroUsd(),
        balance.balances() ? "**they balance exactly**" : "**they do not balance**"));
    return report;
  }

  private static String label(String name) {
    return switch (name) {
      case "direct" -> "straight to the mock";
      case "nginx" -> "nginx `proxy_pass` (keepalive upstream)";
      case "portkey" -> "Portkey OSS gateway " + Peers.PORTKEY_VERSION;
      case "pekko" -> "Pekko HTTP alone (server to pooled client, in Keld's JVM)";
      case "keld" -> "Keld `/v1` real-time path";
      default -> name;
    };
  }

  private static double round2(double v) {
    return Math.round(v * 100) / 100.0;
  }

  static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "edge-peers: " + format + "%n", args);
  }

  /**
   * The Keld side: a provider organization registers the mock (and the SSE mock) through the Trade
   * API as its endpoints, serving a model each on the chat book; the demo enterprise's project key
   * calls the edge. After the run, {@link #balance} compares the project's budget with its usage.
   */
  record KeldSetup(KeldNode node, String baseUrl, DemoTenancy.Created enterprise) {

    static KeldSetup register(KeldNode node, Peers.Mock mock) throws Exception {
      String base = "http://127.0.0.1:" + node.httpAddress().getPort();
      Organization org = node.governance().tenancy().createOrganization("Bench Provider", OrgKind.PROVIDER).toCompletableFuture()
          .get(30, TimeUnit.SECONDS);
      KeyStore.IssuedKey providerKey = node.governance().keys().issue(org.id(), null, null, Role.PROVIDER, "bench", "bench")
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      Api trade = new Api(base, providerKey.secret());
      String endpoint = trade.send("POST", "/trade/v1/endpoints", "{\"name\":\"mock\",\"base_url\":\"" + mock.baseUrl() + "\"}").get("id").asText();
      String streamEndpoint = trade.send("POST", "/trade/v1/endpoints", "{\"name\":\"sse-mock\",\"base_url\":\"" + mock.streamBaseUrl() + "\"}")
          .get("id").asText();
      trade.send("PUT", "/trade/v1/models/" + MODEL, "{\"use_cases\":[\"chat\"],\"endpoint_id\":\"" + endpoint + "\"}");
      trade.send("PUT", "/trade/v1/models/" + STREAM_MODEL, "{\"use_cases\":[\"chat\"],\"endpoint_id\":\"" + streamEndpoint + "\"}");
      for (String model : List.of(MODEL, STREAM_MODEL)) {
        trade.send("POST", "/trade/v1/asks", "{\"model\":\"" + model + "\",\"use_case\":\"chat\",\"price_per_mtok\":300000,\"quality\":80,"
            + "\"throughput_tps\":1000000000,\"max_concurrency\":100000}");
      }
      DemoTenancy.Created enterprise = DemoTenancy.create(node.governance());
      KeldSetup setup = new KeldSetup(node, base, enterprise);
      setup.awaitQuotes();
      return setup;
    }

    Target target() {
      return new Target("keld", baseUrl + "/v1/chat/completions", baseUrl + "/v1/chat/completions",
          Map.of("Authorization", "Bearer " + enterprise.apiKey()));
    }

    /** The real-time path quotes from the node-local replica of the book: wait until it has both asks. */
    private void awaitQuotes() throws Exception {
      HttpClient http = HttpClient.newHttpClient();
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      String last = "";
      while (System.nanoTime() < until) {
        int ok = 0;
        for (String body : List.of(REQUEST, STREAM_REQUEST)) {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(baseUrl + "/v1/chat/completions"))
              .header("Authorization", "Bearer " + enterprise.apiKey()).header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() == 200) ok++;
          else last = r.statusCode() + " " + r.body();
        }
        if (ok == 2) return;
        Thread.sleep(200);
      }
      throw new IllegalStateException("Keld's edge never answered 200 for the mock's models: " + last);
    }

    /**
     * {@code waitingAtEnd}: usage records the node still had to write when the last request ended;
     * {@code drainSeconds}: how long after that until none waited (the budget's charge is immediate,
     * the usage record is a background batch write that a starved database or CPU delays).
     */
    record Balance(long spentMicroUsd, long usageMicroUsd, long records, long waitingAtEnd, long drainSeconds) {
      boolean balances() {
        return spentMicroUsd == usageMicroUsd;
      }
    }

    /**
     * Waits until the real-time path's budget leases are settled (a lease is settled once idle for
     * {@code keld.edge.lease-max-age}) and no usage record waits to be written, then reads both sides.
     * A usage record is written in the background; while the two cores are saturated by the other
     * targets its batches can fall minutes behind (seen: 15,000 records waiting after a run), so
     * the wait is long, and how long it took is reported.
     */
    Balance balance() throws Exception {
      Api atlas = new Api(baseUrl, enterprise.adminKey());
      long start = System.nanoTime();
      long until = start + TimeUnit.MINUTES.toNanos(10);
      long waitingAtEnd = (long) waiting();
      Balance b = null;
      while (System.nanoTime() < until) {
        JsonNode budget = atlas.send("GET", "/atlas/v1/projects/" + enterprise.projectId() + "/budget", null);
        long reserved = budget.path("reserved_micro_usd").asLong(-1);
        long spent = budget.path("spent_micro_usd").asLong(-1);
        double waiting = waiting();
        long[] usage = usage();
        long drained = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        b = new Balance(spent, usage[0], usage[1], waitingAtEnd, drained);
        if (reserved == 0 && waiting == 0) return b;
        log("budget check: %,d micro-USD reserved, %,d spent; usage %,d micro-USD in %,d records, %,.0f records waiting to be written",
            reserved, spent, usage[0], usage[1], waiting);
        Thread.sleep(2_000);
      }
      return b;
    }

    /** Waits until no usage record waits for its batch, or {@code atMost}. */
    void awaitUsageWritten(Duration atMost) throws InterruptedException {
      long until = System.nanoTime() + atMost.toNanos();
      while (waiting() > 0 && System.nanoTime() < until) Thread.sleep(10);
    }

    private double waiting() {
      var gauge = node.metrics().registry().find("keld.edge.usage.records.waiting").gauge();
      return gauge == null ? -1 : gauge.value();
    }

    private long[] usage() throws Exception {
      try (Connection c = node.database().dataSource().getConnection();
          PreparedStatement ps = c.prepareStatement("SELECT coalesce(sum(cost_micro_usd), 0), count(*) FROM usage_records WHERE project_id = ? AND source = 'keld'")) {
        ps.setString(1, enterprise.projectId());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return new long[] {rs.getLong(1), rs.getLong(2)};
        }
      }
    }
  }

  /** A JSON API call with a key; a non-2xx answer fails the run with its body. */
  record Api(String baseUrl, String key) {
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    JsonNode send(String method, String path, String body) throws IOException, InterruptedException {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path)).header("Authorization", "Bearer " + key)
          .timeout(Duration.ofSeconds(30));
      if (body != null) b.header("Content-Type", "application/json");
      b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      if (r.statusCode() / 100 != 2) throw new IllegalStateException(method + " " + path + " answered " + r.statusCode() + ": " + r.body());
      return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    }
  }

  private EdgePeersBench() {}
}
