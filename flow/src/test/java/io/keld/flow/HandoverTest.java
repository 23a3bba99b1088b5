package io.keld.flow;

import static io.keld.flow.FlowFixture.chats;
import static org.junit.jupiter.api.Assertions.*;

import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.util.HashSet;

/** Moving a job's remaining work to another endpoint mid-stream, and resuming an upload. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HandoverTest {

  private final FlowFixture fx = new FlowFixture();

  @AfterAll
  void close() {
    fx.close();
  }

  @Test
  void aHandoverMidStreamGivesEveryItemExactlyOneResult() throws Exception {
    // The first provider is slow and flaky (errors, dropped connections); the backup is healthy.
    SimulatedProvider first = fx.fleet("first", new FleetSettings(4, 400, 10, 0.1, 0, 0, 0.05));
    SimulatedProvider backup = fx.fleet("backup", FleetSettings.healthy(16, 2_000, 2));
    Route firstRoute = fx.route(first, 4);
    Route backupRoute = fx.route(backup, 16);
    FlowJob job = fx.job("job-handover", Duration.ofMinutes(2), firstRoute);
    AtomicInteger done = new AtomicInteger();

    CompletableFuture<List<ItemResult>> run = job.dispatch(Source.from(chats("h-", 1_200, 8)))
        .map(r -> {
          done.incrementAndGet();
          return r;
        })
        .runWith(Sink.seq(), fx.system).toCompletableFuture();
    FlowFixture.await("some items are done at the first provider", Duration.ofSeconds(30), () -> done.get() >= 100);

    int moved = job.handover(backupRoute).toCompletableFuture().get(10, TimeUnit.SECONDS);
    long firstRequestsAtHandover = first.stats().requests();
    List<ItemResult> results = run.get(60, TimeUnit.SECONDS);

    assertTrue(moved > 0, "queued items moved");
    assertEquals(1_200, results.size());
    Map<String, Long> perId = results.stream().collect(Collectors.groupingBy(ItemResult::customId, Collectors.counting()));
    assertEquals(1_200, perId.size(), "every custom_id has a result");
    assertTrue(perId.values().stream().allMatch(n -> n == 1), "no custom_id has two");
    assertTrue(results.stream().allMatch(ItemResult::ok), "failures at the first provider were retried at the backup");
    Map<String, Long> byEndpoint = new HashMap<>(results.stream().collect(Collectors.groupingBy(ItemResult::endpointId, Collectors.counting())));
    assertTrue(byEndpoint.getOrDefault("first", 0L) >= 100, "early items were answered by the first provider: " + byEndpoint);
    assertTrue(byEndpoint.getOrDefault("backup", 0L) >= 900, "the rest by the backup: " + byEndpoint);
    // After the handover only requests already in flight could reach the first provider (at most its 4 slots).
    assertTrue(first.stats().requests() - firstRequestsAtHandover <= 4,
        "the first provider got " + (first.stats().requests() - firstRequestsAtHandover) + " requests after the handover");
    assertEquals(1_200, job.progress().itemsAnswered());
    assertEquals(0, job.progress().itemsOpen());
  }

  @Test
  void aResumedUploadGetsOneResultPerItemItHasNoResultFor() throws Exception {
    SimulatedProvider fleet = fx.fleet("resume", FleetSettings.healthy(4, 400, 10));
    Route route = fx.route(fleet, 4);
    FlowJob job = fx.job("job-resume", Duration.ofMinutes(2), route);
    List<Item> items = chats("u-", 300, 8);

    // The first upload is cut off after 50 results (the client's connection dropped).
    List<ItemResult> firstPart = job.dispatch(Source.from(items)).take(50).runWith(Sink.seq(), fx.system)
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    var have = firstPart.stream().map(ItemResult::customId).collect(Collectors.toSet());
    List<Item> rest = items.stream().filter(i -> !have.contains(i.customId())).toList();
    List<ItemResult> secondPart = fx.run(job, rest, Duration.ofSeconds(60));

    assertEquals(250, secondPart.size());
    assertTrue(secondPart.stream().allMatch(ItemResult::ok));
    var all = new HashSet<>(have);
    secondPart.forEach(r -> assertTrue(all.add(r.customId()), "a second result for " + r.customId()));
    assertEquals(300, all.size());
    // Items in flight when the first upload dropped were joined, not sent again.
    assertTrue(fleet.stats().requests() <= 300 + 4, "the fleet got " + fleet.stats().requests() + " requests for 300 items");
  }
}
