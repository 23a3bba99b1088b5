package io.keld.ixp.jobs;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Set;

/**
 * {@code POST /ixp/v1/jobs} and {@code POST /ixp/v1/quotes}: a job's requirements, and nothing of
 * its content (items go on the data plane).
 *
 * @param useCase           the book the job bids on (required)
 * @param models            acceptable models; empty or absent means any model of the use case
 * @param minQuality        the lowest provider quality score accepted, 0 to 100
 * @param deadline          when every result must be back: an RFC 3339 time or an ISO-8601 duration from now
 * @param ceilingUsdPerMtok the most the job pays, in USD per million tokens
 * @param estimatedTokens   input plus output tokens the job expects to use (reserved at the ceiling)
 * @param projectId         the project the spend belongs to; a key scoped to a project may leave it out
 * @param jobCategory       a free category for the spend map (e.g. "summarization")
 * @param spendClass        "capex" or "opex"
 * @param backup            this job's own backup instead of its project's
 */
public record JobSubmission(
    String useCase,
    Set<String> models,
    Integer minQuality,
    String deadline,
    BigDecimal ceilingUsdPerMtok,
    Long estimatedTokens,
    Constraints constraints,
    String projectId,
    String jobCategory,
    String spendClass,
    Map<String, String> tags,
    BackupSpec backup) {

  /** Where and by whom the job may run; every set empty or absent means no constraint. */
  public record Constraints(Set<String> regions, Set<String> requiredTags, Set<String> providersAllowed, Set<String> providersDenied) {}

  /** A direct provider the job falls back to at list price, if nothing on the book can finish in time. */
  public record BackupSpec(String providerId, String model, BigDecimal priceUsdPerMtok, Long throughputTps) {}
}
