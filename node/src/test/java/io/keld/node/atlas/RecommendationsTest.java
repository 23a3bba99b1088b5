package io.keld.node.atlas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.auth.Principal;
import io.keld.ixp.auth.Role;
import io.keld.node.testing.DemoWorld;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Recommendations on a generated workload mix, against the demo market's live asks: the batch-like
 * workloads come first, each with its evidence, a quote and savings; the interactive ones are not
 * recommended at all.
 */
class RecommendationsTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient http = HttpClient.newHttpClient();
  private static DemoWorld world;

  /** A workload's shape: what its records look like, and when they arrive. */
  private record Shape(String service, String operation, String model, boolean streamed, boolean endUser, boolean conversation,
      boolean serverSpan, String tier, long input, long output, boolean periodic) {}

  private static final List<Shape> BATCH_LIKE = List.of(
      new Shape("nightly-enrichment", "chat", "gpt-4o", false, false, false, false, null, 40_000, 800, true),
      new Shape("doc-embedder", "embeddings", "text-embedding-3-large", false, false, false, false, null, 60_000, 0, true),
      new Shape("flex-summarizer", "chat", "gpt-4.1", false, false, false, false, "flex", 30_000, 600, false));
  private static final List<Shape> INTERACTIVE = List.of(
      new Shape("support-chat", "chat", "gpt-4o", true, true, true, true, null, 2_000, 900, false),
      new Shape("ide-assistant", "chat", "gpt-4.1", true, false, false, true, null, 6_000, 1_500, false),
      new Shape("voice-agent", "chat", "gpt-4o-mini", true, true, false, false, null, 800, 400, false));

  @BeforeAll
  static void start() throws Exception {
    world = DemoWorld.start();
    Principal admin = new Principal("key_test", world.tenancy.orgId(), Principal.OrgKind.ENTERPRISE, Role.ADMIN, null, null);
    Random random = new Random(7);
    Instant now = Instant.now().truncatedTo(ChronoUnit.HOURS);
    List<SpendIngest.Incoming> incoming = new ArrayList<>();
    int n = 0;
    for (Shape shape : concat(BATCH_LIKE, INTERACTIVE)) {
      for (int day = 1; day <= 14; day++) {
        for (int i = 0; i < 20; i++) {
          // Periodic work runs at 02:00 UTC each night; the rest arrives at any hour.
          Instant at = now.minus(day, ChronoUnit.DAYS).truncatedTo(ChronoUnit.DAYS)
              .plus(shape.periodic() ? 2 : random.nextInt(24), ChronoUnit.HOURS).plusSeconds(random.nextInt(3_000));
          UsageRecord r = new UsageRecord();
          r.orgId = world.tenancy.orgId();
          r.source = UsageRecord.Sources.OTLP;
          r.sourceEventId = "rec-" + n++;
          r.projectId = world.tenancy.projectId();
          r.periodStart = at;
          r.periodEnd = at.plusSeconds(2);
          r.provider = "openai";
          r.modelRequested = shape.model();
          r.operation = shape.operation();
          r.serviceName = shape.service();
          r.streaming = shape.streamed();
          r.hasEndUser = shape.endUser();
          r.hasConversation = shape.conversation();
          r.underServerSpan = shape.serverSpan();
          r.serviceTier = shape.tier();
          r.inputTokens = shape.input();
          r.outputTokens = shape.output();
          incoming.add(new SpendIngest.Incoming(r, Map.of("service.name", shape.service())));
        }
      }
    }
    world.node.spend().ingest().ingest(admin, incoming).toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) world.close();
  }

  @Test
  void batchLikeWorkloadsComeFirstWithEvidenceAndSavingsAndInteractiveOnesNowhere() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/atlas/v1/recommendations?from="
        + Instant.now().minus(20, ChronoUnit.DAYS) + "&to=" + Instant.now()))
        .header("Authorization", "Bearer " + world.tenancy.adminKey()).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    JsonNode list = JSON.readTree(r.body()).path("recommendations");
    List<String> services = new ArrayList<>();
    for (JsonNode rec : list) services.add(rec.path("workload").path("service_name").asText());

    Set<String> batch = new HashSet<>();
    BATCH_LIKE.forEach(s -> batch.add(s.service()));
    assertTrue(services.size() >= batch.size(), r.body());
    assertEquals(batch, new HashSet<>(services.subList(0, batch.size())), "the batch-like workloads rank first: " + services);
    for (Shape s : INTERACTIVE) assertFalse(services.contains(s.service()), s.service() + " is interactive: " + services);

    for (JsonNode rec : list) {
      if (!batch.contains(rec.path("workload").path("service_name").asText())) continue;
      assertEquals("batch", rec.path("latency_class").asText(), rec.toString());
      assertTrue(rec.path("confidence").asDouble() > 0.3, rec.toString());
      assertTrue(rec.path("evidence").size() >= 3, "evidence is shown: " + rec);
      assertTrue(rec.path("quote").has("usd_per_mtok"), "a live quote from the demo book: " + rec);
      assertTrue(rec.path("savings_micro_usd").asLong() > 0, "cheaper on the marketplace: " + rec);
      assertTrue(rec.path("current_usd_per_mtok").decimalValue().compareTo(rec.path("quote").path("usd_per_mtok").decimalValue()) > 0);
    }
    JsonNode nightly = find(list, "nightly-enrichment");
    boolean periodic = false;
    for (JsonNode e : nightly.path("evidence")) periodic |= e.path("signal").asText().equals("periodic_bursts") && e.path("contribution").asDouble() > 0;
    assertTrue(periodic, "nightly work shows as periodic: " + nightly);
    assertEquals("embed", find(list, "doc-embedder").path("use_case").asText());
  }

  private static JsonNode find(JsonNode list, String service) {
    for (JsonNode rec : list) if (rec.path("workload").path("service_name").asText().equals(service)) return rec;
    throw new AssertionError(service + " not in " + list);
  }

  private static List<Shape> concat(List<Shape> a, List<Shape> b) {
    List<Shape> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
