package io.keld.trade.asks;

import io.keld.kit.InvalidField;
import java.time.Instant;

/** New terms for an open ask; a null member keeps the current value. */
public record AskAmendment(Long pricePerMtok, Integer quality, Long throughputTps, Instant windowFrom, Instant windowUntil) {

  public AskAmendment {
    if (pricePerMtok == null && quality == null && throughputTps == null && windowFrom == null && windowUntil == null) {
      throw new InvalidField("price_per_mtok", "an amendment changes at least one of price_per_mtok, quality, throughput_tps, window_from, window_until");
    }
    if (pricePerMtok != null && (pricePerMtok <= 0 || pricePerMtok > AskTerms.MAX_PRICE)) {
      throw new InvalidField("price_per_mtok", "price_per_mtok is a positive whole number of micro-USD per million tokens");
    }
    if (quality != null && (quality < 0 || quality > 100)) throw new InvalidField("quality", "quality is between 0 and 100");
    if (throughputTps != null && throughputTps <= 0) throw new InvalidField("throughput_tps", "throughput_tps must be positive");
  }
}
