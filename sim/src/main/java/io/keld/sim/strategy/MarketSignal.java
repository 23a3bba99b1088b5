package io.keld.sim.strategy;

/**
 * What a provider sees when it decides its price: the hour of its day, how busy its own fleet is,
 * the book, and the fills it got since it last decided.
 *
 * @param hourOfDay       0 (inclusive) to 24 (exclusive), in the provider's time
 * @param utilisation     the share of its fleet busy now, its direct customers and Keld's work together (0..1)
 * @param bestOtherPrice  the lowest price another ask shows on the book, micro-USD per Mtok, or null when none shows
 * @param newFills        fills of its asks since its last decision
 */
public record MarketSignal(double hourOfDay, double utilisation, Long bestOtherPrice, int newFills) {

  public MarketSignal {
    if (hourOfDay < 0 || hourOfDay >= 24) throw new IllegalArgumentException("hourOfDay is in [0, 24)");
    if (utilisation < 0) throw new IllegalArgumentException("utilisation is not negative");
  }
}
