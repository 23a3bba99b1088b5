package io.keld.marketplace.entity;

import com.typesafe.config.Config;
import io.keld.marketplace.book.MatchingRules;
import java.time.Duration;

/**
 * How a node runs the books ({@code keld.marketplace}; defaults in this module's reference.conf).
 *
 * @param safetyMargin    a fill must finish this long before the bid's deadline (MATCHING.md, rule 1)
 * @param gatewayMaxBatch operations a node's gateway gathers into one write to a book
 * @param bookTimeout     how long a caller waits for a book to answer
 */
public record MarketplaceSettings(Duration safetyMargin, int gatewayMaxBatch, Duration bookTimeout) {

  /** Reads the {@code keld.marketplace} section. */
  public static MarketplaceSettings fromConfig(Config c) {
    return new MarketplaceSettings(c.getDuration("safety-margin"), c.getInt("gateway-max-batch"), c.getDuration("book-timeout"));
  }

  /** The published rules with this node's safety margin. */
  public MatchingRules matchingRules() {
    return new MatchingRules(MatchingRules.VERSION, safetyMargin.toMillis());
  }
}
