package io.keld.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeldConfigTest {

  @TempDir Path tmp;

  @Test
  void devIsTheDefaultAndPutsAnH2FileUnderTheDataDir() {
    Config c = KeldConfig.load(null, KeldConfig.Overrides.none());
    assertEquals("h2", c.getString("keld.database.vendor"));
    String dataDir = Path.of("data").toAbsolutePath().toString();
    assertEquals("jdbc:h2:file:" + dataDir + "/h2/keld;DATABASE_TO_UPPER=false;DB_CLOSE_ON_EXIT=FALSE", c.getString("keld.database.url"));
    assertEquals(c.getString("keld.database.url"), c.getString("pekko-persistence-jdbc.shared-databases.slick.db.url"),
        "the persistence plugins share the node's database");
    assertEquals(List.of(), c.getStringList("pekko.cluster.seed-nodes"));
  }

  @Test
  void flagsOverrideTheProfile() {
    Config c = KeldConfig.load("dev", new KeldConfig.Overrides(9000, 2700, 8700, Path.of("elsewhere"),
        List.of("pekko://keld@10.0.0.1:2552"), Map.of()));
    assertEquals(9000, c.getInt("keld.http.port"));
    assertEquals(2700, c.getInt("pekko.remote.artery.canonical.port"));
    assertEquals(8700, c.getInt("pekko.management.http.port"));
    assertTrue(c.getString("keld.database.url").startsWith("jdbc:h2:file:" + Path.of("elsewhere").toAbsolutePath() + "/h2/keld"));
    assertEquals(List.of("pekko://keld@10.0.0.1:2552"), c.getStringList("pekko.cluster.seed-nodes"));
  }

  @Test
  void allFourPersistencePluginsUseTheOneSharedPool() {
    Config c = KeldConfig.load("dev", KeldConfig.Overrides.none());
    for (String plugin : List.of("jdbc-journal", "jdbc-snapshot-store", "jdbc-read-journal", "jdbc-durable-state-store")) {
      assertEquals("slick", c.getString(plugin + ".use-shared-db"), plugin);
    }
  }

  @Test
  void postgresProfileUsesThePostgresDriver() {
    Config c = KeldConfig.load("postgres", KeldConfig.Overrides.none());
    assertEquals("postgresql", c.getString("keld.database.vendor"));
    assertEquals("slick.jdbc.PostgresProfile$", c.getString("pekko-persistence-jdbc.shared-databases.slick.profile"));
    assertTrue(c.getString("keld.database.url").startsWith("jdbc:postgresql:"));
  }

  @Test
  void theThreeNodeExampleNamesItsSeeds() {
    Config c = KeldConfig.load("cluster-local-3", KeldConfig.Overrides.none());
    assertEquals(3, c.getStringList("pekko.cluster.seed-nodes").size(), "every node is a seed");
  }

  @Test
  void aProfileCanBeAFile() throws Exception {
    Path file = tmp.resolve("mine.conf");
    Files.writeString(file, "include classpath(\"keld-config/dev.conf\")\nkeld.http.port = 9123\n");
    assertEquals(9123, KeldConfig.load(file.toString(), KeldConfig.Overrides.none()).getInt("keld.http.port"));
  }

  @Test
  void badInputIsExplained() {
    var unknown = assertThrows(KeldConfig.InvalidConfigException.class, () -> KeldConfig.load("prod", KeldConfig.Overrides.none()));
    assertTrue(unknown.getMessage().contains("unknown profile 'prod'"), unknown.getMessage());

    var missing = assertThrows(KeldConfig.InvalidConfigException.class,
        () -> KeldConfig.load(tmp.resolve("absent.conf").toString(), KeldConfig.Overrides.none()));
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());

    var port = assertThrows(KeldConfig.InvalidConfigException.class,
        () -> KeldConfig.load("dev", new KeldConfig.Overrides(70000, null, null, null, null, Map.of())));
    assertTrue(port.getMessage().contains("keld.http.port must be a port number"), port.getMessage());
  }

  @Test
  void theNodesDefaultsAreInItsReferenceConf() {
    Config reference = ConfigFactory.defaultReference();
    assertEquals(8080, reference.getInt("keld.http.port"));
    assertEquals(4318, reference.getInt("keld.otlp.port"));
    assertEquals("h2", reference.getString("keld.database.vendor"));
    assertFalse(reference.hasPath("keld.database.url"), "the profile names the database");
  }

  @Test
  void everyModulesDefaultsReachANode() {
    Config c = KeldConfig.load("dev", KeldConfig.Overrides.none());
    for (String path : List.of("keld.marketplace.safety-margin", "keld.flow.batch-tokens", "keld.trade.feed.conflation",
        "keld.atlas.budget-timeout", "keld.atlas.price-book-seed", "keld.ixp.max-items", "keld.edge.default-deadline", "keld.jobs.tick")) {
      assertTrue(c.hasPath(path), path);
    }
    assertEquals("jackson-cbor", c.getString("pekko.actor.serialization-bindings.\"io.keld.ixp.CborSerializable\""));
  }

  @Test
  void otlpListensWhereHttpDoes() {
    Config c = KeldConfig.load("dev", new KeldConfig.Overrides(null, null, null, null, null, Map.of("keld.http.interface", "127.0.0.1")));
    assertEquals("127.0.0.1", c.getString("keld.otlp.interface"));
  }
}
