package io.keld.atlas.governance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own: governance's defaults, and keld-ixp's binding for the budgets entity. */
class ReferenceConfTest {

  private final Config config = ConfigFactory.load();

  @Test
  void governanceDefaults() {
    assertEquals(Duration.ofSeconds(5), config.getDuration("keld.atlas.budget-timeout"));
  }

  @Test
  void theMarkerIsBoundToCbor() {
    assertEquals("jackson-cbor", config.getString("pekko.actor.serialization-bindings.\"io.keld.ixp.CborSerializable\""));
  }
}
