package io.keld.trade.asks;

import java.time.Instant;

/**
 * A change to one open ask in the provider's index: new terms (an amend or a capacity update; a null
 * member keeps the stored value), or its withdrawal. Both kinds go through one queue, so a withdrawal
 * sent after an amend of the same ask is written after it.
 */
public record AskTermsChange(String askId, Long pricePerMtok, Integer quality, Long throughputTps, Integer maxConcurrency, Instant at,
    boolean withdrawal) {

  /** New terms. */
  public AskTermsChange(String askId, Long pricePerMtok, Integer quality, Long throughputTps, Integer maxConcurrency, Instant at) {
    this(askId, pricePerMtok, quality, throughputTps, maxConcurrency, at, false);
  }

  public static AskTermsChange withdrawn(String askId, Instant at) {
    return new AskTermsChange(askId, null, null, null, null, at, true);
  }
}
