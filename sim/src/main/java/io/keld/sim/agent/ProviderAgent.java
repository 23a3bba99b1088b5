package io.keld.sim.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.Json;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import io.keld.sim.strategy.LoadCurve;
import io.keld.sim.strategy.MarketSignal;
import io.keld.sim.strategy.PricingStrategy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A provider that trades on Keld as a real one would, with nothing but the public protocol: it
 * registers its simulated fleet as an endpoint and its model over HTTP ({@code /trade/v1}), then on
 * the WebSocket feed subscribes to its books, posts its asks, and on every decision (a timer, and at
 * once after a fill) prices them by its {@link PricingStrategy} from the hour, its fleet's load and the
 * book's deltas, and states the capacity its own customers leave ({@code capacity}), which is also what
 * its fleet is set to serve. Fills it is sent drive the strategy's next price.
 */
public final class ProviderAgent implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ProviderAgent.class);
  private static final ObjectMapper JSON = Json.PLAIN;
  private static final Duration ANSWER_WITHIN = Duration.ofSeconds(15);

  /**
   * What the agent is.
   *
   * @param fleet        the whole fleet; its own customers take {@code load} of the slots, the rest is sold
   * @param decideEvery  how often it looks at its fleet and the book
   */
  public record Settings(String name, String model, List<String> useCases, int quality, PricingStrategy strategy, LoadCurve load,
      FleetSettings fleet, Duration decideEvery) {}

  /** What the agent has done so far. */
  public record Tally(int decisions, int priceChanges, int fills, long tokensFilled, long revenueMicroUsd, Map<String, Long> prices) {}

  private final Settings settings;
  private final SimulatedProvider fleet;
  private final MarketClock clock;
  private final URI node;
  private final String key;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final ScheduledExecutorService decider;
  private final Map<String, CompletableFuture<JsonNode>> awaiting = new ConcurrentHashMap<>();
  /** Per use case, the book's price levels: price -> ask count. Written by the socket's listener. */
  private final Map<String, TreeMap<Long, Integer>> levels = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  private final AtomicInteger fillsSinceDecision = new AtomicInteger();
  private final AtomicInteger fills = new AtomicInteger();
  private final AtomicLong tokensFilled = new AtomicLong();
  private final AtomicLong revenue = new AtomicLong();
  // Touched only on the decider's thread:
  private final Map<String, String> askByUseCase = new LinkedHashMap<>();
  private final Map<String, Long> priceByUseCase = new ConcurrentHashMap<>();
  private String endpointId;
  private int statedSlots = -1;
  private int decisions;
  private int priceChanges;
  private WebSocket socket;

  private ProviderAgent(URI node, String key, SimulatedProvider fleet, Settings settings, MarketClock clock) {
    this.node = node;
    this.key = key;
    this.fleet = fleet;
    this.settings = settings;
    this.clock = clock;
    this.decider = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "provider-agent-" + settings.name());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Registers the fleet and model with the node at {@code node} (its HTTP base, {@code http://host:port})
   * with a provider key, connects to the feed, subscribes, makes its first decision and returns;
   * later decisions run on the agent's own thread until {@link #close}.
   */
  public static ProviderAgent start(URI node, String providerKey, SimulatedProvider fleet, Settings settings, MarketClock clock) throws Exception {
    ProviderAgent agent = new ProviderAgent(node, providerKey, fleet, settings, clock);
    try {
      agent.register();
      agent.connect();
      agent.decider.submit(() -> {
        agent.decide();
        return null;
      }).get(60, TimeUnit.SECONDS);
      agent.decider.scheduleWithFixedDelay(agent::decideQuietly, settings.decideEvery().toMillis(), settings.decideEvery().toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      agent.close();
      throw e;
    }
    return agent;
  }

  public Settings settings() {
    return settings;
  }

  public SimulatedProvider fleet() {
    return fleet;
  }

  public Tally tally() {
    return new Tally(decisions, priceChanges, fills.get(), tokensFilled.get(), revenue.get(), Map.copyOf(priceByUseCase));
  }

  // -- setting up -------------------------------------------------------------------------------

  private void register() throws Exception {
    ObjectNode endpoint = JSON.createObjectNode().put("name", settings.name() + " fleet").put("base_url", fleet.baseUrl());
    endpointId = call("POST", "/trade/v1/endpoints", endpoint).path("id").asText();
    ObjectNode model = JSON.createObjectNode().put("endpoint_id", endpointId);
    settings.useCases().forEach(model.putArray("use_cases")::add);
    call("PUT", "/trade/v1/models/" + settings.model(), model);
  }

  private JsonNode call(String method, String path, JsonNode body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(node.resolve(path)).timeout(ANSWER_WITHIN)
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() / 100 != 2) throw new IllegalStateException(method + " " + path + " answered " + r.statusCode() + ": " + r.body());
    return JSON.readTree(r.body());
  }

  private void connect() throws Exception {
    URI feed = URI.create(node.toString().replaceFirst("^http", "ws").replaceAll("/+$", "") + "/trade/v1/feed");
    StringBuilder partial = new StringBuilder();
    socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + key).connectTimeout(Duration.ofSeconds(10))
        .buildAsync(feed, new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
              String text = partial.toString();
              partial.setLength(0);
              received(text);
            }
            ws.request(1);
            return null;
          }

          @Override
          public void onError(WebSocket ws, Throwable error) {
            log.warn("agent {}: feed failed: {}", settings.name(), error.toString());
            awaiting.values().forEach(f -> f.completeExceptionally(error));
          }
        }).get(10, TimeUnit.SECONDS);
    ArrayNodeBuilder useCases = new ArrayNodeBuilder(settings.useCases());
    send("subscribe", m -> m.set("use_cases", useCases.node()));
  }

  private record ArrayNodeBuilder(List<String> values) {
    JsonNode node() {
      var a = JSON.createArrayNode();
      values.forEach(a::add);
      return a;
    }
  }

  // -- the feed ---------------------------------------------------------------------------------

  /** Sends a message and waits for its ack (its {@code result}); an {@code error} answer fails. */
  private JsonNode send(String type, java.util.function.Consumer<ObjectNode> members) throws Exception {
    String id = settings.name() + "-" + ids.incrementAndGet();
    ObjectNode msg = JSON.createObjectNode().put("type", type).put("id", id);
    members.accept(msg);
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    awaiting.put(id, answer);
    try {
      socket.sendText(msg.toString(), true).get(ANSWER_WITHIN.toMillis(), TimeUnit.MILLISECONDS);
      return answer.get(ANSWER_WITHIN.toMillis(), TimeUnit.MILLISECONDS);
    } finally {
      awaiting.remove(id);
    }
  }

  private void received(String text) {
    JsonNode m;
    try {
      m = JSON.readTree(text);
    } catch (Exception e) {
      log.warn("agent {}: unreadable feed message", settings.name());
      return;
    }
    switch (m.path("type").asText()) {
      case "ack" -> answer(m.path("id").asText(), m.path("result"), null);
      case "error" -> answer(m.path("id").asText(), null, m.path("status").asText() + " " + m.path("message").asText());
      case "book_snapshot" -> {
        TreeMap<Long, Integer> book = new TreeMap<>();
        for (JsonNode l : m.path("asks")) book.put(l.path("price_per_mtok").asLong(), l.path("ask_count").asInt());
        levels.put(m.path("use_case").asText(), book);
      }
      case "book_delta" -> {
        TreeMap<Long, Integer> book = levels.computeIfAbsent(m.path("use_case").asText(), u -> new TreeMap<>());
        synchronized (book) {
          for (JsonNode l : m.path("asks")) book.put(l.path("price_per_mtok").asLong(), l.path("ask_count").asInt());
          for (JsonNode p : m.path("removed_prices")) book.remove(p.asLong());
        }
      }
      case "fill" -> {
        JsonNode f = m.path("fill");
        fills.incrementAndGet();
        tokensFilled.addAndGet(f.path("tokens").asLong());
        revenue.addAndGet(io.keld.ixp.Money.costMicroUsd(f.path("tokens").asLong(), f.path("price_per_mtok").asLong()));
        fillsSinceDecision.incrementAndGet();
        // Demand is arriving: decide again now rather than at the next tick.
        try {
          decider.execute(this::decideQuietly);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
          // the agent is stopping
        }
      }
      default -> { }
    }
  }

  private void answer(String id, JsonNode result, String error) {
    CompletableFuture<JsonNode> f = awaiting.get(id);
    if (f == null) {
      if (error != null) log.warn("agent {}: the feed reported: {}", settings.name(), error);
      return;
    }
    if (error != null) f.completeExceptionally(new IllegalStateException(error));
    else f.complete(result);
  }

  // -- deciding ---------------------------------------------------------------------------------

  private void decideQuietly() {
    try {
      decide();
    } catch (InterruptedException stopping) {
      Thread.currentThread().interrupt(); // close() stops the decider mid-decision
    } catch (Exception e) {
      if (!decider.isShutdown()) log.warn("agent {}: a decision failed: {}", settings.name(), e.toString());
    }
  }

  /**
   * One look at the fleet and the book: the slots the provider's own customers leave are what the
   * fleet serves Keld with and what the asks state; each use case's price comes from the strategy.
   */
  private void decide() throws Exception {
    decisions++;
    double hour = clock.hourOfDay();
    FleetSettings whole = settings.fleet();
    double background = settings.load().at(hour);
    int spareSlots = (int) Math.max(1, Math.round(whole.slots() * (1 - background)));
    double keldLoad = (double) fleet.stats().inFlight() / whole.slots();
    double utilisation = background + keldLoad;
    int newFills = fillsSinceDecision.getAndSet(0);
    for (String useCase : settings.useCases()) {
      String askId = askByUseCase.get(useCase);
      Long own = askId == null ? null : priceByUseCase.get(useCase);
      Long price = settings.strategy().price(new MarketSignal(hour, Math.min(1.0, utilisation), bestOther(useCase, own), newFills));
      if (price == null) {
        if (askId != null) {
          send("withdraw_ask", m -> m.put("ask_id", askId));
          askByUseCase.remove(useCase);
          priceByUseCase.remove(useCase);
          priceChanges++;
        }
      } else if (askId == null) {
        JsonNode posted = send("post_ask", m -> {
          ObjectNode ask = m.putObject("ask").put("model", settings.model()).put("use_case", useCase).put("price_per_mtok", price)
              .put("quality", settings.quality()).put("throughput_tps", spareSlots * whole.tokensPerSecond())
              .put("max_concurrency", spareSlots).put("cancel_on_disconnect", true);
          ask.putArray("compliance_tags").add("zdr");
        });
        askByUseCase.put(useCase, posted.path("ask").path("id").asText());
        priceByUseCase.put(useCase, price);
        priceChanges++;
        statedSlots = -1; // the new ask needs its capacity stated with the others
      } else if (!price.equals(own)) {
        send("amend_ask", m -> m.put("ask_id", askId).put("price_per_mtok", price));
        priceByUseCase.put(useCase, price);
        priceChanges++;
      }
    }
    if (spareSlots != statedSlots) {
      fleet.update(new FleetSettings(spareSlots, whole.tokensPerSecond(), whole.timeToFirstTokenMs(), whole.errorRate(), whole.stallRate(),
          whole.stallMs(), whole.dropRate()));
      List<String> open = new ArrayList<>(askByUseCase.values());
      send("capacity", m -> {
        m.put("endpoint_id", endpointId).put("tokens_per_second", spareSlots * whole.tokensPerSecond()).put("max_concurrency", spareSlots);
        open.forEach(m.putArray("ask_ids")::add);
      });
      statedSlots = spareSlots;
    }
  }

  /** The cheapest price another ask shows on the book: the lowest level, unless that level is this agent's ask alone. */
  private Long bestOther(String useCase, Long own) {
    TreeMap<Long, Integer> book = levels.get(useCase);
    if (book == null) return null;
    synchronized (book) {
      for (Map.Entry<Long, Integer> l : book.entrySet()) {
        if (own != null && l.getKey().equals(own) && l.getValue() <= 1) continue;
        return l.getKey();
      }
    }
    return null;
  }

  @Override
  public void close() {
    decider.shutdownNow();
    if (socket != null && !socket.isOutputClosed()) socket.sendClose(WebSocket.NORMAL_CLOSURE, "agent stopped").exceptionally(e -> null);
  }
}
