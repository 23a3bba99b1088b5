package io.keld.node.testing;

import com.typesafe.config.Config;
import io.keld.testkit.TestDatabase;
import io.keld.marketplace.entity.BookListener;
import io.keld.node.KeldNode;
import io.keld.node.config.KeldConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
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

  /**
   * A port free now, for a node (often another process) to bind later. Not one the kernel hands out
   * itself: a port from the ephemeral range (32768-60999 on Linux) can be taken by any outgoing
   * connection between this call and the bind (seen in CI: a restarted node's "Address already in
   * use"). So ports come from below that range, each at most once per JVM.
   */
  public static synchronized int freePort() {
    for (int tries = 0; tries < PORTS_BELOW_EPHEMERAL; tries++) {
      int port = FIRST_PORT + Math.floorMod(nextPort++, PORTS_BELOW_EPHEMERAL);
      if (!handedOut.add(port)) continue;
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(false);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        return port;
      } catch (IOException inUse) {
        // taken: the next one
      }
    }
    throw new IllegalStateException("no free port between " + FIRST_PORT + " and " + (FIRST_PORT + PORTS_BELOW_EPHEMERAL));
  }

  private static final int FIRST_PORT = 20_000;
  private static final int PORTS_BELOW_EPHEMERAL = 12_000;
  /** Where this JVM starts looking: apart from other test JVMs running at the same time. */
  private static int nextPort = ThreadLocalRandom.current().nextInt(PORTS_BELOW_EPHEMERAL);
  private static final Set<Integer> handedOut = new HashSet<>();
}
