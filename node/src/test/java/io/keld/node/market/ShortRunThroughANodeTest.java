package io.keld.node.market;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.node.KeldNode;
import io.keld.node.cli.MarketCommand;
import io.keld.node.demo.DemoTenancy;
import io.keld.node.testing.TestNodes;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import io.keld.sim.market.JobRules;
import io.keld.sim.market.ListedModel;
import io.keld.sim.market.MarketSettings;
import io.keld.sim.market.PriceBookModels;
import io.keld.sim.market.ShortRun;
import io.keld.testkit.TestDatabase;
import java.io.Reader;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The simulation is honest: a short stretch of a seed's day ({@link ShortRun}: the opening summarize
 * book and the seed's first report-generation jobs, shrunk to seconds) runs on the book core in
 * simulated time, and the same plan runs through a real node: asks on its sharded books, a simulated
 * fleet over HTTP behind each (registered with Flow, one slot at the ask's rate), deadline jobs
 * submitted over IXP at the plan's moments with their items streamed, backups where the buyer keeps
 * one. Stated tolerance: at least 75% of the jobs clear at the same price (or both go to the backup),
 * and the deadline hit rates differ by at most 10 points. (Real time is not simulated time: a fleet
 * finishes a little earlier or later than its ask's schedule, which moves a few later jobs.)
 */
class ShortRunThroughANodeTest {

  static final int JOBS = 24;
  static final long SPAN_MILLIS = 15_000;
  static final String BACKUP = "prv_shortrun_backup";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void theNodeAgreesWithTheSimulatedCoreOnClearingPricesAndTheHitRate() throws Exception {
    List<ListedModel> models;
    try (Reader csv = Files.newBufferedReader(Path.of("../config/price-book.csv"))) {
      models = PriceBookModels.read(csv);
    }
    ShortRun.Plan plan = ShortRun.draw(MarketSettings.of(42, 30), models, JOBS, SPAN_MILLIS);
    JobRules rules = MarketCommand.Simulate.rules();
    Map<String, ShortRun.Cleared> simulated = new LinkedHashMap<>();
    for (ShortRun.Cleared c : ShortRun.simulate(plan, rules)) simulated.put(c.jobId(), c);

    List<SimulatedProvider> fleets = new ArrayList<>();
    try (TestDatabase db = TestDatabase.h2(Files.createTempDirectory("keld-short-run"))) {
      KeldNode node = TestNodes.startReady(TestNodes.config(db, null));
      try {
        DemoTenancy.Created tenancy = DemoTenancy.create(node.governance());
        String base = "http://127.0.0.1:" + node.httpAddress().getPort();
        for (ShortRun.Offer o : plan.offers()) {
          SimulatedProvider fleet = SimulatedProvider.start(node.system(), "127.0.0.1", 0, o.providerId(), List.of(o.model()),
              FleetSettings.healthy(1, o.throughputTps(), 0));
          fleets.add(fleet);
          node.flow().endpoint(new ProviderEndpoint(o.providerId(), fleet.baseUrl(), null), new Capacity(1, 0));
          BookResult posted = node.books().submit(ShortRun.USE_CASE, new BookOp.PostAsk(new Ask(o.askId(), o.providerId(), o.model(),
              ShortRun.USE_CASE, o.pricePerMtok(), o.quality(), o.throughputTps(), 8, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "any", Set.of())))
              .toCompletableFuture().get(10, TimeUnit.SECONDS);
          assertInstanceOf(BookResult.Accepted.class, posted);
        }
        SimulatedProvider backup = SimulatedProvider.start(node.system(), "127.0.0.1", 0, BACKUP, List.of("backup-model"),
            FleetSettings.healthy(64, plan.backupTps(), 0));
        fleets.add(backup);
        node.flow().endpoint(new ProviderEndpoint(BACKUP, backup.baseUrl(), null), new Capacity(64, 0));

        // Each job at its moment: submitted, then its one item streamed (the upload waits for the match).
        Map<String, String> jobIds = new LinkedHashMap<>();
        List<CompletableFuture<HttpResponse<String>>> uploads = new ArrayList<>();
        long start = System.nanoTime();
        for (ShortRun.Order o : plan.orders()) {
          long wait = o.arrivalOffsetMillis() - (System.nanoTime() - start) / 1_000_000;
          if (wait > 0) Thread.sleep(wait);
          JsonNode job = post(base, tenancy.apiKey(), "/ixp/v1/jobs", submission(o, plan));
          String id = job.path("id").asText();
          assertFalse(id.isEmpty(), job.toString());
          jobIds.put(o.jobId(), id);
          String item = "{\"custom_id\":\"" + o.jobId() + "\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"Summarize report "
              + o.jobId() + "\"}],\"max_tokens\":" + Math.max(1, o.tokens() - 8) + "}}\n";
          uploads.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/ixp/v1/jobs/" + id + "/items")).timeout(Duration.ofSeconds(150))
              .header("Authorization", "Bearer " + tenancy.apiKey()).header("Content-Type", "application/x-ndjson")
              .POST(HttpRequest.BodyPublishers.ofString(item)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        CompletableFuture.allOf(uploads.toArray(CompletableFuture[]::new)).exceptionally(e -> null).get(180, TimeUnit.SECONDS);

        int samePrice = 0;
        int onTimeNode = 0;
        int onTimeSim = 0;
        StringBuilder table = new StringBuilder();
        for (ShortRun.Order o : plan.orders()) {
          JsonNode job = settled(base, tenancy.apiKey(), jobIds.get(o.jobId()));
          JsonNode first = job.path("legs").path(0);
          long nodePrice = first.path("kind").asText().equals("fill") ? new BigDecimal(first.path("price_usd_per_mtok").asText()).movePointRight(6).longValue() : 0;
          boolean nodeOnTime = job.path("state").asText().equals("completed") && completedAt(job).compareTo(Instant.parse(job.path("deadline").asText())) <= 0;
          ShortRun.Cleared sim = simulated.get(o.jobId());
          if (sim.pricePerMtok() == nodePrice) samePrice++;
          if (nodeOnTime) onTimeNode++;
          if (sim.onTime()) onTimeSim++;
          table.append(String.format(Locale.ROOT, "%s  simulated %8d %-5s  node %8d %-5s %s%n", o.jobId(), sim.pricePerMtok(), sim.onTime(), nodePrice,
              nodeOnTime, job.path("state").asText()));
        }
        System.out.printf("Short run of seed 42 (%d jobs, %d asks): same clearing price %d/%d, on time simulated %d, node %d%n%s", JOBS,
            plan.offers().size(), samePrice, JOBS, onTimeSim, onTimeNode, table);
        assertTrue(samePrice >= Math.ceil(0.75 * JOBS), "at least 75% clear at the same price:\n" + table);
        assertTrue(Math.abs(onTimeNode - onTimeSim) <= 0.10 * JOBS, "hit rates within 10 points:\n" + table);
      } finally {
        // The fleets serve on the node's actor system: closed before it ends.
        for (SimulatedProvider f : fleets) f.close();
        node.stop();
        node.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    }
  }

  private static String submission(ShortRun.Order o, ShortRun.Plan plan) {
    ObjectNode s = JSON.createObjectNode().put("use_case", ShortRun.USE_CASE).put("deadline", Duration.ofMillis(o.leadMillis()).toString())
        .put("ceiling_usd_per_mtok", BigDecimal.valueOf(o.ceilingPerMtok(), 6)).put("estimated_tokens", o.tokens()).put("min_quality", o.minQuality());
    if (!o.models().isEmpty()) o.models().forEach(s.putArray("models")::add);
    if (o.backupPricePerMtok() > 0) {
      s.putObject("backup").put("provider_id", BACKUP).put("model", "backup-model")
          .put("price_usd_per_mtok", BigDecimal.valueOf(o.backupPricePerMtok(), 6)).put("throughput_tps", plan.backupTps());
    }
    return s.toString();
  }

  private static Instant completedAt(JsonNode job) {
    for (JsonNode t : job.path("timeline")) if (t.path("state").asText().equals("completed")) return Instant.parse(t.path("at").asText());
    return Instant.MAX;
  }

  /** The job once it has ended (settled or terminal), read again until then. */
  private static JsonNode settled(String base, String key, String id) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    JsonNode job;
    do {
      job = get(base, key, "/ixp/v1/jobs/" + id);
      String state = job.path("state").asText();
      if (state.equals("completed") || state.equals("deadline_missed") || state.equals("failed") || state.equals("cancelled")) return job;
      Thread.sleep(200);
    } while (System.nanoTime() < until);
    return job;
  }

  private static JsonNode post(String base, String key, String path, String body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(r.statusCode() / 100 == 2, path + " answered " + r.statusCode() + ": " + r.body());
    return JSON.readTree(r.body());
  }

  private static JsonNode get(String base, String key, String path) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(r.body());
  }
}
