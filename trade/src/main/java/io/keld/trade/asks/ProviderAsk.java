package io.keld.trade.asks;

import java.time.Instant;

/** A provider's own record of one of its asks (the book holds the live ask). */
public record ProviderAsk(String id, String orgId, String useCase, String model, long pricePerMtok, int quality, long throughputTps,
    int maxConcurrency, String region, boolean cancelOnDisconnect, String state, Instant createdAt, Instant updatedAt) {

  public static final String OPEN = "open";
  public static final String WITHDRAWN = "withdrawn";

  public boolean open() {
    return OPEN.equals(state);
  }
}
