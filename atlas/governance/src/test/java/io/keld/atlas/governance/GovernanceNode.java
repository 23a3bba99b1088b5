package io.keld.atlas.governance;

import com.typesafe.config.Config;
import io.keld.atlas.keys.KeyStore;
import io.keld.testkit.HttpNode;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import io.keld.kit.CacheSettings;

/**
 * Atlas governance as a node runs it, and nothing else: tenancy, keys, the budget entities and the
 * audit log on a migrated database, {@code /atlas/v1} on real HTTP, one node or several sharing the
 * database as members of one cluster.
 */
final class GovernanceNode implements HttpNode {

  private final ModuleNode module;
  private final Governance governance;
  private final Optional<KeyStore.IssuedKey> bootstrapKey;

  private GovernanceNode(ModuleNode module, Governance governance, Optional<KeyStore.IssuedKey> bootstrapKey) {
    this.module = module;
    this.governance = governance;
    this.bootstrapKey = bootstrapKey;
  }

  /** The node's settings on {@code db}; {@code seedNodes} null or empty: a cluster of its own. */
  static Config config(TestDatabase db, List<String> seedNodes) {
    return ModuleNode.config(db, seedNodes == null ? Map.of() : Map.of("pekko.cluster.seed-nodes", seedNodes));
  }

  /** Starts governance and returns once the node is an Up member of its cluster, serving {@code /atlas/v1}. */
  static GovernanceNode startReady(Config config) {
    ModuleNode module = ModuleNode.start(config);
    try {
      Governance governance = Governance.start(module.system(), module.dataSource(), module.blocking(), Clock.systemUTC(), module.metrics(),
          config.getDuration("keld.atlas.budget-timeout"),
          CacheSettings.of(config.getConfig("keld.atlas"), "project"));
      Optional<KeyStore.IssuedKey> bootstrapKey = governance.issueBootstrapKeyOnce();
      module.serve(governance.routes());
      return new GovernanceNode(module, governance, bootstrapKey);
    } catch (RuntimeException | Error e) {
      module.stop();
      throw e;
    }
  }

  Governance governance() {
    return governance;
  }

  /** The operator key: issued only by the first node ever started on a database. */
  Optional<KeyStore.IssuedKey> bootstrapKey() {
    return bootstrapKey;
  }

  Address clusterAddress() {
    return module.clusterAddress();
  }

  ActorSystem<Void> system() {
    return module.system();
  }

  @Override
  public InetSocketAddress httpAddress() {
    return module.httpAddress();
  }

  void stop() {
    module.stop();
  }
}
