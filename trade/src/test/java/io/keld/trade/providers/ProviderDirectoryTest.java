package io.keld.trade.providers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.flow.Flow;
import io.keld.flow.FlowSettings;
import io.keld.flow.Route;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.kit.ProblemException;
import io.keld.kit.sql.Sql;
import io.keld.kit.crypto.CredentialCipher;
import io.keld.kit.crypto.MasterKey;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.time.ZoneId;

/**
 * The provider directory against Trade's real tables (H2, the migrations as shipped) and a real
 * Flow: which endpoint a provider's model resolves to, and where its stated capacity goes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProviderDirectoryTest {

  private ExecutorService blocking;
  private ActorSystem<Void> system;
  private Flow flow;
  private ProviderStore store;
  private ProviderDirectory directory;

  @BeforeAll
  void start() throws Exception {
    JdbcDataSource db = new JdbcDataSource();
    db.setURL("jdbc:h2:mem:provider-directory;DB_CLOSE_DELAY=-1;DATABASE_TO_UPPER=false");
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      for (String script : List.of("V3__trade.sql", "V7__trade_model_endpoints.sql")) {
        s.execute("RUNSCRIPT FROM 'classpath:db/migration/common/" + script + "'");
      }
    }
    blocking = Executors.newFixedThreadPool(4);
    system = ActorSystem.create(Behaviors.empty(), "provider-directory-test");
    flow = new Flow(system, FlowSettings.DEFAULTS, new SimpleMeterRegistry());
    store = new ProviderStore(new Sql(db, blocking), new CredentialCipher(MasterKey.of(new byte[32], "test")), new TickingClock());
    store.verifyMasterKey();
    directory = new ProviderDirectory(store, flow);
  }

  @AfterAll
  void stop() {
    flow.close();
    system.terminate();
    blocking.shutdown();
  }

  @Test
  void aModelIsServedByTheEndpointItNamesElseByTheProvidersFirstEndpoint() throws Exception {
    Endpoint first = get(store.createEndpoint("prv_many", "first", "http://first.example/v1", "sk-first-0000001"));
    Endpoint second = get(store.createEndpoint("prv_many", "second", "http://second.example/v1", "sk-second-000002"));
    get(store.putModel("prv_many", "big-70b", List.of("chat"), List.of(), second.id()));
    get(store.putModel("prv_many", "small-8b", List.of("chat"), List.of(), null));

    Route big = get(directory.route("prv_many", "big-70b"));
    assertEquals(second.id(), big.endpoint().id(), "the model names its endpoint");
    assertEquals("http://second.example/v1", big.endpoint().baseUrl());
    assertEquals("sk-second-000002", big.endpoint().credential(), "Flow gets the endpoint's credential in clear");
    assertEquals("big-70b", big.model());

    Route small = get(directory.route("prv_many", "small-8b"));
    assertEquals(first.id(), small.endpoint().id(), "a model that names no endpoint goes to the provider's first one");
    assertEquals("sk-first-0000001", small.endpoint().credential());
    assertEquals(first.id(), get(directory.route("prv_many", "never-registered")).endpoint().id());

    // Moving a model to another endpoint moves its next route.
    get(store.putModel("prv_many", "small-8b", List.of("chat"), List.of(), second.id()));
    assertEquals(second.id(), get(directory.route("prv_many", "small-8b")).endpoint().id());
  }

  @Test
  void aRouteOnceReadIsAnsweredFromMemoryUntilTheStoreChanges() throws Exception {
    Endpoint first = get(store.createEndpoint("prv_cached", "first", "http://cached-1.example/v1", null));
    get(store.putModel("prv_cached", "m", List.of("chat"), List.of(), null));
    Route read = get(directory.route("prv_cached", "m"));
    assertEquals(first.id(), read.endpoint().id());

    CompletableFuture<Route> again = directory.route("prv_cached", "m").toCompletableFuture();
    assertTrue(again.isDone(), "the real-time path's second request reads no table");
    assertSame(read, again.get());

    Endpoint second = get(store.createEndpoint("prv_cached", "second", "http://cached-2.example/v1", null));
    get(store.putModel("prv_cached", "m", List.of("chat"), List.of(), second.id()));
    assertEquals(second.id(), get(directory.route("prv_cached", "m")).endpoint().id(), "a change through this node shows at once");
  }

  @Test
  void aProviderWithOneEndpointIsServedThereWithoutNamingIt() throws Exception {
    Endpoint only = get(store.createEndpoint("prv_one", "only", "http://only.example/v1", null));
    get(store.putModel("prv_one", "m", List.of("summarize"), List.of(), null));
    Route route = get(directory.route("prv_one", "m"));
    assertEquals(only.id(), route.endpoint().id());
    assertNull(route.endpoint().credential(), "an endpoint without a credential is called without one");
    assertNull(get(store.model("prv_one", "m")).orElseThrow().endpointId(), "nothing is stored for the default");
  }

  @Test
  void aProviderWithNoEndpointHasNoRoute() {
    Throwable failure = failure(directory.route("prv_nobody", "some-model"));
    assertInstanceOf(ProviderDirectory.NoEndpoint.class, failure);
    assertTrue(failure.getMessage().contains("prv_nobody") && failure.getMessage().contains("some-model"), failure.getMessage());
  }

  @Test
  void aFleetRegisteredWithFlowUnderTheProvidersIdServesAllItsModels() throws Exception {
    flow.endpoint(new ProviderEndpoint("prv_fleet", "http://fleet.example/v1", null), new Capacity(8, 0));
    get(store.createEndpoint("prv_fleet", "ignored", "http://trade.example/v1", null));
    Route route = get(directory.route("prv_fleet", "any-model"));
    assertEquals("prv_fleet", route.endpoint().id());
    assertEquals("any-model", route.model());
  }

  @Test
  void statedCapacityReachesFlowsPacingForThatEndpoint() throws Exception {
    Endpoint e = get(store.createEndpoint("prv_cap", "fleet", "http://cap.example/v1", "sk-capacity-0003"));
    get(directory.capacity("prv_cap", e.id(), new Capacity(4, 4_000)));
    Flow.EndpointSnapshot lane = flow.snapshot(e.id()).orElseThrow(() -> new AssertionError("Flow does not know the endpoint"));
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while ((lane.limit() != 4 || lane.tokensPerSecond() != 4_000) && System.nanoTime() < until) {
      Thread.sleep(20);
      lane = flow.snapshot(e.id()).orElseThrow();
    }
    assertEquals(4, lane.limit());
    assertEquals(4_000, lane.tokensPerSecond());
    assertEquals("sk-capacity-0003", flow.registered(e.id()).orElseThrow().credential());

    get(directory.capacity("prv_cap", e.id(), new Capacity(2, 1_000)));
    until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (flow.snapshot(e.id()).orElseThrow().tokensPerSecond() != 1_000 && System.nanoTime() < until) Thread.sleep(20);
    assertEquals(1_000, flow.snapshot(e.id()).orElseThrow().tokensPerSecond(), "a later capacity message replaces the limits");
  }

  @Test
  void capacityForAnEndpointThatIsNotTheProvidersIsNotFound() throws Exception {
    Endpoint theirs = get(store.createEndpoint("prv_owner", "fleet", "http://owner.example/v1", null));
    Throwable failure = failure(directory.capacity("prv_intruder", theirs.id(), new Capacity(1, 1)));
    assertEquals(404, assertInstanceOf(ProblemException.class, failure).problem().status());
    assertTrue(flow.snapshot(theirs.id()).isEmpty(), "nothing reached Flow");
  }

  @Test
  void aModelNamesOnlyItsProvidersEndpointsAndKeepsItsEndpointFromBeingDeleted() throws Exception {
    Endpoint other = get(store.createEndpoint("prv_other", "fleet", "http://other.example/v1", null));
    Throwable refused = failure(store.putModel("prv_mine", "m", List.of("chat"), List.of(), other.id()));
    ProblemException invalid = assertInstanceOf(ProblemException.class, refused);
    assertEquals(422, invalid.problem().status());
    assertEquals("endpoint_id", invalid.problem().field());
    assertTrue(get(store.model("prv_mine", "m")).isEmpty(), "a refused registration stores nothing");

    Endpoint mine = get(store.createEndpoint("prv_mine", "a", "http://a.example/v1", null));
    Endpoint named = get(store.createEndpoint("prv_mine", "b", "http://b.example/v1", null));
    get(store.putModel("prv_mine", "m", List.of("chat"), List.of(), named.id()));
    assertEquals(409, assertInstanceOf(ProblemException.class, failure(store.deleteEndpoint("prv_mine", named.id()))).problem().status());
    get(store.putModel("prv_mine", "m", List.of("chat"), List.of(), null));
    assertTrue(get(store.deleteEndpoint("prv_mine", named.id())));
    assertEquals(mine.id(), get(directory.route("prv_mine", "m")).endpoint().id());
  }

  private static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static Throwable failure(CompletionStage<?> stage) {
    try {
      stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable t = e.getCause();
      while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
      return t;
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("expected a failure");
  }

  /** A second later on every reading, so endpoints created one after the other have distinct creation times. */
  private static final class TickingClock extends Clock {
    private final AtomicLong seconds = new AtomicLong(1_800_000_000L);

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochSecond(seconds.incrementAndGet());
    }
  }
}
