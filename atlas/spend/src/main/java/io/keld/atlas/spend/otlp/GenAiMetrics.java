package io.keld.atlas.spend.otlp;

import io.keld.atlas.spend.ledger.Columns;
import io.keld.atlas.spend.ledger.Providers;
import io.keld.ixp.Texts;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GenAI client metrics to what they count, by the OpenTelemetry GenAI semantic conventions:
 * {@code gen_ai.client.operation.duration} (a histogram of seconds: its count is the number of calls)
 * and {@code gen_ai.client.token.usage} (a histogram of tokens per call, one series per
 * {@code gen_ai.token.type}: its sum is the tokens). Both are read as histograms or exponential
 * histograms, delta or cumulative.
 *
 * <p>Each point is a {@link Contribution} to a <em>call group</em>: the calls of one resource to one
 * provider and model for one operation, failed ({@code error.type}) or not. The series of a group
 * (calls, input tokens, output tokens) become one ledger record per collection interval, once
 * {@link MetricIntervals} has turned cumulative points into increases and taken away what GenAI spans
 * of the same resource already counted.
 */
public final class GenAiMetrics {

  public static final String TOKEN_USAGE = "gen_ai.client.token.usage";
  public static final String OPERATION_DURATION = "gen_ai.client.operation.duration";

  /** What a point counts. */
  public enum Measure { CALLS, INPUT_TOKENS, OUTPUT_TOKENS }

  /**
   * The calls a group of series describes, and the attributes mapping rules may match on (the
   * resource's, then the group's own).
   */
  public record Group(String resourceId, String serviceName, String provider, String modelRequested, String modelServed, String operation,
      boolean error, Map<String, String> attributes, Map<String, String> groupAttributes) {}

  /**
   * One point's part: its stream (the series it belongs to, for repeats and cumulative increases),
   * the interval it covers, and its count and sum (calls and seconds, or measurements and tokens).
   */
  public record Contribution(String streamId, boolean cumulative, long startNanos, long timeNanos, Measure measure, long count, double sum,
      Group group) {}

  /** A GenAI point that cannot be counted, and why. */
  public record Rejection(String metric, String reason) {}

  public record Mapped(List<Contribution> contributions, List<Rejection> rejections) {}

  /** Point attributes that say which calls a series counts; others (server.address ...) only split series further. */
  private static final List<String> GROUP_KEYS = List.of("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system",
      "gen_ai.request.model", "gen_ai.response.model", "error.type");

  private GenAiMetrics() {}

  public static boolean isGenAi(String metricName) {
    return TOKEN_USAGE.equals(metricName) || OPERATION_DURATION.equals(metricName);
  }

  public static Mapped map(List<OtlpMetricPoint> points) {
    List<Contribution> out = new ArrayList<>();
    List<Rejection> rejected = new ArrayList<>();
    Map<Map<String, String>, String> resourceIds = new IdentityHashMap<>();
    for (OtlpMetricPoint p : points) {
      try {
        Contribution c = contribution(p, resourceIds.computeIfAbsent(p.resource(), OtlpResource::id));
        if (c != null) out.add(c);
      } catch (IllegalArgumentException e) {
        rejected.add(new Rejection(p.metric(), e.getMessage()));
      }
    }
    return new Mapped(out, rejected);
  }

  /** The point's contribution; null for a point that counts nothing (no recorded value, a token type not counted). */
  static Contribution contribution(OtlpMetricPoint p, String resourceId) {
    if (!p.type().equals("histogram") && !p.type().equals("exponential_histogram")) {
      throw new IllegalArgumentException(p.metric() + " must be a histogram (got " + p.type() + ")");
    }
    if ((p.flags() & OtlpMetricPoint.FLAG_NO_RECORDED_VALUE) != 0) return null;
    if (p.temporality() != OtlpMetricPoint.DELTA && p.temporality() != OtlpMetricPoint.CUMULATIVE) {
      throw new IllegalArgumentException(p.metric() + " has no aggregation temporality (delta or cumulative)");
    }
    if (p.timeNanos() <= 0) throw new IllegalArgumentException(p.metric() + ": a point has no timeUnixNano");
    if (p.startNanos() < 0 || p.startNanos() > p.timeNanos()) {
      throw new IllegalArgumentException(p.metric() + ": a point starts after its time");
    }
    if (p.temporality() == OtlpMetricPoint.CUMULATIVE && p.startNanos() == 0) {
      throw new IllegalArgumentException(p.metric() + ": a cumulative point has no startTimeUnixNano");
    }
    if (p.count() < 0) throw new IllegalArgumentException(p.metric() + ": the count is too large");
    Measure measure;
    if (p.metric().equals(OPERATION_DURATION)) {
      measure = Measure.CALLS;
    } else {
      String type = p.attributes().get("gen_ai.token.type");
      if (type == null) throw new IllegalArgumentException(TOKEN_USAGE + " needs gen_ai.token.type (input or output)");
      switch (type.toLowerCase(Locale.ROOT)) {
        case "input", "prompt" -> measure = Measure.INPUT_TOKENS;
        case "output", "completion" -> measure = Measure.OUTPUT_TOKENS;
        // Other token types (cache reads, reasoning) are parts of input or output, already counted there.
        default -> {
          return null;
        }
      }
      if (Double.isNaN(p.sum())) throw new IllegalArgumentException(TOKEN_USAGE + ": a point has no sum");
    }
    double sum = Double.isNaN(p.sum()) ? 0 : p.sum();
    if (Double.isInfinite(sum) || sum < 0) throw new IllegalArgumentException(p.metric() + ": the sum is negative or not finite");
    if (measure != Measure.CALLS && sum > Columns.MAX_TOKENS) {
      throw new IllegalArgumentException(TOKEN_USAGE + ": the sum is too large: " + Texts.clip(Double.toString(sum), 40));
    }
    String modelRequested = blankToNull(p.attributes().get("gen_ai.request.model"));
    String modelServed = blankToNull(p.attributes().get("gen_ai.response.model"));
    if (modelRequested == null && modelServed == null) {
      throw new IllegalArgumentException(p.metric() + ": no gen_ai.request.model or gen_ai.response.model");
    }
    Map<String, String> groupAttributes = new HashMap<>();
    for (Map.Entry<String, String> a : p.attributes().entrySet()) {
      // keld.* attributes (project, job category, tags) place the usage, so they are part of the group.
      if (GROUP_KEYS.contains(a.getKey()) || a.getKey().startsWith("keld.")) groupAttributes.put(a.getKey(), a.getValue());
    }
    String provider = Providers.normalize(first(p, "gen_ai.provider.name", "gen_ai.system"));
    Map<String, String> attributes = new HashMap<>(p.resource());
    attributes.putAll(groupAttributes);
    Group group = new Group(resourceId, p.resource().get("service.name"), provider, modelRequested, modelServed,
        blankToNull(p.attributes().get("gen_ai.operation.name")), p.attributes().containsKey("error.type"), attributes, groupAttributes);
    boolean cumulative = p.temporality() == OtlpMetricPoint.CUMULATIVE;
    // A stream is one series of one metric: a repeated point of it counts once; a cumulative one
    // restarts (a new start time) as a new stream.
    String streamId = OtlpResource.digest(p.metric() + '\u0000' + p.temporality() + '\u0000' + resourceId + '\u0000' + p.scope() + '\u0000'
        + OtlpResource.canonical(p.attributes()) + (cumulative ? "\u0000" + p.startNanos() : ""));
    return new Contribution(streamId, cumulative, p.startNanos(), p.timeNanos(), measure, p.count(), sum, group);
  }

  private static String first(OtlpMetricPoint p, String... keys) {
    for (String k : keys) {
      String v = p.attributes().get(k);
      if (v == null) v = p.resource().get(k);
      if (v != null && !v.isBlank()) return v;
    }
    return null;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
