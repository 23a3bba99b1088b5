package io.keld.atlas.spend.otlp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendMap;
import io.keld.atlas.tenancy.Organization;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.ixp.auth.Principal.OrgKind;
import io.keld.ixp.auth.Role;
import io.keld.kit.CacheSettings;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.internal.http.HttpExporter;
import io.opentelemetry.exporter.internal.http.HttpExporterBuilder;
import io.opentelemetry.exporter.internal.marshal.Marshaler;
import io.opentelemetry.exporter.internal.otlp.metrics.MetricsRequestMarshaler;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.internal.StandardComponentId;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * OTLP GenAI metrics end to end on the spend map as a node runs it, over a real OTLP port: the
 * OpenTelemetry Java SDK records {@code gen_ai.client.token.usage} and
 * {@code gen_ai.client.operation.duration} and its OTLP/HTTP exporters send them, in protobuf
 * (cumulative) and in JSON (delta); repeated exports count once; a service that sends spans and
 * metrics for the same calls is counted once (its spans, plus what its metrics saw that no span
 * did), whichever arrives first; bad exports get OTLP's 4xx answers and count nothing. On H2 here;
 * {@link OtlpMetricsPostgresTest} runs the same on PostgreSQL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OtlpMetricsTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Long enough for a span export that follows a metrics export to land first, short enough for a test. */
  private static final Duration SETTLE_AFTER = Duration.ofSeconds(4);
  private static final AttributeKey<String> TOKEN_TYPE = AttributeKey.stringKey("gen_ai.token.type");

  private final HttpClient http = HttpClient.newHttpClient();
  private TestDatabase db;
  private ModuleNode node;
  private String otlp;
  private String orgId;
  private String adminKey;
  private String projectKey;
  private String projectId;

  TestDatabase database() throws Exception {
    return TestDatabase.h2(Files.createTempDirectory("keld-otlp-metrics"));
  }

  @BeforeAll
  void start() throws Exception {
    db = database();
    Config config = ModuleNode.config(db);
    node = ModuleNode.start(config);
    Clock clock = Clock.systemUTC();
    Governance governance = Governance.start(node.system(), node.dataSource(), node.blocking(), clock, node.metrics(),
        config.getDuration("keld.atlas.budget-timeout"), CacheSettings.of(config.getConfig("keld.atlas"), "project"));
    SpendMap spend = new SpendMap(node.system(), node.dataSource(), node.blocking(), clock, governance,
        CacheSettings.of(config.getConfig("keld.atlas"), "mapping-rules"));
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(ModuleNode.PRICE_BOOK_SEED)) {
      spend.startPriceBook(new String(in.readAllBytes(), StandardCharsets.UTF_8), config.getDuration("keld.atlas.price-book-refresh"));
    }
    spend.startOtlpMetrics(SETTLE_AFTER, Duration.ofMillis(200), Duration.ofDays(7));
    var address = node.serve(spend.otlpRoute(16 * 1024 * 1024, new CacheSettings(1000, Duration.ofSeconds(5))));
    otlp = "http://127.0.0.1:" + address.getPort();
    Organization acme = await(governance.tenancy().createOrganization("Acme", OrgKind.ENTERPRISE));
    orgId = acme.id();
    Team team = await(governance.tenancy().createTeam(orgId, "Platform"));
    Project project = await(governance.tenancy().createProject(team, "Assistants"));
    projectId = project.id();
    adminKey = await(governance.keys().issue(orgId, null, null, Role.ADMIN, "otel", "test")).secret();
    projectKey = await(governance.keys().issue(orgId, team.id(), projectId, Role.MEMBER, "otel-project", "test")).secret();
  }

  @AfterAll
  void stop() {
    if (node != null) node.stop();
    if (db != null) db.close();
  }

  // ---- the SDK's exporters ------------------------------------------------------------------------

  @Test
  void cumulativeMetricsFromTheSdkInProtobufCountEachCallOnceAcrossExportsAndRepeats() throws Exception {
    String service = "summarizer-" + UUID.randomUUID();
    OtlpHttpMetricExporter protobuf = OtlpHttpMetricExporter.builder().setEndpoint(otlp + "/v1/metrics")
        .addHeader("Authorization", "Bearer " + adminKey).setTimeout(Duration.ofSeconds(30)).build();
    SdkMetrics metrics = new SdkMetrics(resource(service), AggregationTemporality.CUMULATIVE, protobuf::export);
    try {
      for (int i = 0; i < 7; i++) metrics.call("chat", "gpt-4o-mini", 1_000, 200, 0.5);
      metrics.export();
      for (int i = 0; i < 3; i++) metrics.call("chat", "gpt-4o-mini", 1_000, 200, 1.5);
      metrics.export();
      // Nothing new: a cumulative point equal to the last one adds nothing.
      metrics.export();
      // The first export again (an exporter's retry, a Collector replaying its queue): repeats, counted once.
      assertTrue(metrics.resend(0), "the repeated export was accepted");
      awaitSettled();

      Sums s = ledger("otlp_metrics", service);
      assertEquals(10, s.requests(), s.toString());
      assertEquals(10_000, s.input());
      assertEquals(2_000, s.output());
      // The seed price book: gpt-4o-mini $0.15 in, $0.60 out per Mtok.
      assertEquals(10_000 * 150_000L / 1_000_000 + 2_000 * 600_000L / 1_000_000, s.cost());
      assertEquals(2, s.records(), "one record per collection interval that had calls: " + s);
      assertEquals(0, ledger("otlp", service).records());
      assertEquals("gpt-4o-mini", one("SELECT MAX(model_requested) FROM usage_records WHERE org_id = ? AND service_name = ?", service));
      assertEquals("chat", one("SELECT MAX(job_category) FROM usage_records WHERE org_id = ? AND service_name = ?", service));
    } finally {
      metrics.close();
      protobuf.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void deltaMetricsInJsonArePlacedByTheKeyAndARepeatedExportCountsOnce() throws Exception {
    String service = "indexer-" + UUID.randomUUID();
    HttpExporter<Marshaler> json = new HttpExporterBuilder<Marshaler>(StandardComponentId.ExporterType.OTLP_HTTP_JSON_METRIC_EXPORTER,
        otlp + "/v1/metrics").exportAsJson().setCompression("gzip").addConstantHeaders("Authorization", "Bearer " + projectKey)
        .setTimeout(30, TimeUnit.SECONDS).build();
    SdkMetrics metrics = new SdkMetrics(resource(service), AggregationTemporality.DELTA,
        batch -> json.export(MetricsRequestMarshaler.create(batch), batch.size()));
    try {
      for (int i = 0; i < 4; i++) metrics.call("embeddings", "text-embedding-3-small", 2_500, 0, 0.1);
      metrics.export();
      for (int i = 0; i < 2; i++) metrics.call("embeddings", "text-embedding-3-small", 2_500, 0, 0.1);
      metrics.export();
      assertTrue(metrics.resend(0));
      assertTrue(metrics.resend(1));
      awaitSettled();

      Sums s = ledger("otlp_metrics", service);
      assertEquals(6, s.requests(), s.toString());
      assertEquals(15_000, s.input());
      assertEquals(0, s.output());
      assertEquals(15_000 * 20_000L / 1_000_000, s.cost());
      assertEquals(projectId, one("SELECT MAX(project_id) FROM usage_records WHERE org_id = ? AND service_name = ?", service),
          "a project key's metrics are its project's");
    } finally {
      metrics.close();
      json.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  // ---- spans and metrics of the same calls -------------------------------------------------------

  @Test
  void spansAndMetricsOfTheSameCallsCountOnceAndMetricsAddWhatNoSpanSaw() throws Exception {
    String service = "support-bot-" + UUID.randomUUID();
    Resource resource = resource(service);
    OtlpHttpMetricExporter protobuf = OtlpHttpMetricExporter.builder().setEndpoint(otlp + "/v1/metrics")
        .addHeader("Authorization", "Bearer " + adminKey).build();
    SdkMetrics metrics = new SdkMetrics(resource, AggregationTemporality.CUMULATIVE, protobuf::export);
    SdkSpans spans = new SdkSpans(resource);
    try {
      // 6 calls traced and measured (a span each, and the metrics); 4 only measured (their spans sampled out).
      for (int i = 0; i < 6; i++) {
        spans.call("chat", "gpt-4o-mini", 3_000, 400);
        metrics.call("chat", "gpt-4o-mini", 3_000, 400, 0.8);
      }
      for (int i = 0; i < 4; i++) metrics.call("chat", "gpt-4o-mini", 1_000, 100, 0.8);
      assertTrue(spans.export(otlp + "/v1/traces", adminKey), "spans exported");
      metrics.export();
      awaitSettled();

      Sums fromSpans = ledger("otlp", service);
      Sums fromMetrics = ledger("otlp_metrics", service);
      assertEquals(6, fromSpans.requests());
      assertEquals(4, fromMetrics.requests(), "the metrics count only the calls no span described: " + fromMetrics);
      assertEquals(10, fromSpans.requests() + fromMetrics.requests());
      assertEquals(6 * 3_000 + 4 * 1_000, fromSpans.input() + fromMetrics.input());
      assertEquals(6 * 400 + 4 * 100, fromSpans.output() + fromMetrics.output());
    } finally {
      metrics.close();
      spans.close();
      protobuf.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void metricsThatArriveBeforeTheSpansOfTheSameCallsStillCountOnce() throws Exception {
    String service = "router-" + UUID.randomUUID();
    Resource resource = resource(service);
    OtlpHttpMetricExporter protobuf = OtlpHttpMetricExporter.builder().setEndpoint(otlp + "/v1/metrics")
        .addHeader("Authorization", "Bearer " + adminKey).build();
    SdkMetrics metrics = new SdkMetrics(resource, AggregationTemporality.CUMULATIVE, protobuf::export);
    SdkSpans spans = new SdkSpans(resource);
    try {
      for (int i = 0; i < 5; i++) {
        spans.call("chat", "gpt-4o-mini", 2_000, 300);
        metrics.call("chat", "gpt-4o-mini", 2_000, 300, 0.3);
      }
      // Metrics first (the interval ends now); the spans follow within the settle delay.
      metrics.export();
      assertTrue(spans.export(otlp + "/v1/traces", adminKey));
      awaitSettled();

      assertEquals(5, ledger("otlp", service).requests());
      assertEquals(0, ledger("otlp_metrics", service).records(), "every call was described by a span");
    } finally {
      metrics.close();
      spans.close();
      protobuf.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void cumulativePointsCountTheirIncreaseAndAProcessRestartIsANewSeries() throws Exception {
    String service = "batcher-" + UUID.randomUUID();
    long t0 = System.currentTimeMillis() * 1_000_000L - 600_000_000_000L;
    long minute = 60_000_000_000L;
    String[] model = {"gen_ai.request.model", "gpt-4o-mini"};
    // One process: 5 calls by its first export, 8 by its second; the second sent twice.
    assertEquals(200, post("/v1/metrics", "application/json", export(service,
        pointFrom("gen_ai.client.operation.duration", 2, t0, t0 + minute, 5, "2.5", model)), adminKey).statusCode());
    assertEquals(200, post("/v1/metrics", "application/json", export(service,
        pointFrom("gen_ai.client.operation.duration", 2, t0, t0 + 2 * minute, 8, "4.0", model)), adminKey).statusCode());
    assertEquals(200, post("/v1/metrics", "application/json", export(service,
        pointFrom("gen_ai.client.operation.duration", 2, t0, t0 + 2 * minute, 8, "4.0", model)), adminKey).statusCode());
    // It restarts (a new start time): its counts begin again at 2.
    long t1 = t0 + 3 * minute;
    assertEquals(200, post("/v1/metrics", "application/json", export(service,
        pointFrom("gen_ai.client.operation.duration", 2, t1, t1 + minute, 2, "1.0", model)), adminKey).statusCode());
    awaitSettled();
    Sums s = ledger("otlp_metrics", service);
    assertEquals(10, s.requests(), "5, then 3 more, then 2 after the restart: " + s);
    assertEquals(3, s.records());
  }

  // ---- bad exports --------------------------------------------------------------------------------

  @Test
  void badExportsGetOtlpFourHundredsAndCountNothing() throws Exception {
    long before = ledger("otlp_metrics", null).records();
    HttpResponse<String> garbage = post("/v1/metrics", "application/x-protobuf", "not protobuf at all", adminKey);
    assertEquals(400, garbage.statusCode());
    assertEquals("application/x-protobuf", garbage.headers().firstValue("Content-Type").orElse(""));
    assertOtlpStatus(400, 3, "is an object with resourceMetrics", post("/v1/metrics", "application/json", "[1,2]", adminKey));
    assertOtlpStatus(400, 3, "not JSON", post("/v1/metrics", "application/json", "{\"resourceMetrics\":", adminKey));
    assertOtlpStatus(400, 3, "resourceMetrics must be an array", post("/v1/metrics", "application/json", "{\"resourceMetrics\":{}}", adminKey));
    assertOtlpStatus(400, 3, "timeUnixNano must be an integer", post("/v1/metrics", "application/json",
        export(point("gen_ai.client.operation.duration", "histogram", 1, "\"x\"", "1", "0.5")), adminKey));
    assertOtlpStatus(401, 16, "Keld key", post("/v1/metrics", "application/json", "{}", null));
    assertOtlpStatus(401, 16, "not valid", post("/v1/metrics", "application/json", "{}", "keld_not_a_key"));
    HttpResponse<String> xml = post("/v1/metrics", "application/xml", "<a/>", adminKey);
    assertEquals(415, xml.statusCode());
    // A path the port does not serve is the HTTP layer's problem+json.
    HttpResponse<String> logs = post("/v1/logs", "application/json", "{}", adminKey);
    assertEquals(404, logs.statusCode());
    assertTrue(logs.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"), logs.headers().toString());

    // Points that cannot be counted are rejected one by one (partial success); the others count.
    String service = "partial-" + UUID.randomUUID();
    long now = System.currentTimeMillis() * 1_000_000L;
    String good = point("gen_ai.client.operation.duration", "histogram", 1, "\"" + now + "\"", "3", "1.5", "gen_ai.request.model", "gpt-4o");
    String noModel = point("gen_ai.client.operation.duration", "histogram", 1, "\"" + now + "\"", "3", "1.5");
    String asSum = "{\"name\":\"gen_ai.client.token.usage\",\"sum\":{\"aggregationTemporality\":1,\"dataPoints\":[]}}";
    String negative = point("gen_ai.client.token.usage", "histogram", 1, "\"" + now + "\"", "1", "-5", "gen_ai.request.model", "gpt-4o",
        "gen_ai.token.type", "input");
    String cumulativeNoStart = point("gen_ai.client.operation.duration", "histogram", 2, "\"" + now + "\"", "3", "1.5",
        "gen_ai.request.model", "gpt-4o").replace("\"startTimeUnixNano\":\"" + (now - 60_000_000_000L) + "\",", "");
    String notGenAi = "{\"name\":\"http.server.request.duration\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{}]}}";
    HttpResponse<String> partial = post("/v1/metrics", "application/json",
        export(service, good, noModel, asSum, negative, cumulativeNoStart, notGenAi), adminKey);
    assertEquals(200, partial.statusCode(), partial.body());
    JsonNode ps = JSON.readTree(partial.body()).path("partialSuccess");
    assertEquals("4", ps.path("rejectedDataPoints").asText(), partial.body());
    String message = ps.path("errorMessage").asText();
    assertTrue(message.contains("no gen_ai.request.model") && message.contains("must be a histogram (got sum)")
        && message.contains("negative") && message.contains("no startTimeUnixNano"), message);
    awaitSettled();
    Sums s = ledger("otlp_metrics", service);
    assertEquals(3, s.requests(), "the good point counted: " + s);
    assertEquals(before + 1, ledger("otlp_metrics", null).records(), "nothing else was counted");
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private static Resource resource(String service) {
    return Resource.getDefault().merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), service)));
  }

  /** GenAI attributes of one call, by the semantic conventions. */
  private static Attributes callAttributes(String operation, String model) {
    return Attributes.builder().put("gen_ai.operation.name", operation).put("gen_ai.provider.name", "openai")
        .put("gen_ai.request.model", model).put("gen_ai.response.model", model).put("server.address", "api.openai.com").build();
  }

  /** A meter provider of the SDK whose reader exports when told to, through {@code send}, keeping each batch it sent. */
  private static final class SdkMetrics implements AutoCloseable {
    private final List<Collection<MetricData>> batches = new CopyOnWriteArrayList<>();
    private final List<CompletableResultCode> results = new CopyOnWriteArrayList<>();
    private final Function<Collection<MetricData>, CompletableResultCode> send;
    private final SdkMeterProvider provider;
    private final LongHistogram tokens;
    private final DoubleHistogram duration;

    SdkMetrics(Resource resource, AggregationTemporality temporality, Function<Collection<MetricData>, CompletableResultCode> send) {
      this.send = send;
      MetricExporter keeping = new MetricExporter() {
        @Override
        public CompletableResultCode export(Collection<MetricData> metrics) {
          batches.add(List.copyOf(metrics));
          CompletableResultCode r = send.apply(metrics);
          results.add(r);
          return r;
        }

        @Override
        public CompletableResultCode flush() {
          return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
          return CompletableResultCode.ofSuccess();
        }

        @Override
        public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
          return temporality;
        }
      };
      provider = SdkMeterProvider.builder().setResource(resource)
          .registerMetricReader(PeriodicMetricReader.builder(keeping).setInterval(Duration.ofHours(1)).build()).build();
      Meter meter = provider.get("keld-test-genai");
      tokens = meter.histogramBuilder("gen_ai.client.token.usage").ofLongs().setUnit("{token}").build();
      duration = meter.histogramBuilder("gen_ai.client.operation.duration").setUnit("s").build();
    }

    void call(String operation, String model, long input, long output, double seconds) {
      Attributes a = callAttributes(operation, model);
      tokens.record(input, a.toBuilder().put(TOKEN_TYPE, "input").build());
      if (output > 0) tokens.record(output, a.toBuilder().put(TOKEN_TYPE, "output").build());
      duration.record(seconds, a);
    }

    /** Collects and exports now; fails the test if the node did not take it. */
    void export() {
      int before = results.size();
      provider.forceFlush().join(30, TimeUnit.SECONDS);
      assertEquals(before + 1, results.size(), "one export");
      assertTrue(results.get(before).join(30, TimeUnit.SECONDS).isSuccess(), "the node accepted the export");
    }

    boolean resend(int batch) {
      return send.apply(batches.get(batch)).join(30, TimeUnit.SECONDS).isSuccess();
    }

    @Override
    public void close() {
      provider.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  /** A tracer provider of the SDK that keeps the GenAI client spans it ended, exported when told to. */
  private static final class SdkSpans implements AutoCloseable {
    private final List<SpanData> ended = new CopyOnWriteArrayList<>();
    private final SdkTracerProvider provider;
    private final Tracer tracer;

    SdkSpans(Resource resource) {
      SpanExporter keep = new SpanExporter() {
        @Override
        public CompletableResultCode export(Collection<SpanData> spans) {
          ended.addAll(spans);
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
      provider = SdkTracerProvider.builder().setResource(resource).addSpanProcessor(SimpleSpanProcessor.create(keep)).build();
      tracer = provider.get("keld-test-genai");
    }

    void call(String operation, String model, long input, long output) {
      Span s = tracer.spanBuilder(operation + " " + model).setSpanKind(SpanKind.CLIENT).setAllAttributes(callAttributes(operation, model))
          .startSpan();
      s.setAttribute("gen_ai.usage.input_tokens", input);
      s.setAttribute("gen_ai.usage.output_tokens", output);
      s.end();
    }

    boolean export(String url, String key) {
      OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(url).addHeader("Authorization", "Bearer " + key).build();
      try {
        return exporter.export(new ArrayList<>(ended)).join(30, TimeUnit.SECONDS).isSuccess();
      } finally {
        exporter.shutdown().join(10, TimeUnit.SECONDS);
      }
    }

    @Override
    public void close() {
      provider.shutdown().join(10, TimeUnit.SECONDS);
    }
  }

  /** Waits until every interval recorded so far (and any that were settled meanwhile) is in the ledger. */
  private void awaitSettled() throws Exception {
    Thread.sleep(SETTLE_AFTER.toMillis());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (Long.parseLong(one("SELECT COUNT(*) FROM otlp_metric_intervals WHERE org_id = ?", null)) > 0) {
      if (System.nanoTime() > deadline) throw new AssertionError("OTLP metric intervals were not settled in time");
      Thread.sleep(100);
    }
  }

  record Sums(long records, long requests, long input, long output, long cost) {}

  /** The ledger's sums for a source, of one service (or all the organization's). */
  private Sums ledger(String source, String service) throws Exception {
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement("SELECT COUNT(*), COALESCE(SUM(request_count), 0), "
        + "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_micro_usd), 0) FROM usage_records "
        + "WHERE org_id = ? AND source = ?" + (service == null ? "" : " AND service_name = ?"))) {
      ps.setString(1, orgId);
      ps.setString(2, source);
      if (service != null) ps.setString(3, service);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new Sums(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5));
      }
    }
  }

  /** One value of a query whose first parameter is the organization (and second, if given, {@code arg}). */
  private String one(String query, String arg) throws Exception {
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement(query)) {
      ps.setString(1, orgId);
      if (arg != null) ps.setString(2, arg);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  private HttpResponse<String> post(String path, String contentType, String body, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(otlp + path)).timeout(Duration.ofSeconds(30)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) b.header("Authorization", "Bearer " + key);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertOtlpStatus(int status, int code, String messagePart, HttpResponse<String> r) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
    JsonNode body = JSON.readTree(r.body());
    assertEquals(code, body.path("code").asInt(), r.body());
    assertTrue(body.path("message").asText().contains(messagePart), r.body());
  }

  /**
   * An OTLP/JSON metric with one point ({@code time} as it goes in the JSON, a quoted number or not),
   * a chat call to OpenAI plus {@code attributes} (key, value, key, value ...).
   */
  private static String point(String metric, String type, int temporality, String time, String count, String sum, String... attributes) {
    String digits = time.replace("\"", "");
    long t = digits.chars().allMatch(Character::isDigit) ? Long.parseLong(digits) : 0;
    StringBuilder a = new StringBuilder("{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
        + "{\"key\":\"gen_ai.provider.name\",\"value\":{\"stringValue\":\"openai\"}}");
    for (int i = 0; i < attributes.length; i += 2) {
      a.append(",{\"key\":\"").append(attributes[i]).append("\",\"value\":{\"stringValue\":\"").append(attributes[i + 1]).append("\"}}");
    }
    return "{\"name\":\"" + metric + "\",\"unit\":\"s\",\"" + type + "\":{\"aggregationTemporality\":" + temporality + ",\"dataPoints\":[{"
        + (t > 0 ? "\"startTimeUnixNano\":\"" + (t - 60_000_000_000L) + "\"," : "") + "\"timeUnixNano\":" + time + ",\"count\":\"" + count
        + "\",\"sum\":" + sum + ",\"attributes\":[" + a + "]}]}}";
  }

  /** A histogram point of {@code metric} with its own start time (a cumulative series keeps one). */
  private static String pointFrom(String metric, int temporality, long start, long time, long count, String sum, String... attributes) {
    return point(metric, "histogram", temporality, "\"" + time + "\"", Long.toString(count), sum, attributes)
        .replace("\"startTimeUnixNano\":\"" + (time - 60_000_000_000L) + "\"", "\"startTimeUnixNano\":\"" + start + "\"");
  }

  private static String export(String service, String... metrics) {
    return "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"" + service
        + "\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"raw\"},\"metrics\":[" + String.join(",", metrics) + "]}]}]}";
  }

  private static String export(String metric) {
    return export("raw", metric);
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
