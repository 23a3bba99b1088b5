package io.keld.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own, holds Flow's defaults. */
class ReferenceConfTest {

  @Test
  void flowDefaults() {
    FlowSettings settings = FlowSettings.fromConfig(ConfigFactory.load().getConfig("keld.flow"));
    assertEquals(new FlowSettings(16_384, 8, Duration.ofMillis(5), Duration.ofSeconds(120), 5, Duration.ofMillis(200),
        Duration.ofSeconds(10), Duration.ofSeconds(1), 1024), settings);
    assertEquals(settings, FlowSettings.DEFAULTS);
  }
}
