package io.keld.exchange.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.OrderBook;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The job's process without actors: which step comes next, and what answers, fills and timers record (time passed in). */
class JobStepsTest {

  static final long T0 = JobStateTest.T0;
  static final String JOB = "job_0000000000000001";

  JobSteps steps = new JobSteps(JOB, 7, JobStateTest.SETTINGS, JobPorts.Planes.ALL_ALIVE);

  static JobState admitted() {
    return new JobState().apply(new JobEvent.Admitted(JobStateTest.spec(10_000, T0 + 60_000), null, T0 + 50_000, T0));
  }

  static JobState apply(JobState s, JobSteps.Decision d) {
    d.events().forEach(s::apply);
    return s;
  }

  @Test
  void admissionReservesThenPlacesTheFirstBidOneStepAtATime() {
    JobState s = admitted();
    JobSteps.Started reserve = steps.next(s);
    assertInstanceOf(JobSteps.Reserve.class, reserve.step());
    assertEquals(20_000, ((JobSteps.Reserve) reserve.step()).amountMicroUsd());
    assertNull(steps.next(s), "a second step started while one runs");
    JobSteps.Decision d = steps.answered(s, new JobSteps.Answer(7, reserve.no(), JobFakes.Budgets.ok(), null), T0 + 1);
    assertEquals(List.of(new JobEvent.Reserved(20_000, T0 + 1)), d.events());
    apply(s, d);
    JobSteps.Started bid = steps.next(s);
    assertEquals(new JobSteps.PlaceFirstBid(JOB + ".b1"), bid.step());
    assertTrue(bid.no() > reserve.no());
  }

  @Test
  void anAnswerOfAnotherIncarnationOrAnEarlierStepIsIgnored() {
    JobState s = admitted();
    JobSteps.Started reserve = steps.next(s);
    assertEquals(JobSteps.Decision.NONE, steps.answered(s, new JobSteps.Answer(8, reserve.no(), JobFakes.Budgets.ok(), null), T0));
    assertEquals(JobSteps.Decision.NONE, steps.answered(s, new JobSteps.Answer(7, reserve.no() - 1, JobFakes.Budgets.ok(), null), T0));
    assertEquals(reserve, steps.running(), "the step under way was cleared by a stale answer");
    assertEquals(1, steps.answered(s, new JobSteps.Answer(7, reserve.no(), JobFakes.Budgets.ok(), null), T0).events().size());
  }

  @Test
  void aFailedStepIsRetriedAndTheSameStepComesNext() {
    JobState s = admitted();
    JobSteps.Started reserve = steps.next(s);
    JobSteps.Decision d = steps.answered(s, new JobSteps.Answer(7, reserve.no(), null, new RuntimeException("down")), T0);
    assertTrue(d.retry());
    assertInstanceOf(JobSteps.Reserve.class, steps.next(s).step());
  }

  @Test
  void aFirstBidFillDuringAStepIsHeldThenBecomesTheMatch() {
    JobState s = admitted().apply(new JobEvent.Reserved(20_000, T0));
    JobSteps.Started place = steps.next(s);
    Fill fill = JobFakes.fill("fill_1", JOB + ".b1", "prv_a", 1_000_000, T0);
    assertEquals(JobSteps.Decision.NONE, steps.bookFilled(s, fill, T0));
    assertNull(steps.takeHeldFill(), "handed over while the step runs");
    BookResult rested = new BookResult.Accepted(List.of());
    apply(s, steps.answered(s, new JobSteps.Answer(7, place.no(), rested, null), T0));
    assertEquals(JobPhase.OPEN, s.phase());
    assertEquals(fill, steps.takeHeldFill());
    JobSteps.Decision matched = steps.bookFilled(s, fill, T0 + 5);
    assertInstanceOf(JobEvent.Matched.class, matched.events().get(0));
  }

  @Test
  void aFillsPlaceInTheBooksLogIsRecordedOnceAndFirstEvenWhenTheFillIsHeld() {
    JobState s = admitted().apply(new JobEvent.Reserved(20_000, T0));
    steps.next(s); // the first bid is being placed
    Fill fill = JobFakes.fill("fill_1", JOB + ".b1", "prv_a", 1_000_000, T0);
    JobSteps.Decision held = steps.bookFilled(s, "summarize", fill, 42, T0);
    assertEquals(List.of(new JobEvent.FillLogged("fill_1", "summarize", 42, T0)), held.events(), "recorded though the fill waits for the step");
    apply(s, held);
    assertEquals(42, s.fillLogSeq("fill_1"));
    assertTrue(steps.bookFilled(s, "summarize", fill, 42, T0 + 1).events().stream().noneMatch(e -> e instanceof JobEvent.FillLogged),
        "told again (the held fill, or a duplicate delivery), it is not recorded twice");
  }

  @Test
  void aDuplicateFirstBidIsLookedUpAndAnExpiredOneEscalates() {
    JobState s = admitted().apply(new JobEvent.Reserved(20_000, T0));
    JobSteps.Started place = steps.next(s);
    steps.answered(s, new JobSteps.Answer(7, place.no(), new BookResult.Rejected(BookResult.Reason.DUPLICATE_ID, "dup"), null), T0);
    JobSteps.Started check = steps.next(s);
    assertEquals(new JobSteps.CheckBid(JOB + ".b1"), check.step());
    OrderBook.BidStatus gone = new OrderBook.BidStatus(JOB + ".b1", OrderBook.BidStatus.Status.NOT_ON_BOOK, null);
    JobSteps.Decision d = steps.answered(s, new JobSteps.Answer(7, check.no(), gone, null), T0 + 1);
    // No backup: placed, then failed.
    assertEquals(List.of("BidPlaced", "Failed"), d.events().stream().map(e -> e.getClass().getSimpleName()).toList());
  }

  @Test
  void theEscalationPointWithdrawsARestingBidThenEscalates() {
    JobState s = admitted().apply(new JobEvent.Reserved(20_000, T0)).apply(new JobEvent.BidPlaced(JOB + ".b1", T0));
    assertNull(steps.next(s));
    steps.escalationDue(s, T0 + 50_000);
    JobSteps.Started withdraw = steps.next(s);
    assertEquals(new JobSteps.WithdrawBid(JOB + ".b1"), withdraw.step());
    BookResult cancelled = new BookResult.Accepted(List.of(new BookEvent.BidCancelled(JOB + ".b1", T0)));
    JobSteps.Decision d = steps.answered(s, new JobSteps.Answer(7, withdraw.no(), cancelled, null), T0 + 50_001);
    assertInstanceOf(JobEvent.Failed.class, d.events().get(0)); // no backup
  }

  @Test
  void aMoveIsRecordedBeforeItIsSentAndAfterARestartItsBidIsLookedUp() {
    JobState s = new JobStateTest().running(10_000, T0 + 60_000);
    s.apply(JobStateTest.progress("r1", 1, 1, 0, 0, 0, JobStateTest.SETTINGS.failuresToReroute(), 2, false, T0 + 10));
    JobSteps.Decision d = steps.tick(s, T0 + 20);
    JobEvent.MoveRequested move = assertInstanceOf(JobEvent.MoveRequested.class, d.events().get(0));
    assertEquals("provider_errors", move.reason());
    apply(s, d);
    assertEquals(new JobSteps.Move(move.bidId(), "provider_errors", move.tokens()), steps.next(s).step());

    // A new incarnation (the answer of that move lost): it looks the bid up, and gives an unused fill back.
    JobSteps restarted = new JobSteps(JOB, 9, JobStateTest.SETTINGS, JobPorts.Planes.ALL_ALIVE);
    restarted.recovered(s, T0 + 100);
    JobSteps.Started check = restarted.next(s);
    assertEquals(new JobSteps.CheckMoveBid(move.bidId()), check.step());
    Fill orphan = JobFakes.fill("fill_orphan", move.bidId(), "prv_b", 1_200_000, T0);
    OrderBook.BidStatus filled = new OrderBook.BidStatus(move.bidId(), OrderBook.BidStatus.Status.FILLED, orphan);
    JobSteps.Decision released = restarted.answered(s, new JobSteps.Answer(9, check.no(), filled, null), T0 + 101);
    assertEquals(List.of(orphan), released.releases());
    assertTrue(released.events().isEmpty());
  }
}
