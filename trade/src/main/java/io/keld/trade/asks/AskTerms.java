package io.keld.trade.asks;

import io.keld.kit.InvalidField;
import java.time.Instant;
import java.util.List;

/**
 * What a provider posts: a model on a use case's book at a price, with the capacity it sells.
 * Checked on construction, so HTTP and the feed refuse the same things the same way.
 *
 * @param pricePerMtok micro-USD per million tokens ($0.30 = 300000)
 */
public record AskTerms(String model, String useCase, Long pricePerMtok, Integer quality, Long throughputTps, Integer maxConcurrency,
    String region, List<String> complianceTags, Instant windowFrom, Instant windowUntil, Boolean cancelOnDisconnect) {

  /** A million dollars per million tokens, the books' own limit: anything above is a typo, not a price. */
  static final long MAX_PRICE = 1_000_000_000_000L;

  public AskTerms {
    if (model == null || model.isBlank() || model.length() > 200) throw new InvalidField("model", "model is 1 to 200 characters");
    if (useCase == null || useCase.isBlank() || useCase.length() > 64) throw new InvalidField("use_case", "use_case is 1 to 64 characters");
    if (region != null && (region.isBlank() || region.length() > 64)) throw new InvalidField("region", "region is 1 to 64 characters");
    if (pricePerMtok == null || pricePerMtok <= 0 || pricePerMtok > MAX_PRICE) {
      throw new InvalidField("price_per_mtok", "price_per_mtok is a positive whole number of micro-USD per million tokens");
    }
    if (quality == null) quality = 50;
    if (quality < 0 || quality > 100) throw new InvalidField("quality", "quality is between 0 and 100");
    if (throughputTps == null || throughputTps <= 0) throw new InvalidField("throughput_tps", "throughput_tps (tokens per second sold at this price) must be positive");
    if (maxConcurrency == null) maxConcurrency = 1;
    if (maxConcurrency < 1) throw new InvalidField("max_concurrency", "max_concurrency is at least 1");
    if (windowFrom != null && windowUntil != null && !windowFrom.isBefore(windowUntil)) {
      throw new InvalidField("window_until", "window_until must be after window_from");
    }
    complianceTags = complianceTags == null ? List.of() : List.copyOf(complianceTags);
    if (cancelOnDisconnect == null) cancelOnDisconnect = false;
  }
}
