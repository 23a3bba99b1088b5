package io.keld.atlas.spend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own, holds spend's defaults (beside governance's, under keld.atlas). */
class ReferenceConfTest {

  @Test
  void spendDefaults() {
    Config config = ConfigFactory.load();
    assertEquals("keld-config/price-book.csv", config.getString("keld.atlas.price-book-seed"));
    assertEquals(Duration.ofSeconds(30), config.getDuration("keld.atlas.price-book-refresh"));
    assertEquals(Duration.ofSeconds(5), config.getDuration("keld.atlas.budget-timeout"));
  }
}
