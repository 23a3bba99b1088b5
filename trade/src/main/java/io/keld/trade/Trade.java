package io.keld.trade;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.keld.kit.JsonBodies;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.entity.BookListener;
import io.keld.marketplace.entity.BookListeners;
import io.keld.trade.asks.AskView;
import io.keld.trade.feed.BookFeedPublisher;
import io.keld.trade.feed.CapacitySink;
import io.keld.trade.feed.FeedEvent;
import io.keld.trade.feed.FeedRoute;
import io.keld.trade.feed.FeedSettings;
import io.keld.trade.feed.FeedTopics;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.pubsub.Topic;
import io.keld.ixp.auth.Authenticator;
import io.keld.marketplace.entity.BookClient;
import io.keld.trade.asks.AskService;
import io.keld.trade.asks.AskStore;
import io.keld.trade.crypto.CredentialCipher;
import io.keld.trade.crypto.MasterKey;
import io.keld.trade.http.TradeRoutes;
import io.keld.trade.providers.ProviderStore;
import io.keld.trade.statement.StatementStore;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Keld Trade, the providers' side: endpoints (credentials encrypted at rest), models, asks, the
 * public view of the books, and the live WebSocket feed. {@link #start} checks the master key against the database before
 * anything else: a node with the wrong key refuses to start.
 */
public final class Trade {

  private final ProviderStore providers;
  private final TradeRoutes routes;
  private final BookFeedPublisher publisher;
  private final StatementStore statement;
  private final FeedRoute feed;

  private Trade(ProviderStore providers, TradeRoutes routes, BookFeedPublisher publisher, StatementStore statement, FeedRoute feed) {
    this.providers = providers;
    this.routes = routes;
    this.publisher = publisher;
    this.statement = statement;
    this.feed = feed;
  }

  /**
   * Starts Trade as a node does, from the node's settings: the use-case catalog
   * ({@code keld.marketplace.use-cases}), the feed ({@code keld.trade.feed}) and the master key,
   * {@code KELD_MASTER_KEY} when set, else {@code keld.trade.master-key-file} (empty:
   * {@code <keld.data-dir>/master.key}).
   *
   * @throws IllegalStateException, saying why and which key, when the master key cannot be used or is
   *     not the one the stored credentials were sealed with: the node refuses to start
   */
  public static Trade start(ActorSystem<?> system, Config config, DataSource dataSource, Executor blocking, BookClient books,
      Authenticator authenticator, CapacitySink capacity, Clock clock) {
    String file = config.getString("keld.trade.master-key-file");
    Path keyFile = file.isBlank() ? Path.of(config.getString("keld.data-dir")).resolve("master.key") : Path.of(file);
    try {
      MasterKey key = MasterKey.load(System.getenv(MasterKey.ENV), keyFile);
      return start(system, dataSource, blocking, books, authenticator, key, config.getStringList("keld.marketplace.use-cases"), capacity,
          FeedSettings.fromConfig(config.getConfig("keld.trade.feed")), clock);
    } catch (MasterKey.InvalidMasterKeyException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /** @throws MasterKey.InvalidMasterKeyException when the key is not the one the stored credentials were sealed with */
  public static Trade start(ActorSystem<?> system, DataSource dataSource, Executor blocking, BookClient books, Authenticator authenticator,
      MasterKey masterKey, List<String> useCases, CapacitySink capacity, FeedSettings feedSettings, Clock clock) {
    Sql sql = new Sql(dataSource, blocking);
    ProviderStore providers = new ProviderStore(sql, new CredentialCipher(masterKey), clock);
    providers.verifyMasterKey();
    FeedTopics topics = new FeedTopics(system);
    AskService asks = new AskService(books, providers, new AskStore(sql), useCases, clock, ask -> {
      ObjectNode msg = JsonBodies.MAPPER.createObjectNode();
      msg.set("ask", JsonBodies.MAPPER.valueToTree(AskView.of(ask)));
      topics.provider(ask.orgId()).tell(Topic.publish(new FeedEvent("ask_state", null, 0, msg.toString())));
    });
    BookFeedPublisher publisher = new BookFeedPublisher(topics, feedSettings.conflation());
    StatementStore statement = new StatementStore(sql);
    FeedRoute feed = new FeedRoute(system, asks, providers, topics, books, capacity, feedSettings);
    return new Trade(providers, new TradeRoutes(authenticator, providers, asks, feed, statement), publisher, statement, feed);
  }

  /**
   * Subscribe this to the books' persisted events (on every node): it turns them into feed deltas
   * and fills, and records fills for the providers' statements.
   */
  public BookListener bookListener() {
    BookListeners both = new BookListeners();
    both.add(publisher);
    both.add(statement);
    return both;
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
}
