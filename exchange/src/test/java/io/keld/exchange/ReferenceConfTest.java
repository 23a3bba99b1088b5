package io.keld.exchange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.keld.exchange.edge.OpenAiRoutes;
import io.keld.kit.CacheSettings;
import io.keld.exchange.ixp.IxpRoutes;
import io.keld.exchange.jobs.JobSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The module's reference.conf, on its own, holds the defaults of keld.ixp, keld.edge and keld.jobs. */
class ReferenceConfTest {

  private final Config config = ConfigFactory.load();

  @Test
  void ixpDefaults() {
    assertEquals(new IxpRoutes.Settings(1_048_576, 100_000, Duration.ofSeconds(15), 5),
        IxpRoutes.Settings.fromConfig(config.getConfig("keld.ixp")));
  }

  @Test
  void edgeDefaults() {
    assertEquals(new OpenAiRoutes.Settings(Duration.ofSeconds(60), 5_000_000, Duration.ofMinutes(5), Duration.ofSeconds(1), 500_000,
        2_000_000, Duration.ofSeconds(5), 4_194_304, new CacheSettings(100_000, Duration.ofSeconds(5))), OpenAiRoutes.Settings.fromConfig(config.getConfig("keld.edge")));
    assertEquals(Duration.ofSeconds(5), config.getDuration("keld.edge.book-replica-resync-when-quiet"));
  }

  @Test
  void jobDefaults() {
    JobSettings jobs = JobSettings.fromConfig(config.getConfig("keld.jobs"));
    assertEquals(Duration.ofMillis(500), jobs.tick());
    assertEquals(Duration.ofDays(7), jobs.maxLead());
    assertTrue(jobs.operatorBackup().isEmpty(), "no operator backup unless one is configured");
    assertEquals(Duration.ofSeconds(10), config.getDuration("keld.jobs.ask-timeout"));
    assertEquals("KELD_BACKUP_CREDENTIAL", config.getString("keld.jobs.operator-backup.credential-env"));
  }
}
