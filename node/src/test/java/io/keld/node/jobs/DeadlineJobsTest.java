package io.keld.node.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.atlas.budget.BudgetPeriod;
import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.budget.ScopeView;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobRequest;
import io.keld.exchange.jobs.JobView;
import io.keld.kit.ProblemException;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.ixp.Money;
import io.keld.marketplace.entity.OrderBook;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Assertions;

/**
 * Deadline jobs end to end on a node over PostgreSQL, with simulated provider fleets over real HTTP:
 * the happy path, escalation to the backup, a provider that stalls mid-job, crashes between steps,
 * idempotent submission and a budget refusal.
 */
class DeadlineJobsTest {

  static final long CHEAP = 1_000_000; // $1.00 per million tokens
  static final long DEAR = 1_800_000;
  static final long BACKUP = 1_500_000;
  static final long CEILING = 2_000_000;

  JobWorld world;

  @BeforeEach
  void start() throws Exception {
    world = new JobWorld();
  }

  @AfterEach
  void stop() {
    if (world != null) world.close();
  }

  static JobRequest request(String useCase, long tokens, Duration deadlineIn, String projectId) {
    return JobRequest.of(useCase, CEILING, tokens, Instant.now().plus(deadlineIn), projectId);
  }

  static long tokens(Map<String, ItemResult> results) {
    return results.values().stream().mapToLong(r -> r.usage().total()).sum();
  }

  @Test
  void aJobMatchedOnTimeCompletesAndSettlesExactly() throws Exception {
    world.fleet("prv_cheap", "m-small", FleetSettings.healthy(8, 400, 5));
    world.ask("ask_cheap", "prv_cheap", "m-small", "summarize", CHEAP, 3_200);
    JobView admitted = world.submitAccepted(request("summarize", 1_500, Duration.ofSeconds(20), world.project.id())
        .withTags("nightly-eval", "opex", Map.of("env", "test")));
    assertEquals("matched", admitted.state());
    assertEquals(CHEAP, admitted.match().pricePerMtok());
    assertEquals(Money.costMicroUsd(1_500, CEILING), admitted.reservedMicroUsd());

    // A follower sees every change, ending with the settled view.
    Queue<JobView> followed = new ConcurrentLinkedQueue<>();
    world.node.jobs().jobs().follow(admitted.jobId(), world.node.system().systemActorOf(
        Behaviors.<JobView>receiveMessage(v -> {
          followed.add(v);
          return Behaviors.same();
        }), "follower", Props.empty()));

    Map<String, ItemResult> results = world.run(admitted.jobId(), JobWorld.items("a", 30, 40));
    assertEquals(30, results.size());
    assertTrue(results.values().stream().allMatch(ItemResult::ok));

    JobView done = world.awaitSettled(admitted.jobId(), Duration.ofSeconds(20));
    assertEquals("completed", done.state());
    assertEquals(30, done.progress().itemsAnswered());
    assertEquals(tokens(results), done.progress().inputTokens() + done.progress().outputTokens());
    assertEquals(Money.costMicroUsd(tokens(results), CHEAP), done.costMicroUsd(), "actual tokens at the ask's price");
    world.assertSettledOnce(done);
    assertEquals("nightly-eval", world.usage(done.jobId()).get(0).jobCategory());
    List<String> states = followed.stream().map(JobView::state).distinct().toList();
    assertTrue(states.contains("running") && states.get(states.size() - 1).equals("completed"), "followed: " + states);
    JobView last = followed.stream().reduce((a, b) -> b).orElseThrow();
    assertTrue(last.settled(), "the last view a follower gets is the settled one");

    // The budget holds the actual cost, nothing stays reserved.
    for (String scope : List.of(world.project.id(), world.team.id())) {
      ScopeView s = world.scope(scope);
      assertEquals(done.costMicroUsd(), s.spentMicroUsd(), scope);
      assertEquals(0, s.reservedMicroUsd(), scope);
    }
    // And the book let go of the fill.
    OrderBook.BidStatus bid = world.node.books().bidStatus("summarize", done.match().fillId() == null ? "" : done.legs().get(0).fillId())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertNotEquals(OrderBook.BidStatus.Status.FILLED, bid.status());
    assertTrue(done.timeline().stream().anyMatch(t -> t.event().equals("started")));
  }

  @Test
  void withNoFeasibleAskTheJobEscalatesAtItsEscalationPointAndTheBackupFinishesInTime() throws Exception {
    world.fleet("prv_backup", "m-backup", FleetSettings.healthy(8, 400, 5));
    world.backup("prv_backup", "m-backup", BACKUP, 2_000);
    Instant deadline = Instant.now().plusSeconds(5);
    JobView admitted = world.submitAccepted(JobRequest.of("translate", CEILING, 1_500, deadline, world.project.id()));
    assertEquals("open", admitted.state(), "nothing on the translate book: the bid rests");
    // 1,500 tokens at 2,000 tok/s is 750 ms, plus the 1 s margin.
    assertEquals(deadline.toEpochMilli() - 750 - 1_000, admitted.escalateAt().toEpochMilli());

    // The upload starts before any match and simply waits.
    Map<String, ItemResult> results = world.run(admitted.jobId(), JobWorld.items("t", 20, 40));
    assertEquals(20, results.size());
    assertTrue(results.values().stream().allMatch(r -> r.ok() && r.endpointId().equals("prv_backup")));

    JobView done = world.awaitSettled(admitted.jobId(), Duration.ofSeconds(20));
    assertEquals("completed", done.state());
    assertEquals(1, done.escalations());
    JobView.TimelineView escalated = done.timeline().stream().filter(t -> t.event().equals("escalated")).findFirst().orElseThrow();
    assertEquals("no_feasible_ask", escalated.reason());
    assertTrue(!escalated.at().isBefore(admitted.escalateAt()), "not before the escalation point");
    JobView.TimelineView completed = done.timeline().stream().filter(t -> t.event().equals("completed")).findFirst().orElseThrow();
    assertTrue(completed.at().isBefore(deadline), "completed " + completed.at() + ", deadline " + deadline);
    assertEquals(Money.costMicroUsd(tokens(results), BACKUP), done.costMicroUsd(), "charged at the backup's list price");
    world.assertSettledOnce(done);
    assertEquals(done.costMicroUsd(), world.scope(world.project.id()).spentMicroUsd());
  }

  @Test
  void whenTheProviderStallsMidJobTheRemainingWorkMovesAndStillFinishesInTime() throws Exception {
    SimulatedProvider cheap = world.fleet("prv_cheap", "m-small", FleetSettings.healthy(4, 400, 5));
    world.fleet("prv_dear", "m-large", FleetSettings.healthy(8, 400, 5));
    world.ask("ask_cheap", "prv_cheap", "m-small", "summarize", CHEAP, 1_600);
    world.ask("ask_dear", "prv_dear", "m-large", "summarize", DEAR, 3_200);
    Instant deadline = Instant.now().plusSeconds(25);
    JobView admitted = world.submitAccepted(JobRequest.of("summarize", CEILING, 2_700, deadline, world.project.id()));
    assertEquals("prv_cheap", admitted.match().providerId());

    AtomicInteger seen = new AtomicInteger();
    List<ItemResult> results = world.node.jobs().streams().run(admitted.jobId(), Source.from(JobWorld.items("s", 60, 40)))
        .map(r -> {
          // After ten answers the cheap fleet hangs every request for a minute.
          if (seen.incrementAndGet() == 10) cheap.update(new FleetSettings(4, 400, 5, 0, 1.0, 60_000, 0));
          return r;
        })
        .runWith(Sink.seq(), world.node.system()).toCompletableFuture().get(60, TimeUnit.SECONDS);
    assertEquals(60, results.size());
    assertTrue(results.stream().allMatch(ItemResult::ok), "every item answered");

    JobView done = world.awaitSettled(admitted.jobId(), Duration.ofSeconds(20));
    assertEquals("completed", done.state());
    assertEquals(2, done.legs().size(), "one move: " + done.timeline());
    assertEquals("prv_dear", done.legs().get(1).providerId());
    assertEquals("stalled", done.timeline().stream().filter(t -> t.event().equals("rerouted")).findFirst().orElseThrow().reason());
    assertTrue(done.timeline().stream().filter(t -> t.event().equals("completed")).findFirst().orElseThrow().at().isBefore(deadline));
    long expected = Money.costMicroUsd(done.legs().get(0).inputTokens() + done.legs().get(0).outputTokens(), CHEAP)
        + Money.costMicroUsd(done.legs().get(1).inputTokens() + done.legs().get(1).outputTokens(), DEAR);
    assertEquals(expected, done.costMicroUsd(), "each leg at its own price");
    world.assertSettledOnce(done);
  }

  @Test
  void aCrashBetweenMatchedAndRunningResumesAndSettlesOnce() throws Exception {
    world.fleet("prv_cheap", "m-small", FleetSettings.healthy(8, 400, 5));
    world.ask("ask_cheap", "prv_cheap", "m-small", "summarize", CHEAP, 3_200);
    JobView admitted = world.submitAccepted(request("summarize", 1_500, Duration.ofSeconds(40), world.project.id()));
    assertEquals("matched", admitted.state());

    world.crash();
    world.start();

    JobView recovered = world.view(admitted.jobId());
    assertEquals("matched", recovered.state());
    assertEquals(admitted.match().fillId(), recovered.match().fillId(), "the same fill, not a second one");
    Map<String, ItemResult> results = world.run(admitted.jobId(), JobWorld.items("c", 20, 40));
    assertEquals(20, results.size());
    world.assertCompletedAndBalanced(admitted.jobId());
  }

  @Test
  void aCrashWhileRunningResumesWithTheItemsThatHaveNoResultAndSettlesOnce() throws Exception {
    // Two slots at 100 tok/s: 40-token items take 0.4 s each, so 40 items run for about 8 s.
    world.fleet("prv_slow", "m-small", FleetSettings.healthy(2, 100, 5));
    world.ask("ask_slow", "prv_slow", "m-small", "summarize", CHEAP, 200);
    JobView admitted = world.submitAccepted(request("summarize", 1_800, Duration.ofSeconds(60), world.project.id()));
    List<Item> items = JobWorld.items("r", 40, 40);
    Map<String, ItemResult> got = new ConcurrentHashMap<>();
    var upload = world.node.jobs().streams().run(admitted.jobId(), Source.from(items))
        .runWith(Sink.foreach(r -> got.put(r.customId(), r)), world.node.system()).toCompletableFuture();
    while (got.size() < 10) Thread.sleep(20);
    world.await(admitted.jobId(), v -> v.progress().itemsAnswered() >= 5, Duration.ofSeconds(10));

    world.crash();
    try {
      upload.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException | CompletionException expected) {
      // the upload died with the node
    }
    world.start();
    JobView recovered = world.view(admitted.jobId());
    assertEquals("running", recovered.state());

    // The client resumes with what it has no result for.
    List<Item> rest = items.stream().filter(i -> !got.containsKey(i.customId())).toList();
    Map<String, ItemResult> resumed = world.run(admitted.jobId(), rest);
    assertEquals(rest.size(), resumed.size());
    got.putAll(resumed);
    assertEquals(40, got.size(), "every item has its result");

    world.assertCompletedAndBalanced(admitted.jobId());
  }

  @Test
  void theSameIdempotencyKeyReturnsTheSameJobAndAnotherBodyIsRefused() throws Exception {
    world.fleet("prv_cheap", "m-small", FleetSettings.healthy(8, 400, 5));
    world.ask("ask_cheap", "prv_cheap", "m-small", "summarize", CHEAP, 3_200);
    JobRequest request = request("summarize", 1_000, Duration.ofSeconds(30), world.project.id());
    DeadlineJob.SubmitReply first = world.submit(request, "nightly-2026-11-21");
    DeadlineJob.SubmitReply again = world.submit(request, "nightly-2026-11-21");
    String id = ((DeadlineJob.Accepted) first).view().jobId();
    assertEquals(id, ((DeadlineJob.Accepted) again).view().jobId());
    assertTrue(((DeadlineJob.Accepted) first).created());
    assertTrue(!((DeadlineJob.Accepted) again).created());
    DeadlineJob.SubmitReply other = world.submit(request("summarize", 2_000, Duration.ofSeconds(30), world.project.id()), "nightly-2026-11-21");
    assertEquals(new DeadlineJob.KeyConflict(id), other);
    assertEquals(1, world.events(id, "Reserved"), "one reservation for all three submissions");
    world.node.jobs().jobs().cancel(id, "test over").toCompletableFuture().get(10, TimeUnit.SECONDS);
    JobView cancelled = world.awaitSettled(id, Duration.ofSeconds(10));
    assertEquals("cancelled", cancelled.state());
    assertEquals(0, world.scope(world.project.id()).reservedMicroUsd(), "the reservation is released");
  }

  @Test
  void aHardCapRefusesTheReservationAndTheJobEndsRefused() throws Exception {
    world.node.governance().budgets().setBudget(world.team.id(), world.project.id(), ScopeKind.PROJECT,
        new BudgetSpec(BudgetPeriod.MONTH, 1_000L, null, null)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    DeadlineJob.SubmitReply reply = world.submit(request("summarize", 1_000_000, Duration.ofSeconds(30), world.project.id()), null);
    DeadlineJob.Refused refused = assertInstanceOf(DeadlineJob.Refused.class, reply);
    assertEquals(world.project.id(), refused.refusal().scopeId());
    assertEquals("failed", refused.view().state());
    assertEquals("budget_refused", refused.view().reason());
  }

  @Test
  void badRequestsAreRefusedNamingTheField() {
    Map<String, JobRequest> bad = Map.of(
        "use_case", request("poetry", 1_000, Duration.ofSeconds(30), world.project.id()),
        "deadline", request("summarize", 1_000, Duration.ofSeconds(-5), world.project.id()),
        "estimated_tokens", request("summarize", 0, Duration.ofSeconds(30), world.project.id()),
        "ceiling_usd_per_mtok", JobRequest.of("summarize", 0, 1_000, Instant.now().plusSeconds(30), world.project.id()));
    bad.forEach((field, request) -> {
      CompletionException e = Assertions.assertThrows(CompletionException.class,
          () -> world.node.jobs().jobs().submit(world.principal, request, null, null).toCompletableFuture().join());
      ProblemException p = assertInstanceOf(ProblemException.class, e.getCause());
      assertEquals(422, p.problem().status(), field);
      assertTrue(p.problem().toString().contains(field), field + ": " + p.problem());
    });
  }
}
