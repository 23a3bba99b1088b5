package io.keld.node.atlas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.testkit.DatabaseScan;
import io.keld.node.testing.DemoWorld;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.exporter.internal.http.HttpExporter;
import io.opentelemetry.exporter.internal.http.HttpExporterBuilder;
import io.opentelemetry.exporter.internal.marshal.Marshaler;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.internal.StandardComponentId;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import java.time.temporal.ChronoUnit;

/**
 * The spend map end to end, on a running node (PostgreSQL in CI): the OpenTelemetry Java SDK emits
 * GenAI spans and its OTLP/HTTP exporters send them, in protobuf and in JSON, to the node's
 * OpenTelemetry port; the spend report shows them under the right team, project and model at the
 * price book's cost; a second export of the same spans counts once; content attributes never reach
 * the database.
 */
class SpendMapEndToEndTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CANARY = "CANARY-" + UUID.randomUUID();
  private static final HttpClient http = HttpClient.newHttpClient();
  private static DemoWorld world;
  private static String research;
  private static String crawler;

  @BeforeAll
  static void start() throws Exception {
    world = DemoWorld.start();
    String admin = world.tenancy.adminKey();
    research = call("POST", "/atlas/v1/orgs/" + world.tenancy.orgId() + "/teams", "{\"name\":\"Research\"}", admin).path("id").asText();
    crawler = call("POST", "/atlas/v1/teams/" + research + "/projects", "{\"name\":\"Crawler\"}", admin).path("id").asText();
    // Telemetry sent with the organization-wide key is placed by rule: the crawler's services belong to Crawler.
    JsonNode rules = call("PUT", "/atlas/v1/mapping-rules", "{\"rules\":[{\"name\":\"crawler\",\"when\":{\"service.name\":\"crawler-*\"},"
        + "\"set\":{\"project_id\":\"" + crawler + "\",\"job_category\":\"enrichment\",\"spend_class\":\"capex\"}}]}", admin);
    assertEquals(1, rules.path("rules").size(), rules.toString());
  }

  @AfterAll
  static void stop() throws Exception {
    if (world != null) world.close();
  }

  @Test
  void genAiSpansFromTheOpenTelemetrySdkLandUnderTheirTeamProjectAndModelOnceEach() throws Exception {
    Instant before = Instant.now().minusSeconds(3600);
    // The crawler (org-wide key, placed by the mapping rule): 12 embeddings and 8 summaries, in batches, no server span.
    List<SpanData> crawlerSpans = emit("crawler-nightly", tracer -> {
      for (int i = 0; i < 12; i++) genAi(tracer, "embeddings", "text-embedding-3-small", 1_000, 0, false);
      for (int i = 0; i < 8; i++) genAi(tracer, "chat", "gpt-4o-mini", 20_000, 500, false);
    });
    // The support bot (project-scoped key of the demo project): chats under an HTTP server span, streamed.
    List<SpanData> botSpans = emit("support-bot", tracer -> {
      for (int i = 0; i < 5; i++) {
        Span server = tracer.spanBuilder("POST /chat").setSpanKind(SpanKind.SERVER).startSpan();
        try (Scope s = server.makeCurrent()) {
          genAi(tracer, "chat", "gpt-4o-mini", 1_200, 300, true);
        } finally {
          server.end();
        }
      }
    });
    assertEquals(20, crawlerSpans.size());
    assertEquals(10, botSpans.size());

    // The crawler's spans go out in protobuf (the SDK's exporter as configured by default) ...
    assertTrue(exportProtobuf(crawlerSpans, world.tenancy.adminKey()), "the protobuf export succeeded");
    // ... the bot's in JSON, gzip-compressed.
    assertTrue(exportJson(botSpans, world.tenancy.apiKey()), "the JSON export succeeded");
    // The same crawler spans again, this time as JSON: the same trace and span ids, so they count once.
    assertTrue(exportJson(crawlerSpans, world.tenancy.adminKey()), "the repeated export succeeded");

    JsonNode report = call("GET", "/atlas/v1/reports/spend?granularity=total&group_by=team,project,model&from=" + before
        + "&to=" + Instant.now().plusSeconds(3600), world.tenancy.adminKey());
    JsonNode crawlerChat = row(report, crawler, "gpt-4o-mini");
    JsonNode crawlerEmbed = row(report, crawler, "text-embedding-3-small");
    JsonNode botChat = row(report, world.tenancy.projectId(), "gpt-4o-mini");
    assertEquals(research, crawlerChat.path("team_id").asText());
    assertEquals("Crawler", crawlerChat.path("project_name").asText());
    assertEquals(world.tenancy.teamId(), botChat.path("team_id").asText());
    assertEquals(8, crawlerChat.path("requests").asLong(), crawlerChat.toString());
    assertEquals(12, crawlerEmbed.path("requests").asLong(), crawlerEmbed.toString());
    assertEquals(5, botChat.path("requests").asLong(), botChat.toString());
    assertEquals(8 * 20_000, crawlerChat.path("input_tokens").asLong());
    assertEquals(8 * 500, crawlerChat.path("output_tokens").asLong());
    // Costs from the seed price book: gpt-4o-mini $0.15 in / $0.60 out per Mtok; text-embedding-3-small $0.02 in.
    assertEquals(8 * (20_000 * 150_000L + 500 * 600_000L) / 1_000_000, crawlerChat.path("cost_micro_usd").asLong());
    assertEquals(12 * 1_000 * 20_000L / 1_000_000, crawlerEmbed.path("cost_micro_usd").asLong());
    assertEquals(5 * (1_200 * 150_000L + 300 * 600_000L) / 1_000_000, botChat.path("cost_micro_usd").asLong());
    assertEquals(new BigDecimal(crawlerChat.path("cost_micro_usd").asLong()).movePointLeft(6).compareTo(
        new BigDecimal(crawlerChat.path("cost_usd").asText())), 0);

    // Mapping: the crawler's category and capex came from the rule; the bot's were inferred.
    JsonNode byClass = call("GET", "/atlas/v1/reports/spend?granularity=total&group_by=project,job_category,spend_class&from=" + before
        + "&to=" + Instant.now().plusSeconds(3600), world.tenancy.adminKey());
    boolean sawCapex = false;
    for (JsonNode r : byClass.path("rows")) {
      if (r.path("project_id").asText().equals(crawler)) {
        assertEquals("enrichment", r.path("job_category").asText());
        assertEquals("capex", r.path("spend_class").asText());
        sawCapex = true;
      }
      if (r.path("project_id").asText().equals(world.tenancy.projectId()) && r.path("requests").asLong() == 5) {
        assertEquals("chat", r.path("job_category").asText());
        assertEquals("opex", r.path("spend_class").asText());
      }
    }
    assertTrue(sawCapex, byClass.toString());

    // The project-scoped key sees its own project only.
    JsonNode scoped = call("GET", "/atlas/v1/reports/spend?granularity=total&group_by=project&from=" + before + "&to="
        + Instant.now().plusSeconds(3600), world.tenancy.apiKey());
    for (JsonNode r : scoped.path("rows")) assertEquals(world.tenancy.projectId(), r.path("project_id").asText());

    // CSV: the same figures.
    HttpResponse<String> csv = http.send(request("GET", "/atlas/v1/reports/spend?format=csv&granularity=total&group_by=project,model&from="
        + before + "&to=" + Instant.now().plusSeconds(3600), null, world.tenancy.adminKey()), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, csv.statusCode());
    assertTrue(csv.headers().firstValue("Content-Type").orElse("").startsWith("text/csv"));
    assertTrue(csv.body().lines().anyMatch(l -> l.startsWith("") && l.contains(crawler) && l.contains("gpt-4o-mini") && l.contains(",8,")),
        csv.body());

    // Nothing of the prompts or completions was stored anywhere.
    List<String> hits = DatabaseScan.cellsHolding(world.db, List.of(CANARY), List.of("usage_records", "usage_rollup_hourly"));
    assertTrue(hits.isEmpty(), "content reached the database: " + hits);
  }

  @Test
  void rejectedSpansComeBackAsPartialSuccessAndTheRestIsKept() throws Exception {
    String body = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"crawler-x\"}}]},"
        + "\"scopeSpans\":[{\"spans\":["
        + span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "gpt-4o-mini", "10")
        + "," + span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203332", null, "10")
        + "," + span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203333", "gpt-4o-mini", "-5")
        + "," + span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203334", "gpt-4o-mini", "100000000000000000")
        // Odd but accountable: a NUL in the model and a name longer than the column are cleaned and clipped, not fatal.
        + "," + span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203335", "gpt-4o-mini\\u0000" + "x".repeat(300), "10")
        + "]}]}]}";
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(otlp()))
        .header("Authorization", "Bearer " + world.tenancy.adminKey()).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    JsonNode partial = JSON.readTree(r.body()).path("partialSuccess");
    assertEquals("3", partial.path("rejectedSpans").asText(), r.body());
    assertTrue(partial.path("errorMessage").asText().contains("b7ad6b7169203332"), r.body());

    HttpResponse<String> garbage = http.send(HttpRequest.newBuilder(URI.create(otlp()))
        .header("Authorization", "Bearer " + world.tenancy.adminKey()).header("Content-Type", "application/x-protobuf")
        .POST(HttpRequest.BodyPublishers.ofString("not protobuf at all")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, garbage.statusCode());
    HttpResponse<String> noKey = http.send(HttpRequest.newBuilder(URI.create(otlp())).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, noKey.statusCode());
    HttpResponse<String> xml = http.send(HttpRequest.newBuilder(URI.create(otlp())).header("Content-Type", "application/xml")
        .header("Authorization", "Bearer " + world.tenancy.adminKey()).POST(HttpRequest.BodyPublishers.ofString("<a/>")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(415, xml.statusCode());
  }

  @Test
  void anAtlasCsvImportCountsOnceAndBadRowsAreListed() throws Exception {
    String day = Instant.now().minusSeconds(86_400).truncatedTo(ChronoUnit.DAYS).toString();
    String csv = "source_event_id,period_start,granularity,request_count,provider,model,operation,input_tokens,output_tokens,cost_usd,project_id\n"
        + "imp-1," + day + ",day,40,anthropic,claude-sonnet-4,chat,400000,20000,1.5," + crawler + "\n"
        + "imp-2," + day + ",day,10,openai,gpt-4o,chat,100000,5000,,\n"
        + "imp-3,not-a-time,day,1,openai,gpt-4o,chat,1,1,,\n";
    JsonNode first = importCsv(csv);
    assertEquals(2, first.path("accepted").asInt(), first.toString());
    assertEquals(1, first.path("rejected").asInt(), first.toString());
    assertEquals(4, first.path("errors").get(0).path("line").asInt(), "the header is line 1: " + first);
    JsonNode again = importCsv(csv);
    assertEquals(0, again.path("accepted").asInt(), again.toString());
    assertEquals(2, again.path("duplicates").asInt(), again.toString());

    JsonNode report = call("GET", "/atlas/v1/reports/spend?granularity=day&group_by=project,model&provider=anthropic,openai&from="
        + Instant.now().minusSeconds(3 * 86_400) + "&to=" + Instant.now().plusSeconds(3600), world.tenancy.adminKey());
    JsonNode sonnet = row(report, crawler, "claude-sonnet-4");
    assertEquals(40, sonnet.path("requests").asLong());
    assertEquals(1_500_000, sonnet.path("cost_micro_usd").asLong(), "the file's cost, not the price book's");
    assertEquals(day, sonnet.path("period_start").asText());
    // No cost in the file: priced by the book (gpt-4o $2.50 in, $10 out per Mtok), placed unassigned (no project, org-wide key).
    for (JsonNode r : report.path("rows")) {
      if (r.path("model").asText().equals("gpt-4o") && r.path("requests").asLong() == 10) {
        assertEquals(100_000 * 2_500_000L / 1_000_000 + 5_000 * 10_000_000L / 1_000_000, r.path("cost_micro_usd").asLong());
        assertTrue(r.path("project_id").isMissingNode() || r.path("project_id").isNull(), r.toString());
        assertEquals("(unassigned)", r.path("project_name").asText());
      }
    }
  }

  @Test
  void badRequestsToTheSpendMapGetClearProblems() throws Exception {
    String admin = world.tenancy.adminKey();
    assertProblem(422, "group_by", request("GET", "/atlas/v1/reports/spend?group_by=colour", null, admin));
    assertProblem(422, "from", request("GET", "/atlas/v1/reports/spend?from=yesterday", null, admin));
    assertProblem(422, "from", request("GET", "/atlas/v1/reports/spend?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", null, admin));
    assertProblem(422, "granularity", request("GET", "/atlas/v1/reports/spend?granularity=hour&from="
        + Instant.now().minusSeconds(40 * 86_400), null, admin));
    assertProblem(422, "limit", request("GET", "/atlas/v1/recommendations?limit=0", null, admin));
    assertProblem(422, "rules", request("PUT", "/atlas/v1/mapping-rules", "{\"rules\":[{\"when\":{\"service.name\":null},\"set\":{}}]}", admin));
    assertProblem(422, "rules", request("PUT", "/atlas/v1/mapping-rules",
        "{\"rules\":[{\"when\":{\"a\":\"b\"},\"set\":{\"project_id\":\"prj_of_someone_else\"}}]}", admin));
    assertProblem(403, null, request("PUT", "/atlas/v1/mapping-rules", "{\"rules\":[]}", world.tenancy.apiKey()));
    assertProblem(403, null, request("POST", "/atlas/v1/price-book",
        "{\"provider\":\"openai\",\"model\":\"x\",\"token_type\":\"input\",\"usd_per_mtok\":1}", admin));
    assertProblem(422, "format", HttpRequest.newBuilder(URI.create(world.baseUrl + "/atlas/v1/usage/imports?format=xlsx"))
        .header("Authorization", "Bearer " + admin).POST(HttpRequest.BodyPublishers.ofString("x")).build());
    assertProblem(400, null, HttpRequest.newBuilder(URI.create(world.baseUrl + "/atlas/v1/usage/imports?format=openai_usage"))
        .header("Authorization", "Bearer " + admin).POST(HttpRequest.BodyPublishers.ofString("{not json")).build());
    assertProblem(403, null, request("GET", "/atlas/v1/reports/focus", null, world.tenancy.apiKey()));
    // The rules were left as they were.
    assertEquals(1, call("GET", "/atlas/v1/mapping-rules", admin).path("rules").size());
  }

  private static void assertProblem(int status, String field, HttpRequest request) throws Exception {
    HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"), r.headers().toString());
    if (field != null) assertEquals(field, JSON.readTree(r.body()).path("field").asText(), r.body());
  }

  private static JsonNode importCsv(String csv) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(world.baseUrl + "/atlas/v1/usage/imports?format=atlas_csv"))
        .header("Authorization", "Bearer " + world.tenancy.adminKey()).header("Content-Type", "text/csv")
        .POST(HttpRequest.BodyPublishers.ofString(csv)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  private static String span(String trace, String spanId, String model, String inputTokens) {
    long now = System.currentTimeMillis() * 1_000_000L;
    return "{\"traceId\":\"" + trace + "\",\"spanId\":\"" + spanId + "\",\"name\":\"chat\",\"kind\":3,\"startTimeUnixNano\":\"" + now
        + "\",\"endTimeUnixNano\":\"" + (now + 1_000_000) + "\",\"attributes\":["
        + "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
        + "{\"key\":\"gen_ai.system\",\"value\":{\"stringValue\":\"openai\"}},"
        + (model == null ? "" : "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"" + model + "\"}},")
        + "{\"key\":\"gen_ai.usage.prompt_tokens\",\"value\":{\"intValue\":\"" + inputTokens + "\"}}]}";
  }

  // -- the OpenTelemetry SDK side --------------------------------------------------------------------

  private interface Workload {
    void run(Tracer tracer);
  }

  /** Runs a workload under a tracer provider of the SDK and keeps what it ended (the SDK's own SpanData). */
  private static List<SpanData> emit(String service, Workload workload) {
    List<SpanData> ended = new ArrayList<>();
    SpanExporter keep = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        synchronized (ended) {
          ended.addAll(spans);
        }
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    SdkTracerProvider provider = SdkTracerProvider.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), service))))
        .addSpanProcessor(SimpleSpanProcessor.create(keep)).build();
    try {
      workload.run(provider.get("keld-test"));
    } finally {
      provider.shutdown().join(10, TimeUnit.SECONDS);
    }
    return ended;
  }

  /** One GenAI client span by the semantic conventions, content attributes included (they must be dropped). */
  private static void genAi(Tracer tracer, String operation, String model, long input, long output, boolean stream) {
    Span s = tracer.spanBuilder(operation + " " + model).setSpanKind(SpanKind.CLIENT).startSpan();
    s.setAttribute("gen_ai.operation.name", operation);
    s.setAttribute("gen_ai.provider.name", "openai");
    s.setAttribute("gen_ai.request.model", model);
    s.setAttribute("gen_ai.response.model", model + "-2024-07-18");
    s.setAttribute("gen_ai.usage.input_tokens", input);
    if (output > 0) s.setAttribute("gen_ai.usage.output_tokens", output);
    if (stream) s.setAttribute("gen_ai.request.stream", true);
    s.setAttribute("gen_ai.input.messages", "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"" + CANARY + "\"}]}]");
    s.setAttribute("gen_ai.output.messages", "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"" + CANARY + "\"}]}]");
    s.setAttribute("gen_ai.prompt", CANARY);
    s.setAttribute("gen_ai.completion.0.content", CANARY);
    s.setAttribute("llm.prompts.0.content", CANARY);
    s.end();
  }

  /** The SDK's OTLP/HTTP span exporter, protobuf encoding, as an application configures it. */
  private static boolean exportProtobuf(List<SpanData> spans, String key) {
    OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(otlp()).addHeader("Authorization", "Bearer " + key)
        .setTimeout(Duration.ofSeconds(30)).build();
    try {
      return exporter.export(spans).join(30, TimeUnit.SECONDS).isSuccess();
    } finally {
      exporter.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  /**
   * The SDK's OTLP/HTTP exporter in its JSON encoding, gzip-compressed. The public builder does not
   * offer JSON, so this uses the exporter machinery it is built on (HttpExporterBuilder with
   * exportAsJson, TraceRequestMarshaler) — the SDK's own encoder and sender, not a hand-written body.
   */
  private static boolean exportJson(List<SpanData> spans, String key) {
    HttpExporter<Marshaler> exporter = new HttpExporterBuilder<Marshaler>(StandardComponentId.ExporterType.OTLP_HTTP_JSON_SPAN_EXPORTER, otlp())
        .exportAsJson().setCompression("gzip").addConstantHeaders("Authorization", "Bearer " + key).setTimeout(30, TimeUnit.SECONDS).build();
    try {
      return exporter.export(TraceRequestMarshaler.create(spans), spans.size()).join(30, TimeUnit.SECONDS).isSuccess();
    } finally {
      exporter.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  private static String otlp() {
    var a = world.node.otlpAddress().orElseThrow();
    return "http://127.0.0.1:" + a.getPort() + "/v1/traces";
  }

  // -- HTTP helpers ----------------------------------------------------------------------------------

  private static JsonNode row(JsonNode report, String projectId, String model) {
    for (JsonNode r : report.path("rows")) {
      if (r.path("project_id").asText().equals(projectId) && r.path("model").asText().startsWith(model)) return r;
    }
    throw new AssertionError("no row for " + projectId + "/" + model + " in " + report);
  }

  private static HttpRequest request(String method, String path, String body, String key) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key);
    if (body != null) b.header("Content-Type", "application/json");
    return b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
  }

  private static JsonNode call(String method, String path, String key) throws Exception {
    return call(method, path, null, key);
  }

  private static JsonNode call(String method, String path, String body, String key) throws Exception {
    HttpResponse<String> r = http.send(request(method, path, body, key), HttpResponse.BodyHandlers.ofString());
    assertTrue(r.statusCode() < 300, method + " " + path + " → " + r.statusCode() + " " + r.body());
    JsonNode json = JSON.readTree(r.body());
    assertNotNull(json);
    assertFalse(json.isMissingNode());
    return json;
  }
}
