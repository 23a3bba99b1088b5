package io.keld.trade.providers;

import io.keld.flow.Flow;
import io.keld.flow.Route;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.kit.ProblemException;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which endpoint serves which model of a provider, with the endpoint's credential in clear and the
 * capacity the provider states for it: what turns a provider into somewhere Flow can send work.
 * Trade feeds Flow's endpoint registry from here, and the exchange resolves a job's provider and
 * model to a Flow {@link Route} through {@link #route}.
 *
 * <p>A provider's model is served by, in this order:
 * <ol>
 *   <li>a fleet registered with Flow under the provider's own id (the operator's backup fleet, demo
 *       and test fleets): it serves every model of that provider;</li>
 *   <li>the endpoint the model names ({@code PUT /trade/v1/models/{model}} with {@code endpoint_id});</li>
 *   <li>the provider's first endpoint, the oldest.</li>
 * </ol>
 * A provider with none of these has no route: {@link NoEndpoint}.
 *
 * <p>Credentials are decrypted once per endpoint and node and kept in memory for the data plane
 * (endpoints never change once created, and their ids are never reused); they are never logged.
 *
 * <p>A resolved route is remembered for {@link #ROUTE_CACHE_FOR}, so the real-time path does not
 * read the database per request: a change made through this node's store shows at once (the store
 * counts its changes, and a route read before the last one is read again), one made on another
 * node within that time.
 */
public final class ProviderDirectory {

  /** No endpoint serves the model: the provider registered none with Trade, and no fleet is registered under its id. */
  public static final class NoEndpoint extends IllegalStateException {
    public NoEndpoint(String providerId, String model) {
      super("no endpoint serves model '" + model + "' of provider " + providerId + ": it has no endpoint in Keld Trade "
          + "(POST /trade/v1/endpoints) and no fleet is registered with Flow under its id");
    }
  }

  /** How long a resolved route is used before it is read again (when this node's store saw no change meanwhile). */
  public static final Duration ROUTE_CACHE_FOR = Duration.ofSeconds(5);

  private final ProviderStore providers;
  private final Flow flow;
  /** Routes read from the store, with the store's change count they were read at. */
  private final Cache<RouteKey, Resolved> resolved = Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(ROUTE_CACHE_FOR).build();

  private record RouteKey(String providerId, String model) {}

  private record Resolved(Route route, long storeChanges) {}
  /** Endpoints as Flow calls them (base URL and credential in clear), by endpoint id. */
  private final ConcurrentHashMap<String, ProviderEndpoint> decrypted = new ConcurrentHashMap<>();

  public ProviderDirectory(ProviderStore providers, Flow flow) {
    this.providers = providers;
    this.flow = flow;
  }

  /**
   * Where a provider's model is served, as a Flow route (the exchange's route resolver). Fails with
   * {@link NoEndpoint} for a provider Trade and Flow do not know.
   */
  public CompletionStage<Route> route(String providerId, String model) {
    Optional<ProviderEndpoint> fleet = flow.registered(providerId);
    if (fleet.isPresent()) return CompletableFuture.completedFuture(new Route(fleet.get(), model));
    RouteKey key = new RouteKey(providerId, model);
    Resolved known = resolved.getIfPresent(key);
    long changes = providers.changes();
    if (known != null && known.storeChanges() == changes) return CompletableFuture.completedFuture(known.route());
    return providers.servingEndpoint(providerId, model).thenCompose(found -> {
      if (found.isEmpty()) return CompletableFuture.failedFuture(new NoEndpoint(providerId, model));
      return callable(found.get()).thenApply(endpoint -> {
        Route route = new Route(endpoint, model);
        resolved.put(key, new Resolved(route, changes));
        return route;
      });
    });
  }

  /**
   * A provider's live limits for one of its endpoints (its {@code capacity} message): Flow paces the
   * endpoint to them on this node from its next request on. Fails with a 404 problem for an
   * endpoint that is not the provider's.
   */
  public CompletionStage<Endpoint> capacity(String orgId, String endpointId, Capacity capacity) {
    return providers.endpoint(orgId, endpointId).thenCompose(found -> {
      Endpoint e = found.orElseThrow(() -> ProblemException.notFound("endpoint " + endpointId));
      return callable(e).thenApply(endpoint -> {
        flow.endpoint(endpoint, capacity);
        return e;
      });
    });
  }

  /** The endpoint as Flow calls it, its credential decrypted on first use. */
  private CompletionStage<ProviderEndpoint> callable(Endpoint e) {
    ProviderEndpoint known = decrypted.get(e.id());
    if (known != null) return CompletableFuture.completedFuture(known);
    return providers.credential(e.id()).thenApply(credential -> {
      ProviderEndpoint endpoint = new ProviderEndpoint(e.id(), e.baseUrl(), credential.orElse(null));
      decrypted.put(e.id(), endpoint);
      return endpoint;
    });
  }
}
