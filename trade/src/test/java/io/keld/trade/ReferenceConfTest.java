package io.keld.trade;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.keld.trade.feed.FeedSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own, holds Trade's defaults. */
class ReferenceConfTest {

  @Test
  void tradeDefaults() {
    Config config = ConfigFactory.load();
    assertEquals("", config.getString("keld.trade.master-key-file"));
    FeedSettings feed = FeedSettings.fromConfig(config.getConfig("keld.trade.feed"));
    assertEquals(new FeedSettings(1024, Duration.ofSeconds(15), Duration.ofMillis(15), Duration.ofSeconds(5), 64), feed);
    assertEquals(feed, FeedSettings.DEFAULTS);
  }
}
