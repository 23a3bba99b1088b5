package io.keld.node.edge;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.PathType;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.keld.node.testing.DemoWorld;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import java.math.BigDecimal;
import java.net.http.HttpHeaders;
import java.util.HashSet;
import java.util.Locale;

/**
 * A running node's answers, checked against the JSON Schemas of the IXP spec
 * ({@code ixp/spec/ixp.openapi.yaml}): every call below is made over real HTTP against a node with
 * the demo fleets and the demo enterprise ({@link DemoWorld}), and its status, content type and body
 * are checked against what the spec says that operation answers with that status.
 *
 * <p>The schemas are the spec's own: the whole OpenAPI document is registered with the validator
 * under one IRI and each schema is addressed by a JSON pointer into it
 * ({@code …#/components/schemas/JobResource}), so {@code $ref}s between components resolve exactly
 * as the spec writes them. Formats ({@code date-time}, {@code uri}, …) are asserted, not just
 * annotated. {@link #theSchemasAreStrictAndTheSpecsOwnExamplesConform} shows that the validation
 * cannot pass vacuously: broken documents fail, and the spec's own examples pass.
 *
 * <p>Runs on PostgreSQL when one answers (see {@link io.keld.testkit.TestDatabase}), else,
 * outside CI, on H2.
 */
class IxpSpecConformanceTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration JOB_TIMEOUT = Duration.ofSeconds(60);
  private static final String NDJSON = "application/x-ndjson";
  private static final Set<String> TERMINAL = Set.of("completed", "cancelled", "failed", "deadline_missed");

  private static Spec spec;
  private static DemoWorld world;
  private static HttpClient http;

  @BeforeAll
  static void loadTheSpecAndStartANode() throws Exception {
    spec = Spec.load(locateSpec());
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    world = DemoWorld.start();
  }

  @AfterAll
  static void stopTheNode() throws Exception {
    if (world != null) world.close();
  }

  // -- the schemas themselves ---------------------------------------------------------------------

  @Test
  void theSchemasAreStrictAndTheSpecsOwnExamplesConform() throws Exception {
    // Every example the spec gives for a request or response conforms to the schema it illustrates.
    int examples = spec.checkOwnExamples();
    assertTrue(examples >= 15, "the spec's examples were found and checked (" + examples + ")");

    ObjectNode job = (ObjectNode) spec.doc.at("/components/examples/OpenJob/value").deepCopy();
    spec.assertValid("JobResource", job, "the OpenJob example");

    // A wrong type at the top level.
    spec.assertInvalid("JobResource", with(job, "/state", JSON.getNodeFactory().numberNode(42)), "/state", "a job whose state is 42");
    // A value outside an enum reached through $ref (JobResource → JobState).
    spec.assertInvalid("JobResource", with(job, "/state", JSON.getNodeFactory().textNode("sleeping")), "/state", "a job in state 'sleeping'");
    // A wrong type two $refs down (JobResource → JobProgress).
    spec.assertInvalid("JobResource", with(job, "/progress/items_open", JSON.getNodeFactory().textNode("many")),
        "/progress/items_open", "a job whose progress.items_open is a string");
    // An array item through $ref (JobResource → JobTimelineEntry → JobState).
    spec.assertInvalid("JobResource", with(job, "/timeline/0/state", JSON.getNodeFactory().textNode("dozing")), "/timeline/0/state", "a timeline entry in state 'dozing'");
    // A pattern of a referenced schema (JobId).
    spec.assertInvalid("JobResource", with(job, "/id", JSON.getNodeFactory().textNode("job_NOT-AN-ID")), "/id", "a job id that is no JobId");
    // A required member missing.
    ObjectNode noSettled = job.deepCopy();
    noSettled.remove("settled");
    spec.assertInvalid("JobResource", noSettled, "", "a job without settled");
    // Formats are asserted.
    spec.assertInvalid("JobResource", with(job, "/submitted_at", JSON.getNodeFactory().textNode("yesterday")), "/submitted_at", "a job submitted 'yesterday'");
    // const
    spec.assertInvalid("JobResource", with(job, "/object", JSON.getNodeFactory().textNode("quote")), "/object", "a job whose object is 'quote'");

    // additionalProperties: false is honoured (the request schemas use it).
    ObjectNode submission = (ObjectNode) JSON.readTree("""
        {"use_case":"summarize","deadline":"PT2H","ceiling_usd_per_mtok":0.9,"estimated_tokens":4000000}""");
    spec.assertValid("JobSubmission", submission, "a minimal submission");
    spec.assertInvalid("JobSubmission", with(submission, "/ceiling_usd_per_mtock", JSON.getNodeFactory().numberNode(0.9)),
        "", "a submission with the misspelt member ceiling_usd_per_mtock");
    spec.assertInvalid("JobSubmission", with(submission, "/constraints", JSON.readTree("{\"region\":[\"eu\"]}")),
        "/constraints", "a submission whose constraints has the unknown member region");

    // oneOf of ResultLine, allOf of the 402's schema.
    spec.assertInvalid("ResultLine", JSON.readTree("{}"), "", "an empty result line");
    spec.assertInvalid("ResultLine", JSON.readTree("{\"custom_id\":\"a\"}"), "", "a result line with neither response nor error");
    spec.assertInvalid("ResultLine", JSON.readTree("{\"custom_id\":\"a\",\"error\":{\"type\":\"x\"}}"), "/error", "a result error without message");
    spec.assertInvalid("Problem", JSON.readTree("{\"title\":\"t\",\"status\":400,\"detail\":\"d\"}"), "", "a problem without type");
    ObjectNode refusal = (ObjectNode) spec.doc.at("/components/responses/JobBudgetExceeded/content/application~1problem+json/examples/hardCap/value").deepCopy();
    spec.assertValid("JobBudgetExceededProblem", refusal, "the hardCap example");
    ObjectNode noJobId = refusal.deepCopy();
    noJobId.remove("job_id");
    spec.assertInvalid("JobBudgetExceededProblem", noJobId, "", "a job's budget refusal without job_id");
    spec.assertInvalid("JobBudgetExceededProblem", with(refusal, "/status", JSON.getNodeFactory().numberNode(403)), "/status", "a budget refusal with status 403");
    spec.assertInvalid("JobBudgetExceededProblem", with(refusal, "/limit", JSON.getNodeFactory().textNode("soft_cap")), "/limit", "a refusal by a soft cap");
    spec.assertInvalid("OpenAIErrorResponse", JSON.readTree("{\"error\":{\"message\":\"m\"}}"), "/error", "an OpenAI error without type");
  }

  // -- control plane ------------------------------------------------------------------------------

  @Test
  void submittingAJobAndReplayingItsIdempotencyKey() throws Exception {
    String key = "spec-" + UUID.randomUUID();
    ObjectNode body = submission("summarize", "PT10M", "1.5", 4_000);
    Reply first = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", body.toString(), Map.of("Idempotency-Key", key));
    JsonNode job = conforms(first, "/ixp/v1/jobs", "post", 201);
    String id = job.path("id").asText();
    assertEquals("/ixp/v1/jobs/" + id, first.header("Location"), "Location of the new job");
    spec.assertHeaderValid("#/components/headers/Location", first.header("Location"), "Location");

    Reply replay = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", body.toString(), Map.of("Idempotency-Key", key));
    JsonNode again = conforms(replay, "/ixp/v1/jobs", "post", 200);
    assertEquals(id, again.path("id").asText(), "the replay returns the same job");

    ObjectNode other = submission("summarize", "PT10M", "1.6", 4_000);
    Reply conflict = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", other.toString(), Map.of("Idempotency-Key", key));
    JsonNode problem = conforms(conflict, "/ixp/v1/jobs", "post", 409);
    assertEquals("https://keld.io/problems/conflict", problem.path("type").asText(), conflict.body());

    conforms(get("/ixp/v1/jobs/" + id), "/ixp/v1/jobs/{job_id}", "get", 200);
    cancelQuietly(id);
  }

  @Test
  void itemsStreamOneResultLinePerItemAndTheJobCompletes() throws Exception {
    String id = submit(submission("chat", "PT10M", "2", 4_000));
    List<String> lines = List.of(
        "{\"custom_id\":\"ok-1\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":16}}",
        "{this is not json",
        "{\"custom_id\":\"ok-2\",\"url\":\"/v1/chat/completions\",\"method\":\"POST\",\"body\":{\"model\":\"any\","
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say goodbye\"}],\"max_tokens\":16}}");
    spec.assertValid("ItemLine", JSON.readTree(lines.get(0)), "the first item line");
    spec.assertValid("ItemLine", JSON.readTree(lines.get(2)), "the third item line");

    Reply upload = send("POST", "/ixp/v1/jobs/" + id + "/items", apiKey(), NDJSON, String.join("\n", lines) + "\n", Map.of());
    assertEquals(200, upload.status(), "POST items: " + upload.body());
    assertMediaType(upload, "/ixp/v1/jobs/{job_id}/items", "post", 200);
    JsonSchema resultLine = spec.component("ResultLine");
    ArrayNode results = JSON.createArrayNode();
    for (String line : upload.body().split("\n")) {
      if (line.isBlank()) continue;
      JsonNode r = JSON.readTree(line);
      spec.assertValid(resultLine, r, "result line " + line);
      results.add(r);
    }
    spec.assertValid(spec.responseSchema("/ixp/v1/jobs/{job_id}/items", "post", 200, NDJSON), results, "the whole result stream");
    assertEquals(3, results.size(), "one result line per item: " + upload.body());
    Map<String, JsonNode> byId = new LinkedHashMap<>();
    JsonNode bad = null;
    for (JsonNode r : results) {
      if (r.has("custom_id")) byId.put(r.get("custom_id").asText(), r);
      else bad = r;
    }
    assertEquals(Set.of("ok-1", "ok-2"), byId.keySet(), upload.body());
    for (JsonNode r : byId.values()) assertTrue(r.has("response"), "an answered item: " + r);
    assertNotNull(bad, "the malformed line has a result without custom_id: " + upload.body());
    assertEquals("invalid_line", bad.at("/error/code").asText(), bad.toString());
    assertEquals(2, bad.at("/error/line").asInt(), bad.toString());

    JsonNode done = awaitJob(id, j -> j.path("state").asText().equals("completed") && j.path("settled").asBoolean());
    assertEquals(2, done.at("/progress/items_answered").asInt(), done.toString());
  }

  @Test
  void listingJobsPagesWithACursor() throws Exception {
    String older = submit(submission("classify", "PT10M", "1", 2_000));
    String newer = submit(submission("classify", "PT10M", "1", 2_000));
    // The list is written in batches off the request path: wait until both are listed.
    JsonNode page = null;
    long until = System.nanoTime() + JOB_TIMEOUT.toNanos();
    while (System.nanoTime() < until) {
      Reply r = get("/ixp/v1/jobs?use_case=classify&limit=200");
      page = conforms(r, "/ixp/v1/jobs", "get", 200);
      Set<String> ids = new HashSet<>();
      page.path("data").forEach(j -> ids.add(j.path("id").asText()));
      if (ids.contains(older) && ids.contains(newer)) break;
      Thread.sleep(100);
    }
    assertNotNull(page);

    Reply first = get("/ixp/v1/jobs?use_case=classify&limit=1");
    JsonNode p1 = conforms(first, "/ixp/v1/jobs", "get", 200);
    assertEquals(1, p1.path("data").size(), first.body());
    assertTrue(p1.hasNonNull("next_cursor"), "a page of 1 of 2 or more jobs has next_cursor: " + first.body());
    Reply second = get("/ixp/v1/jobs?use_case=classify&limit=1&cursor=" + URLEncoder.encode(p1.path("next_cursor").asText(), StandardCharsets.UTF_8));
    JsonNode p2 = conforms(second, "/ixp/v1/jobs", "get", 200);
    assertEquals(1, p2.path("data").size(), second.body());
    assertFalse(p1.at("/data/0/id").asText().equals(p2.at("/data/0/id").asText()), "the second page moves on");
    cancelQuietly(older);
    cancelQuietly(newer);
  }

  @Test
  void quotes() throws Exception {
    ObjectNode body = submission("summarize", "PT30M", "2", 250_000);
    spec.assertValid(spec.requestSchema("/ixp/v1/quotes", "post", "application/json"), body, "the quote request");
    Reply r = send("POST", "/ixp/v1/quotes", apiKey(), "application/json", body.toString(), Map.of());
    JsonNode quote = conforms(r, "/ixp/v1/quotes", "post", 200);
    assertTrue(quote.has("clears_at"), "the demo books have a feasible ask for summarize: " + r.body());

    // No ask on the translate book, and a backup of the submission's own: no clears_at, a backup, its escalation point.
    ObjectNode withBackup = submission("translate", "PT30M", "2", 250_000);
    withBackup.set("backup", JSON.readTree("{\"provider_id\":\"prv_demo_sage\",\"model\":\"sim-large\",\"price_usd_per_mtok\":1.2,\"throughput_tps\":1000}"));
    spec.assertValid(spec.requestSchema("/ixp/v1/quotes", "post", "application/json"), withBackup, "the quote request with a backup");
    Reply b = send("POST", "/ixp/v1/quotes", apiKey(), "application/json", withBackup.toString(), Map.of());
    JsonNode backed = conforms(b, "/ixp/v1/quotes", "post", 200);
    assertFalse(backed.has("clears_at"), "no ask on the translate book: " + b.body());
    assertEquals("request", backed.at("/backup/source").asText(), b.body());
  }

  /** A job no ask can take runs on its backup: the backup, a backup leg, an escalation, all as the spec describes them. */
  @Test
  void aJobWithNoAskEscalatesToItsBackup() throws Exception {
    // No ask on the translate book. With 1,000 tokens at 1,000 tok/s the job escalates 1 s + 5 s before its deadline.
    ObjectNode withBackup = submission("translate", "PT15S", "2", 1_000);
    withBackup.set("backup", JSON.readTree("{\"provider_id\":\"prv_demo_sage\",\"model\":\"sim-large\",\"price_usd_per_mtok\":1.2,\"throughput_tps\":1000}"));
    String id = submit(withBackup);
    // The upload may start before the job is matched: it waits, then runs on the backup.
    Reply upload = send("POST", "/ixp/v1/jobs/" + id + "/items", apiKey(), NDJSON,
        "{\"custom_id\":\"t-1\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"Bonjour\"}],\"max_tokens\":8}}\n", Map.of());
    assertEquals(200, upload.status(), "POST items: " + upload.body());
    ArrayNode results = JSON.createArrayNode();
    for (String line : upload.body().split("\n")) if (!line.isBlank()) results.add(JSON.readTree(line));
    spec.assertValid(spec.responseSchema("/ixp/v1/jobs/{job_id}/items", "post", 200, NDJSON), results, "the result stream");
    assertEquals(1, results.size(), upload.body());
    assertTrue(results.get(0).has("response"), upload.body());
    JsonNode done = awaitJob(id, j -> TERMINAL.contains(j.path("state").asText()) && j.path("settled").asBoolean());
    assertEquals("completed", done.path("state").asText(), done.toString());
    assertEquals("request", done.at("/backup/source").asText(), done.toString());
    assertEquals("backup", done.at("/legs/0/kind").asText(), done.toString());
    assertEquals(1, done.path("escalations").asInt(), done.toString());
  }

  @Test
  void eventsOfAJob() throws Exception {
    String id = submit(submission("summarize", "PT10M", "2", 4_000));
    HttpRequest request = HttpRequest.newBuilder(URI.create(world.baseUrl + "/ixp/v1/jobs/" + id + "/events"))
        .header("Authorization", "Bearer " + apiKey()).header("Accept", "text/event-stream").GET().build();
    HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    List<Sse> events = new ArrayList<>();
    try (InputStream in = response.body()) {
      assertEquals(200, response.statusCode(), "GET events");
      String contentType = response.headers().firstValue("Content-Type").orElse("");
      assertTrue(spec.mediaTypes("/ixp/v1/jobs/{job_id}/events", "get", 200).contains(mediaType(contentType)),
          "events come as " + spec.mediaTypes("/ixp/v1/jobs/{job_id}/events", "get", 200) + ", got " + contentType);
      BlockingQueue<Sse> queue = readEvents(in);
      Sse first = queue.poll(30, TimeUnit.SECONDS);
      assertNotNull(first, "the job event comes at once");
      events.add(first);
      // Ending the job makes the stream tell it, then end.
      conforms(send("POST", "/ixp/v1/jobs/" + id + "/cancel", apiKey(), null, null, Map.of()), "/ixp/v1/jobs/{job_id}/cancel", "post", 200);
      long until = System.nanoTime() + JOB_TIMEOUT.toNanos();
      while (System.nanoTime() < until && !events.get(events.size() - 1).event().equals("end")) {
        Sse next = queue.poll(1, TimeUnit.SECONDS);
        if (next != null) events.add(next);
      }
    }
    ArrayNode stream = JSON.createArrayNode();
    JsonSchema eventSchema = spec.component("JobStreamEvent");
    for (Sse e : events) {
      JsonNode data;
      try {
        data = JSON.readTree(e.data());
      } catch (IOException notJson) {
        throw new AssertionError("an event's data is JSON: " + e, notJson);
      }
      ObjectNode parsed = JSON.createObjectNode().put("event", e.event());
      parsed.set("data", data);
      spec.assertValid(eventSchema, parsed, "event " + e.event() + " " + e.data());
      stream.add(parsed);
    }
    spec.assertValid(spec.responseSchema("/ixp/v1/jobs/{job_id}/events", "get", 200, "text/event-stream"), stream, "the events");
    assertEquals("job", events.get(0).event(), "the first event: " + events);
    assertTrue(events.size() >= 2, "at least two events: " + events);
    assertEquals("end", events.get(events.size() - 1).event(), "the stream ends with end once the job is cancelled and settled: " + events);
  }

  @Test
  void cancellingAJobAndThenAgain() throws Exception {
    String id = submit(submission("summarize", "PT10M", "2", 4_000));
    Reply cancelled = send("POST", "/ixp/v1/jobs/" + id + "/cancel", apiKey(), null, null, Map.of());
    JsonNode job = conforms(cancelled, "/ixp/v1/jobs/{job_id}/cancel", "post", 200);
    assertEquals("cancelled", job.path("state").asText(), cancelled.body());
    Reply again = send("POST", "/ixp/v1/jobs/" + id + "/cancel", apiKey(), null, null, Map.of());
    JsonNode problem = conforms(again, "/ixp/v1/jobs/{job_id}/cancel", "post", 409);
    assertEquals("https://keld.io/problems/conflict", problem.path("type").asText(), again.body());
    // Items for an ended job: 409 before streaming.
    Reply items = send("POST", "/ixp/v1/jobs/" + id + "/items", apiKey(), NDJSON,
        "{\"custom_id\":\"late\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n", Map.of());
    conforms(items, "/ixp/v1/jobs/{job_id}/items", "post", 409);
    conforms(get("/ixp/v1/jobs/" + id), "/ixp/v1/jobs/{job_id}", "get", 200);
  }

  // -- problems -----------------------------------------------------------------------------------

  @Test
  void problems() throws Exception {
    Reply noKey = send("GET", "/ixp/v1/jobs", null, null, null, Map.of());
    JsonNode unauthorized = conforms(noKey, "/ixp/v1/jobs", "get", 401);
    assertEquals("https://keld.io/problems/unauthorized", unauthorized.path("type").asText());
    assertEquals("Bearer realm=\"keld\"", noKey.header("WWW-Authenticate"), "401 carries WWW-Authenticate");
    Reply wrongKey = send("POST", "/ixp/v1/jobs", "keld_not_a_real_key_0000000000000000", "application/json",
        submission("summarize", "PT10M", "1", 1_000).toString(), Map.of());
    conforms(wrongKey, "/ixp/v1/jobs", "post", 401);

    Reply missing = get("/ixp/v1/jobs/job_0000000000000000");
    JsonNode notFound = conforms(missing, "/ixp/v1/jobs/{job_id}", "get", 404);
    assertEquals("https://keld.io/problems/not-found", notFound.path("type").asText());
    conforms(send("POST", "/ixp/v1/jobs/job_0000000000000000/cancel", apiKey(), null, null, Map.of()), "/ixp/v1/jobs/{job_id}/cancel", "post", 404);
    conforms(send("POST", "/ixp/v1/jobs/job_0000000000000000/items", apiKey(), NDJSON, "", Map.of()), "/ixp/v1/jobs/{job_id}/items", "post", 404);
    conforms(get("/ixp/v1/jobs/job_0000000000000000/events"), "/ixp/v1/jobs/{job_id}/events", "get", 404);

    // A misspelt member: 422 naming it.
    ObjectNode misspelt = submission("summarize", "PT10M", "1", 1_000);
    misspelt.set("ceiling_usd_per_mtock", misspelt.remove("ceiling_usd_per_mtok"));
    Reply typo = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", misspelt.toString(), Map.of());
    JsonNode invalid = conforms(typo, "/ixp/v1/jobs", "post", 422);
    assertEquals("https://keld.io/problems/invalid-field", invalid.path("type").asText(), typo.body());
    assertEquals("ceiling_usd_per_mtock", invalid.path("field").asText(), typo.body());
    // An unknown use case, a bad limit, on the quote and the list.
    Reply useCase = send("POST", "/ixp/v1/quotes", apiKey(), "application/json", submission("summarise", "PT10M", "1", 1_000).toString(), Map.of());
    assertEquals("use_case", conforms(useCase, "/ixp/v1/quotes", "post", 422).path("field").asText(), useCase.body());
    Reply limit = get("/ixp/v1/jobs?limit=0");
    assertEquals("limit", conforms(limit, "/ixp/v1/jobs", "get", 422).path("field").asText(), limit.body());
    // An Idempotency-Key that is too long.
    Reply longKey = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", submission("summarize", "PT10M", "1", 1_000).toString(),
        Map.of("Idempotency-Key", "k".repeat(256)));
    assertEquals("Idempotency-Key", conforms(longKey, "/ixp/v1/jobs", "post", 422).path("field").asText(), longKey.body());

    // An org-wide key must name the project.
    Reply noProject = send("POST", "/ixp/v1/jobs", world.tenancy.adminKey(), "application/json",
        submission("summarize", "PT10M", "1", 1_000).toString(), Map.of());
    assertEquals("project_id", conforms(noProject, "/ixp/v1/jobs", "post", 422).path("field").asText(), noProject.body());

    // Not JSON: 400; not application/json: 415 (items: not application/x-ndjson); over 64 KiB: 413.
    conforms(send("POST", "/ixp/v1/jobs", apiKey(), "application/json", "{\"use_case\":", Map.of()), "/ixp/v1/jobs", "post", 400);
    conforms(send("POST", "/ixp/v1/jobs", apiKey(), "application/json", "[1, 2]", Map.of()), "/ixp/v1/jobs", "post", 400);
    conforms(send("POST", "/ixp/v1/jobs", apiKey(), "text/plain", "use_case=summarize", Map.of()), "/ixp/v1/jobs", "post", 415);
    conforms(send("POST", "/ixp/v1/quotes", apiKey(), "text/plain", "use_case=summarize", Map.of()), "/ixp/v1/quotes", "post", 415);
    String someJob = submit(submission("summarize", "PT10M", "1", 1_000));
    conforms(send("POST", "/ixp/v1/jobs/" + someJob + "/items", apiKey(), "application/json", "{}", Map.of()), "/ixp/v1/jobs/{job_id}/items", "post", 415);
    cancelQuietly(someJob);
    ObjectNode large = submission("summarize", "PT10M", "1", 1_000);
    large.put("job_category", "x".repeat(70 * 1024));
    conforms(send("POST", "/ixp/v1/jobs", apiKey(), "application/json", large.toString(), Map.of()), "/ixp/v1/jobs", "post", 413);
  }

  @Test
  void aReadOnlyKeyMayReadButNotSubmitOrQuote() throws Exception {
    String readOnly = issueKey("read-only", world.tenancy.projectId());
    Reply submit = send("POST", "/ixp/v1/jobs", readOnly, "application/json", submission("summarize", "PT10M", "1", 1_000).toString(), Map.of());
    assertEquals("https://keld.io/problems/forbidden", conforms(submit, "/ixp/v1/jobs", "post", 403).path("type").asText(), submit.body());
    Reply quote = send("POST", "/ixp/v1/quotes", readOnly, "application/json", submission("summarize", "PT10M", "1", 1_000).toString(), Map.of());
    conforms(quote, "/ixp/v1/quotes", "post", 403);
    String id = submit(submission("summarize", "PT10M", "1", 1_000));
    conforms(send("GET", "/ixp/v1/jobs/" + id, readOnly, null, null, Map.of()), "/ixp/v1/jobs/{job_id}", "get", 200);
    conforms(send("GET", "/ixp/v1/jobs?limit=1", readOnly, null, null, Map.of()), "/ixp/v1/jobs", "get", 200);
    cancelQuietly(id);
    Reply chat = send("POST", "/v1/chat/completions", readOnly, "application/json",
        "{\"model\":\"keld/chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}", Map.of());
    assertEquals("permission_error", conforms(chat, "/v1/chat/completions", "post", 403).at("/error/type").asText(), chat.body());
  }

  /** The spec: cancelling needs an admin or member key that may spend in the job's project, else 403. */
  @Test
  void aReadOnlyKeyMayNotCancel() throws Exception {
    String readOnly = issueKey("read-only", world.tenancy.projectId());
    String id = submit(submission("summarize", "PT10M", "1", 1_000));
    try {
      Reply cancel = send("POST", "/ixp/v1/jobs/" + id + "/cancel", readOnly, null, null, Map.of());
      conforms(cancel, "/ixp/v1/jobs/{job_id}/cancel", "post", 403);
    } finally {
      cancelQuietly(id);
    }
  }

  /** The spec: uploading items needs an admin or member key that may spend in the job's project, else 403 before streaming. */
  @Test
  void aReadOnlyKeyMayNotUploadItems() throws Exception {
    String readOnly = issueKey("read-only", world.tenancy.projectId());
    String id = submit(submission("chat", "PT10M", "1", 1_000));
    try {
      Reply items = send("POST", "/ixp/v1/jobs/" + id + "/items", readOnly, NDJSON,
          "{\"custom_id\":\"ro-1\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8}}\n", Map.of());
      conforms(items, "/ixp/v1/jobs/{job_id}/items", "post", 403);
    } finally {
      cancelQuietly(id);
    }
  }

  @Test
  void anUploadThatBreaksALimitEndsWithALineWithoutCustomId() throws Exception {
    String id = submit(submission("chat", "PT10M", "2", 4_000));
    String good = "{\"custom_id\":\"fits\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":8}}";
    String tooLong = "{\"custom_id\":\"huge\",\"body\":{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + "x".repeat(1024 * 1024 + 16) + "\"}]}}";
    Reply upload = send("POST", "/ixp/v1/jobs/" + id + "/items", apiKey(), NDJSON, good + "\n" + tooLong + "\n", Map.of());
    assertEquals(200, upload.status(), "POST items: " + upload.body());
    assertMediaType(upload, "/ixp/v1/jobs/{job_id}/items", "post", 200);
    ArrayNode results = JSON.createArrayNode();
    for (String line : upload.body().split("\n")) if (!line.isBlank()) results.add(JSON.readTree(line));
    spec.assertValid(spec.responseSchema("/ixp/v1/jobs/{job_id}/items", "post", 200, NDJSON), results, "the result stream");
    assertTrue(results.size() >= 1, upload.body());
    JsonNode last = results.get(results.size() - 1);
    List<String> answered = new ArrayList<>();
    results.forEach(r -> answered.add(r.path("custom_id").asText(null)));
    assertAll("an upload whose second line is over 1 MiB: " + upload.body(),
        () -> assertFalse(last.has("custom_id"), "the upload's own problem is the last line, without custom_id"),
        () -> assertEquals("line_too_long", last.at("/error/code").asText(), "error.code"),
        () -> assertEquals(2, last.at("/error/line").asInt(), "error.line"),
        // ResultError.type: "`invalid_request_error` for bad lines and upload limits" (so is the spec's example of line_too_long).
        () -> assertEquals("invalid_request_error", last.at("/error/type").asText(), "error.type of an upload limit"),
        // "Items read before it still get their results first": exactly one result line per item read.
        () -> assertEquals(2, results.size(), "a result for the item before the long line, then the upload's problem"),
        () -> assertTrue(answered.contains("fits"), "the item read before the long line gets its result"));
    conforms(get("/ixp/v1/jobs/" + id), "/ixp/v1/jobs/{job_id}", "get", 200);
    cancelQuietly(id);
  }

  @Test
  void aRefusedBudgetIsA402NamingTheJobAndA429OnTheOpenAiEdge() throws Exception {
    String cappedKey = cappedProjectKey();
    ObjectNode body = submission("summarize", "PT10M", "1", 10_000);
    Reply refused = send("POST", "/ixp/v1/jobs", cappedKey, "application/json", body.toString(), Map.of());
    JsonNode problem = conforms(refused, "/ixp/v1/jobs", "post", 402);
    assertEquals("https://keld.io/problems/budget-exceeded", problem.path("type").asText(), refused.body());
    String jobId = problem.path("job_id").asText();
    Reply job = send("GET", "/ixp/v1/jobs/" + jobId, cappedKey, null, null, Map.of());
    JsonNode failed = conforms(job, "/ixp/v1/jobs/{job_id}", "get", 200);
    assertEquals("failed", failed.path("state").asText(), job.body());
    assertEquals("budget_refused", failed.path("reason").asText(), job.body());

    Reply quota = send("POST", "/v1/chat/completions", cappedKey, "application/json",
        "{\"model\":\"keld/chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}", Map.of());
    JsonNode error = conforms(quota, "/v1/chat/completions", "post", 429);
    assertEquals("insufficient_quota", error.at("/error/code").asText(), quota.body());
    spec.assertHeaderValid("#/components/headers/XShouldRetry", quota.header("x-should-retry"), "x-should-retry");
  }

  // -- the OpenAI-compatible edge -----------------------------------------------------------------

  @Test
  void openAiModels() throws Exception {
    Reply r = get("/v1/models");
    JsonNode models = conforms(r, "/v1/models", "get", 200);
    List<String> ids = new ArrayList<>();
    models.path("data").forEach(m -> ids.add(m.path("id").asText()));
    assertTrue(ids.containsAll(List.of("sim-small", "sim-embed", "keld/chat")), "models: " + ids);
    conforms(send("GET", "/v1/models", null, null, null, Map.of()), "/v1/models", "get", 401);
  }

  @Test
  void openAiErrors() throws Exception {
    String hello = "[{\"role\":\"user\",\"content\":\"Say hello\"}]";
    Reply unknownModel = send("POST", "/v1/chat/completions", apiKey(), "application/json", "{\"model\":\"no-such-model\",\"messages\":" + hello + "}", Map.of());
    assertEquals("model_not_found", conforms(unknownModel, "/v1/chat/completions", "post", 404).at("/error/code").asText(), unknownModel.body());
    Reply badMessages = send("POST", "/v1/chat/completions", apiKey(), "application/json", "{\"model\":\"keld/chat\",\"messages\":\"hi\"}", Map.of());
    conforms(badMessages, "/v1/chat/completions", "post", 400);
    Reply badHeader = send("POST", "/v1/chat/completions", apiKey(), "application/json", "{\"model\":\"keld/chat\",\"messages\":" + hello + "}",
        Map.of("X-Keld-Deadline", "soon"));
    assertEquals("X-Keld-Deadline", conforms(badHeader, "/v1/chat/completions", "post", 400).at("/error/param").asText(), badHeader.body());
    Reply badKey = send("POST", "/v1/chat/completions", "keld_not_a_real_key_0000000000000000", "application/json",
        "{\"model\":\"keld/chat\",\"messages\":" + hello + "}", Map.of());
    assertEquals("invalid_api_key", conforms(badKey, "/v1/chat/completions", "post", 401).at("/error/code").asText(), badKey.body());
    Reply noInput = send("POST", "/v1/embeddings", apiKey(), "application/json", "{\"model\":\"sim-embed\"}", Map.of());
    conforms(noInput, "/v1/embeddings", "post", 400);
  }

  @Test
  void openAiRealtimeChatStreamAndEmbeddings() throws Exception {
    Map<String, String> realtime = Map.of("X-Keld-Deadline", "PT30S", "X-Keld-Ceiling", "2");
    Reply chat = send("POST", "/v1/chat/completions", apiKey(), "application/json",
        "{\"model\":\"keld/chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":16}", realtime);
    JsonNode completion = conforms(chat, "/v1/chat/completions", "post", 200);
    assertEquals("realtime", chat.header("X-Keld-Path"), "a deadline 30 s away takes the real-time path");
    spec.assertHeaderValid("#/components/headers/XKeldPath", chat.header("X-Keld-Path"), "X-Keld-Path");
    spec.assertHeaderValid("#/components/headers/XKeldJobId", chat.header("X-Keld-Job-Id"), "X-Keld-Job-Id");
    spec.assertHeaderValid("#/components/headers/XKeldPrice", chat.header("X-Keld-Price"), "X-Keld-Price");
    assertTrue(completion.path("choices").size() > 0, chat.body());

    Reply streamed = send("POST", "/v1/chat/completions", apiKey(), "application/json",
        "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"stream\":true}", realtime);
    assertEquals(200, streamed.status(), streamed.body());
    assertMediaType(streamed, "/v1/chat/completions", "post", 200);
    assertEquals("text/event-stream", mediaType(streamed.contentType()), "a streamed chat is an event stream");
    ArrayNode chunks = JSON.createArrayNode();
    boolean done = false;
    JsonSchema chunk = spec.component("ChatCompletionChunk");
    for (String line : streamed.body().split("\n")) {
      if (!line.startsWith("data:")) continue;
      String data = line.substring(5).trim();
      if (data.equals("[DONE]")) {
        done = true;
        continue;
      }
      JsonNode c = JSON.readTree(data);
      spec.assertValid(chunk, c, "chunk " + data);
      chunks.add(c);
    }
    assertTrue(done, "the stream ends with data: [DONE]: " + streamed.body());
    assertTrue(chunks.size() >= 1, streamed.body());
    spec.assertValid(spec.responseSchema("/v1/chat/completions", "post", 200, "text/event-stream"), chunks, "the chunks");

    Reply embeddings = send("POST", "/v1/embeddings", apiKey(), "application/json",
        "{\"model\":\"sim-embed\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"float\"}", realtime);
    conforms(embeddings, "/v1/embeddings", "post", 200);

    // The real-time job is recorded asynchronously, then listed and readable like any job.
    String jobId = chat.header("X-Keld-Job-Id");
    JsonNode listed = null;
    long until = System.nanoTime() + JOB_TIMEOUT.toNanos();
    while (listed == null && System.nanoTime() < until) {
      JsonNode page = conforms(get("/ixp/v1/jobs?realtime=true&limit=200"), "/ixp/v1/jobs", "get", 200);
      for (JsonNode j : page.path("data")) if (j.path("id").asText().equals(jobId)) listed = j;
      if (listed == null) Thread.sleep(100);
    }
    assertNotNull(listed, "the real-time job " + jobId + " is listed");
    assertTrue(listed.path("realtime").asBoolean(), listed.toString());
    conforms(get("/ixp/v1/jobs/" + jobId), "/ixp/v1/jobs/{job_id}", "get", 200);
  }

  // -- calls ------------------------------------------------------------------------------------

  private record Reply(int status, HttpHeaders headers, String body) {
    String header(String name) {
      return headers.firstValue(name).orElse(null);
    }

    String contentType() {
      return headers.firstValue("Content-Type").orElse("");
    }
  }

  private static String apiKey() {
    return world.tenancy.apiKey();
  }

  private static Reply get(String path) throws Exception {
    return send("GET", path, apiKey(), null, null, Map.of());
  }

  private static Reply send(String method, String path, String key, String contentType, String body, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(CALL_TIMEOUT);
    if (key != null) b.header("Authorization", "Bearer " + key);
    if (contentType != null) b.header("Content-Type", contentType);
    headers.forEach(b::header);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    return new Reply(r.statusCode(), r.headers(), r.body());
  }

  /**
   * Asserts the status, that the content type is one the spec lists for this operation and status,
   * and that the body validates against that content's schema; returns the body.
   */
  private static JsonNode conforms(Reply r, String path, String method, int status) {
    String what = method.toUpperCase() + " " + path + " → " + status;
    assertEquals(status, r.status(), what + ": the status; the body: " + r.body());
    String media = assertMediaType(r, path, method, status);
    JsonNode body;
    try {
      body = JSON.readTree(r.body());
    } catch (IOException e) {
      throw new AssertionError(what + ": the body is not JSON: " + r.body(), e);
    }
    spec.assertValid(spec.responseSchema(path, method, status, media), body, what + " (" + spec.schemaName(path, method, status, media) + ")");
    return body;
  }

  private static String assertMediaType(Reply r, String path, String method, int status) {
    List<String> allowed = spec.mediaTypes(path, method, status);
    String media = mediaType(r.contentType());
    assertTrue(allowed.contains(media), method.toUpperCase() + " " + path + " → " + status + ": Content-Type is one of " + allowed
        + ", got '" + r.contentType() + "'; the body: " + r.body());
    return media;
  }

  private static String mediaType(String contentType) {
    int semi = contentType.indexOf(';');
    return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }

  /** A submission for the demo project (the API key is scoped to it); checked against the spec's request schema. */
  private static ObjectNode submission(String useCase, String deadline, String ceiling, long tokens) {
    ObjectNode s = JSON.createObjectNode();
    s.put("use_case", useCase).put("deadline", deadline).put("ceiling_usd_per_mtok", new BigDecimal(ceiling)).put("estimated_tokens", tokens);
    spec.assertValid(spec.requestSchema("/ixp/v1/jobs", "post", "application/json"), s, "the submission " + s);
    return s;
  }

  private static String submit(ObjectNode submission) throws Exception {
    Reply r = send("POST", "/ixp/v1/jobs", apiKey(), "application/json", submission.toString(), Map.of());
    return conforms(r, "/ixp/v1/jobs", "post", 201).path("id").asText();
  }

  private static void cancelQuietly(String jobId) throws Exception {
    send("POST", "/ixp/v1/jobs/" + jobId + "/cancel", apiKey(), null, null, Map.of());
  }

  /** Polls the job, checking each answer against the spec, until {@code done} holds. */
  private static JsonNode awaitJob(String id, Predicate<JsonNode> done) throws Exception {
    long until = System.nanoTime() + JOB_TIMEOUT.toNanos();
    JsonNode job = null;
    while (System.nanoTime() < until) {
      job = conforms(get("/ixp/v1/jobs/" + id), "/ixp/v1/jobs/{job_id}", "get", 200);
      if (done.test(job)) return job;
      Thread.sleep(200);
    }
    throw new AssertionError("job " + id + " did not get there in " + JOB_TIMEOUT + "; last seen: " + job);
  }

  /** A key of the demo organization with {@code role}, scoped to {@code projectId} (via the Atlas API). */
  private static String issueKey(String role, String projectId) throws Exception {
    Reply key = send("POST", "/atlas/v1/orgs/" + world.tenancy.orgId() + "/keys", world.tenancy.adminKey(), "application/json",
        JSON.createObjectNode().put("name", role + "-" + UUID.randomUUID()).put("role", role).put("project_id", projectId).toString(), Map.of());
    assertEquals(201, key.status(), "issue a key: " + key.body());
    return JSON.readTree(key.body()).path("key").asText();
  }

  /** A project under the demo team with a hard cap of 1 micro-USD, and a member key scoped to it (via the Atlas API). */
  private static String cappedProjectKey() throws Exception {
    String admin = world.tenancy.adminKey();
    Reply project = send("POST", "/atlas/v1/teams/" + world.tenancy.teamId() + "/projects", admin, "application/json",
        JSON.createObjectNode().put("name", "capped-" + UUID.randomUUID()).toString(), Map.of());
    assertEquals(201, project.status(), "create a project: " + project.body());
    String projectId = JSON.readTree(project.body()).path("id").asText();
    Reply budget = send("PUT", "/atlas/v1/projects/" + projectId + "/budget", admin, "application/json",
        "{\"period\":\"month\",\"hard_cap_micro_usd\":1}", Map.of());
    assertEquals(200, budget.status(), "set its budget: " + budget.body());
    return issueKey("member", projectId);
  }

  // -- server-sent events -------------------------------------------------------------------------

  private record Sse(String event, String data) {}

  /** Parses the stream on a thread of its own; events arrive on the queue. Comments (keep-alives) are skipped. */
  private static BlockingQueue<Sse> readEvents(InputStream in) {
    BlockingQueue<Sse> queue = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String event = null;
        StringBuilder data = null;
        for (String line; (line = r.readLine()) != null; ) {
          if (line.isEmpty()) {
            if (data != null) queue.add(new Sse(event == null ? "message" : event, data.toString()));
            event = null;
            data = null;
            continue;
          }
          if (line.startsWith(":")) continue;
          int colon = line.indexOf(':');
          String field = colon < 0 ? line : line.substring(0, colon);
          String value = colon < 0 ? "" : line.substring(colon + 1);
          if (value.startsWith(" ")) value = value.substring(1);
          if (field.equals("event")) event = value;
          else if (field.equals("data")) data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
        }
      } catch (IOException closed) {
        // the test closed the stream
      }
    }, "ixp-events-reader");
    reader.setDaemon(true);
    reader.start();
    return queue;
  }

  // -- the spec -----------------------------------------------------------------------------------

  /** {@code ../ixp/spec/ixp.openapi.yaml} from the node module. */
  private static Path locateSpec() {
    Path moduleDir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    Path file = moduleDir.resolve("../ixp/spec/ixp.openapi.yaml").toAbsolutePath().normalize();
    assertTrue(Files.isRegularFile(file), "the IXP spec is at " + file);
    return file;
  }

  private static ObjectNode with(ObjectNode base, String pointer, JsonNode value) {
    ObjectNode copy = base.deepCopy();
    int slash = pointer.lastIndexOf('/');
    JsonNode parent = copy.at(pointer.substring(0, slash));
    String name = pointer.substring(slash + 1);
    if (parent instanceof ObjectNode o) o.set(name, value);
    else if (parent instanceof ArrayNode a) a.set(Integer.parseInt(name), value);
    else throw new IllegalArgumentException("no parent for " + pointer);
    return copy;
  }

  /**
   * The OpenAPI document and a validator over it. The document is registered under {@link #IRI};
   * a schema is the document's node at a JSON pointer, so its {@code $ref}s resolve against the
   * whole document. The dialect is JSON Schema 2020-12, the spec's {@code jsonSchemaDialect}.
   */
  static final class Spec {

    static final String IRI = "https://keld.io/spec/ixp.openapi.json";

    final JsonNode doc;
    private final JsonSchemaFactory factory;
    private final SchemaValidatorsConfig config;
    private final Map<String, JsonSchema> schemas = new ConcurrentHashMap<>();

    private Spec(JsonNode doc) throws IOException {
      this.doc = doc;
      assertEquals("https://json-schema.org/draft/2020-12/schema", doc.path("jsonSchemaDialect").asText(), "the spec's JSON Schema dialect");
      String json = JSON.writeValueAsString(doc);
      this.factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012, b -> b.schemaLoaders(l -> l.schemas(Map.of(IRI, json))));
      this.config = SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).pathType(PathType.JSON_POINTER).build();
    }

    static Spec load(Path file) throws IOException {
      return new Spec(new YAMLMapper().readTree(file.toFile()));
    }

    /** The schema at a JSON pointer into the document ({@code /components/schemas/JobResource}). */
    JsonSchema at(String pointer) {
      return schemas.computeIfAbsent(pointer, p -> {
        assertFalse(doc.at(p).isMissingNode(), "the spec has " + p);
        JsonSchema s = factory.getSchema(SchemaLocation.of(IRI + "#" + p), config);
        s.initializeValidators(); // resolve every $ref now: a dangling one fails here, not on some later instance
        return s;
      });
    }

    JsonSchema component(String name) {
      return at("/components/schemas/" + name);
    }

    /** The response object of an operation for a status, {@code $ref} to components/responses followed. */
    JsonNode response(String path, String method, int status) {
      JsonNode op = doc.path("paths").path(path).path(method);
      assertFalse(op.isMissingNode(), "the spec has " + method.toUpperCase() + " " + path);
      JsonNode r = op.path("responses").path(String.valueOf(status));
      assertFalse(r.isMissingNode(), "the spec lists a " + status + " answer for " + method.toUpperCase() + " " + path);
      return deref(r);
    }

    List<String> mediaTypes(String path, String method, int status) {
      List<String> out = new ArrayList<>();
      response(path, method, status).path("content").fieldNames().forEachRemaining(out::add);
      return out;
    }

    /** The pointer of the schema a response's content names: the component its {@code $ref} names, or the inline schema. */
    String schemaPointer(String path, String method, int status, String media) {
      JsonNode content = response(path, method, status).path("content").path(media);
      assertFalse(content.isMissingNode(), method.toUpperCase() + " " + path + " → " + status + " has content " + media);
      return pointerOf(content.path("schema"), "/paths/" + escape(path) + "/" + method + "/responses/" + status + "/content/" + escape(media) + "/schema");
    }

    String schemaName(String path, String method, int status, String media) {
      String p = schemaPointer(path, method, status, media);
      return p.substring(p.lastIndexOf('/') + 1);
    }

    JsonSchema responseSchema(String path, String method, int status, String media) {
      return at(schemaPointer(path, method, status, media));
    }

    JsonSchema requestSchema(String path, String method, String media) {
      JsonNode content = doc.path("paths").path(path).path(method).path("requestBody").path("content").path(media);
      assertFalse(content.isMissingNode(), method.toUpperCase() + " " + path + " takes " + media);
      return at(pointerOf(content.path("schema"), "/paths/" + escape(path) + "/" + method + "/requestBody/content/" + escape(media) + "/schema"));
    }

    void assertValid(String component, JsonNode instance, String what) {
      assertValid(component(component), instance, what + " as " + component);
    }

    void assertValid(JsonSchema schema, JsonNode instance, String what) {
      Set<ValidationMessage> errors = schema.validate(instance);
      if (!errors.isEmpty()) {
        fail(what + " does not conform to the spec (" + schema.getSchemaLocation() + "):\n  "
            + errors.stream().map(ValidationMessage::toString).sorted().collect(Collectors.joining("\n  "))
            + "\nthe document: " + clip(instance.toString()));
      }
    }

    /** {@code instance} must fail {@code component}, with an error reported at {@code at} (a JSON pointer; "" is the root). */
    void assertInvalid(String component, JsonNode instance, String at, String what) {
      Set<ValidationMessage> errors = component(component).validate(instance);
      assertFalse(errors.isEmpty(), what + " must not validate as " + component + ": " + clip(instance.toString()));
      assertTrue(errors.stream().anyMatch(m -> m.getInstanceLocation().toString().equals(at)),
          what + ": an error at '" + at + "', got " + errors);
    }

    /** A header's value against the schema of a header object ({@code #/components/headers/X}). */
    void assertHeaderValid(String ref, String value, String what) {
      assertNotNull(value, what + " is sent");
      String pointer = ref.substring(1);
      JsonNode header = doc.at(pointer);
      assertFalse(header.isMissingNode(), "the spec has " + ref);
      JsonSchema schema = at(pointerOf(header.path("schema"), pointer + "/schema"));
      assertValid(schema, JSON.getNodeFactory().textNode(value), what + " '" + value + "'");
    }

    /**
     * Every example of a request or response body: JSON examples against their schema, NDJSON ones
     * line by line as the array their schema describes. Returns how many were checked.
     */
    int checkOwnExamples() throws IOException {
      int checked = 0;
      for (Iterator<Map.Entry<String, JsonNode>> paths = doc.path("paths").fields(); paths.hasNext(); ) {
        Map.Entry<String, JsonNode> p = paths.next();
        for (Iterator<Map.Entry<String, JsonNode>> ops = p.getValue().fields(); ops.hasNext(); ) {
          Map.Entry<String, JsonNode> op = ops.next();
          if (op.getKey().equals("parameters")) continue;
          String base = "/paths/" + escape(p.getKey()) + "/" + op.getKey();
          checked += checkExamples(op.getValue().path("requestBody"), base + "/requestBody");
          for (Iterator<Map.Entry<String, JsonNode>> rs = op.getValue().path("responses").fields(); rs.hasNext(); ) {
            Map.Entry<String, JsonNode> r = rs.next();
            JsonNode node = r.getValue();
            String at = base + "/responses/" + r.getKey();
            if (node.has("$ref")) {
              at = node.get("$ref").asText().substring(1);
              node = deref(node);
            }
            checked += checkExamples(node, at);
          }
        }
      }
      return checked;
    }

    private int checkExamples(JsonNode bodyOrResponse, String at) throws IOException {
      int checked = 0;
      for (Iterator<Map.Entry<String, JsonNode>> cs = bodyOrResponse.path("content").fields(); cs.hasNext(); ) {
        Map.Entry<String, JsonNode> c = cs.next();
        String contentAt = at + "/content/" + escape(c.getKey());
        JsonSchema schema = at(pointerOf(c.getValue().path("schema"), contentAt + "/schema"));
        for (Iterator<Map.Entry<String, JsonNode>> es = c.getValue().path("examples").fields(); es.hasNext(); ) {
          Map.Entry<String, JsonNode> e = es.next();
          JsonNode value = deref(e.getValue()).path("value");
          if (c.getKey().equals(NDJSON)) {
            ArrayNode lines = JSON.createArrayNode();
            for (String line : value.asText().split("\n")) if (!line.isBlank()) lines.add(JSON.readTree(line));
            value = lines;
          }
          assertValid(schema, value, "the spec's example " + contentAt + "/examples/" + e.getKey());
          checked++;
        }
      }
      return checked;
    }

    private JsonNode deref(JsonNode node) {
      JsonNode n = node;
      for (int i = 0; i < 8 && n.has("$ref"); i++) {
        String ref = n.get("$ref").asText();
        assertTrue(ref.startsWith("#/"), "a local $ref: " + ref);
        n = doc.at(ref.substring(1));
        assertFalse(n.isMissingNode(), "the spec has " + ref);
      }
      return n;
    }

    /** A schema that is only a {@code $ref} is addressed by what it names; any other by where it is. */
    private static String pointerOf(JsonNode schema, String where) {
      assertFalse(schema.isMissingNode(), "a schema at " + where);
      if (schema.size() == 1 && schema.has("$ref") && schema.get("$ref").asText().startsWith("#/")) return schema.get("$ref").asText().substring(1);
      return where;
    }

    private static String escape(String token) {
      return token.replace("~", "~0").replace("/", "~1");
    }

    private static String clip(String s) {
      return s.length() > 2_000 ? s.substring(0, 2_000) + "…" : s;
    }
  }
}
