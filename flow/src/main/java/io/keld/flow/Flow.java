package io.keld.flow;

import io.keld.flow.client.ProviderClient;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.Materializer;

/**
 * Keld Flow, the data plane: one pacing pipeline per provider endpoint, shared by every job routed
 * to it. Jobs {@linkplain #open open} a {@link FlowJob} and stream their items through it; providers'
 * stated limits arrive through {@link #capacity}.
 *
 * <p>Flow knows endpoints, items and deadlines, nothing of books, tenants or prices. Prompt and
 * completion content passes through in memory only and is never logged.
 */
public final class Flow implements AutoCloseable {

  private final Materializer materializer;
  private final FlowSettings settings;
  private final MeterRegistry registry;
  private final ProviderClient client;
  private final ConcurrentHashMap<String, EndpointLane> lanes = new ConcurrentHashMap<>();

  public Flow(ActorSystem<?> system, FlowSettings settings, MeterRegistry registry) {
    this.materializer = Materializer.matFromSystem(system);
    this.settings = settings;
    this.registry = registry;
    this.client = new ProviderClient(system, settings.maxConnectionsPerHost());
  }

  public FlowSettings settings() {
    return settings;
  }

  /** The provider client every lane sends through; a proxy's real-time path forwards through it too, so a node has one pool per provider host. */
  public ProviderClient client() {
    return client;
  }

  /** Registers an endpoint with its stated limits, or updates them (and its URL or credential). */
  public void endpoint(ProviderEndpoint endpoint, Capacity capacity) {
    boolean[] created = {false};
    EndpointLane lane = lanes.computeIfAbsent(endpoint.id(), id -> {
      created[0] = true;
      return new EndpointLane(materializer, endpoint, capacity, settings, client, registry);
    });
    if (!created[0]) {
      lane.endpoint(endpoint);
      lane.capacity(capacity);
    }
  }

  /**
   * A provider stated new live limits for an endpoint (its {@code capacity} message): the pipeline
   * follows them from its next request on.
   *
   * @throws IllegalArgumentException for an endpoint Flow does not know
   */
  public void capacity(String endpointId, Capacity capacity) {
    EndpointLane lane = lanes.get(endpointId);
    if (lane == null) throw new IllegalArgumentException("no endpoint '" + endpointId + "' is registered with Flow");
    lane.capacity(capacity);
  }

  /** Starts a job's work, routed to {@code route} (registered with unknown limits if Flow does not know it yet). */
  public FlowJob open(String jobId, Instant deadline, Route route, JobProgress progress) {
    return new FlowJob(this, jobId, deadline, route, progress);
  }

  /** The endpoint registered under this id, if any. */
  public Optional<ProviderEndpoint> registered(String endpointId) {
    EndpointLane lane = lanes.get(endpointId);
    return lane == null ? Optional.empty() : Optional.of(lane.endpoint());
  }

  /** What an endpoint's pipeline holds now, if Flow knows the endpoint. */
  public Optional<EndpointSnapshot> snapshot(String endpointId) {
    EndpointLane lane = lanes.get(endpointId);
    if (lane == null) return Optional.empty();
    EndpointLane.Snapshot s = lane.snapshot();
    return Optional.of(new EndpointSnapshot(s.endpointId(), s.waitingItems(), s.queued(), s.inFlight(), s.limit(), s.tokensPerSecond(), s.limitDecreases()));
  }

  EndpointLane lane(ProviderEndpoint endpoint) {
    return lanes.computeIfAbsent(endpoint.id(), id -> new EndpointLane(materializer, endpoint, Capacity.UNKNOWN, settings, client, registry));
  }

  @Override
  public void close() {
    lanes.values().forEach(EndpointLane::stop);
    lanes.clear();
  }

  /**
   * An endpoint's pipeline at a moment.
   *
   * @param waitingItems   items offered and not yet admitted (their uploads are held)
   * @param queued         items admitted and not yet sent
   * @param inFlight       requests open at the endpoint
   * @param limit          the current concurrency limit
   * @param limitDecreases how often the limit was cut for overload
   */
  public record EndpointSnapshot(String endpointId, int waitingItems, int queued, int inFlight, int limit, long tokensPerSecond,
      long limitDecreases) {}
}
