package io.keld.sim.market;

import java.time.Duration;

/**
 * A kind of enterprise work: the latency-tolerant classes Atlas recommends moving to deadline jobs,
 * and interactive traffic. Sizes and deadlines are drawn log-uniformly between their bounds; arrivals
 * follow {@code hourlyWeights} (24 numbers, UTC hours).
 *
 * @param outputShare     the share of a job's tokens that are output (prices it against the list)
 * @param latencyTolerant whether the class counts in the headline savings (work that can wait)
 */
public record JobClass(String name, String useCase, int jobsPerDay, long minTokens, long maxTokens, Duration minLead, Duration maxLead,
    double outputShare, int qualityTolerance, boolean latencyTolerant, double[] hourlyWeights) {

  static final double[] WORKING_HOURS = {1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 10, 8, 5, 3, 2, 2, 1, 1};
  static final double[] EVENINGS = {2, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 4, 6, 9, 12, 12, 10, 8, 5, 3};
  static final double[] FLAT = {3, 3, 3, 3, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 4, 4, 3, 3};

  /** The day's workload at scale 1; {@code keld market simulate --jobs} scales the counts. */
  public static final java.util.List<JobClass> DEFAULTS = java.util.List.of(
      new JobClass("overnight-enrichment", "extract", 240, 2_000_000, 60_000_000, Duration.ofHours(10), Duration.ofHours(36), 0.25, 8, true, EVENINGS),
      new JobClass("backlog-classification", "classify", 360, 300_000, 20_000_000, Duration.ofHours(2), Duration.ofHours(48), 0.05, 8, true, FLAT),
      new JobClass("evaluation-runs", "chat", 300, 200_000, 6_000_000, Duration.ofHours(1), Duration.ofHours(12), 0.30, 6, true, WORKING_HOURS),
      new JobClass("report-generation", "summarize", 1_200, 20_000, 600_000, Duration.ofMinutes(15), Duration.ofHours(4), 0.20, 6, true, WORKING_HOURS),
      new JobClass("interactive", "chat", 6_000, 300, 8_000, Duration.ofMinutes(1), Duration.ofMinutes(5), 0.40, 4, false, WORKING_HOURS));
}
