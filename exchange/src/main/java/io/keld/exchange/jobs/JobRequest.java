package io.keld.exchange.jobs;

import java.time.Instant;
import java.util.Map;
import java.util.Set;

/**
 * A job as a client asks for it, before admission. Null means "not given" (defaults apply); empty
 * sets mean no constraint.
 *
 * @param projectId      the project the spend belongs to; a key scoped to a project may leave it out
 * @param ceilingPerMtok the most the job pays, micro-USD per million tokens
 * @param backup         the job's own backup instead of its project's (a direct provider at list price)
 */
public record JobRequest(
    String useCase,
    Set<String> models,
    Integer minQuality,
    long ceilingPerMtok,
    long estimatedTokens,
    Instant deadline,
    Set<String> regions,
    Set<String> requiredTags,
    Set<String> providersAllowed,
    Set<String> providersDenied,
    String projectId,
    String jobCategory,
    String spendClass,
    Map<String, String> tags,
    Backup backup) {

  /** The smallest request: a use case, a ceiling, an estimate and a deadline. */
  public static JobRequest of(String useCase, long ceilingPerMtok, long estimatedTokens, Instant deadline, String projectId) {
    return new JobRequest(useCase, Set.of(), null, ceilingPerMtok, estimatedTokens, deadline, Set.of(), Set.of(), Set.of(), Set.of(),
        projectId, null, null, Map.of(), null);
  }

  public JobRequest withBackup(Backup b) {
    return new JobRequest(useCase, models, minQuality, ceilingPerMtok, estimatedTokens, deadline, regions, requiredTags, providersAllowed,
        providersDenied, projectId, jobCategory, spendClass, tags, b);
  }

  public JobRequest withTags(String category, String spend, Map<String, String> more) {
    return new JobRequest(useCase, models, minQuality, ceilingPerMtok, estimatedTokens, deadline, regions, requiredTags, providersAllowed,
        providersDenied, projectId, category, spend, more, backup);
  }

  public JobRequest withModels(Set<String> allowed) {
    return new JobRequest(useCase, allowed, minQuality, ceilingPerMtok, estimatedTokens, deadline, regions, requiredTags, providersAllowed,
        providersDenied, projectId, jobCategory, spendClass, tags, backup);
  }
}
