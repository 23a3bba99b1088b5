package io.keld.trade;

import io.keld.kit.projection.PersistenceIdProjection;

import com.typesafe.config.Config;
import io.keld.atlas.governance.Governance;
import io.keld.atlas.keys.KeyStore;
import io.keld.flow.Flow;
import io.keld.flow.FlowSettings;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.BookListeners;
import io.keld.marketplace.entity.OrderBook;
import io.keld.testkit.ApiClient;
import io.keld.testkit.HttpNode;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorSystem;
import io.keld.kit.CacheSettings;

/**
 * Trade as a node runs it, and only what it needs: the order books, Flow (where live capacity goes),
 * and Atlas governance for real keys and the organizations they belong to ({@code /atlas/v1} is served
 * beside {@code /trade/v1}, so tests create providers as an operator would).
 */
final class TradeNode implements HttpNode {

  private final ModuleNode module;
  private final BookClient books;
  private final Flow flow;
  private final Governance governance;
  private final Optional<KeyStore.IssuedKey> bootstrapKey;
  private final Trade trade;

  private final PersistenceIdProjection statement;
  private final BookListeners bookListeners;

  private TradeNode(ModuleNode module, BookClient books, Flow flow, Governance governance, Optional<KeyStore.IssuedKey> bootstrapKey,
      Trade trade, PersistenceIdProjection statement, BookListeners bookListeners) {
    this.module = module;
    this.books = books;
    this.flow = flow;
    this.governance = governance;
    this.bootstrapKey = bootstrapKey;
    this.trade = trade;
    this.statement = statement;
    this.bookListeners = bookListeners;
  }

  static Config config(TestDatabase db) {
    return ModuleNode.config(db);
  }

  /** Starts Trade on a migrated database and a one-node cluster, with its routes on real HTTP. */
  static TradeNode start(Config config) {
    ModuleNode module = ModuleNode.start(config);
    try {
      ActorSystem<Void> system = module.system();
      Clock clock = Clock.systemUTC();
      Config market = config.getConfig("keld.marketplace");
      BookListeners bookListeners = new BookListeners();
      OrderBook.init(system, clock, new MatchingRules(MatchingRules.VERSION, market.getDuration("safety-margin").toMillis()), bookListeners);
      BookClient books = new BookClient(system, market.getInt("gateway-max-batch"), market.getDuration("book-timeout"));
      Flow flow = new Flow(system, FlowSettings.fromConfig(config.getConfig("keld.flow")), module.metrics());
      Governance governance = Governance.start(system, module.dataSource(), module.blocking(), clock, module.metrics(),
          config.getDuration("keld.atlas.budget-timeout"),
          CacheSettings.of(config.getConfig("keld.atlas"), "project"));
      Optional<KeyStore.IssuedKey> bootstrapKey = governance.issueBootstrapKeyOnce();
      Trade trade = Trade.start(system, config, module.dataSource(), module.blocking(), books, governance.authenticator(), flow, clock);
      bookListeners.add(trade.bookListener());
      PersistenceIdProjection statement = trade.startStatementProjection(system, module.dataSource(), module.blocking(), module.metrics(), clock);
      module.onStop("keld-stop-flow", () -> {
        statement.stop();
        flow.close();
        trade.close();
      });
      module.serve(governance.routes(), trade.routes());
      return new TradeNode(module, books, flow, governance, bootstrapKey, trade, statement, bookListeners);
    } catch (RuntimeException | Error e) {
      module.stop();
      throw e;
    }
  }

  /** The same as {@link #start}: the module's node is an Up member of its cluster once started. */
  static TradeNode startReady(Config config) {
    return start(config);
  }

  /**
   * A node on a fresh PostgreSQL database of its own, with what a test class drives it by: an API
   * client and the operator's key. Closing it stops the node and drops the database.
   */
  record OnPostgres(TestDatabase db, TradeNode node, ApiClient api, String operator) implements AutoCloseable {
    @Override
    public void close() throws Exception {
      try {
        node.stopAndAwait();
      } finally {
        db.close();
      }
    }
  }

  /** Starts a node on a fresh PostgreSQL database, its config {@code tuned} from the tests' default. */
  static OnPostgres onPostgres(java.util.function.UnaryOperator<Config> tuned) {
    TestDatabase db = TestDatabase.postgres();
    TradeNode node = null;
    try {
      node = startReady(tuned.apply(config(db)));
      return new OnPostgres(db, node, new ApiClient(node), node.bootstrapKey().orElseThrow().secret());
    } catch (RuntimeException | Error e) {
      if (node != null) node.stop();
      db.close();
      throw e;
    }
  }

  /** A provider organization with a provider key, serving {@code model} for the use cases, made through the API by an operator. */
  static String provider(ApiClient api, String operator, String name, String model, String... useCases) {
    String org = api.expect(201, "POST", "/atlas/v1/orgs", operator, "{\"name\":\"" + name + "\",\"kind\":\"provider\"}").id();
    String key = api.expect(201, "POST", "/atlas/v1/orgs/" + org + "/keys", operator, "{\"name\":\"feed\",\"role\":\"provider\"}").json().path("key").asText();
    api.expect(200, "PUT", "/trade/v1/models/" + model, key, "{\"use_cases\":" + ApiClient.JSON.valueToTree(useCases) + "}");
    return key;
  }

  /** The providers' statement, fed from the books' journal. */
  PersistenceIdProjection statement() {
    return statement;
  }

  Trade trade() {
    return trade;
  }

  /** What the books tell after each write (a test can listen beside Trade). */
  BookListeners bookListeners() {
    return bookListeners;
  }

  BookClient books() {
    return books;
  }

  Flow flow() {
    return flow;
  }

  Governance governance() {
    return governance;
  }

  /** The operator key, issued on the first start on a database. */
  Optional<KeyStore.IssuedKey> bootstrapKey() {
    return bootstrapKey;
  }

  ActorSystem<Void> system() {
    return module.system();
  }

  ModuleNode module() {
    return module;
  }

  @Override
  public InetSocketAddress httpAddress() {
    return module.httpAddress();
  }

  void stop() {
    module.stop();
  }

  /** Stops the node and waits until its actor system has terminated. */
  void stopAndAwait() throws Exception {
    stop();
    system().getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
  }
}
