package io.keld.node;

import io.keld.node.cluster.ClusterMeters;
import io.keld.node.runtime.ProjectionSingleton;
import io.keld.node.cluster.ClusterStatus;
import io.keld.node.http.ClusterRoutes;
import io.keld.exchange.jobs.DeadlineJob;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import com.typesafe.config.Config;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.spend.SpendMap;
import io.keld.atlas.spend.connections.ConnectionSettings;
import io.keld.exchange.Exchange;
import io.keld.exchange.jobs.JobSettings;
import io.keld.exchange.jobs.JobStreams;
import io.keld.exchange.jobs.OperatorBackupFleet;
import io.keld.atlas.keys.KeyStore;
import io.keld.kit.CacheSettings;
import java.util.Set;
import io.keld.marketplace.entity.MarketplaceSettings;
import io.keld.flow.Flow;
import io.keld.trade.Trade;
import java.nio.file.Path;
import io.keld.flow.FlowSettings;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.BookListener;
import io.keld.marketplace.entity.BookListeners;
import io.keld.exchange.clearing.BookLogRoutes;
import io.keld.exchange.clearing.BookLogs;
import io.keld.exchange.clearing.ClearingKeyStore;
import io.keld.marketplace.clearing.FillReceipts;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.entity.BookMetrics;
import io.keld.marketplace.entity.OrderBook;
import io.keld.node.http.ConsoleRoutes;
import io.keld.node.http.DocsRoutes;
import io.keld.node.http.HealthRoutes;
import io.keld.exchange.ixp.IxpRoutes;
import io.keld.exchange.edge.OpenAiRoutes;
import io.keld.marketplace.entity.LocalBooks;
import io.keld.node.http.KeldHttpServer;
import org.apache.pekko.http.javadsl.server.Route;
import io.keld.node.http.MetricsRoutes;
import io.keld.node.metrics.KeldMetrics;
import io.keld.kit.sql.KeldDatabase;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import io.keld.node.runtime.CommonPool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/**
 * One Keld node: the composition root. It migrates the database, boots the ActorSystem as a cluster
 * member (joining itself when no seed nodes are configured), starts Cluster Sharding, Pekko
 * Management and the Keld HTTP server, and stops all of it in order through CoordinatedShutdown.
 *
 * <p>Modules plug in here: each gets the system, the sharding extension and the metrics registry,
 * and hands back its HTTP routes.
 */
public final class KeldNode implements AutoCloseable {

  static {
    // First, before the logger below: starting logging may start the JDK's common pool.
    CommonPool.ensureParallel();
  }

  private static final Logger log = LoggerFactory.getLogger(KeldNode.class);
  public static final String SYSTEM_NAME = "keld";

  /** The reason a node stops when it is asked to (SIGTERM, Ctrl-C, {@link #stop()}). */
  public static final CoordinatedShutdown.Reason STOP_REQUESTED = new CoordinatedShutdown.Reason() {
    @Override
    public String toString() {
      return "StopRequested";
    }
  };

  private final ActorSystem<Void> system;
  private final KeldDatabase database;
  private final KeldMetrics metrics;
  private final ServerBinding httpBinding;
  /** The OpenTelemetry (OTLP/HTTP) port's binding; null when keld.otlp.enabled is off. */
  private ServerBinding otlpBinding;
  private final CompletableFuture<Done> memberUp;
  private final BookClient books;
  private final BookListeners bookListeners;
  private final Governance governance;
  private final SpendMap spend;
  private final Exchange exchange;
  private final Optional<KeyStore.IssuedKey> bootstrapKey;
  private final Flow flow;
  private final Trade trade;

  private KeldNode(ActorSystem<Void> system, KeldDatabase database, KeldMetrics metrics, ServerBinding httpBinding,
      CompletableFuture<Done> memberUp, BookClient books, BookListeners bookListeners, Governance governance, SpendMap spend,
      Exchange exchange, Optional<KeyStore.IssuedKey> bootstrapKey, Flow flow, Trade trade) {
    this.system = system;
    this.database = database;
    this.metrics = metrics;
    this.httpBinding = httpBinding;
    this.memberUp = memberUp;
    this.books = books;
    this.bookListeners = bookListeners;
    this.governance = governance;
    this.spend = spend;
    this.exchange = exchange;
    this.bootstrapKey = bootstrapKey;
    this.flow = flow;
    this.trade = trade;
  }

  /** Keld Trade: provider endpoints, models and asks. */
  public Trade trade() {
    return trade;
  }

  /** Deadline jobs: admission, the job entities, and this node's data plane for them. */
  public Exchange.DeadlineJobs jobs() {
    return exchange.jobs();
  }

  /** How jobs run: deadline jobs, project policies, the edge's defaults. */
  public Exchange exchange() {
    return exchange;
  }

  /** Keld Flow: this node's pacing pipelines to provider endpoints. */
  public Flow flow() {
    return flow;
  }

  /** Atlas governance: tenancy, keys, budgets, audit log. */
  public Governance governance() {
    return governance;
  }

  /** The Atlas spend map: ledger, price book, mapping rules. */
  public SpendMap spend() {
    return spend;
  }

  /**
   * The operator bootstrap key, present only on the first node ever started on its database (it is
   * shown once and stored only as a hash).
   */
  public Optional<KeyStore.IssuedKey> bootstrapKey() {
    return bootstrapKey;
  }

  /** The order books, through this node's batching gateways. */
  public BookClient books() {
    return books;
  }

  /** Where modules subscribe to the events the books persist (fills, expiries, ...). */
  public BookListeners bookListeners() {
    return bookListeners;
  }

  /**
   * Starts a node and returns once its HTTP server is bound. It becomes ready (see {@link #ready()})
   * when it is an Up cluster member.
   */
  public static KeldNode start(Config config) {
    return start(config, List.of());
  }

  /** Starts a node with extra listeners to book events, subscribed before any book can start. */
  public static KeldNode start(Config config, List<BookListener> bookListenersAtStart) {
    Duration startTimeout = Duration.ofSeconds(60);
    KeldDatabase database = KeldDatabase.connect(config);
    ActorSystem<Void> system = null;
    KeldMetrics metrics = null;
    try {
      if (config.getBoolean("keld.database.migrate-on-start")) database.migrate();

      system = ActorSystem.create(Behaviors.empty(), SYSTEM_NAME, config);
      Cluster cluster = Cluster.get(system);
      metrics = new KeldMetrics(cluster.selfAddress().hostPort());

      CompletableFuture<Done> memberUp = new CompletableFuture<>();
      cluster.registerOnMemberUp(() -> memberUp.complete(Done.getInstance()));
      if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
        // No seed nodes: this node forms a cluster of its own.
        cluster.join(cluster.selfAddress());
      }

      ClusterSharding.get(system);
      BookListeners bookListeners = new BookListeners();
      bookListeners.add(new BookMetrics(metrics.registry()));
      bookListenersAtStart.forEach(bookListeners::add);
      MarketplaceSettings market = MarketplaceSettings.fromConfig(config.getConfig("keld.marketplace"));
      OrderBook.init(system, Clock.systemUTC(), market.matchingRules(), bookListeners);
      BookClient books = new BookClient(system, market.gatewayMaxBatch(), market.bookTimeout());
      startManagement(system, startTimeout);
      Flow flow = new Flow(system, FlowSettings.fromConfig(config.getConfig("keld.flow")), metrics.registry());

      KeldDatabase db = database;
      Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
      Governance governance = Governance.start(system, database.dataSource(), blocking, Clock.systemUTC(), metrics.registry(),
          config.getDuration("keld.atlas.budget-timeout"), CacheSettings.of(config.getConfig("keld.atlas"), "project"));
      Optional<KeyStore.IssuedKey> bootstrapKey = governance.issueBootstrapKeyOnce();
      ProjectionSingleton.run(system, governance.softCapAlertProjection(system));
      SpendMap spend = new SpendMap(system, database.dataSource(), blocking, Clock.systemUTC(), governance,
          CacheSettings.of(config.getConfig("keld.atlas"), "mapping-rules"));
      spend.startPriceBook(priceBookSeed(config), config.getDuration("keld.atlas.price-book-refresh"));
      Trade trade = startTrade(system, config, database, blocking, books, governance, flow);
      // After Trade, which checks that the master key is the one this database's credentials were sealed with.
      spend.startConnections(Trade.masterKey(config), ConnectionSettings.fromConfig(config.getConfig("keld.atlas.connections")));
      bookListeners.add(trade.bookListener());
      ProjectionSingleton.run(system, trade.statementProjection(system, database.dataSource(), blocking, metrics.registry(), Clock.systemUTC()));
      JobStreams.RouteResolver providerRoutes = trade.directory()::route;
      Exchange exchange = startExchange(system, config, database, blocking, metrics, governance, spend, books, flow, providerRoutes);
      Exchange.DeadlineJobs jobs = exchange.jobs();
      ProjectionSingleton.run(system, exchange.jobProjection(system));
      bookListeners.add(jobs.bookListener());
      Set<String> useCases = Set.copyOf(config.getStringList("keld.marketplace.use-cases"));
      Route ixp = ixpRoutes(system, config, governance, jobs, books);
      ClearingKeyStore.ClearingKeys clearingKeys = new ClearingKeyStore(new Sql(database.dataSource(), blocking), Clock.systemUTC()).loadOrCreate();
      Route bookLog = new BookLogRoutes(governance.authenticator(), new BookLogs(system, new Sql(database.dataSource(), blocking), clearingKeys,
          market.matchingRules(), useCases, config.getString("keld.ixp.book-log.read-journal"))).route();
      trade.issueReceiptsWith(new FillReceipts(clearingKeys.signer(), clearingKeys.pseudonyms()));
      Route openAi = openAiRoutes(system, config, governance, exchange, books, providerRoutes, flow);
      List<EntityTypeKey<?>> entityTypes = List.of(OrderBook.ENTITY_KEY, DeadlineJob.ENTITY_KEY);
      new ClusterMeters(system, metrics.registry(), entityTypes, Duration.ofSeconds(5));
      ClusterStatus clusterStatus = new ClusterStatus(system, entityTypes, OrderBook.ENTITY_KEY,
          config.getStringList("keld.marketplace.use-cases"), config.getInt("pekko.cluster.sharding.number-of-shards"));
      CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
      HealthRoutes health =
          new HealthRoutes(
              List.of(
                  new HealthRoutes.Check(
                      "shutdown", () -> shutdown.getShutdownReason().isEmpty(), () -> "the node is shutting down"),
                  new HealthRoutes.Check(
                      "cluster",
                      () -> cluster.selfMember().status() == MemberStatus.up(),
                      () -> "this node is " + cluster.selfMember().status() + " in the cluster, not Up"),
                  new HealthRoutes.Check("database", () -> db.isReachable(2), () -> "the database does not answer")),
              blocking);
      ServerBinding binding =
          KeldHttpServer.bind(
                  system,
                  config.getString("keld.http.interface"),
                  config.getInt("keld.http.port"),
                  metrics,
                  // The OpenAI edge first: its real-time path is the one where every microsecond shows, and
                  // /v1 is its own (no other route would answer it).
                  List.of(openAi, health.route(), new MetricsRoutes(metrics).route(), new DocsRoutes().route(), new ConsoleRoutes().route(),
                      new ClusterRoutes(governance.authenticator(), clusterStatus, Duration.ofSeconds(5)).route(),
                      governance.routes(), exchange.projectPolicyRoutes(),
                      spend.routes(books, useCases), trade.routes(), bookLog, ixp),
                  config.getDuration("keld.http.drain-timeout"))
              .toCompletableFuture()
              .get(startTimeout.toSeconds(), TimeUnit.SECONDS);
      ServerBinding otlpBinding = null;
      if (config.getBoolean("keld.otlp.enabled")) {
        spend.startOtlpMetrics(config.getDuration("keld.otlp.metrics.settle-after"), config.getDuration("keld.otlp.metrics.settle-every"),
            config.getDuration("keld.otlp.metrics.stream-expiry"));
        otlpBinding = KeldHttpServer.bind(system, config.getString("keld.otlp.interface"), config.getInt("keld.otlp.port"), metrics,
                List.of(spend.otlpRoute(config.getBytes("keld.otlp.max-body-bytes"), CacheSettings.of(config.getConfig("keld.otlp"), "key"))),
                config.getDuration("keld.http.drain-timeout"))
            .toCompletableFuture()
            .get(startTimeout.toSeconds(), TimeUnit.SECONDS);
      }

      // On SIGTERM readiness fails at once (the shutdown check); the port stays open this long more,
      // so a load balancer stops sending new work here before connections are refused.
      Duration unready = config.getDuration("keld.http.unready-delay");
      ActorSystem<Void> sys = system;
      shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "keld-unready-before-unbind", () ->
          org.apache.pekko.pattern.Patterns.after(unready, sys.classicSystem().scheduler(), sys.executionContext(),
              () -> CompletableFuture.completedFuture(Done.getInstance())));
      shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "keld-stop-flow", () -> {
        flow.close();
        trade.close();
        return CompletableFuture.completedFuture(Done.getInstance());
      });
      KeldMetrics m = metrics;
      shutdown.addTask(
          CoordinatedShutdown.PhaseActorSystemTerminate(),
          "keld-close-database",
          () -> {
            m.close();
            db.close();
            return CompletableFuture.completedFuture(Done.getInstance());
          });
      KeldNode node = new KeldNode(system, database, metrics, binding, memberUp, books, bookListeners, governance, spend, exchange, bootstrapKey,
          flow, trade);
      node.otlpBinding = otlpBinding;
      return node;
    } catch (Exception e) {
      if (system != null) {
        system.terminate();
        awaitQuietly(system.getWhenTerminated(), Duration.ofSeconds(30));
      }
      if (metrics != null) metrics.close();
      database.close();
      if (e instanceof RuntimeException re) throw re;
      throw new IllegalStateException("the node failed to start: " + e.getMessage(), e);
    }
  }

  /**
   * Deadline jobs: the entities, this node's data plane, and the operator's backup fleet;
   * {@code routes} (Trade's provider directory) find a leg's endpoint.
   */
  private static Exchange startExchange(ActorSystem<?> system, Config config, KeldDatabase database, Executor blocking, KeldMetrics metrics,
      Governance governance, SpendMap spend, BookClient books, Flow flow, JobStreams.RouteResolver routes) {
    Config c = config.getConfig("keld.jobs");
    return Exchange.start(system, database.dataSource(), blocking, Clock.systemUTC(), metrics.registry(), governance, spend.ingest(), books,
        flow, routes, JobSettings.fromConfig(c), OperatorBackupFleet.fromConfig(c.getConfig("operator-backup"), System::getenv),
        Set.copyOf(config.getStringList("keld.marketplace.use-cases")), c.getDuration("ask-timeout"),
        CacheSettings.of(config.getConfig("keld.edge"), "project-defaults"));
  }

  /** {@code /ixp/v1}: the job protocol's control and data planes. */
  private static Route ixpRoutes(ActorSystem<?> system, Config config, Governance governance, Exchange.DeadlineJobs jobs, BookClient books) {
    Config c = config.getConfig("keld.ixp");
    IxpRoutes.Settings settings = IxpRoutes.Settings.fromConfig(c);
    return new IxpRoutes(system, governance.authenticator(), jobs.jobs(), jobs.streams(), jobs.index(), books, settings, Clock.systemUTC()).route();
  }

  /** {@code /v1}: the OpenAI-compatible edge and its real-time path, which forwards through Flow's provider client. */
  private static Route openAiRoutes(ActorSystem<?> system, Config config, Governance governance, Exchange exchange, BookClient books,
      JobStreams.RouteResolver routes, Flow flow) {
    Exchange.DeadlineJobs jobs = exchange.jobs();
    Config c = config.getConfig("keld.edge");
    OpenAiRoutes.Settings settings = OpenAiRoutes.Settings.fromConfig(c);
    LocalBooks localBooks = new LocalBooks(system, books, config.getStringList("keld.marketplace.use-cases"),
        c.getDuration("book-replica-resync-when-quiet"), Clock.systemUTC());
    return new OpenAiRoutes(system, governance.authenticator(), governance.tenancy(), jobs.jobs(), jobs.streams(), jobs.index(), localBooks,
        governance.budgets(), exchange.edgeDefaults(), routes, flow.client(), settings, Clock.systemUTC()).route();
  }

  /**
   * Trade, with its provider directory on this node's Flow. Trade refuses to start on a master key
   * other than the one the stored credentials were sealed with.
   */
  private static Trade startTrade(ActorSystem<Void> system, Config config, KeldDatabase database, Executor blocking, BookClient books,
      Governance governance, Flow flow) {
    return Trade.start(system, config, database.dataSource(), blocking, books, governance.authenticator(), flow, Clock.systemUTC());
  }

  private static void startManagement(ActorSystem<Void> system, Duration timeout) throws Exception {
    PekkoManagement management = PekkoManagement.get(system);
    management.start().toCompletableFuture().get(timeout.toSeconds(), TimeUnit.SECONDS);
    CoordinatedShutdown.get(system)
        .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "keld-stop-management", management::stop);
  }

  /** Completes when this node is an Up member of the cluster. */
  public CompletionStage<Done> ready() {
    return memberUp;
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public KeldMetrics metrics() {
    return metrics;
  }

  public KeldDatabase database() {
    return database;
  }

  public InetSocketAddress httpAddress() {
    return httpBinding.localAddress();
  }

  /** Where OTLP/HTTP telemetry is received ({@code POST /v1/traces}); empty when it is switched off. */
  public Optional<InetSocketAddress> otlpAddress() {
    return Optional.ofNullable(otlpBinding).map(ServerBinding::localAddress);
  }

  /**
   * The price book's seed: {@code keld.atlas.price-book-seed}, a file on disk if one is there, else a
   * resource of the jar (the one under config/ ships as {@code keld-config/price-book.csv}).
   */
  private static String priceBookSeed(Config config) {
    String where = config.getString("keld.atlas.price-book-seed");
    try {
      Path file = Path.of(where);
      if (Files.isRegularFile(file)) return Files.readString(file);
      try (InputStream in = KeldNode.class.getClassLoader().getResourceAsStream(where)) {
        if (in == null) throw new IllegalStateException("the price book seed " + where + " is neither a file nor a resource");
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new IllegalStateException("the price book seed " + where + " could not be read: " + e.getMessage(), e);
    }
  }

  public Address clusterAddress() {
    return Cluster.get(system).selfAddress();
  }

  /** Why the node is stopping or stopped, if it is. */
  public Optional<CoordinatedShutdown.Reason> shutdownReason() {
    return CoordinatedShutdown.get(system).getShutdownReason();
  }

  /**
   * Leaves the cluster (shards hand off to the remaining nodes), unbinds HTTP and terminates, then
   * returns.
   */
  public void stop() {
    CoordinatedShutdown.get(system).run(STOP_REQUESTED);
    awaitQuietly(system.getWhenTerminated(), Duration.ofSeconds(60));
  }

  @Override
  public void close() {
    stop();
  }

  private static void awaitQuietly(CompletionStage<?> stage, Duration timeout) {
    try {
      stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      log.warn("Gave up waiting after {}: {}", timeout, e.toString());
    }
  }
}
