package io.keld.exchange.jobs;

import io.keld.ixp.CborSerializable;
import io.keld.marketplace.book.Bid;
import java.util.Map;
import java.util.Set;
import java.util.HashSet;

/**
 * What a job was admitted with: who asked, what it needs, and how its spend is to be classified.
 * It holds requirements and counts only, never content.
 *
 * @param ceilingPerMtok   the most the job pays, micro-USD per million tokens
 * @param estimatedTokens  the tokens the client expects to use; budget is reserved for them at the ceiling
 * @param jobCategory      the spend ledger's job category (declared by the client, or null)
 * @param spendClass       {@code capex} or {@code opex}, or null
 * @param idempotencyKey   the client's {@code Idempotency-Key}, or null
 * @param requestHash      a digest of the request, so a reused key with another body is told apart
 */
public record JobSpec(
    String jobId,
    String orgId,
    String teamId,
    String projectId,
    String keyId,
    String useCase,
    Set<String> models,
    int minQuality,
    long ceilingPerMtok,
    long estimatedTokens,
    long submittedAtMillis,
    long deadlineMillis,
    Set<String> regions,
    Set<String> requiredTags,
    Set<String> providersAllowed,
    Set<String> providersDenied,
    String jobCategory,
    String spendClass,
    Map<String, String> tags,
    String idempotencyKey,
    String requestHash)
    implements CborSerializable {

  public JobSpec {
    models = models == null ? Set.of() : Set.copyOf(models);
    regions = regions == null ? Set.of() : Set.copyOf(regions);
    requiredTags = requiredTags == null ? Set.of() : Set.copyOf(requiredTags);
    providersAllowed = providersAllowed == null ? Set.of() : Set.copyOf(providersAllowed);
    providersDenied = providersDenied == null ? Set.of() : Set.copyOf(providersDenied);
    tags = tags == null ? Map.of() : Map.copyOf(tags);
  }

  /** The job's bid on its use case's book for {@code tokens}, with extra providers to avoid. */
  Bid bid(String bidId, long tokens, long escalateAtMillis, Set<String> alsoDenied) {
    Set<String> denied = new HashSet<>(providersDenied);
    denied.addAll(alsoDenied);
    return new Bid(bidId, useCase, models, minQuality, ceilingPerMtok, tokens, deadlineMillis, escalateAtMillis, regions, requiredTags,
        providersAllowed, denied);
  }
}
