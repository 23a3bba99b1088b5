package io.keld.trade.asks;

import java.time.Instant;

/**
 * New terms for one open ask in the provider's index: an amend or a capacity update. A null member
 * keeps the stored value.
 */
public record AskTermsChange(String askId, Long pricePerMtok, Integer quality, Long throughputTps, Integer maxConcurrency, Instant at) {}
