package io.keld.atlas.spend.otlp;

import java.util.Map;

/**
 * One data point of a GenAI metric in an OTLP metrics export, whichever encoding it came in, as much
 * of it as the spend map reads: a histogram point's count and sum (buckets are not needed to count
 * calls and tokens). Attribute values are strings; content attributes were dropped by the decoder.
 *
 * @param type        the metric's data type: {@code histogram}, {@code exponential_histogram}, or
 *                    another OTLP type ({@code sum}, {@code gauge}, {@code summary}, {@code none}),
 *                    which the spend map does not take for a GenAI metric
 * @param temporality OTLP's AggregationTemporality number (1 delta, 2 cumulative, 0 unspecified)
 * @param sum         the point's sum, or NaN when it has none
 * @param flags       OTLP's DataPointFlags (1 = no recorded value)
 * @param scope       the instrumentation scope's name and version
 */
public record OtlpMetricPoint(String metric, String unit, String type, int temporality, long startNanos, long timeNanos, long count,
    double sum, int flags, Map<String, String> attributes, Map<String, String> resource, String scope) {

  public static final int DELTA = 1;
  public static final int CUMULATIVE = 2;
  public static final int FLAG_NO_RECORDED_VALUE = 1;
}
