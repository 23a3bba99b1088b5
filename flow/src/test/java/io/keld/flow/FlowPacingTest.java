package io.keld.flow;

import static io.keld.flow.FlowFixture.chats;
import static org.junit.jupiter.api.Assertions.*;

import io.keld.flow.pacing.Capacity;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.time.Instant;

/** Flow against simulated fleets over real HTTP: pacing, limits, deadlines, backpressure. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FlowPacingTest {

  private final FlowFixture fx = new FlowFixture();

  @AfterAll
  void close() {
    fx.close();
  }

  @Test
  void aJobOfThousandsOfItemsGetsOneResultPerItemAndTheFleetNeverSeesMoreThanItsSlots() throws Exception {
    SimulatedProvider fleet = fx.fleet("thousands", FleetSettings.healthy(16, 2_000, 2));
    Route route = fx.route(fleet, 16);
    List<Item> items = chats("t-", 3_000, 8);

    List<ItemResult> results = fx.run(fx.job("job-thousands", Duration.ofMinutes(2), route), items, Duration.ofSeconds(90));

    assertEquals(3_000, results.size());
    assertEquals(items.stream().map(Item::customId).collect(Collectors.toSet()),
        results.stream().map(ItemResult::customId).collect(Collectors.toSet()), "one result per custom_id");
    assertTrue(results.stream().allMatch(ItemResult::ok), "every item answered");
    assertTrue(results.stream().allMatch(r -> r.usage().outputTokens() == 8 && r.usage().inputTokens() > 0), "usage read back");
    assertTrue(results.stream().allMatch(r -> "sim-small".equals(r.response().path("model").asText())), "the route's model was asked for");
    SimulatedProvider.Stats stats = fleet.stats();
    assertTrue(stats.maxInFlight() <= 16, "the fleet saw " + stats.maxInFlight() + " requests at once, over its 16 slots");
    assertEquals(0, stats.rateLimited(), "no request was refused for capacity");
    assertEquals(3_000, stats.requests(), "no request was sent twice");
    assertTrue(stats.maxInFlight() >= 12, "the slots were used: " + stats.maxInFlight());
  }

  @Test
  void aCapacityStepDownAndUpMidJobIsFollowed() throws Exception {
    SimulatedProvider fleet = fx.fleet("step", FleetSettings.healthy(8, 1_000, 5));
    Route route = fx.route(fleet, 8);
    FlowJob job = fx.job("job-step", Duration.ofMinutes(2), route);
    AtomicInteger done = new AtomicInteger();
    CompletableFuture<List<ItemResult>> all = job.dispatch(Source.from(chats("s-", 2_500, 10)))
        .map(r -> {
          done.incrementAndGet();
          return r;
        })
        .runWith(Sink.seq(), fx.system).toCompletableFuture();

    FlowFixture.await("a third is done", Duration.ofSeconds(30), () -> done.get() >= 800);
    // The provider says its fleet shrinks (its capacity message), then shrinks it.
    fx.flow.capacity("step", new Capacity(3, 0));
    FlowFixture.await("requests sent before the step are answered", Duration.ofSeconds(5),
        () -> fx.flow.snapshot("step").orElseThrow().inFlight() <= 3);
    fleet.update(FleetSettings.healthy(3, 1_000, 5));
    fleet.resetStats();
    int before = done.get();
    FlowFixture.await("work goes on at the smaller size", Duration.ofSeconds(30), () -> done.get() >= before + 300);
    SimulatedProvider.Stats small = fleet.stats();
    assertTrue(small.maxInFlight() <= 3, "after the step down the fleet saw " + small.maxInFlight() + " at once");
    assertEquals(0, small.rateLimited(), "no 429 after the step down");
    assertEquals(3, fx.flow.snapshot("step").orElseThrow().limit());

    fleet.update(FleetSettings.healthy(12, 1_000, 5));
    fx.flow.capacity("step", new Capacity(12, 0));
    fleet.resetStats();
    int before2 = done.get();
    FlowFixture.await("work goes on at the larger size", Duration.ofSeconds(30), () -> done.get() >= before2 + 300);
    SimulatedProvider.Stats large = fleet.stats();
    assertTrue(large.maxInFlight() > 3 && large.maxInFlight() <= 12, "after the step up the fleet saw " + large.maxInFlight() + " at once");

    List<ItemResult> results = all.get(60, TimeUnit.SECONDS);
    assertEquals(2_500, results.size());
    assertTrue(results.stream().allMatch(ItemResult::ok));
  }

  @Test
  void aFleetAnswering429sIsBackedOffNotHammered() throws Exception {
    // The provider states 16 but the fleet only has 4 slots: Flow must find out from the 429s.
    SimulatedProvider fleet = fx.fleet("overstated", FleetSettings.healthy(4, 1_000, 5));
    Route route = fx.route(fleet, 16);

    List<ItemResult> results = fx.run(fx.job("job-429", Duration.ofMinutes(2), route), chats("r-", 1_500, 8), Duration.ofSeconds(60));

    assertEquals(1_500, results.size());
    assertTrue(results.stream().allMatch(ItemResult::ok), "every item answered in the end");
    SimulatedProvider.Stats stats = fleet.stats();
    double share = (double) stats.rateLimited() / stats.requests();
    assertTrue(share < 0.05, "429s were " + stats.rateLimited() + " of " + stats.requests() + " requests");
    Flow.EndpointSnapshot lane = fx.flow.snapshot("overstated").orElseThrow();
    assertTrue(lane.limit() <= 6, "the limit came down near the fleet's real size: " + lane.limit());
    assertTrue(lane.limitDecreases() >= 1);
  }

  @Test
  void onASharedFleetTheEarlierDeadlineIsServedFirstAndMeetsIt() throws Exception {
    SimulatedProvider fleet = fx.fleet("shared", FleetSettings.healthy(4, 1_000, 5));
    Route route = fx.route(fleet, 4);
    FlowJob relaxed = fx.job("job-relaxed", Duration.ofMinutes(5), route);
    FlowJob urgent = fx.job("job-urgent", Duration.ofSeconds(8), route);
    AtomicInteger relaxedDone = new AtomicInteger();

    CompletableFuture<List<ItemResult>> relaxedRun = relaxed.dispatch(Source.from(chats("late-", 600, 8)))
        .map(r -> {
          relaxedDone.incrementAndGet();
          return r;
        })
        .runWith(Sink.seq(), fx.system).toCompletableFuture();
    FlowFixture.await("the relaxed job is under way", Duration.ofSeconds(10), () -> relaxedDone.get() >= 20);
    long started = System.nanoTime();
    List<ItemResult> urgentResults = fx.run(urgent, chats("soon-", 150, 8), Duration.ofSeconds(30));
    long urgentTook = System.nanoTime() - started;
    int relaxedWhenUrgentDone = relaxedDone.get();

    assertEquals(150, urgentResults.size());
    assertTrue(urgentResults.stream().allMatch(ItemResult::ok));
    assertTrue(urgentTook < Duration.ofSeconds(8).toNanos(), "the urgent job met its deadline");
    // 150 items on 4 slots take ~38 rounds; had the fleet been shared evenly, the relaxed job would
    // have done as many meanwhile. Earliest deadline first lets it do little more than what it had queued.
    assertTrue(relaxedWhenUrgentDone - 20 < 75, "the relaxed job did " + (relaxedWhenUrgentDone - 20) + " items while the urgent one ran");
    assertEquals(600, relaxedRun.get(60, TimeUnit.SECONDS).size());
  }

  @Test
  void backpressureReachesTheUpload() throws Exception {
    SimulatedProvider fleet = fx.fleet("slow", FleetSettings.healthy(2, 200, 20));
    Route route = fx.route(fleet, 2);
    AtomicInteger pulled = new AtomicInteger();
    AtomicInteger answered = new AtomicInteger();
    Source<Item, ?> upload = Source.range(0, 100_000).map(i -> {
      pulled.incrementAndGet();
      return FlowFixture.chat("b-" + i, "item " + i, 8);
    });
    var control = fx.job("job-slow", Duration.ofMinutes(5), route).dispatch(upload)
        .map(r -> answered.incrementAndGet())
        .take(60)
        .runWith(Sink.ignore(), fx.system);
    control.toCompletableFuture().get(60, TimeUnit.SECONDS);
    // 60 answers needed; the upload must not have been read far ahead of the fleet's pace.
    assertTrue(pulled.get() < 60 + 64, "read " + pulled.get() + " items from the upload for " + answered.get() + " answers");
    FlowFixture.await("the dropped upload's queue is cleared", Duration.ofSeconds(10),
        () -> fx.flow.snapshot("slow").orElseThrow().queued() == 0 && fx.flow.snapshot("slow").orElseThrow().inFlight() == 0);
  }

  @Test
  void aRefusedRequestIsNotRetriedTransientFaultsAreAndTheDeadlineBoundsRetries() throws Exception {
    SimulatedProvider flaky = fx.fleet("flaky", new FleetSettings(8, 2_000, 2, 0.2, 0, 0, 0.05));
    Route route = fx.route(flaky, 8);
    List<ItemResult> results = fx.run(fx.job("job-flaky", Duration.ofMinutes(2), route), chats("f-", 400, 8), Duration.ofSeconds(60));
    assertEquals(400, results.size());
    long ok = results.stream().filter(ItemResult::ok).count();
    assertTrue(ok >= 396, "retries recovered transient faults: " + ok + " of 400 answered");
    assertTrue(results.stream().anyMatch(r -> r.attempts() > 1), "some items needed a retry");

    // A model the fleet does not serve: a 404, sent once, reported as the provider's error.
    Route wrongModel = new Route(route.endpoint(), "no-such-model");
    List<ItemResult> refused = fx.run(fx.flow.open("job-refused", Instant.now().plusSeconds(60), wrongModel, JobProgress.IGNORE),
        chats("x-", 3, 8), Duration.ofSeconds(20));
    assertEquals(3, refused.size());
    for (ItemResult r : refused) {
      assertFalse(r.ok());
      assertEquals(1, r.attempts());
      assertEquals(404, r.error().status());
      assertEquals("model_not_found", r.error().code());
    }

    // A fleet that always fails, and a deadline two seconds out: the retries stop at the deadline.
    SimulatedProvider broken = fx.fleet("broken", new FleetSettings(8, 2_000, 2, 1.0, 0, 0, 0));
    Route brokenRoute = fx.route(broken, 8);
    long started = System.nanoTime();
    List<ItemResult> late = fx.run(fx.job("job-broken", Duration.ofSeconds(2), brokenRoute), chats("d-", 5, 8), Duration.ofSeconds(20));
    assertTrue(System.nanoTime() - started < Duration.ofSeconds(4).toNanos(), "gave up by the deadline");
    assertEquals(5, late.size());
    assertTrue(late.stream().noneMatch(ItemResult::ok));
  }

  @Test
  void aCustomIdTwiceInOneUploadGetsOneAnswerAndOneError() throws Exception {
    SimulatedProvider fleet = fx.fleet("dupes", FleetSettings.healthy(4, 2_000, 2));
    Route route = fx.route(fleet, 4);
    List<Item> items = List.of(FlowFixture.chat("same", "a", 8), FlowFixture.chat("other", "b", 8), FlowFixture.chat("same", "c", 8));
    List<ItemResult> results = fx.run(fx.job("job-dupes", Duration.ofMinutes(1), route), items, Duration.ofSeconds(20));
    assertEquals(3, results.size());
    Set<String> errors = new HashSet<>();
    results.stream().filter(r -> !r.ok()).forEach(r -> errors.add(r.customId() + ":" + r.error().type()));
    assertEquals(Set.of("same:duplicate_custom_id"), errors);
    assertEquals(2, fleet.stats().requests());
  }
}
