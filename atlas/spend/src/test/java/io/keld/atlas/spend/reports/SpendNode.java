package io.keld.atlas.spend.reports;

import com.typesafe.config.Config;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendMap;
import io.keld.kit.sql.KeldDatabase;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import org.apache.pekko.actor.typed.ActorSystem;
import io.keld.kit.CacheSettings;

/**
 * The spend map as a node runs it, with the governance it answers to (tenancy, keys, budgets) and the
 * seed price book, on a migrated database; no other module.
 */
final class SpendNode {

  private final ModuleNode module;
  private final Governance governance;
  private final SpendMap spend;

  private SpendNode(ModuleNode module, Governance governance, SpendMap spend) {
    this.module = module;
    this.governance = governance;
    this.spend = spend;
  }

  static Config config(TestDatabase db) {
    return ModuleNode.config(db);
  }

  static SpendNode startReady(Config config) {
    ModuleNode module = ModuleNode.start(config);
    try {
      Clock clock = Clock.systemUTC();
      Governance governance = Governance.start(module.system(), module.dataSource(), module.blocking(), clock, module.metrics(),
          config.getDuration("keld.atlas.budget-timeout"),
          CacheSettings.of(config.getConfig("keld.atlas"), "project"));
      SpendMap spend = new SpendMap(module.system(), module.dataSource(), module.blocking(), clock, governance,
          CacheSettings.of(config.getConfig("keld.atlas"), "mapping-rules"));
      spend.startPriceBook(seedPriceBook(), config.getDuration("keld.atlas.price-book-refresh"));
      return new SpendNode(module, governance, spend);
    } catch (RuntimeException | Error e) {
      module.stop();
      throw e;
    }
  }

  /** The price book a node is seeded with ({@code config/price-book.csv}). */
  private static String seedPriceBook() {
    try (InputStream in = SpendNode.class.getClassLoader().getResourceAsStream(ModuleNode.PRICE_BOOK_SEED)) {
      if (in == null) throw new IllegalStateException(ModuleNode.PRICE_BOOK_SEED + " is not on the classpath");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Governance governance() {
    return governance;
  }

  SpendMap spend() {
    return spend;
  }

  KeldDatabase database() {
    return module.database();
  }

  ActorSystem<Void> system() {
    return module.system();
  }

  void stop() {
    module.stop();
  }
}
