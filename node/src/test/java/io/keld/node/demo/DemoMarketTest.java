package io.keld.node.demo;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.marketplace.book.BookView;
import io.keld.node.testing.DemoWorld;
import io.keld.sim.agent.ProviderAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code keld start --demo}'s living market: the strategy agents trade over the node's real HTTP API
 * and WebSocket feed, so within a minute the summarize book's best price moves several times, and
 * jobs submitted over IXP some seconds apart clear at different prices; the agent whose ask a job
 * clears at hears of its fill on the feed.
 */
class DemoMarketTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void overAMinuteTheBestPriceMovesAndJobsClearAtDifferentPrices() throws Exception {
    try (DemoWorld world = DemoWorld.start(); DemoMarket market = DemoMarket.start(world.node)) {
      assertEquals(4, market.agents().size());
      for (ProviderAgent a : market.agents()) assertTrue(a.tally().decisions() >= 1, a.settings().name() + " has decided once");
      // The agents' asks are on the books, posted over the feed (the demo's static fleets hold two levels on summarize).
      assertTrue(best(world).asks().size() >= 3, "the agents' asks are on the summarize book: " + best(world).asks());

      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      List<Long> bestPrices = new ArrayList<>();
      bestPrices.add(bestPrice(world));
      Cleared first = submitAndRead(world);
      List<Cleared> later = new ArrayList<>();
      long nextJobAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (System.nanoTime() < end) {
        long now = bestPrice(world);
        if (now != bestPrices.get(bestPrices.size() - 1)) bestPrices.add(now);
        boolean differentPriceSeen = later.stream().anyMatch(c -> c.price() != first.price());
        if (!differentPriceSeen && System.nanoTime() >= nextJobAt && now != first.price()) {
          later.add(submitAndRead(world));
          nextJobAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        }
        if (bestPrices.size() > 4 && differentPriceSeen) break;
        Thread.sleep(250);
      }
      System.out.printf("Demo market: best summarize prices seen %s; first job %s; later %s%n", bestPrices, first, later);
      assertTrue(bestPrices.size() >= 4, "the summarize book's best price changed at least 3 times within 60 s: " + bestPrices);
      assertTrue(later.stream().anyMatch(c -> c.price() != first.price()),
          "a job submitted later cleared at another price than the first (" + first + "): " + later);

      // Each job that cleared at an agent's ask reached that agent as a fill on the feed.
      List<Cleared> all = new ArrayList<>(later);
      all.add(first);
      long onAgents = all.stream().filter(c -> !c.providerId().startsWith("prv_demo_")).count();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (fillsHeard(market) < onAgents && System.nanoTime() < deadline) Thread.sleep(100);
      assertTrue(fillsHeard(market) >= onAgents, onAgents + " jobs cleared at agents' asks; the agents heard of " + fillsHeard(market));
    }
  }

  record Cleared(String jobId, String providerId, long price) {}

  private static long fillsHeard(DemoMarket market) {
    return market.agents().stream().mapToLong(a -> a.tally().fills()).sum();
  }

  private static BookView best(DemoWorld world) throws Exception {
    return world.node.books().view("summarize").toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static long bestPrice(DemoWorld world) throws Exception {
    return best(world).asks().get(0).pricePerMtok();
  }

  /** Submits a small summarize job over IXP, waits for its match, reads its price, and cancels it (its capacity goes back). */
  private static Cleared submitAndRead(DemoWorld world) throws Exception {
    JsonNode job = call(world, "POST", "/ixp/v1/jobs",
        "{\"use_case\":\"summarize\",\"deadline\":\"PT10M\",\"ceiling_usd_per_mtok\":2,\"estimated_tokens\":2000}");
    String id = job.path("id").asText();
    assertFalse(id.isEmpty(), job.toString());
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < until) {
      job = call(world, "GET", "/ixp/v1/jobs/" + id, null);
      JsonNode leg = job.path("legs").path(0);
      if (!leg.isMissingNode()) {
        call(world, "POST", "/ixp/v1/jobs/" + id + "/cancel", null);
        return new Cleared(id, leg.path("provider_id").asText(), Math.round(leg.path("price_usd_per_mtok").asDouble() * 1_000_000));
      }
      Thread.sleep(100);
    }
    throw new AssertionError("job " + id + " did not clear: " + job);
  }

  private static JsonNode call(DemoWorld world, String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(world.baseUrl + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + world.tenancy.apiKey()).header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(r.statusCode() / 100 == 2, method + " " + path + " answered " + r.statusCode() + ": " + r.body());
    return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
  }
}
