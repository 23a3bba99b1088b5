package io.keld.node.edge;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.testkit.DatabaseScan;
import io.keld.node.testing.DemoWorld;
import io.keld.sim.FleetSettings;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import java.util.stream.Stream;

/**
 * IXP end to end on a running node with the demo provider fleets over real HTTP: submit a job,
 * stream its items and read every result, see it completed and settled; resume an upload after a
 * dropped connection; follow a job's events; quote, list, cancel; the real-time path of the OpenAI
 * edge balancing its budget leases; and a canary placed in every prompt found in no table and no
 * log line.
 */
class IxpEndToEndTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Placed in every prompt this class sends: it must never reach the database or the logs. */
  private static final String CANARY = "CANARY-" + UUID.randomUUID();

  private static DemoWorld world;
  private static ListAppender<ILoggingEvent> logs;
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() throws Exception {
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    world = DemoWorld.start();
  }

  @AfterAll
  static void stop() throws Exception {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    if (world != null) world.close();
  }

  @Test
  void aJobIsSubmittedItsItemsStreamedAndItEndsCompletedAndSettled() throws Exception {
    JsonNode job = submit("{\"use_case\":\"summarize\",\"deadline\":\"PT2M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":30000,"
        + "\"job_category\":\"summaries\",\"spend_class\":\"opex\",\"tags\":{\"run\":\"e2e\"}}", null, 201);
    String id = job.path("id").asText();
    assertTrue(id.matches("job_[0-9a-z]{16}"), id);
    assertEquals("/ixp/v1/jobs/" + id + "/items", job.path("links").path("items").asText());

    List<JsonNode> results = upload(id, items(0, 40));
    assertEquals(40, results.size(), "one result per item");
    Set<String> ids = results.stream().map(r -> r.path("custom_id").asText()).collect(Collectors.toSet());
    assertEquals(40, ids.size(), "every custom_id once");
    for (JsonNode r : results) {
      assertEquals(200, r.path("response").path("status_code").asInt(), r.toString());
      assertTrue(r.path("response").path("body").path("usage").path("total_tokens").asLong() > 0);
    }

    JsonNode done = awaitSettled(id);
    assertEquals("completed", done.path("state").asText(), done.toString());
    assertEquals(40, done.path("progress").path("items_answered").asLong());
    long legCosts = 0;
    for (JsonNode leg : done.path("legs")) legCosts += leg.path("cost_micro_usd").asLong();
    assertEquals(legCosts, done.path("cost_micro_usd").asLong());
    assertEquals(0, done.path("reserved_micro_usd").asLong());
    world.awaitJobsProjected(); // usage rows are written from the job's journal
    List<JobUsageStore.UsageRecord> usage = world.node.jobs().usage().ofJob(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(done.path("legs").size(), usage.size(), "one usage record per leg");
    assertEquals(done.path("cost_micro_usd").asLong(), usage.stream().mapToLong(JobUsageStore.UsageRecord::costMicroUsd).sum());
    assertEquals("summaries", usage.get(0).jobCategory());

    // The same Idempotency-Key and body: the same job; another body with it: 409.
    String body = "{\"use_case\":\"classify\",\"deadline\":\"2099-01-01T00:00:00Z\",\"ceiling_usd_per_mtok\":1,\"estimated_tokens\":10}";
    JsonNode tooFar = call("POST", "/ixp/v1/jobs", body, "application/json", "k-" + id);
    assertEquals(422, tooFar.path("status").asInt(), "a deadline decades away is refused: " + tooFar);
    assertEquals("deadline", tooFar.path("field").asText());
    String fine = "{\"use_case\":\"classify\",\"deadline\":\"PT1M\",\"ceiling_usd_per_mtok\":1,\"estimated_tokens\":10}";
    JsonNode first = submit(fine, "k-" + id, 201);
    JsonNode again = submit(fine, "k-" + id, 200);
    assertEquals(first.path("id").asText(), again.path("id").asText());
    JsonNode conflict = call("POST", "/ixp/v1/jobs", fine.replace("\"estimated_tokens\":10", "\"estimated_tokens\":11"), "application/json", "k-" + id);
    assertEquals(409, conflict.path("status").asInt(), conflict.toString());
  }

  @Test
  void anUploadThatDropsIsResumedWithTheItemsThatHaveNoResult() throws Exception {
    // A slow fleet, so the first upload is cut while items are still in flight.
    world.fleet("prv_demo_sage").update(FleetSettings.healthy(8, 40, 200));
    try {
      String id = submit("{\"use_case\":\"code\",\"deadline\":\"PT3M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":20000}", null, 201)
          .path("id").asText();
      List<String> lines = items(0, 24);
      Set<String> answered = new HashSet<>();
      HttpResponse<InputStream> response = http.send(itemsRequest(id, lines), HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, response.statusCode());
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        for (int i = 0; i < 4; i++) answered.add(JSON.readTree(reader.readLine()).path("custom_id").asText());
      } // the connection drops here, with items still open
      assertEquals("running", get(id).path("state").asText(), "a dropped upload leaves the job running");

      List<String> rest = lines.stream().filter(l -> !answered.contains(customId(l))).toList();
      List<JsonNode> results = upload(id, rest);
      assertEquals(rest.size(), results.size());
      results.forEach(r -> answered.add(r.path("custom_id").asText()));
      assertEquals(24, answered.size(), "every item has its result across the two uploads");
      assertEquals("completed", awaitSettled(id).path("state").asText());
    } finally {
      world.fleet("prv_demo_sage").update(FleetSettings.healthy(8, 150, 200));
    }
  }

  @Test
  void eventsFollowAJobToItsEndAndAQuoteListAndCancelWork() throws Exception {
    JsonNode quote = call("POST", "/ixp/v1/quotes",
        "{\"use_case\":\"chat\",\"deadline\":\"PT5M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":5000}", "application/json", null);
    assertEquals("quote", quote.path("object").asText(), quote.toString());
    assertEquals("prv_demo_swift", quote.path("clears_at").path("provider_id").asText(), "the cheapest feasible ask clears");
    assertEquals(0.3, quote.path("clears_at").path("price_usd_per_mtok").asDouble());
    assertEquals("prv_demo_sage", quote.path("fallbacks").path(0).path("provider_id").asText());
    assertEquals(1_500, quote.path("clears_at").path("estimated_cost_micro_usd").asLong(), "5000 tokens at $0.30/Mtok");

    String id = submit("{\"use_case\":\"chat\",\"deadline\":\"PT2M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":5000}", null, 201)
        .path("id").asText();
    HttpResponse<InputStream> events = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/jobs/" + id + "/events"))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).timeout(Duration.ofSeconds(60)).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, events.statusCode());
    assertTrue(events.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
    upload(id, items(100, 3));
    List<String> seen = new ArrayList<>();
    String last = null;
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(events.body(), StandardCharsets.UTF_8))) {
      // An event's fields come in any order and end with a blank line.
      String event = "message";
      String data = null;
      for (String line; (line = reader.readLine()) != null; ) {
        if (line.startsWith("event:")) event = line.substring(6).trim();
        else if (line.startsWith("data:")) data = line.substring(5).trim();
        else if (line.isEmpty() && data != null) {
          seen.add(event + ":" + JSON.readTree(data).path("state").asText());
          last = event;
          event = "message";
          data = null;
        }
      }
    }
    assertEquals("end", last, "the stream ends with 'end' once the job is over and settled: " + seen);
    assertTrue(seen.contains("job:running") || seen.contains("job:matched"), seen.toString());
    assertTrue(seen.contains("end:completed"), seen.toString());

    // Cancel: a job with no items yet, then again (409).
    String idle = submit("{\"use_case\":\"chat\",\"deadline\":\"PT2M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":100}", null, 201)
        .path("id").asText();
    JsonNode cancelled = call("POST", "/ixp/v1/jobs/" + idle + "/cancel", null, null, null);
    assertEquals("cancelled", cancelled.path("state").asText(), cancelled.toString());
    assertEquals(409, call("POST", "/ixp/v1/jobs/" + idle + "/cancel", null, null, null).path("status").asInt());
    assertEquals(409, status(itemsRequest(idle, items(0, 1))), "an ended job takes no items");

    // Listing: newest first, filtered, paged with a cursor.
    world.awaitJobsProjected(); // the job index is a projection of the jobs' journal
    JsonNode page = call("GET", "/ixp/v1/jobs?use_case=chat&limit=1", null, null, null);
    assertEquals("list", page.path("object").asText(), page.toString());
    assertEquals(1, page.path("data").size());
    String cursor = page.path("next_cursor").asText(null);
    assertNotNull(cursor, "more than one chat job, so a next page: " + page);
    JsonNode next = call("GET", "/ixp/v1/jobs?use_case=chat&limit=1&cursor=" + cursor, null, null, null);
    assertNotEquals(page.path("data").path(0).path("id").asText(), next.path("data").path(0).path("id").asText());
  }

  @Test
  void theRealtimePathSettlesItsBudgetLeasesToTheCostOfItsRequests() throws Exception {
    // A project of its own, so its budget holds only this test's requests.
    String admin = world.tenancy.adminKey();
    String project = call("POST", "/atlas/v1/teams/" + world.tenancy.teamId() + "/projects", "{\"name\":\"realtime-" + UUID.randomUUID() + "\"}",
        "application/json", null, admin).path("id").asText();
    String key = call("POST", "/atlas/v1/orgs/" + world.tenancy.orgId() + "/keys",
        "{\"name\":\"rt\",\"role\":\"member\",\"project_id\":\"" + project + "\"}", "application/json", null, admin).path("key").asText();
    for (int i = 0; i < 30; i++) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/v1/chat/completions"))
          .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"keld/classify\",\"messages\":[{\"role\":\"user\",\"content\":\"" + CANARY
              + " label this " + i + "\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("realtime", r.headers().firstValue("X-Keld-Path").orElse(""));
      assertFalse(r.headers().firstValue("X-Keld-Job-Id").orElse("").isEmpty());
    }
    // Leases are settled once idle (keld.edge.lease-max-age); then the budget holds exactly what the requests cost.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    JsonNode budget;
    long cost;
    int jobs;
    do {
      Thread.sleep(500);
      budget = call("GET", "/atlas/v1/projects/" + project + "/budget", null, null, null, admin);
      JsonNode page = call("GET", "/ixp/v1/jobs?realtime=true&limit=200", null, null, null, key);
      jobs = page.path("data").size();
      cost = 0;
      for (JsonNode j : page.path("data")) cost += j.path("cost_micro_usd").asLong();
    } while ((budget.path("reserved_micro_usd").asLong() != 0 || jobs < 30) && System.nanoTime() < deadline);
    assertEquals(30, jobs, "every real-time request is a job in the index");
    assertEquals(0, budget.path("reserved_micro_usd").asLong(), "every lease settled: " + budget);
    assertTrue(cost > 0);
    assertEquals(cost, budget.path("spent_micro_usd").asLong(), "the project's spend is the sum of its real-time jobs' costs: " + budget);
  }

  @Test
  void aCanaryInPromptsReachesNoTableAndNoLogLine() throws Exception {
    String id = submit("{\"use_case\":\"summarize\",\"deadline\":\"PT2M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":5000}", null, 201)
        .path("id").asText();
    // A bad line must not leak it either.
    List<String> lines = new ArrayList<>(items(200, 5));
    lines.add("{\"custom_id\":\"" + CANARY + "-x\",\"body\":{\"messages\":\"" + CANARY + "\"}}");
    List<JsonNode> results = upload(id, lines);
    assertEquals(6, results.size());
    HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"sim-small\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\""
            + CANARY + "\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, chat.statusCode());
    awaitSettled(id);
    Thread.sleep(300); // the real-time job's batch
    world.awaitJobsProjected(); // and the deadline job's rows, from its journal

    List<String> hits = DatabaseScan.cellsHolding(world.db, List.of(CANARY), List.of("event_journal", "ixp_jobs", "job_usage", "usage_records"));
    assertTrue(hits.isEmpty(), "prompt content reached the database: " + hits);
    assertFalse(logs.list.isEmpty(), "the node logged, so the check below means something");
    for (ILoggingEvent e : List.copyOf(logs.list)) {
      String line = e.getFormattedMessage() + (e.getThrowableProxy() != null ? ThrowableProxyUtil.asString(e.getThrowableProxy()) : "");
      assertFalse(line.contains(CANARY), "a log line holds prompt content: " + e.getLoggerName());
    }
  }

  // -- helpers ----------------------------------------------------------------------------------

  private static List<String> items(int from, int count) {
    return IntStream.range(from, from + count).mapToObj(i -> "{\"custom_id\":\"item-" + i + "\",\"body\":{\"max_tokens\":40,\"messages\":"
        + "[{\"role\":\"user\",\"content\":\"" + CANARY + " text number " + i + "\"}]}}").toList();
  }

  private static String customId(String line) {
    try {
      return JSON.readTree(line).path("custom_id").asText();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static HttpRequest itemsRequest(String jobId, List<String> lines) {
    return HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/jobs/" + jobId + "/items"))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).header("Content-Type", "application/x-ndjson")
        .timeout(Duration.ofSeconds(120))
        .POST(HttpRequest.BodyPublishers.ofString(String.join("\n", lines) + "\n")).build();
  }

  private static List<JsonNode> upload(String jobId, List<String> lines) throws Exception {
    HttpResponse<Stream<String>> r = http.send(itemsRequest(jobId, lines), HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, r.statusCode());
    List<JsonNode> out = new ArrayList<>();
    for (String line : (Iterable<String>) r.body()::iterator) if (!line.isBlank()) out.add(JSON.readTree(line));
    return out;
  }

  private static JsonNode submit(String body, String idempotencyKey, int expected) throws Exception {
    JsonNode r = call("POST", "/ixp/v1/jobs", body, "application/json", idempotencyKey);
    assertEquals(expected, lastStatus, r.toString());
    return r;
  }

  private static JsonNode get(String id) throws Exception {
    return call("GET", "/ixp/v1/jobs/" + id, null, null, null);
  }

  private static JsonNode awaitSettled(String id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    JsonNode j;
    do {
      j = get(id);
      if (j.path("settled").asBoolean()) return j;
      Thread.sleep(100);
    } while (System.nanoTime() < deadline);
    fail("job " + id + " did not settle: " + j);
    return j;
  }

  private static int lastStatus;

  private static JsonNode call(String method, String path, String body, String contentType, String idempotencyKey) throws Exception {
    return call(method, path, body, contentType, idempotencyKey, world.tenancy.apiKey());
  }

  private static JsonNode call(String method, String path, String body, String contentType, String idempotencyKey, String key)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key);
    if (contentType != null) b.header("Content-Type", contentType);
    if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    lastStatus = r.statusCode();
    return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
  }

  private static int status(HttpRequest request) throws Exception {
    return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }
}
