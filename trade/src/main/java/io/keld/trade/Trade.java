package io.keld.trade;

import io.keld.edge.sql.Sql;
import io.keld.ixp.auth.Authenticator;
import io.keld.marketplace.entity.BookClient;
import io.keld.trade.asks.AskService;
import io.keld.trade.asks.AskStore;
import io.keld.trade.crypto.CredentialCipher;
import io.keld.trade.crypto.MasterKey;
import io.keld.trade.http.TradeRoutes;
import io.keld.trade.providers.ProviderStore;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Keld Trade, the providers' side: endpoints (credentials encrypted at rest), models, asks, and
 * the public view of the books. {@link #start} checks the master key against the database before
 * anything else: a node with the wrong key refuses to start.
 */
public final class Trade {

  private final ProviderStore providers;
  private final AskService asks;
  private final TradeRoutes routes;

  private Trade(ProviderStore providers, AskService asks, TradeRoutes routes) {
    this.providers = providers;
    this.asks = asks;
    this.routes = routes;
  }

  /** @throws MasterKey.InvalidMasterKeyException when the key is not the one the stored credentials were sealed with */
  public static Trade start(DataSource dataSource, Executor blocking, BookClient books, Authenticator authenticator, MasterKey masterKey,
      List<String> useCases, Clock clock) {
    Sql sql = new Sql(dataSource, blocking);
    ProviderStore providers = new ProviderStore(sql, new CredentialCipher(masterKey), clock);
    providers.verifyMasterKey();
    AskService asks = new AskService(books, providers, new AskStore(sql), useCases, clock);
    return new Trade(providers, asks, new TradeRoutes(authenticator, providers, asks));
  }

  public Route routes() {
    return routes.route();
  }

  public ProviderStore providers() {
    return providers;
  }

  public AskService asks() {
    return asks;
  }
}
