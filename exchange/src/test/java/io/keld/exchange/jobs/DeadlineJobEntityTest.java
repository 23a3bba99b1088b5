package io.keld.exchange.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.keld.atlas.budget.Refusal;
import io.keld.atlas.budget.ScopeKind;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.OrderBook;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The {@link DeadlineJob} entity against a fake book, budget and ledger: each transition's events
 * and replies, a restart in every phase, and the three holes of its review (a stale step answer
 * after a restart, completion with uploads on several nodes, a move's fill left on the book by a crash).
 */
class DeadlineJobEntityTest {

  static final ActorTestKit kit = ActorTestKit.create(EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.load()));
  static final JobSettings SETTINGS = JobSettings.fromConfig(ConfigFactory.load().getConfig("keld.jobs"));
  static final AtomicInteger ids = new AtomicInteger();
  static final Clock clock = Clock.systemUTC();

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  final JobFakes.Books books = new JobFakes.Books();
  final JobFakes.Budgets budgets = new JobFakes.Budgets();
  final JobFakes.Observer observer = new JobFakes.Observer();
  /** Data planes whose node is gone. */
  final Set<String> gonePlanes = ConcurrentHashMap.newKeySet();
  final JobPorts.Planes planes = reporter -> !gonePlanes.contains(reporter);
  final TestProbe<ClusterSharding.ShardCommand> shard = kit.createTestProbe();
  final String jobId = "job_" + String.format("%016d", ids.incrementAndGet() + ProcessHandle.current().pid() * 1000);
  final EventSourcedBehaviorTestKit<DeadlineJob.Command, JobEvent, JobState> job = EventSourcedBehaviorTestKit.create(kit.system(),
      DeadlineJob.create(jobId, shard.ref(), new DeadlineJob.Deps(clock, SETTINGS, books, budgets, planes,
          new JobMetrics(new SimpleMeterRegistry()), observer, "")));

  JobSpec spec(String hash) {
    long now = clock.millis();
    return new JobSpec(jobId, "org_a", "team_a", "prj_a", "key_a", "summarize", Set.of(), 0, 2_000_000, 10_000, now, now + 120_000, Set.of(),
        Set.of(), Set.of(), Set.of(), "batch", "opex", Map.of(), null, hash);
  }

  static final Backup BACKUP = new Backup("prv_backup", "m-backup", 3_000_000, 1_000, "operator");

  DeadlineJob.SubmitReply submit(Backup backup) {
    return job.<DeadlineJob.SubmitReply>runCommand(r -> new DeadlineJob.Submit(spec("h"), backup, clock.millis() + 60_000, r)).reply();
  }

  List<String> events() {
    return job.persistenceTestKit().persistedInStorage("DeadlineJob|" + jobId).stream().map(e -> e.getClass().getSimpleName()).toList();
  }

  JobState state() {
    return job.getState();
  }

  static void eventually(String what, BooleanSupplier condition) {
    long until = System.currentTimeMillis() + 10_000;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > until) throw new AssertionError("not within 10 s: " + what);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  void eventuallyPhase(JobPhase phase) {
    eventually("phase " + phase, () -> state().phase() == phase);
  }

  /** Submitted, matched at once on a fill of its first bid, and started by a data plane. */
  Fill running() {
    Fill first = JobFakes.fill("fill_1", jobId + ".b1", "prv_a", 1_000_000, clock.millis());
    books.onPlace = p -> p.bid().bidId().equals(jobId + ".b1") ? books.fillWith(p, first) : books.hold(p);
    assertInstanceOf(DeadlineJob.Accepted.class, submit(BACKUP));
    DeadlineJob.RouteUpdate route = job.<DeadlineJob.RouteUpdate>runCommand(r -> new DeadlineJob.Attach("plane-1", r)).reply();
    assertEquals(JobPhase.RUNNING, route.phase());
    assertEquals("fill_1", route.leg().fillId());
    return first;
  }

  DeadlineJob.RouteUpdate report(String reporter, long seq, long answered, long failedAttempts, int open, boolean finished) {
    List<JobEvent.LegUsage> usageOf = answered + failedAttempts == 0 ? List.of()
        : List.of(new JobEvent.LegUsage(state().currentLeg().no(), answered, 0, answered * 100, answered * 50, failedAttempts));
    return job.<DeadlineJob.RouteUpdate>runCommand(r -> new DeadlineJob.Report(reporter, seq, usageOf, open, finished, r)).reply();
  }

  // -- each transition ---------------------------------------------------------------------------

  @Test
  void aJobThatRestsThenFillsRunsCompletesAndSettlesOnce() {
    DeadlineJob.SubmitReply reply = submit(null);
    DeadlineJob.Accepted accepted = assertInstanceOf(DeadlineJob.Accepted.class, reply);
    assertTrue(accepted.created());
    assertEquals("open", accepted.view().state());
    assertEquals(List.of("Admitted", "Reserved", "BidPlaced"), events());
    assertEquals(List.of("reserve 20000"), budgets.calls); // ceiling $2/Mtok × 10,000 tokens

    Fill fill = JobFakes.fill("fill_1", jobId + ".b1", "prv_a", 1_000_000, clock.millis());
    job.runCommand(new DeadlineJob.BookFilled("summarize", fill, 0));
    eventuallyPhase(JobPhase.MATCHED);

    DeadlineJob.RouteUpdate route = job.<DeadlineJob.RouteUpdate>runCommand(r -> new DeadlineJob.Attach("plane-1", r)).reply();
    assertEquals(JobPhase.RUNNING, route.phase());
    DeadlineJob.RouteUpdate acked = report("plane-1", 1, 2, 0, 2, false);
    assertEquals(1, acked.ackedSeq());
    report("plane-1", 2, 2, 0, 0, true);
    eventually("settled", () -> state().settled());
    assertEquals(List.of("Admitted", "Reserved", "BidPlaced", "Matched", "Started", "Progressed", "Progressed", "Completed", "Settled"),
        events());
    assertEquals(JobPhase.COMPLETED, state().phase());
    assertEquals(List.of("reserve 20000", "settle 600"), budgets.calls); // 600 tokens at $1/Mtok
    // Its usage record (one leg) is the job projection's, from the journal: nothing the entity writes.
    assertEquals(1, JobUsageStore.recordsOf(state()).size());
    assertEquals(List.of("fill_1"), books.released());
    shard.expectMessageClass(ClusterSharding.Passivate.class);

    // The same report again counts once; a resubmission answers with the job as it is.
    assertEquals(JobPhase.COMPLETED, report("plane-1", 2, 2, 0, 0, true).phase());
    DeadlineJob.Accepted again = assertInstanceOf(DeadlineJob.Accepted.class, submit(null));
    assertFalse(again.created());
    assertEquals(9, events().size());
  }

  @Test
  void aRefusedReservationEndsTheJobAndAnswersTheSubmitterWithTheScope() {
    budgets.reserveReply = new TeamBudgets.Refused(new Refusal("prj_a", ScopeKind.PROJECT, Refusal.Limit.COST, 1, 0, 0, 20_000, 0, 0));
    DeadlineJob.Refused refused = assertInstanceOf(DeadlineJob.Refused.class, submit(null));
    assertEquals("failed", refused.view().state());
    assertEquals(List.of("Admitted", "Refused"), events());
    assertTrue(books.ops.isEmpty());
  }

  @Test
  void aReusedKeyWithAnotherBodyIsAConflict() {
    submit(null);
    DeadlineJob.SubmitReply reply = job.<DeadlineJob.SubmitReply>runCommand(
        r -> new DeadlineJob.Submit(spec("another"), null, clock.millis() + 60_000, r)).reply();
    assertInstanceOf(DeadlineJob.KeyConflict.class, reply);
  }

  @Test
  void anUnknownJobAnswersEmptyAndPassivates() {
    assertNull(job.<DeadlineJob.GetReply>runCommand(DeadlineJob.Get::new).reply().view());
    DeadlineJob.CancelReply cancel = job.<DeadlineJob.CancelReply>runCommand(r -> new DeadlineJob.Cancel("x", r)).reply();
    assertFalse(cancel.cancelled());
    assertEquals(JobPhase.CANCELLED, job.<DeadlineJob.RouteUpdate>runCommand(r -> new DeadlineJob.Attach("p", r)).reply().phase());
    assertTrue(events().isEmpty());
    shard.expectMessageClass(ClusterSharding.Passivate.class);
  }

  @Test
  void cancellingAnOpenJobWithdrawsItsBidAndASecondCancelChangesNothing() {
    submit(null);
    DeadlineJob.CancelReply first = job.<DeadlineJob.CancelReply>runCommand(r -> new DeadlineJob.Cancel("client", r)).reply();
    assertTrue(first.cancelled());
    assertEquals("cancelled", first.view().state());
    eventually("settled", () -> state().settled());
    assertTrue(books.ops.stream().anyMatch(o -> o instanceof BookOp.CancelBid c && c.bidId().equals(jobId + ".b1")));
    assertEquals(1, budgets.count("settle 0"));
    DeadlineJob.CancelReply second = job.<DeadlineJob.CancelReply>runCommand(r -> new DeadlineJob.Cancel("client", r)).reply();
    assertFalse(second.cancelled());
    assertEquals(List.of("Admitted", "Reserved", "BidPlaced", "Cancelled", "Settled"), events());
  }

  @Test
  void anExpiredBidEscalatesToTheBackupAndWithoutOneTheJobFails() {
    submit(BACKUP);
    job.runCommand(new DeadlineJob.BookBidExpired(jobId + ".b1"));
    eventuallyPhase(JobPhase.ESCALATED);
    assertEquals(Leg.BACKUP, state().currentLeg().kind());
    assertEquals("no_feasible_ask", state().reason());
  }

  @Test
  void anExpiredBidWithoutBackupFailsTheJob() {
    submit(null);
    job.runCommand(new DeadlineJob.BookBidExpired(jobId + ".b1"));
    eventually("settled", () -> state().settled());
    assertEquals(JobPhase.FAILED, state().phase());
    assertEquals(List.of("Admitted", "Reserved", "BidPlaced", "Failed", "Settled"), events());
  }

  @Test
  void aFillTheJobNoLongerWantsIsGivenBack() {
    submit(BACKUP);
    job.runCommand(new DeadlineJob.BookBidExpired(jobId + ".b1"));
    eventuallyPhase(JobPhase.ESCALATED);
    job.runCommand(new DeadlineJob.BookFilled("summarize", JobFakes.fill("fill_late", jobId + ".b1", "prv_a", 1_000_000, clock.millis()), 0));
    eventually("released", () -> books.released().contains("fill_late"));
    assertEquals(JobPhase.ESCALATED, state().phase());
  }

  @Test
  void failingProviderMovesTheWorkToAnotherAskAndGivesBackTheOldFill() {
    running();
    Fill second = JobFakes.fill("fill_2", "?", "prv_b", 1_200_000, clock.millis());
    books.onPlace = p -> books.fillWith(p, new Fill("fill_2", p.bid().bidId(), second.askId(), "prv_b", "m", 1_200_000, 10_000, 0, 0, 0, 0,
        null, 1, "1"));
    report("plane-1", 1, 0, SETTINGS.failuresToReroute(), 2, false);
    eventually("rerouted", () -> state().legs().size() == 2);
    assertEquals("prv_b", state().currentLeg().providerId());
    assertTrue(events().containsAll(List.of("MoveRequested", "Rerouted")));
    eventually("old fill released", () -> books.released().contains("fill_1"));
  }

  // -- a restart in every phase ----------------------------------------------------------------

  @Test
  void aRestartInEveryPhaseResumesWhereTheJobWas() {
    // ADMITTED, the reservation unanswered: it is asked again.
    CompletableFuture<TeamBudgets.Reply> neverAnswered = new CompletableFuture<>();
    budgets.nextReserve = neverAnswered;
    TestProbe<DeadlineJob.SubmitReply> submitter = kit.createTestProbe();
    job.runCommand(new DeadlineJob.Submit(spec("h"), BACKUP, clock.millis() + 60_000, submitter.ref()));
    // The question asked again after the restart waits too: answered at once, it could move the job on
    // before the restart's state is read (seen once in CI: OPEN).
    eventually("the reservation asked", () -> budgets.count("reserve") >= 1);
    CompletableFuture<TeamBudgets.Reply> askedAgain = new CompletableFuture<>();
    budgets.nextReserve = askedAgain;
    assertEquals(JobPhase.ADMITTED, job.restart().state().phase());
    eventually("the reservation asked again", () -> budgets.count("reserve") >= 2);
    askedAgain.complete(JobFakes.Budgets.ok());
    eventuallyPhase(JobPhase.OPEN);
    // The phase can read OPEN a moment before the journal's copy of the events shows BidPlaced (seen once in CI).
    eventually("bid placed", () -> events().size() >= 3);
    assertEquals(List.of("Admitted", "Reserved", "BidPlaced"), events());

    // OPEN: the book is asked where the bid stands (it rests), nothing is recorded.
    int before = events().size();
    books.ops.clear();
    assertEquals(JobPhase.OPEN, job.restart().state().phase());
    eventually("bid checked", () -> books.ops.isEmpty() && state().phase() == JobPhase.OPEN);
    assertEquals(before, events().size());

    // MATCHED, then RUNNING: the leg and counts survive.
    job.runCommand(new DeadlineJob.BookFilled("summarize", JobFakes.fill("fill_1", jobId + ".b1", "prv_a", 1_000_000, clock.millis()), 0));
    eventuallyPhase(JobPhase.MATCHED);
    assertEquals("fill_1", job.restart().state().currentLeg().fillId());
    job.<DeadlineJob.RouteUpdate>runCommand(r -> new DeadlineJob.Attach("plane-1", r)).reply();
    report("plane-1", 1, 3, 0, 5, false);
    JobState running = job.restart().state();
    assertEquals(JobPhase.RUNNING, running.phase());
    assertEquals(3, running.itemsAnswered());
    assertEquals(5, running.itemsOpen());

    // Ended but not settled (the settlement unanswered): it settles again, once.
    CompletableFuture<TeamBudgets.Reply> settleLost = new CompletableFuture<>();
    budgets.nextSettle = settleLost;
    report("plane-1", 2, 5, 0, 0, true);
    eventually("settling", () -> budgets.count("settle") == 1);
    CompletableFuture<TeamBudgets.Reply> settleAgain = new CompletableFuture<>();
    budgets.nextSettle = settleAgain;
    JobState ended = job.restart().state();
    assertEquals(JobPhase.COMPLETED, ended.phase());
    assertFalse(ended.settled());
    eventually("settling again", () -> budgets.count("settle") == 2);
    settleAgain.complete(JobFakes.Budgets.ok());
    eventually("settled", () -> state().settled());
    assertEquals(2, budgets.count("settle"));

    // Settled: nothing is done again.
    assertTrue(job.restart().state().settled());
    assertEquals(2, budgets.count("settle"));
    assertEquals(1, events().stream().filter("Settled"::equals).count());
  }

  @Test
  void aRestartWhileEscalatedKeepsTheBackupLeg() {
    submit(BACKUP);
    job.runCommand(new DeadlineJob.BookBidExpired(jobId + ".b1"));
    eventuallyPhase(JobPhase.ESCALATED);
    JobState after = job.restart().state();
    assertEquals(JobPhase.ESCALATED, after.phase());
    assertEquals("prv_backup", after.currentLeg().providerId());
  }

  // -- the three holes of the review -----------------------------------------------------------

  /** A step answer from before a restart must not end the new incarnation's step: two settlements would run at once. */
  @Test
  void aStaleStepAnswerAfterARestartIsIgnored() {
    CompletableFuture<TeamBudgets.Reply> staleReserve = new CompletableFuture<>();
    budgets.nextReserve = staleReserve;
    TestProbe<DeadlineJob.SubmitReply> submitter = kit.createTestProbe();
    job.runCommand(new DeadlineJob.Submit(spec("h"), null, clock.millis() + 60_000, submitter.ref()));
    eventually("reserving", () -> budgets.count("reserve") == 1);

    // The entity fails right after recording the cancel: the supervisor restarts it (same actor), and it settles.
    CompletableFuture<TeamBudgets.Reply> release = new CompletableFuture<>();
    budgets.nextRelease = release;
    observer.failNext = true;
    TestProbe<DeadlineJob.CancelReply> canceller = kit.createTestProbe();
    try {
      job.runCommand(new DeadlineJob.Cancel("client", canceller.ref()));
    } catch (AssertionError expected) {
      // The entity fails on this command, so the kit's read of its state right after gets no answer.
    }
    eventually("settling", () -> budgets.count("release") == 1);

    // The first incarnation's reservation answers now: it is not the step under way.
    staleReserve.complete(JobFakes.Budgets.ok());
    sleep(600);
    assertEquals(1, budgets.count("release"), "a stale answer started a second settlement");
    assertFalse(state().settled(), "a stale answer was taken for the settlement's");
    release.complete(JobFakes.Budgets.ok());
    eventually("settled", () -> state().settled());
    assertEquals(List.of("Admitted", "Cancelled", "Settled"), events());
  }

  /** Uploads on two nodes: one finishing must not complete the job while the other still has items open. */
  @Test
  void completionWaitsForEveryReportingNodesOpenItems() {
    running();
    report("node-a", 1, 0, 0, 3, false);
    report("node-b", 1, 2, 0, 0, true);
    assertEquals(JobPhase.RUNNING, state().phase(), "node-b's finished upload cut off node-a's open items");
    assertEquals(3, state().itemsOpen());
    report("node-a", 2, 3, 0, 0, false);
    eventuallyPhase(JobPhase.COMPLETED);
    assertEquals(5, state().itemsAnswered());
  }

  /** A node that died with items open: they can never be answered there, so they do not hold the job open. */
  @Test
  void itemsOpenOnAPlaneWhoseNodeIsGoneDoNotHoldTheJobOpen() {
    running();
    report("node-a", 1, 0, 0, 3, false);
    report("node-b", 1, 2, 0, 0, true);
    assertEquals(JobPhase.RUNNING, state().phase());
    gonePlanes.add("node-a");
    eventuallyPhase(JobPhase.COMPLETED);
  }

  /** The book filled a move bid and the job went down before hearing it: after recovery it finds the fill and gives it back. */
  @Test
  void aMoveFillLeftOnTheBookByACrashIsFoundAndReleasedAfterRecovery() {
    running();
    report("plane-1", 1, 0, SETTINGS.failuresToReroute(), 2, false);
    eventually("move bid sent", () -> !books.held.isEmpty());
    String moveBid = books.held.keySet().iterator().next();
    Fill orphan = new Fill("fill_orphan", moveBid, "ask_b", "prv_b", "m", 1_200_000, 10_000, 0, 0, 0, 0, null, 1, "1");
    books.status.put(moveBid, new OrderBook.BidStatus(moveBid, OrderBook.BidStatus.Status.FILLED, orphan));

    job.restart(); // the answer of the move is lost with the old incarnation
    eventually("orphan fill released", () -> books.released().contains("fill_orphan"));
    assertEquals(1, state().legs().size());
    assertEquals(JobPhase.RUNNING, state().phase());
    // The late answer of the lost move goes nowhere; the fill stays released once.
    books.held.get(moveBid).complete(new BookResult.Accepted(List.of(new BookEvent.Filled(orphan, null, 0))));
    sleep(300);
    assertEquals(1, books.released().stream().filter("fill_orphan"::equals).count());
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }
}
