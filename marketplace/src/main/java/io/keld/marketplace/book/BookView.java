package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;
import java.util.List;

/**
 * The public picture of a book: price levels of the asks (cheapest first) and the resting demand
 * by ceiling (highest first). It names no enterprise: bids appear only as aggregated demand.
 */
public record BookView(String useCase, long atMillis, List<PriceLevel> asks, List<DemandLevel> restingDemand)
    implements CborSerializable {

  /** Asks at one price: how many, and the throughput they offer that is not busy now. */
  public record PriceLevel(long pricePerMtok, int askCount, long throughputTps, long availableThroughputTps)
      implements CborSerializable {}

  public record DemandLevel(long ceilingPerMtok, int bidCount, long tokens, long earliestDeadlineMillis)
      implements CborSerializable {}
}
