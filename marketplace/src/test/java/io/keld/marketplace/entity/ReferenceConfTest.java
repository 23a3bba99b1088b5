package io.keld.marketplace.entity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own: the marketplace's defaults and keld-ixp's serialization binding. */
class ReferenceConfTest {

  private final Config config = ConfigFactory.load();

  @Test
  void marketplaceDefaults() {
    MarketplaceSettings settings = MarketplaceSettings.fromConfig(config.getConfig("keld.marketplace"));
    assertEquals(new MarketplaceSettings(Duration.ofSeconds(2), 500, Duration.ofSeconds(5)), settings);
    assertEquals(2_000, settings.matchingRules().safetyMarginMillis());
    assertEquals(List.of("summarize", "classify", "extract", "chat", "embed", "translate", "code"),
        config.getStringList("keld.marketplace.use-cases"));
    assertEquals("Dispatcher", config.getString(OrderBook.BOOK_DISPATCHER + ".type"));
  }

  @Test
  void theMarkerIsBoundToCbor() {
    assertEquals("jackson-cbor", config.getString("pekko.actor.serialization-bindings.\"io.keld.ixp.CborSerializable\""));
  }
}
