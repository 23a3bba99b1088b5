package io.keld.bench;

import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.node.KeldNode;
import io.keld.node.demo.DemoTenancy;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.Materializer;

/**
 * {@code bench/run edge-overhead}: the same small chat request sent straight to a simulated provider
 * and through Keld's {@code /v1/chat/completions} (the real-time path: local book replica, budget
 * lease, forward, asynchronous job and usage records), in alternating rounds. First over one
 * connection, one request at a time (added latency p50/p99: Keld's percentile less the direct one),
 * then at saturation (64 requests in flight; completed requests per second of each). The provider is
 * made as fast as it goes (no time to first token, a million tokens per second), so what is measured
 * is the HTTP hops and Keld's own work. Client, node and provider share this machine's cores.
 */
final class EdgeOverheadBench {

  static final String BODY = "{\"model\":\"bench-model\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}]}";
  static final int SATURATION_IN_FLIGHT = 64;

  static BenchReport run(boolean quick) throws Exception {
    int rounds = quick ? 4 : 10;
    int perRound = quick ? 500 : 1_000;
    int saturationSeconds = quick ? 4 : 10;
    return BenchNode.onPostgres(Files.createTempDirectory("keld-bench-edge"), node -> {
      SimulatedProvider fleet = SimulatedProvider.start(node.system(), "127.0.0.1", 0, "prv_bench", List.of("bench-model"),
          FleetSettings.healthy(4_096, 1_000_000, 0));
      try {
        node.flow().endpoint(new ProviderEndpoint("prv_bench", fleet.baseUrl(), null), new Capacity(4_096, 0));
        node.books().submit("chat", new BookOp.PostAsk(new Ask("ask_bench", "prv_bench", "bench-model", "chat", 300_000, 80, 1_000_000_000L,
            100_000, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "local", Set.of()))).toCompletableFuture().get(30, TimeUnit.SECONDS);
        DemoTenancy.Created demo = DemoTenancy.create(node.governance());
        String keld = "http://127.0.0.1:" + node.httpAddress().getPort() + "/v1/chat/completions";
        String direct = fleet.baseUrl() + "/chat/completions";
        Client client = new Client(node.system(), demo.apiKey());
        awaitReplica(client, keld);

        // One connection, one request at a time, alternating rounds.
        List<Long> viaKeld = new ArrayList<>();
        List<Long> straight = new ArrayList<>();
        client.sequential(direct, perRound / 5);
        client.sequential(keld, perRound / 5); // warm-up, not counted
        for (int r = 0; r < rounds; r++) {
          straight.addAll(client.sequential(direct, perRound));
          viaKeld.addAll(client.sequential(keld, perRound));
          System.err.printf(Locale.ROOT, "edge-overhead: round %d/%d done%n", r + 1, rounds);
        }
        double d50 = percentileMicros(straight, 50);
        double d99 = percentileMicros(straight, 99);
        double k50 = percentileMicros(viaKeld, 50);
        double k99 = percentileMicros(viaKeld, 99);

        // Saturation: alternating, twice each.
        double directRps = 0;
        double keldRps = 0;
        for (int r = 0; r < 2; r++) {
          directRps += client.saturate(direct, saturationSeconds) / 2;
          keldRps += client.saturate(keld, saturationSeconds) / 2;
        }
        long errors = client.errors.get();
        BenchReport report = new BenchReport("edge-overhead", quick)
            .figure("requests_per_side_sequential", straight.size())
            .figure("direct_p50_us", round(d50)).figure("direct_p99_us", round(d99))
            .figure("keld_p50_us", round(k50)).figure("keld_p99_us", round(k99))
            .figure("added_p50_us", round(k50 - d50)).figure("added_p99_us", round(k99 - d99))
            .figure("direct_saturation_rps", Math.round(directRps)).figure("keld_saturation_rps", Math.round(keldRps))
            .figure("in_flight_at_saturation", SATURATION_IN_FLIGHT)
            .figure("non_200_answers", errors)
            .figure("met_added_p50_250us", k50 - d50 <= 250)
            .figure("met_5000_rps", keldRps >= 5_000);
        report.line(String.format(Locale.ROOT, "One connection, one request at a time, %d alternating rounds of %d: direct p50 %.0f µs / p99 %.0f µs, "
            + "through Keld p50 %.0f µs / p99 %.0f µs; **added p50 %.0f µs, p99 %.0f µs** (target p50 ≤ 250 µs).",
            rounds, perRound, d50, d99, k50, k99, k50 - d50, k99 - d99));
        report.line(String.format(Locale.ROOT, "Saturation (%d in flight, %d s × 2 alternating): direct %.0f requests/s, **through Keld %.0f requests/s** "
            + "(target ≥ 5,000). Client, node, PostgreSQL and provider share the machine's 2 cores. Non-200 answers: %d.",
            SATURATION_IN_FLIGHT, saturationSeconds, directRps, keldRps, errors));
        return report;
      } finally {
        fleet.close();
      }
    });
  }

  /** The real-time path quotes from the node-local replica: wait until it has the bench ask. */
  private static void awaitReplica(Client client, String url) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until) {
      HttpResponse r = client.send(url).toCompletableFuture().get(10, TimeUnit.SECONDS);
      int status = r.status().intValue();
      r.discardEntityBytes(client.materializer);
      if (status == 200) return;
      Thread.sleep(100);
    }
    throw new IllegalStateException("the edge never answered 200");
  }

  private static final class Client {
    final Http http;
    final Materializer materializer;
    final ConnectionPoolSettings one;
    final ConnectionPoolSettings many;
    final ActorSystem<?> system;
    final String key;
    final AtomicLong errors = new AtomicLong();

    Client(ActorSystem<?> system, String key) {
      this.system = system;
      this.http = Http.get(system);
      this.materializer = Materializer.matFromSystem(system);
      this.one = ConnectionPoolSettings.create(system.classicSystem()).withMaxConnections(1).withMaxOpenRequests(1).withMaxRetries(0);
      this.many = ConnectionPoolSettings.create(system.classicSystem()).withMaxConnections(SATURATION_IN_FLIGHT)
          .withMaxOpenRequests(SATURATION_IN_FLIGHT * 2).withMaxRetries(0);
      this.key = key;
    }

    CompletionStage<HttpResponse> send(String url) {
      return send(url, one);
    }

    CompletionStage<HttpResponse> send(String url, ConnectionPoolSettings pool) {
      HttpRequest request = HttpRequest.POST(url).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, BODY))
          .addHeader(RawHeader.create("Authorization", "Bearer " + key));
      return http.singleRequest(request, http.defaultClientHttpsContext(), pool, system.classicSystem().log());
    }

    /** One request at a time over one connection; each one's latency, whole answer read. */
    List<Long> sequential(String url, int n) throws Exception {
      List<Long> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        long start = System.nanoTime();
        HttpResponse r = send(url).toCompletableFuture().get(10, TimeUnit.SECONDS);
        r.entity().toStrict(10_000, materializer).toCompletableFuture().get(10, TimeUnit.SECONDS);
        out.add(System.nanoTime() - start);
        if (r.status().intValue() != 200) errors.incrementAndGet();
      }
      return out;
    }

    /** Requests completed per second with {@link #SATURATION_IN_FLIGHT} always in flight. */
    double saturate(String url, int seconds) throws Exception {
      AtomicLong done = new AtomicLong();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      List<CompletableFuture<Void>> loops = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < SATURATION_IN_FLIGHT; i++) loops.add(loop(url, end, done));
      CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(seconds + 30L, TimeUnit.SECONDS);
      return done.get() / ((System.nanoTime() - start) / 1e9);
    }

    private CompletableFuture<Void> loop(String url, long end, AtomicLong done) {
      if (System.nanoTime() >= end) return CompletableFuture.completedFuture(null);
      return send(url, many).thenCompose(r -> r.entity().toStrict(10_000, materializer).thenApply(s -> {
        if (r.status().intValue() == 200) done.incrementAndGet();
        else errors.incrementAndGet();
        return s;
      })).toCompletableFuture().thenCompose(x -> loop(url, end, done));
    }
  }

  private static double percentileMicros(List<Long> nanos, double p) {
    long[] sorted = nanos.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(sorted);
    int i = (int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1);
    return sorted[Math.max(0, i)] / 1_000.0;
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private EdgeOverheadBench() {}
}
