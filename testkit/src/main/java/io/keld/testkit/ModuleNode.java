package io.keld.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import io.keld.kit.ProblemResponses;
import io.keld.kit.sql.KeldDatabase;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * What one module's end-to-end tests run on, without the rest of the node: the database migrated
 * (the persistence plugins' schema and the tables of every module on the test's classpath), an
 * ActorSystem as a one-node cluster with pekko-persistence-jdbc on that database, and, once the module
 * has started, its routes on a real HTTP server on an ephemeral port, with the problem+json handling
 * every route gets in a node.
 *
 * <p>The settings are the node's own ({@code config/keld.conf}), pointed at the test database, with
 * ephemeral ports and a fresh data directory.
 */
public final class ModuleNode implements HttpNode, AutoCloseable {

  public static final String SYSTEM_NAME = "keld";
  /** The seed price book a node ships ({@code config/price-book.csv}), as a resource of the testkit. */
  public static final String PRICE_BOOK_SEED = "keld-testkit/price-book.csv";
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private static final CoordinatedShutdown.Reason STOP_REQUESTED = new CoordinatedShutdown.Reason() {
    @Override
    public String toString() {
      return "StopRequested";
    }
  };

  private final Config config;
  private final KeldDatabase database;
  private final ActorSystem<Void> system;
  private final MeterRegistry metrics = new SimpleMeterRegistry();
  private volatile ServerBinding binding;

  private ModuleNode(Config config, KeldDatabase database, ActorSystem<Void> system) {
    this.config = config;
    this.database = database;
    this.system = system;
  }

  /** The node's base settings on {@code db}. */
  public static Config config(TestDatabase db) {
    return config(db, Map.of());
  }

  /** The node's base settings on {@code db}, with {@code extra} settings (paths to values) on top. */
  public static Config config(TestDatabase db, Map<String, Object> extra) {
    Map<String, Object> settings = new LinkedHashMap<>(db.nodeSettings());
    try {
      settings.put("keld.data-dir", Files.createTempDirectory("keld-module-node").toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    settings.put("keld.http.interface", "127.0.0.1");
    settings.put("keld.http.port", 0);
    settings.put("pekko.remote.artery.canonical.port", 0);
    settings.put("pekko.management.http.port", 0);
    // Several ActorSystems in one JVM register their cluster MBeans under distinct names.
    settings.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    settings.put("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off");
    settings.put("pekko.cluster.split-brain-resolver.stable-after", "3s");
    settings.putAll(extra);
    Map<String, Object> values = new LinkedHashMap<>();
    settings.forEach((path, value) -> values.put(path, ConfigValueFactory.fromAnyRef(value).unwrapped()));
    return ConfigFactory.parseMap(values)
        .withFallback(ConfigFactory.systemProperties())
        .withFallback(ConfigFactory.parseResources("keld-testkit/keld.conf", ConfigParseOptions.defaults().setAllowMissing(false)))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  /**
   * Migrates the database, starts the ActorSystem and returns once it is an Up member of its cluster:
   * its own, or the one of {@code pekko.cluster.seed-nodes} (a second node on the same database). The module under test starts next (on {@link #system()}, {@link #dataSource()}, ...),
   * then {@link #serve} binds its routes.
   */
  public static ModuleNode start(Config config) {
    KeldDatabase database = KeldDatabase.connect(config);
    ActorSystem<Void> system = null;
    try {
      database.migrate();
      system = ActorSystem.create(Behaviors.empty(), SYSTEM_NAME, config);
      Cluster cluster = Cluster.get(system);
      CompletableFuture<Done> up = new CompletableFuture<>();
      cluster.registerOnMemberUp(() -> up.complete(Done.getInstance()));
      if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
        // No seed nodes: this node forms a cluster of its own (as a node does).
        cluster.join(cluster.selfAddress());
      }
      up.get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      // The journal, snapshot store and their pool start now, as in a node (whose modules touch them at
      // boot), not on a test's first request, which would then wait for them inside its own timeout.
      Persistence.get(system.classicSystem());
      PersistenceQuery.get(system.classicSystem()).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier())
          .currentPersistenceIds().runWith(Sink.ignore(), Materializer.matFromSystem(system))
          .toCompletableFuture().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseActorSystemTerminate(), "keld-close-database", () -> {
        database.close();
        return CompletableFuture.completedFuture(Done.getInstance());
      });
      return new ModuleNode(config, database, system);
    } catch (Exception | Error e) {
      if (system != null) {
        system.terminate();
        awaitQuietly(system);
      }
      database.close();
      if (e instanceof RuntimeException re) throw re;
      if (e instanceof Error err) throw err;
      throw new IllegalStateException("the module's node did not start: " + e, e);
    }
  }

  /**
   * Binds {@code routes} on {@code keld.http.interface}, on an ephemeral port, wrapped as a node wraps
   * them: every rejection and failure answered as problem+json. Returns the address it listens on.
   */
  public InetSocketAddress serve(Route... routes) {
    if (binding != null) throw new IllegalStateException("already serving on " + binding.localAddress());
    Route all = Directives.concat(routes[0], Arrays.copyOfRange(routes, 1, routes.length));
    Route handled = Directives.handleExceptions(ProblemResponses.exceptionHandler(),
        () -> Directives.handleRejections(ProblemResponses.rejectionHandler(), () -> all));
    try {
      binding = Http.get(system).newServerAt(config.getString("keld.http.interface"), 0).bind(handled)
          .thenApply(b -> b.addToCoordinatedShutdown(Duration.ofSeconds(10), system))
          .toCompletableFuture().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the module's routes could not be bound: " + e, e);
    }
    return binding.localAddress();
  }

  @Override
  public InetSocketAddress httpAddress() {
    if (binding == null) throw new IllegalStateException("not serving HTTP yet: call serve(routes) first");
    return binding.localAddress();
  }

  /** Where other nodes find this one: its address as a seed node. */
  public Address clusterAddress() {
    return Cluster.get(system).selfAddress();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public Config config() {
    return config;
  }

  /** Keld's own pool on the test database (the persistence plugins have theirs). */
  public DataSource dataSource() {
    return database.dataSource();
  }

  public KeldDatabase database() {
    return database;
  }

  /** Where JDBC calls run, as in a node: the system's blocking dispatcher. */
  public Executor blocking() {
    return system.dispatchers().lookup(DispatcherSelector.blocking());
  }

  /** A registry for the module's meters (a node's is Prometheus'; tests only need one). */
  public MeterRegistry metrics() {
    return metrics;
  }

  /** Adds {@code task} to what runs when the node stops, before the ActorSystem terminates (a module's close). */
  public void onStop(String name, Runnable task) {
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceStop(), name, () -> {
      task.run();
      return CompletableFuture.completedFuture(Done.getInstance());
    });
  }

  /** Unbinds HTTP, leaves the cluster, terminates the ActorSystem and closes the database pool; returns when done. */
  public void stop() {
    CoordinatedShutdown.get(system).run(STOP_REQUESTED);
    awaitQuietly(system);
    database.close();
  }

  @Override
  public void close() {
    stop();
  }

  private static void awaitQuietly(ActorSystem<?> system) {
    try {
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.out.println("ModuleNode: gave up waiting for the ActorSystem to terminate: " + e);
    }
  }
}
