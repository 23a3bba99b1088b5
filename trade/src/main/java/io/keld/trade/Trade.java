package io.keld.trade;

import com.typesafe.config.Config;
import io.keld.kit.CacheSettings;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.entity.BookListener;
import io.keld.marketplace.entity.BookListeners;
import io.keld.trade.asks.AskView;
import io.keld.trade.feed.BookFeedPublisher;
import io.keld.marketplace.clearing.FillReceipts;
import io.keld.trade.feed.FeedEvent;
import io.keld.trade.feed.FeedMessage;
import io.keld.trade.feed.FeedRoute;
import io.keld.trade.feed.FeedSettings;
import io.keld.trade.feed.FeedTopics;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.pubsub.Topic;
import io.keld.ixp.auth.Authenticator;
import io.keld.marketplace.entity.BookClient;
import io.keld.trade.asks.AskService;
import io.keld.trade.asks.AskStore;
import io.keld.kit.crypto.CredentialCipher;
import io.keld.kit.crypto.MasterKey;
import io.keld.trade.http.TradeRoutes;
import io.keld.flow.Flow;
import io.keld.trade.providers.ProviderDirectory;
import io.keld.trade.providers.ProviderStore;
import io.keld.trade.statement.StatementStore;
import io.keld.kit.projection.PersistenceIdProjection;
import io.keld.marketplace.entity.BookEventTopics;
import io.keld.marketplace.entity.OrderBook;
import java.util.Optional;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Keld Trade, the providers' side: endpoints (credentials encrypted at rest), models, asks, the
 * public view of the books, the live WebSocket feed, and the provider directory that feeds Flow. {@link #start} checks the master key against the database before
 * anything else: a node with the wrong key refuses to start.
 */
public final class Trade {

  private final ProviderStore providers;
  private final ProviderDirectory directory;
  private final TradeRoutes routes;
  private final BookFeedPublisher publisher;
  private final StatementStore statement;
  private final FeedRoute feed;
  private final List<String> useCases;

  private Trade(ProviderStore providers, ProviderDirectory directory, TradeRoutes routes, BookFeedPublisher publisher, StatementStore statement,
      FeedRoute feed, List<String> useCases) {
    this.providers = providers;
    this.directory = directory;
    this.routes = routes;
    this.publisher = publisher;
    this.statement = statement;
    this.feed = feed;
    this.useCases = List.copyOf(useCases);
  }

  /**
   * Starts Trade as a node does, from the node's settings: the use-case catalog
   * ({@code keld.marketplace.use-cases}), the feed ({@code keld.trade.feed}), the open-ask cache
   * ({@code keld.trade.open-ask-cache-*}) and the master key, {@code KELD_MASTER_KEY} when set, else
   * {@code keld.trade.master-key-file} (empty: {@code <keld.data-dir>/master.key}).
   *
   * @param flow this node's data plane: Trade's provider directory registers providers' endpoints
   *             and their stated capacity there
   * @throws IllegalStateException, saying why and which key, when the master key cannot be used or is
   *     not the one the stored credentials were sealed with: the node refuses to start
   */
  public static Trade start(ActorSystem<?> system, Config config, DataSource dataSource, Executor blocking, BookClient books,
      Authenticator authenticator, Flow flow, Clock clock) {
    MasterKey key = masterKey(config);
    try {
      return start(system, dataSource, blocking, books, authenticator, key, config.getStringList("keld.marketplace.use-cases"), flow,
          FeedSettings.fromConfig(config.getConfig("keld.trade.feed")), CacheSettings.of(config.getConfig("keld.trade"), "open-ask"), clock);
    } catch (MasterKey.InvalidMasterKeyException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * The node's master key, which seals every credential a node keeps (Trade's endpoint credentials,
   * Atlas's provider connections): {@code KELD_MASTER_KEY} when set, else
   * {@code keld.trade.master-key-file} (empty: {@code <keld.data-dir>/master.key}, created on first start).
   *
   * @throws IllegalStateException, saying why, when the key cannot be used
   */
  public static MasterKey masterKey(Config config) {
    String file = config.getString("keld.trade.master-key-file");
    Path keyFile = file.isBlank() ? Path.of(config.getString("keld.data-dir")).resolve("master.key") : Path.of(file);
    try {
      return MasterKey.load(System.getenv(MasterKey.ENV), keyFile);
    } catch (MasterKey.InvalidMasterKeyException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * @param flow this node's data plane: Trade's provider directory registers providers' endpoints
   *             and their stated capacity there
   * @throws MasterKey.InvalidMasterKeyException when the key is not the one the stored credentials were sealed with
   */
  public static Trade start(ActorSystem<?> system, DataSource dataSource, Executor blocking, BookClient books, Authenticator authenticator,
      MasterKey masterKey, List<String> useCases, Flow flow, FeedSettings feedSettings, CacheSettings openAskCache, Clock clock) {
    Sql sql = new Sql(dataSource, blocking);
    ProviderStore providers = new ProviderStore(sql, new CredentialCipher(masterKey), clock);
    providers.verifyMasterKey();
    ProviderDirectory directory = new ProviderDirectory(providers, flow);
    FeedTopics topics = new FeedTopics(system);
    AskService asks = new AskService(books, providers, new AskStore(sql), useCases, clock, ask -> {
      topics.provider(ask.orgId()).tell(Topic.publish(FeedEvent.of(new FeedMessage.AskState(AskView.of(ask)), null, 0)));
    }, openAskCache);
    BookFeedPublisher publisher = new BookFeedPublisher(topics, feedSettings.conflation());
    StatementStore statement = new StatementStore(sql);
    FeedRoute feed = new FeedRoute(system, asks, directory, topics, books, feedSettings);
    publisher.signReceiptsFor(provider -> feed.connections(provider) > 0);
    return new Trade(providers, directory, new TradeRoutes(authenticator, providers, asks, feed, statement), publisher, statement, feed, useCases);
  }

  /**
   * Subscribe this to the books' persisted events (on every node): it turns them into feed deltas
   * and fills (the statement reads the journal instead: {@link #startStatementProjection}).
   */
  public BookListener bookListener() {
    BookListeners both = new BookListeners();
    both.add(publisher);
    return both;
  }

  /**
   * Starts the providers' statement as a projection of the books' journals (see
   * {@link StatementStore#PROJECTION}); each batch applied once whichever node applies it.
   */
  public PersistenceIdProjection startStatementProjection(ActorSystem<?> system, DataSource dataSource, Executor blocking,
      MeterRegistry registry, Clock clock) {
    return statementProjection(system, dataSource, blocking, registry, clock).start();
  }

  /**
   * The statement's projection, not started: a cluster runs it on one node at a time (the node's
   * composition does). It hears the books' writes on their topics, from wherever in the cluster each
   * book runs, and reads the journal for anything it did not hear.
   */
  public PersistenceIdProjection statementProjection(ActorSystem<?> system, DataSource dataSource, Executor blocking,
      MeterRegistry registry, Clock clock) {
    return new PersistenceIdProjection(system, new Sql(dataSource, blocking), StatementStore.PROJECTION,
        useCases.stream().map(OrderBook::persistenceId).toList(), () -> heardBooks(system, useCases), StatementStore::apply,
        PersistenceIdProjection.Settings.DEFAULT, clock, registry);
  }

  /** What the books of {@code useCases} persist, as their topics publish it, from the moment the source runs. */
  static Source<PersistenceIdProjection.Batch, NotUsed> heardBooks(ActorSystem<?> system, List<String> useCases) {
    return ActorSource.<OrderBook.PersistedEvents>actorRef(m -> false, m -> Optional.empty(), 1_024, OverflowStrategy.dropHead())
        .mapMaterializedValue(ref -> {
          BookEventTopics topics = BookEventTopics.get(system);
          for (String uc : useCases) topics.topic(uc).tell(Topic.subscribe(ref));
          return NotUsed.getInstance();
        })
        .filter(m -> !m.events().isEmpty())
        .map(m -> new PersistenceIdProjection.Batch(OrderBook.persistenceId(m.useCase()), m.firstSeqNr(), m.events()));
  }

  /** Fills to providers carry their signed receipt from now on (the node sets this once it has the cluster's keys). */
  public void issueReceiptsWith(FillReceipts receipts) {
    publisher.issueReceiptsWith(receipts);
  }

  public FeedRoute feed() {
    return feed;
  }

  public void close() {
    publisher.close();
  }

  public Route routes() {
    return routes.route();
  }

  public ProviderStore providers() {
    return providers;
  }

  /** Which endpoint serves which provider's model: the exchange's route resolver ({@link ProviderDirectory#route}). */
  public ProviderDirectory directory() {
    return directory;
  }
}
