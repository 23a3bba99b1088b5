package io.keld.flow;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/** An actor system, simulated fleets over real HTTP, and a Flow to test against them. */
final class FlowFixture implements AutoCloseable {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "sim-small";

  final ActorSystem<Void> system;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final Flow flow;
  private final List<SimulatedProvider> fleets = new ArrayList<>();

  FlowFixture(FlowSettings settings) {
    system = ActorSystem.create(Behaviors.empty(), "flow-test", ConfigFactory.parseString("""
        pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
        pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
        pekko.loglevel = DEBUG
        pekko.http.server.request-timeout = 60s
        pekko.http.server.socket-options.tcp-no-delay = on
        pekko.http.client.socket-options.tcp-no-delay = on
        pekko.http.host-connection-pool.client.socket-options.tcp-no-delay = on
        """).withFallback(ConfigFactory.load()));
    flow = new Flow(system, settings, registry);
  }

  FlowFixture() {
    this(FlowSettings.DEFAULTS);
  }

  SimulatedProvider fleet(String name, FleetSettings settings) {
    SimulatedProvider p = SimulatedProvider.start(system, "127.0.0.1", 0, name, List.of(MODEL), settings);
    fleets.add(p);
    return p;
  }

  /** A fleet registered with Flow under its name, its slots stated as the endpoint's concurrency. */
  Route route(SimulatedProvider fleet, int statedConcurrency) {
    ProviderEndpoint endpoint = new ProviderEndpoint(fleet.name(), fleet.baseUrl(), "sk-test-" + fleet.name());
    flow.endpoint(endpoint, new Capacity(statedConcurrency, 0));
    return new Route(endpoint, MODEL);
  }

  static Item chat(String customId, String content, int maxTokens) {
    ObjectNode body = JSON.createObjectNode().put("model", "whatever-the-caller-asked");
    body.putArray("messages").addObject().put("role", "user").put("content", content);
    body.put("max_tokens", maxTokens);
    return Item.of(customId, Operation.CHAT_COMPLETIONS, body);
  }

  static List<Item> chats(String prefix, int n, int maxTokens) {
    List<Item> items = new ArrayList<>(n);
    for (int i = 0; i < n; i++) items.add(chat(prefix + i, "item " + prefix + i + " of a test job", maxTokens));
    return items;
  }

  List<ItemResult> run(FlowJob job, List<Item> items, Duration timeout) throws Exception {
    return job.dispatch(Source.from(items)).runWith(Sink.seq(), system).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  FlowJob job(String id, Duration deadlineIn, Route route) {
    return flow.open(id, Instant.now().plus(deadlineIn), route, JobProgress.IGNORE);
  }

  static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) throw new AssertionError("timed out waiting until " + what);
      Thread.sleep(5);
    }
  }

  @Override
  public void close() {
    flow.close();
    fleets.forEach(SimulatedProvider::close);
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // best effort
    }
  }
}
