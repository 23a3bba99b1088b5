package io.keld.trade.asks;

import java.time.Instant;

/** An ask as its provider sees it, over HTTP and on the feed (snake_case on the wire). */
public record AskView(String id, String useCase, String model, long pricePerMtok, int quality, long throughputTps, int maxConcurrency,
    String region, boolean cancelOnDisconnect, String state, Instant createdAt, Instant updatedAt) {

  public static AskView of(ProviderAsk a) {
    return new AskView(a.id(), a.useCase(), a.model(), a.pricePerMtok(), a.quality(), a.throughputTps(), a.maxConcurrency(), a.region(),
        a.cancelOnDisconnect(), a.state(), a.createdAt(), a.updatedAt());
  }
}
