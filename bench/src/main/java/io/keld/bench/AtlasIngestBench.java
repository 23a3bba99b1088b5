package io.keld.bench;

import com.google.protobuf.ByteString;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.tenancy.Project;
import io.keld.atlas.tenancy.Team;
import io.keld.node.demo.DemoTenancy;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench/run atlas-ingest}: OTLP/HTTP protobuf exports of 512 GenAI spans each, sent by
 * concurrent exporters to a node's OpenTelemetry port and written to PostgreSQL (ledger and
 * rollups); then spend reports over the last 30 days grouped by team and model, over the million
 * records just ingested.
 *
 * <p>The workload: 10 teams, 40 projects, each project one service (placed by mapping rules, as an
 * organization-wide key's telemetry is), 6 models, token counts varying per span. Each export comes
 * from one service and covers one minute, as an SDK's batch span processor sends them; the exports'
 * minutes are spread over the last 30 days. The exports are encoded before the clock starts.
 */
final class AtlasIngestBench {

  private static final int SPANS_PER_EXPORT = 512;
  private static final int EXPORTERS = 4;
  private static final String[] MODELS = {"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "claude-sonnet-4", "claude-3-5-haiku", "text-embedding-3-small"};
  private static final String[] PROVIDERS = {"openai", "openai", "openai", "anthropic", "anthropic", "openai"};

  static BenchReport run(boolean quick) throws Exception {
    int records = quick ? 100_000 : 1_000_000;
    int reportRuns = quick ? 20 : 60;
    return BenchNode.onPostgres(Files.createTempDirectory("keld-bench-atlas"), node -> {
      DemoTenancy.Created demo = DemoTenancy.create(node.governance());
      List<String> services = new ArrayList<>();
      List<MappingRules.Rule> rules = new ArrayList<>();
      for (int t = 0; t < 10; t++) {
        Team team = node.governance().tenancy().createTeam(demo.orgId(), "bench-team-" + t).toCompletableFuture().get(30, TimeUnit.SECONDS);
        for (int p = 0; p < 4; p++) {
          Project project = node.governance().tenancy().createProject(team, "bench-project-" + p).toCompletableFuture().get(30, TimeUnit.SECONDS);
          String service = "svc-" + t + "-" + p;
          services.add(service);
          rules.add(new MappingRules.Rule(service, Map.of("service.name", service), new MappingRules.Assignment(null, project.id(), null, null)));
        }
      }
      node.spend().ingest().rules().replace(demo.orgId(), rules).toCompletableFuture().get(30, TimeUnit.SECONDS);

      int exports = records / SPANS_PER_EXPORT;
      Instant now = Instant.now().truncatedTo(ChronoUnit.MINUTES);
      System.err.printf(Locale.ROOT, "atlas-ingest: encoding %d exports of %d spans...%n", exports, SPANS_PER_EXPORT);
      List<byte[]> bodies = new ArrayList<>(exports);
      Random random = new Random(42);
      for (int e = 0; e < exports; e++) {
        Instant minute = now.minus(1 + random.nextInt(30 * 24 * 60 - 1), ChronoUnit.MINUTES);
        bodies.add(export(services.get(random.nextInt(services.size())), minute, e, random));
      }

      String url = "http://127.0.0.1:" + node.otlpAddress().orElseThrow().getPort() + "/v1/traces";
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
      AtomicInteger next = new AtomicInteger();
      AtomicLong rejected = new AtomicLong();
      AtomicLong failures = new AtomicLong();
      ExecutorService exporters = Executors.newFixedThreadPool(EXPORTERS);
      long started = System.nanoTime();
      List<Future<?>> running = new ArrayList<>();
      for (int x = 0; x < EXPORTERS; x++) {
        running.add(exporters.submit(() -> {
          int i;
          while ((i = next.getAndIncrement()) < bodies.size()) {
            try {
              HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                  .header("Content-Type", "application/x-protobuf").header("Authorization", "Bearer " + demo.adminKey())
                  .POST(HttpRequest.BodyPublishers.ofByteArray(bodies.get(i))).build(), HttpResponse.BodyHandlers.ofByteArray());
              if (r.statusCode() != 200) {
                failures.incrementAndGet();
                continue;
              }
              rejected.addAndGet(ExportTraceServiceResponse.parseFrom(r.body()).getPartialSuccess().getRejectedSpans());
            } catch (Exception ex) {
              failures.incrementAndGet();
            }
            if (i % 200 == 0) System.err.printf(Locale.ROOT, "atlas-ingest: %d/%d exports sent%n", i, bodies.size());
          }
          return null;
        }));
      }
      for (Future<?> f : running) f.get();
      double seconds = (System.nanoTime() - started) / 1e9;
      exporters.shutdown();
      long spans = (long) exports * SPANS_PER_EXPORT;
      double spansPerSecond = spans / seconds;

      long stored;
      try (var c = node.database().dataSource().getConnection(); var st = c.createStatement();
          var rs = st.executeQuery("SELECT COUNT(*) FROM usage_records")) {
        rs.next();
        stored = rs.getLong(1);
      }

      // Reports: 30 days, by team and model, per day; the first runs warm up.
      String report = "http://127.0.0.1:" + node.httpAddress().getPort() + "/atlas/v1/reports/spend?group_by=team,model&granularity=day&from="
          + now.minus(30, ChronoUnit.DAYS) + "&to=" + now.plus(1, ChronoUnit.MINUTES);
      List<Long> micros = new ArrayList<>();
      int rows = 0;
      for (int r = 0; r < reportRuns + 5; r++) {
        long t0 = System.nanoTime();
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(report)).header("Authorization", "Bearer " + demo.adminKey())
            .GET().build(), HttpResponse.BodyHandlers.ofString());
        long took = (System.nanoTime() - t0) / 1_000;
        if (answer.statusCode() != 200) throw new IllegalStateException("report answered " + answer.statusCode() + ": " + answer.body());
        if (r >= 5) micros.add(took);
        rows = answer.body().split("\"period_start\"", -1).length - 1;
      }
      Collections.sort(micros);
      double p50 = micros.get(micros.size() / 2) / 1000.0;
      double p95 = micros.get((int) Math.ceil(micros.size() * 0.95) - 1) / 1000.0;

      BenchReport out = new BenchReport("atlas-ingest", quick)
          .figure("spans_sent", spans).figure("records_stored", stored).figure("exporters", EXPORTERS)
          .figure("spans_per_export", SPANS_PER_EXPORT).figure("seconds", Math.round(seconds * 10) / 10.0)
          .figure("spans_per_second", Math.round(spansPerSecond)).figure("rejected_spans", rejected.get())
          .figure("failed_exports", failures.get())
          .figure("report_runs", micros.size()).figure("report_rows", rows)
          .figure("report_p50_ms", Math.round(p50 * 10) / 10.0).figure("report_p95_ms", Math.round(p95 * 10) / 10.0)
          .figure("met_20000_spans_per_second", spansPerSecond >= 20_000).figure("met_report_p95_300ms", p95 <= 300);
      out.line(String.format(Locale.ROOT, "Ingest: %,d GenAI spans in %,d OTLP/HTTP protobuf exports of %d, %d exporters in parallel, into PostgreSQL "
          + "(ledger, hourly and daily rollups, one transaction per export): **%,.0f spans/s** sustained over %.1f s (target ≥ 20,000). "
          + "Records stored: %,d; rejected spans: %d; failed exports: %d.", spans, exports, SPANS_PER_EXPORT, EXPORTERS, spansPerSecond, seconds,
          stored, rejected.get(), failures.get()));
      out.line(String.format(Locale.ROOT, "Report: the last 30 days by team and model per day (%d rows) over those %,d records, %d runs after 5 warm-up: "
          + "p50 %.1f ms, **p95 %.1f ms** (target ≤ 300 ms). Client, node and PostgreSQL share the machine's 2 cores.",
          rows, stored, micros.size(), p50, p95));
      return out;
    });
  }

  /** One service's export: 512 GenAI client spans within one minute, content-free as a well-behaved SDK sends them. */
  private static byte[] export(String service, Instant minute, int exportNo, Random random) {
    ScopeSpans.Builder scope = ScopeSpans.newBuilder();
    long base = minute.getEpochSecond() * 1_000_000_000L;
    for (int s = 0; s < SPANS_PER_EXPORT; s++) {
      int m = random.nextInt(MODELS.length);
      boolean embeddings = MODELS[m].startsWith("text-embedding");
      long start = base + random.nextInt(59_000) * 1_000_000L;
      long input = 200 + random.nextInt(8_000);
      long output = embeddings ? 0 : 20 + random.nextInt(800);
      Span.Builder span = Span.newBuilder()
          .setTraceId(ByteString.copyFrom(id(16, exportNo, s, random)))
          .setSpanId(ByteString.copyFrom(id(8, exportNo, s, random)))
          .setName((embeddings ? "embeddings " : "chat ") + MODELS[m])
          .setKind(Span.SpanKind.SPAN_KIND_CLIENT)
          .setStartTimeUnixNano(start)
          .setEndTimeUnixNano(start + (200 + random.nextInt(2_000)) * 1_000_000L)
          .addAttributes(kv("gen_ai.operation.name", embeddings ? "embeddings" : "chat"))
          .addAttributes(kv("gen_ai.provider.name", PROVIDERS[m]))
          .addAttributes(kv("gen_ai.request.model", MODELS[m]))
          .addAttributes(kv("gen_ai.response.model", MODELS[m]))
          .addAttributes(kv("gen_ai.usage.input_tokens", input));
      if (!embeddings) span.addAttributes(kv("gen_ai.usage.output_tokens", output));
      scope.addSpans(span);
    }
    return ExportTraceServiceRequest.newBuilder().addResourceSpans(ResourceSpans.newBuilder()
        .setResource(Resource.newBuilder().addAttributes(kv("service.name", service)))
        .addScopeSpans(scope)).build().toByteArray();
  }

  private static byte[] id(int length, int exportNo, int spanNo, Random random) {
    byte[] b = new byte[length];
    random.nextBytes(b);
    // Unique by construction: the export and span numbers in the first bytes.
    b[0] = (byte) (exportNo >>> 16);
    b[1] = (byte) (exportNo >>> 8);
    b[2] = (byte) exportNo;
    b[3] = (byte) (spanNo >>> 8);
    b[4] = (byte) spanNo;
    return b;
  }

  private static KeyValue kv(String key, String value) {
    return KeyValue.newBuilder().setKey(key).setValue(AnyValue.newBuilder().setStringValue(value)).build();
  }

  private static KeyValue kv(String key, long value) {
    return KeyValue.newBuilder().setKey(key).setValue(AnyValue.newBuilder().setIntValue(value)).build();
  }
}
