package io.keld.atlas.spend.otlp;

import io.keld.atlas.spend.ledger.Providers;
import io.keld.atlas.spend.ledger.UsageRecord;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import io.keld.atlas.spend.ledger.Columns;
import io.keld.ixp.Texts;
import java.math.RoundingMode;

/**
 * GenAI spans to usage records, by the OpenTelemetry GenAI semantic conventions, current names first
 * and older ones (and OpenLLMetry's) after. Spans that are not GenAI calls (HTTP, database ...) are
 * not usage and are skipped; they still tell whether a call ran under an HTTP server span.
 *
 * <p>Tokens: the conventions count cached tokens inside {@code gen_ai.usage.input_tokens}, and so
 * does the ledger. An instrumentation that copies Anthropic's usage as it is (input tokens without
 * cache reads and writes) shows itself by reporting fewer input tokens than cached ones; those are
 * added back.
 */
public final class GenAiSpans {

  /** A span that is GenAI but cannot be accounted for, and why. */
  public record Rejection(String spanId, String reason) {}

  public record Mapped(List<Mapped.One> records, List<Rejection> rejections) {
    /** A record and the attributes mapping rules may match on (span's over resource's). */
    public record One(UsageRecord record, Map<String, String> attributes) {}
  }

  private GenAiSpans() {}

  public static boolean isGenAi(OtlpSpan s) {
    return s.attributes().containsKey("gen_ai.operation.name") || s.attributes().containsKey("gen_ai.system")
        || s.attributes().containsKey("gen_ai.provider.name") || s.attributes().containsKey("gen_ai.request.model")
        || s.attributes().containsKey("llm.request.type");
  }

  public static Mapped map(String orgId, List<OtlpSpan> spans) {
    Map<String, OtlpSpan> byId = new HashMap<>();
    for (OtlpSpan s : spans) byId.put(s.traceId() + s.spanId(), s);
    List<Mapped.One> out = new ArrayList<>();
    List<Rejection> rejected = new ArrayList<>();
    // The spans of one ResourceSpans share its attribute map: its id is computed once.
    Map<Map<String, String>, String> resourceIds = new IdentityHashMap<>();
    for (OtlpSpan s : spans) {
      if (!isGenAi(s)) continue;
      try {
        UsageRecord r = record(orgId, s);
        r.underServerSpan = underServerSpan(s, byId);
        r.resourceId = resourceIds.computeIfAbsent(s.resource(), OtlpResource::id);
        Map<String, String> attrs = new HashMap<>(s.resource());
        attrs.putAll(s.attributes());
        out.add(new Mapped.One(r, attrs));
      } catch (IllegalArgumentException e) {
        rejected.add(new Rejection(s.spanId(), e.getMessage()));
      }
    }
    return new Mapped(out, rejected);
  }

  static UsageRecord record(String orgId, OtlpSpan s) {
    if (s.traceId().length() != 32 || s.spanId().length() != 16) {
      throw new IllegalArgumentException("a trace id is 16 bytes and a span id 8 bytes");
    }
    if (s.startNanos() <= 0) throw new IllegalArgumentException("no start time");
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = UsageRecord.Sources.OTLP;
    r.sourceEventId = s.traceId() + ":" + s.spanId();
    r.traceId = s.traceId();
    r.spanId = s.spanId();
    r.periodStart = instant(s.startNanos());
    r.periodEnd = s.endNanos() >= s.startNanos() ? instant(s.endNanos()) : r.periodStart;
    r.durationMs = s.endNanos() >= s.startNanos() ? (s.endNanos() - s.startNanos()) / 1_000_000 : null;
    r.provider = Providers.normalize(first(s, "gen_ai.provider.name", "gen_ai.system"));
    r.operation = first(s, "gen_ai.operation.name", "llm.request.type");
    if (r.operation == null && s.name() != null && !s.name().isBlank()) r.operation = s.name().split(" ")[0];
    r.modelRequested = first(s, "gen_ai.request.model");
    r.modelServed = first(s, "gen_ai.response.model");
    if (r.model() == null || r.model().isBlank()) throw new IllegalArgumentException("no gen_ai.request.model or gen_ai.response.model");
    r.inputTokens = tokens(s, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens");
    r.outputTokens = tokens(s, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens");
    r.cachedInputTokens = tokens(s, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cached_tokens", "gen_ai.usage.input_tokens_details.cached_tokens");
    r.cacheWriteTokens = tokens(s, "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens");
    r.reasoningTokens = tokens(s, "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
        "gen_ai.usage.output_tokens_details.reasoning_tokens");
    if (r.inputTokens < r.cachedInputTokens + r.cacheWriteTokens) r.inputTokens += r.cachedInputTokens + r.cacheWriteTokens;
    String cost = first(s, "gen_ai.usage.cost", "llm.usage.cost", "gen_ai.cost");
    if (cost != null) {
      try {
        BigDecimal usd = new BigDecimal(cost);
        if (usd.signum() < 0 || usd.compareTo(BigDecimal.valueOf(1_000_000)) > 0) throw new NumberFormatException();
        r.costMicroUsd = usd.movePointRight(6).setScale(0, RoundingMode.HALF_UP).longValueExact();
        r.costSource = UsageRecord.CostSources.GATEWAY;
      } catch (NumberFormatException | ArithmeticException e) {
        throw new IllegalArgumentException("gen_ai.usage.cost is not a cost in USD: " + Texts.clip(cost, 40));
      }
    }
    r.serviceTier = first(s, "openai.response.service_tier", "gen_ai.openai.response.service_tier", "openai.request.service_tier",
        "gen_ai.openai.request.service_tier", "gen_ai.request.service_tier");
    String stream = first(s, "gen_ai.request.stream", "llm.is_streaming", "gen_ai.is_streaming");
    String ttft = first(s, "gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token", "gen_ai.response.time_to_first_token");
    if (ttft != null) {
      try {
        r.ttftMs = Math.round(Double.parseDouble(ttft) * 1000);
      } catch (NumberFormatException ignored) {
        // Not a number of seconds: not recorded.
      }
    }
    r.streaming = stream != null ? Boolean.valueOf(stream.equalsIgnoreCase("true")) : r.ttftMs != null ? Boolean.TRUE : Boolean.FALSE;
    r.hasEndUser = first(s, "user.id", "enduser.id", "gen_ai.request.user", "gen_ai.user.id", "llm.user") != null;
    r.hasConversation = first(s, "gen_ai.conversation.id", "session.id", "gen_ai.session.id") != null;
    r.status = s.statusCode() == OtlpSpan.STATUS_ERROR || s.attributes().containsKey("error.type") ? "error" : "ok";
    r.serviceName = s.resource().get("service.name");
    for (Map.Entry<String, String> a : s.resource().entrySet()) tag(r, a);
    for (Map.Entry<String, String> a : s.attributes().entrySet()) tag(r, a);
    return r;
  }

  /** {@code keld.tag.<name>} attributes become the record's tags (span over resource). */
  static void tag(UsageRecord r, Map.Entry<String, String> a) {
    if (a.getKey().startsWith("keld.tag.") && r.tags.size() < 10) {
      r.tags.put(Texts.clip(a.getKey().substring("keld.tag.".length()), 64), Texts.clip(a.getValue(), 200));
    }
  }

  /** True if an ancestor in this export is an HTTP server span; null if the chain leaves the export. */
  static Boolean underServerSpan(OtlpSpan s, Map<String, OtlpSpan> byId) {
    OtlpSpan at = s;
    for (int depth = 0; depth < 64; depth++) {
      if (at.parentSpanId().isEmpty()) return false;
      OtlpSpan parent = byId.get(at.traceId() + at.parentSpanId());
      if (parent == null) return null;
      if (parent.kind() == OtlpSpan.KIND_SERVER) return true;
      at = parent;
    }
    return null;
  }

  private static String first(OtlpSpan s, String... keys) {
    for (String k : keys) {
      String v = s.attribute(k);
      if (v != null && !v.isBlank()) return v;
    }
    return null;
  }

  private static long tokens(OtlpSpan s, String... keys) {
    String v = first(s, keys);
    if (v == null) return 0;
    try {
      double d = Double.parseDouble(v);
      if (d < 0) throw new IllegalArgumentException(keys[0] + " is negative");
      if (d > Columns.MAX_TOKENS) throw new IllegalArgumentException(keys[0] + " is too large: " + Texts.clip(v, 40));
      return v.contains(".") || v.contains("e") || v.contains("E") ? (long) d : Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(keys[0] + " is not a token count: " + Texts.clip(v, 40));
    }
  }

  private static Instant instant(long nanos) {
    return Instant.ofEpochSecond(nanos / 1_000_000_000L, nanos % 1_000_000_000L);
  }
}
