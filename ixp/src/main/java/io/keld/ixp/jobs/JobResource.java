package io.keld.ixp.jobs;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A job as {@code GET /ixp/v1/jobs/{id}}, the list and the event stream show it. Money is exact:
 * prices in USD per million tokens (decimals), costs in micro-USD (integers, $1 = 1,000,000).
 *
 * @param object     always "job"
 * @param realtime   true for a one-item request served on the real-time path of the OpenAI edge
 * @param state      admitted, open, matched, running, escalated, completed, cancelled, failed, deadline_missed
 * @param reason     why the job is in its state, when a reason applies (e.g. budget_refused, stalled)
 * @param match      the leg running the job now (the last one)
 */
public record JobResource(
    String id,
    String object,
    boolean realtime,
    String state,
    String reason,
    String detail,
    String useCase,
    Set<String> models,
    int minQuality,
    BigDecimal ceilingUsdPerMtok,
    long estimatedTokens,
    Instant submittedAt,
    Instant deadline,
    Instant escalateAt,
    String organizationId,
    String teamId,
    String projectId,
    String jobCategory,
    String spendClass,
    Map<String, String> tags,
    Backup backup,
    Leg match,
    List<Leg> legs,
    Progress progress,
    long costMicroUsd,
    long reservedMicroUsd,
    boolean settled,
    int escalations,
    int reroutes,
    List<TimelineEntry> timeline,
    Links links) {

  public record Backup(String providerId, String model, BigDecimal priceUsdPerMtok, long throughputTps, String source) {}

  /**
   * One provider's part of the job: "fill" (from the book) or "backup". {@code receipt} is the path of
   * a fill's signed receipt (absent for a backup, or until the job has heard where its fill is in the log).
   */
  public record Leg(int no, String kind, String providerId, String model, BigDecimal priceUsdPerMtok, Instant startedAt,
      Instant promisedFinish, long itemsAnswered, long itemsFailed, long inputTokens, long outputTokens, long costMicroUsd, String receipt) {}

  public record Progress(long itemsAnswered, long itemsFailed, int itemsOpen, long inputTokens, long outputTokens) {}

  public record TimelineEntry(Instant at, String state, String event, String reason) {}

  public record Links(String self, String items, String events) {}

  /** The states after which a job changes no more. */
  public static boolean terminal(String state) {
    return switch (state) {
      case "completed", "cancelled", "failed", "deadline_missed" -> true;
      default -> false;
    };
  }
}
