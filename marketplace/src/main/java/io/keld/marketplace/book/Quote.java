package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;
import java.util.List;

/**
 * What a bid would clear at now, without committing anything: the feasible asks in priority
 * order (the first is where it would fill; the rest are the fallbacks), up to the limit asked for.
 */
public record Quote(long atMillis, int feasibleAsks, List<Option> options) implements CborSerializable {

  public record Option(String askId, String providerId, String model, long pricePerMtok, int quality,
      long startMillis, long finishMillis) implements CborSerializable {}

  public boolean matchable() {
    return !options.isEmpty();
  }
}
