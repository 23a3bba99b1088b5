package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;
import java.util.Set;

/**
 * A provider's offer on one use case's book: a model at a price, with the capacity it sells at that
 * price. Prices are micro-USD per million tokens, throughput tokens per second, times UTC epoch
 * milliseconds.
 *
 * @param windowFromMillis  no work starts before this time (0: open)
 * @param windowUntilMillis all work finishes by this time ({@link Long#MAX_VALUE}: open)
 */
public record Ask(
    String askId,
    String providerId,
    String model,
    String useCase,
    long pricePerMtok,
    int quality,
    long throughputTps,
    int maxConcurrency,
    long windowFromMillis,
    long windowUntilMillis,
    String region,
    Set<String> complianceTags)
    implements CborSerializable {

  public static final long OPEN_FROM = 0L;
  public static final long OPEN_UNTIL = Long.MAX_VALUE;

  public Ask {
    complianceTags = complianceTags == null ? Set.of() : Set.copyOf(complianceTags);
  }
}
