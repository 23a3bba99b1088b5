package io.keld.atlas.spend.otlp;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.keld.kit.Json;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.HistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.Locale;

/**
 * Reads an OTLP/HTTP trace export ({@code ExportTraceServiceRequest}) in either encoding into
 * {@link OtlpSpan}s, and a metrics export ({@code ExportMetricsServiceRequest}) into the
 * {@link OtlpMetricPoint}s of its GenAI metrics, dropping content attributes as it goes.
 *
 * <p>OTLP/JSON is proto3's JSON mapping with OTLP's own differences: trace and span ids are hex (not
 * base64), enums are numbers, and 64-bit integers may be strings or numbers. Keys are lowerCamelCase;
 * the proto field names are accepted too.
 */
public final class OtlpDecoder {

  /** The export does not parse; the message says where. */
  public static final class BadExport extends RuntimeException {
    public BadExport(String message) {
      super(message);
    }
  }

  /** A duplicate member is refused: which of two values would be meant? */
  private static final ObjectReader JSON = Json.PLAIN.reader().with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
  private static final HexFormat HEX = HexFormat.of();

  private OtlpDecoder() {}

  public static List<OtlpSpan> protobuf(byte[] body) {
    ExportTraceServiceRequest request;
    try {
      request = ExportTraceServiceRequest.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw new BadExport("the body is not an OTLP ExportTraceServiceRequest in protobuf: " + e.getMessage());
    }
    List<OtlpSpan> out = new ArrayList<>();
    for (ResourceSpans rs : request.getResourceSpansList()) {
      Map<String, String> resource = attributes(rs.getResource().getAttributesList());
      for (ScopeSpans ss : rs.getScopeSpansList()) {
        for (Span s : ss.getSpansList()) {
          out.add(new OtlpSpan(hex(s.getTraceId()), hex(s.getSpanId()), hex(s.getParentSpanId()), s.getName(), s.getKindValue(),
              s.getStartTimeUnixNano(), s.getEndTimeUnixNano(), s.getStatus().getCodeValue(), attributes(s.getAttributesList()), resource));
        }
      }
    }
    return out;
  }

  private static Map<String, String> attributes(List<KeyValue> kvs) {
    Map<String, String> out = new HashMap<>();
    for (KeyValue kv : kvs) {
      if (ContentAttributes.isContent(kv.getKey())) continue;
      String v = text(kv.getValue());
      if (v != null) out.put(kv.getKey(), v);
    }
    return out;
  }

  private static String text(AnyValue v) {
    switch (v.getValueCase()) {
      case STRING_VALUE:
        return v.getStringValue();
      case INT_VALUE:
        return Long.toString(v.getIntValue());
      case DOUBLE_VALUE:
        return Double.toString(v.getDoubleValue());
      case BOOL_VALUE:
        return Boolean.toString(v.getBoolValue());
      case ARRAY_VALUE: {
        // Arrays of scalars (finish reasons, stop sequences) as comma-separated text; nested values are not read.
        List<String> parts = new ArrayList<>();
        for (AnyValue item : v.getArrayValue().getValuesList()) {
          String t = item.getValueCase() == AnyValue.ValueCase.ARRAY_VALUE || item.getValueCase() == AnyValue.ValueCase.KVLIST_VALUE
              ? null : text(item);
          if (t != null) parts.add(t);
        }
        return String.join(",", parts);
      }
      default:
        return null;
    }
  }

  private static String hex(ByteString b) {
    return b.isEmpty() ? "" : HEX.formatHex(b.toByteArray());
  }

  public static List<OtlpSpan> json(byte[] body) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (IOException e) {
      throw new BadExport("the body is not JSON: " + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
    }
    if (root == null || !root.isObject()) throw new BadExport("an OTLP/JSON export is an object with resourceSpans");
    List<OtlpSpan> out = new ArrayList<>();
    JsonNode resourceSpans = field(root, "resourceSpans", "resource_spans");
    if (resourceSpans == null) return out;
    requireArray(resourceSpans, "resourceSpans");
    int ri = 0;
    for (JsonNode rs : resourceSpans) {
      String at = "resourceSpans[" + ri++ + "]";
      JsonNode res = field(rs, "resource", "resource");
      Map<String, String> resource = jsonAttributes(res == null ? null : field(res, "attributes", "attributes"), at + ".resource");
      JsonNode scopes = field(rs, "scopeSpans", "scope_spans");
      if (scopes == null) continue;
      requireArray(scopes, at + ".scopeSpans");
      int si = 0;
      for (JsonNode ss : scopes) {
        String sat = at + ".scopeSpans[" + si++ + "]";
        JsonNode spans = field(ss, "spans", "spans");
        if (spans == null) continue;
        requireArray(spans, sat + ".spans");
        int i = 0;
        for (JsonNode s : spans) {
          String spat = sat + ".spans[" + i++ + "]";
          JsonNode status = field(s, "status", "status");
          out.add(new OtlpSpan(id(s, "traceId", "trace_id", 32, spat), id(s, "spanId", "span_id", 16, spat),
              id(s, "parentSpanId", "parent_span_id", 16, spat), str(field(s, "name", "name")), (int) number(field(s, "kind", "kind"), spat + ".kind"),
              number(field(s, "startTimeUnixNano", "start_time_unix_nano"), spat + ".startTimeUnixNano"),
              number(field(s, "endTimeUnixNano", "end_time_unix_nano"), spat + ".endTimeUnixNano"),
              status == null ? 0 : (int) number(field(status, "code", "code"), spat + ".status.code"),
              jsonAttributes(field(s, "attributes", "attributes"), spat), resource));
        }
      }
    }
    return out;
  }

  private static Map<String, String> jsonAttributes(JsonNode attrs, String at) {
    Map<String, String> out = new HashMap<>();
    if (attrs == null || attrs.isNull()) return out;
    requireArray(attrs, at + ".attributes");
    for (JsonNode kv : attrs) {
      String key = str(kv.get("key"));
      if (key == null || ContentAttributes.isContent(key)) continue;
      String v = jsonValue(kv.get("value"));
      if (v != null) out.put(key, v);
    }
    return out;
  }

  private static String jsonValue(JsonNode v) {
    if (v == null || !v.isObject()) return null;
    JsonNode n;
    if ((n = field(v, "stringValue", "string_value")) != null) return n.asText();
    if ((n = field(v, "intValue", "int_value")) != null) return n.isNumber() ? Long.toString(n.asLong()) : n.asText();
    if ((n = field(v, "doubleValue", "double_value")) != null) return Double.toString(n.asDouble());
    if ((n = field(v, "boolValue", "bool_value")) != null) return Boolean.toString(n.asBoolean());
    if ((n = field(v, "arrayValue", "array_value")) != null) {
      JsonNode values = n.get("values");
      if (values == null || !values.isArray()) return "";
      List<String> parts = new ArrayList<>();
      for (JsonNode item : values) {
        String t = jsonValue(item);
        if (t != null && !item.has("arrayValue") && !item.has("kvlistValue")) parts.add(t);
      }
      return String.join(",", parts);
    }
    return null;
  }

  private static JsonNode field(JsonNode o, String camel, String snake) {
    if (o == null || !o.isObject()) return null;
    JsonNode n = o.get(camel);
    if (n == null) n = o.get(snake);
    return n == null || n.isNull() ? null : n;
  }

  private static void requireArray(JsonNode n, String at) {
    if (!n.isArray()) throw new BadExport(at + " must be an array");
  }

  private static String str(JsonNode n) {
    return n == null || n.isNull() ? null : n.asText();
  }

  /** A number, or a 64-bit integer sent as a string (OTLP/JSON allows both). */
  private static long number(JsonNode n, String at) {
    if (n == null) return 0;
    if (n.isIntegralNumber()) return n.asLong();
    if (n.isTextual()) {
      try {
        return Long.parseUnsignedLong(n.asText());
      } catch (NumberFormatException e) {
        throw new BadExport(at + " must be an integer");
      }
    }
    throw new BadExport(at + " must be an integer");
  }

  private static String id(JsonNode span, String camel, String snake, int hexLength, String at) {
    String v = str(field(span, camel, snake));
    if (v == null || v.isEmpty()) return "";
    if (v.length() != hexLength || !v.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
      throw new BadExport(at + "." + camel + " must be " + hexLength + " hex digits");
    }
    return v.toLowerCase(Locale.ROOT);
  }

  // ---- metrics ----

  /** The data points of the export's GenAI metrics ({@link GenAiMetrics#isGenAi}); other metrics are not read. */
  public static List<OtlpMetricPoint> metricsProtobuf(byte[] body) {
    ExportMetricsServiceRequest request;
    try {
      request = ExportMetricsServiceRequest.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw new BadExport("the body is not an OTLP ExportMetricsServiceRequest in protobuf: " + e.getMessage());
    }
    List<OtlpMetricPoint> out = new ArrayList<>();
    for (ResourceMetrics rm : request.getResourceMetricsList()) {
      Map<String, String> resource = attributes(rm.getResource().getAttributesList());
      for (ScopeMetrics sm : rm.getScopeMetricsList()) {
        String scope = scope(sm.getScope().getName(), sm.getScope().getVersion());
        for (Metric m : sm.getMetricsList()) {
          if (!GenAiMetrics.isGenAi(m.getName())) continue;
          switch (m.getDataCase()) {
            case HISTOGRAM -> {
              int temporality = m.getHistogram().getAggregationTemporalityValue();
              for (HistogramDataPoint p : m.getHistogram().getDataPointsList()) {
                out.add(new OtlpMetricPoint(m.getName(), m.getUnit(), "histogram", temporality, p.getStartTimeUnixNano(), p.getTimeUnixNano(),
                    p.getCount(), p.hasSum() ? p.getSum() : Double.NaN, p.getFlags(), attributes(p.getAttributesList()), resource, scope));
              }
            }
            case EXPONENTIAL_HISTOGRAM -> {
              int temporality = m.getExponentialHistogram().getAggregationTemporalityValue();
              for (ExponentialHistogramDataPoint p : m.getExponentialHistogram().getDataPointsList()) {
                out.add(new OtlpMetricPoint(m.getName(), m.getUnit(), "exponential_histogram", temporality, p.getStartTimeUnixNano(),
                    p.getTimeUnixNano(), p.getCount(), p.hasSum() ? p.getSum() : Double.NaN, p.getFlags(), attributes(p.getAttributesList()),
                    resource, scope));
              }
            }
            // Another type cannot be read as calls and tokens: one point stands for the metric, to be rejected.
            default -> out.add(new OtlpMetricPoint(m.getName(), m.getUnit(), m.getDataCase().name().toLowerCase(Locale.ROOT)
                .replace("data_not_set", "none"), 0, 0, 0, 0, Double.NaN, 0, Map.of(), resource, scope));
          }
        }
      }
    }
    return out;
  }

  private static String scope(String name, String version) {
    return version == null || version.isEmpty() ? name : name + "/" + version;
  }

  public static List<OtlpMetricPoint> metricsJson(byte[] body) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (IOException e) {
      throw new BadExport("the body is not JSON: " + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
    }
    if (root == null || !root.isObject()) throw new BadExport("an OTLP/JSON metrics export is an object with resourceMetrics");
    List<OtlpMetricPoint> out = new ArrayList<>();
    JsonNode resourceMetrics = field(root, "resourceMetrics", "resource_metrics");
    if (resourceMetrics == null) return out;
    requireArray(resourceMetrics, "resourceMetrics");
    int ri = 0;
    for (JsonNode rm : resourceMetrics) {
      String at = "resourceMetrics[" + ri++ + "]";
      JsonNode res = field(rm, "resource", "resource");
      Map<String, String> resource = jsonAttributes(res == null ? null : field(res, "attributes", "attributes"), at + ".resource");
      JsonNode scopes = field(rm, "scopeMetrics", "scope_metrics");
      if (scopes == null) continue;
      requireArray(scopes, at + ".scopeMetrics");
      int si = 0;
      for (JsonNode sm : scopes) {
        String sat = at + ".scopeMetrics[" + si++ + "]";
        JsonNode scopeNode = field(sm, "scope", "scope");
        String scope = scopeNode == null ? "" : scope(nz(str(field(scopeNode, "name", "name"))), str(field(scopeNode, "version", "version")));
        JsonNode metrics = field(sm, "metrics", "metrics");
        if (metrics == null) continue;
        requireArray(metrics, sat + ".metrics");
        int mi = 0;
        for (JsonNode m : metrics) {
          String mat = sat + ".metrics[" + mi++ + "]";
          String name = str(field(m, "name", "name"));
          if (name == null || !GenAiMetrics.isGenAi(name)) continue;
          String unit = nz(str(field(m, "unit", "unit")));
          JsonNode data;
          String type;
          if ((data = field(m, "histogram", "histogram")) != null) {
            type = "histogram";
          } else if ((data = field(m, "exponentialHistogram", "exponential_histogram")) != null) {
            type = "exponential_histogram";
          } else {
            type = m.has("sum") ? "sum" : m.has("gauge") ? "gauge" : m.has("summary") ? "summary" : "none";
            out.add(new OtlpMetricPoint(name, unit, type, 0, 0, 0, 0, Double.NaN, 0, Map.of(), resource, scope));
            continue;
          }
          int temporality = temporality(field(data, "aggregationTemporality", "aggregation_temporality"), mat);
          JsonNode points = field(data, "dataPoints", "data_points");
          if (points == null) continue;
          requireArray(points, mat + "." + type + ".dataPoints");
          int pi = 0;
          for (JsonNode p : points) {
            String pat = mat + ".dataPoints[" + pi++ + "]";
            out.add(new OtlpMetricPoint(name, unit, type, temporality,
                number(field(p, "startTimeUnixNano", "start_time_unix_nano"), pat + ".startTimeUnixNano"),
                number(field(p, "timeUnixNano", "time_unix_nano"), pat + ".timeUnixNano"),
                number(field(p, "count", "count"), pat + ".count"), decimal(field(p, "sum", "sum"), pat + ".sum"),
                (int) number(field(p, "flags", "flags"), pat + ".flags"), jsonAttributes(field(p, "attributes", "attributes"), pat), resource,
                scope));
          }
        }
      }
    }
    return out;
  }

  /** AggregationTemporality: a number, as OTLP/JSON sends enums, or the enum's name. */
  private static int temporality(JsonNode n, String at) {
    if (n == null) return 0;
    if (n.isTextual()) {
      switch (n.asText()) {
        case "AGGREGATION_TEMPORALITY_DELTA": return OtlpMetricPoint.DELTA;
        case "AGGREGATION_TEMPORALITY_CUMULATIVE": return OtlpMetricPoint.CUMULATIVE;
        case "AGGREGATION_TEMPORALITY_UNSPECIFIED": return 0;
        default: break;
      }
    }
    long v = number(n, at + ".aggregationTemporality");
    if (v < 0 || v > 2) throw new BadExport(at + ".aggregationTemporality must be 0, 1 or 2");
    return (int) v;
  }

  /** A double: a JSON number, or proto3 JSON's string form ("1.5", "NaN", "Infinity"). NaN when absent. */
  private static double decimal(JsonNode n, String at) {
    if (n == null) return Double.NaN;
    if (n.isNumber()) return n.asDouble();
    if (n.isTextual()) {
      try {
        return Double.parseDouble(n.asText());
      } catch (NumberFormatException e) {
        throw new BadExport(at + " must be a number");
      }
    }
    throw new BadExport(at + " must be a number");
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }
}
