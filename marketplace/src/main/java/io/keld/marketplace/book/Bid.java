package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;
import java.util.Set;

/**
 * A job's requirements on one use case's book. Empty sets mean "no constraint".
 *
 * @param bidId             the bid's id (the job places it; a job may place more than one over its life)
 * @param models            allow-list of models
 * @param ceilingPerMtok    the most the job pays, micro-USD per million tokens
 * @param tokens            estimated tokens to process
 * @param deadlineMillis    when the work must be done
 * @param escalateAtMillis  the job's escalation point: an unmatched bid expires here
 * @param regions           acceptable regions
 * @param requiredTags      compliance tags the ask must carry, all of them
 */
public record Bid(
    String bidId,
    String useCase,
    Set<String> models,
    int minQuality,
    long ceilingPerMtok,
    long tokens,
    long deadlineMillis,
    long escalateAtMillis,
    Set<String> regions,
    Set<String> requiredTags,
    Set<String> providersAllowed,
    Set<String> providersDenied)
    implements CborSerializable {

  public Bid {
    models = models == null ? Set.of() : Set.copyOf(models);
    regions = regions == null ? Set.of() : Set.copyOf(regions);
    requiredTags = requiredTags == null ? Set.of() : Set.copyOf(requiredTags);
    providersAllowed = providersAllowed == null ? Set.of() : Set.copyOf(providersAllowed);
    providersDenied = providersDenied == null ? Set.of() : Set.copyOf(providersDenied);
  }
}
