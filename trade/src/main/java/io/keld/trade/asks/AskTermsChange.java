package io.keld.trade.asks;

import java.time.Instant;

/**
 * New terms for one open ask in the provider's index: an amend or a capacity update. A null member
 * keeps the stored value.
 */
public record AskTermsChange(String askId, Long pricePerMtok, Integer quality, Long throughputTps, Integer maxConcurrency, Instant at) {

  /** The ask as it is once this change is applied to {@code a}. */
  ProviderAsk applyTo(ProviderAsk a) {
    return new ProviderAsk(a.id(), a.orgId(), a.useCase(), a.model(),
        pricePerMtok != null ? pricePerMtok : a.pricePerMtok(),
        quality != null ? quality : a.quality(),
        throughputTps != null ? throughputTps : a.throughputTps(),
        maxConcurrency != null ? maxConcurrency : a.maxConcurrency(),
        a.region(), a.cancelOnDisconnect(), a.state(), a.createdAt(), at);
  }
}
