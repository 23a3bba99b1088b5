package io.keld.node.testing;

import com.typesafe.config.Config;
import io.keld.testkit.TestDatabase;
import io.keld.marketplace.entity.BookListener;
import io.keld.node.KeldNode;
import io.keld.node.config.KeldConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Starts real Keld nodes for tests: ephemeral ports, a given database, optional seed nodes. */
public final class TestNodes {

  private TestNodes() {}

  public static Config config(TestDatabase db, List<String> seedNodes) {
    Map<String, Object> extra = new LinkedHashMap<>(db.nodeSettings());
    extra.put("keld.http.interface", "127.0.0.1");
    extra.put("keld.otlp.port", freePort());
    // Several ActorSystems in one JVM register their cluster MBeans under distinct names.
    extra.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    extra.put("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off");
    // Leaving and handing over shards quickly keeps cluster tests short.
    extra.put("pekko.cluster.split-brain-resolver.stable-after", "3s");
    return KeldConfig.load(
        "dev", new KeldConfig.Overrides(0, 0, freePort(), null, seedNodes, extra));
  }

  /** Starts a node and waits until it is an Up cluster member. */
  public static KeldNode startReady(Config config) {
    return startReady(config, List.of());
  }

  public static KeldNode startReady(Config config, List<BookListener> bookListeners) {
    KeldNode node = KeldNode.start(config, bookListeners);
    try {
      node.ready().toCompletableFuture().get(Duration.ofSeconds(60).toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      node.stop();
      throw new AssertionError("node did not become ready: " + e, e);
    }
    return node;
  }

  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
