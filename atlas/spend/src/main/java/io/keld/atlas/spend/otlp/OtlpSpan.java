package io.keld.atlas.spend.otlp;

import java.util.Map;

/**
 * One span of an OTLP trace export, as much of it as the spend map reads, whichever encoding it came
 * in. Attribute values are strings (ints, doubles and booleans in their plain text form); content
 * attributes were dropped by the decoder.
 *
 * @param kind OTLP's SpanKind number (2 = SERVER)
 * @param statusCode OTLP's status code number (2 = ERROR)
 * @param resource the resource's attributes, shared by the spans of one ResourceSpans
 */
public record OtlpSpan(String traceId, String spanId, String parentSpanId, String name, int kind, long startNanos, long endNanos,
    int statusCode, Map<String, String> attributes, Map<String, String> resource) {

  public static final int KIND_SERVER = 2;
  public static final int STATUS_ERROR = 2;

  /** A span attribute, else the resource's. */
  public String attribute(String key) {
    String v = attributes.get(key);
    return v != null ? v : resource.get(key);
  }
}
