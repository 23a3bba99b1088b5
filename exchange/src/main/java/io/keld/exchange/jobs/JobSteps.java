package io.keld.exchange.jobs;

import io.keld.atlas.budget.TeamBudgets;
import io.keld.ixp.Money;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.OrderBook;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job's process, in plain Java beside {@link JobState}: which asynchronous step runs next (reserve
 * budget, place the bid, look it up, withdraw it, move the work, settle), and what each answer, book
 * message and timer records. Time and answers are passed in; the {@link DeadlineJob} entity persists
 * the events, gives back the fills and runs the steps' I/O.
 *
 * <p>One step runs at a time. Each carries the incarnation of the entity that started it and its
 * number: an answer to an earlier incarnation's step (the entity restarted while it was in flight)
 * or to an earlier step is ignored, and the step is simply done again, since every step is safe to
 * repeat. What this holds lives in memory only, for one incarnation.
 */
final class JobSteps {

  private static final Logger log = LoggerFactory.getLogger(DeadlineJob.class);

  sealed interface Step {}

  record Reserve(long amountMicroUsd) implements Step {}

  record PlaceFirstBid(String bidId) implements Step {}

  /** Asks the book where the first bid stands (after a restart, a duplicate, or a missed expiry). */
  record CheckBid(String bidId) implements Step {}

  /** The escalation point came with the bid still resting: withdraw it, then escalate. */
  record WithdrawBid(String bidId) implements Step {}

  record Move(String bidId, String reason, long tokens) implements Step {}

  /** After a restart or a failed move: a move bid nobody heard the answer of may hold a fill to give back. */
  record CheckMoveBid(String bidId) implements Step {}

  record Settle(Settlement.Charge charge) implements Step {}

  /** A step under way, and what its answer must carry to count. */
  record Started(long incarnation, int no, Step step) {}

  /** A step's answer: the book's, the budget's or the settlement's result, or why it failed. */
  record Answer(long incarnation, int no, Object result, Throwable failure) {}

  /**
   * What to do after a message: persist {@code events}, give back {@code releases} (fills nothing
   * runs on), give back the leg the work moved off once the events are written, or run the state's
   * step again after the retry delay.
   */
  record Decision(List<JobEvent> events, List<Fill> releases, Leg releaseLegAfter, boolean retry) {
    static final Decision NONE = new Decision(List.of(), List.of(), null, false);
    static final Decision RETRY = new Decision(List.of(), List.of(), null, true);

    static Decision record(List<JobEvent> events) {
      return new Decision(events, List.of(), null, false);
    }

    static Decision record(JobEvent event) {
      return record(List.of(event));
    }

    static Decision release(Fill fill) {
      return new Decision(List.of(), List.of(fill), null, false);
    }
  }

  private final String jobId;
  private final long incarnation;
  private final JobSettings settings;
  private Started running;
  private int stepsStarted;
  private boolean needsBidCheck;
  private boolean needsMoveCheck;
  private boolean escalationDue;
  private Fill heldFill;
  private long moveCooldownUntil;
  /** A move recorded by this incarnation and not sent yet: sent once {@code MoveRequested} is written. */
  private String moveToSend;

  private final JobPorts.Planes planes;

  JobSteps(String jobId, long incarnation, JobSettings settings, JobPorts.Planes planes) {
    this.jobId = jobId;
    this.planes = planes;
    this.incarnation = incarnation;
    this.settings = settings;
  }

  String firstBidId() {
    return jobId + ".b1";
  }

  long incarnation() {
    return incarnation;
  }

  /** The step under way, or null. */
  Started running() {
    return running;
  }

  /** The entity came back: look up what it may have missed while it was down. */
  void recovered(JobState s, long now) {
    s.awake(now);
    if (s.phase() == JobPhase.OPEN) needsBidCheck = true;
    if (!s.phase().terminal() && s.unresolvedMove() != null) needsMoveCheck = true;
  }

  /** The step the state calls for now, started (the entity runs it), or null if one runs or none is due. */
  Started next(JobState s) {
    if (s.isEmpty() || running != null || heldFill != null) return null;
    Step step = switch (s.phase()) {
      case ADMITTED -> !s.reserved() ? new Reserve(Money.costMicroUsd(s.spec().estimatedTokens(), s.spec().ceilingPerMtok()))
          : needsBidCheck ? new CheckBid(firstBidId()) : new PlaceFirstBid(firstBidId());
      case OPEN -> needsBidCheck ? new CheckBid(firstBidId()) : escalationDue ? new WithdrawBid(firstBidId()) : null;
      case MATCHED, RUNNING, ESCALATED -> {
        JobEvent.MoveRequested move = s.unresolvedMove();
        if (move == null) yield null;
        if (needsMoveCheck) yield new CheckMoveBid(move.bidId());
        yield move.bidId().equals(moveToSend) ? new Move(move.bidId(), move.reason(), move.tokens()) : null;
      }
      default -> s.settled() ? null : new Settle(Settlement.Charge.of(s));
    };
    if (step == null) return null;
    if (step instanceof CheckBid) needsBidCheck = false;
    if (step instanceof WithdrawBid) escalationDue = false;
    if (step instanceof CheckMoveBid) needsMoveCheck = false;
    if (step instanceof Move) moveToSend = null;
    running = new Started(incarnation, ++stepsStarted, step);
    return running;
  }

  /** A fill of the first bid that came while a step ran: the entity tells it to itself again once none runs. */
  Fill takeHeldFill() {
    if (running != null) return null;
    Fill held = heldFill;
    heldFill = null;
    return held;
  }

  // -- messages from the books and the timers --------------------------------------------------

  /**
   * A fill of one of the job's bids, with {@code seq}, its place in the book's public log (0 when not
   * known). The place is recorded first, whatever becomes of the fill: the job's view links each
   * leg's signed receipt by it, and the fill may reach the job first through its own bid's answer.
   */
  Decision bookFilled(JobState s, String book, Fill fill, long seq, long now) {
    Decision d = bookFilled(s, fill, now);
    if (seq <= 0 || s.fillLogSeq(fill.fillId()) != 0) return d;
    List<JobEvent> events = new ArrayList<>();
    events.add(new JobEvent.FillLogged(fill.fillId(), book, seq, now));
    events.addAll(d.events());
    return new Decision(events, d.releases(), d.releaseLegAfter(), d.retry());
  }

  Decision bookFilled(JobState s, Fill fill, long now) {
    if (s.hasFill(fill.fillId())) return Decision.NONE;
    if (running != null && running.step() instanceof Move m && m.bidId().equals(fill.bidId())) return Decision.NONE; // its answer carries it
    boolean open = s.phase() == JobPhase.OPEN || s.phase() == JobPhase.ADMITTED;
    if (open && fill.bidId().equals(firstBidId())) {
      if (running == null) return Decision.record(new JobEvent.Matched(Leg.of(fill, 1, now, null), now));
      heldFill = fill; // taken up (or given back) when the step ends
      return Decision.NONE;
    }
    // A fill the job no longer wants (it escalated, ended, or a move was cut off): give the capacity back.
    return Decision.release(fill);
  }

  Decision bidExpired(JobState s, String bidId, long now) {
    if (s.phase() != JobPhase.OPEN || !bidId.equals(s.firstBidId())) return Decision.NONE;
    if (running != null) {
      needsBidCheck = true;
      return Decision.NONE;
    }
    return Decision.record(s.escalation("no_feasible_ask", now));
  }

  /** The escalation point came: an unplaced job escalates now; a resting bid is withdrawn first. */
  Decision escalationDue(JobState s, long now) {
    if (s.phase() == JobPhase.ADMITTED && s.reserved() && running == null) return Decision.record(s.escalation("no_feasible_ask", now));
    if (s.phase() == JobPhase.OPEN) escalationDue = true;
    return Decision.NONE;
  }

  /**
   * On a tick or a report: the job completes if the items still open are on data planes that are gone;
   * else the work moves if it would miss its deadline where it is (the bid is recorded before it is sent).
   */
  Decision tick(JobState s, long now) {
    if (s.phase() == JobPhase.RUNNING && s.itemsOpen() > 0 && s.workDone(planes)) return Decision.record(new JobEvent.Completed(now));
    if (s.phase() != JobPhase.RUNNING || running != null || now < moveCooldownUntil || now >= s.deadlineMillis()) return Decision.NONE;
    if (s.unresolvedMove() != null && needsMoveCheck) return Decision.NONE;
    String reason = s.moveReason(now, settings);
    if (reason == null) return Decision.NONE;
    long remaining = Math.max(1, s.spec().estimatedTokens() - s.tokens());
    String bidId = jobId + ".b" + (s.bidsPlaced() + 1) + "." + Long.toString(now, 36);
    log.info("Job {}: moving off {} ({}), {} tokens left", jobId, s.currentLeg().providerId(), reason, remaining);
    moveToSend = bidId;
    return Decision.record(new JobEvent.MoveRequested(bidId, reason, remaining, now));
  }

  // -- answers of the steps ---------------------------------------------------------------------

  /** What a step's answer records; an answer to a step that is not the one under way is ignored. */
  Decision answered(JobState s, Answer a, long now) {
    if (running == null || a.incarnation() != incarnation || a.no() != running.no()) {
      log.debug("Job {}: ignoring the answer of step {} of incarnation {}", jobId, a.no(), a.incarnation());
      return Decision.NONE;
    }
    Step step = running.step();
    running = null;
    Throwable failure = a.failure();
    if (step instanceof Reserve r) return reserved(s, r, (TeamBudgets.Reply) a.result(), failure, now);
    if (step instanceof PlaceFirstBid b) return firstBidPlaced(s, b, (BookResult) a.result(), failure, now);
    if (step instanceof CheckBid) return bidChecked(s, (OrderBook.BidStatus) a.result(), failure, now);
    if (step instanceof WithdrawBid) return withdrawn(s, (BookResult) a.result(), failure, now);
    if (step instanceof Move m) return moved(s, m, (BookResult) a.result(), failure, now);
    if (step instanceof CheckMoveBid) return moveBidChecked(s, (OrderBook.BidStatus) a.result(), failure);
    Settle x = (Settle) step;
    if (s.settled()) return Decision.NONE;
    if (failure != null) return failed(s, "settling", failure);
    return Decision.record(new JobEvent.Settled(x.charge().costMicroUsd(), x.charge().tokens(), now));
  }

  private Decision reserved(JobState s, Reserve r, TeamBudgets.Reply reply, Throwable failure, long now) {
    if (s.phase() != JobPhase.ADMITTED || s.reserved()) return Decision.NONE;
    if (failure != null) return failed(s, "reserving budget", failure);
    if (reply instanceof TeamBudgets.Ok) return Decision.record(new JobEvent.Reserved(r.amountMicroUsd(), now));
    if (reply instanceof TeamBudgets.Refused x) return Decision.record(new JobEvent.Refused(x.refusal(), now));
    TeamBudgets.Rejected x = (TeamBudgets.Rejected) reply;
    return Decision.record(new JobEvent.Failed("budget_rejected", x.detail(), now));
  }

  private Decision firstBidPlaced(JobState s, PlaceFirstBid b, BookResult result, Throwable failure, long now) {
    if (s.phase() != JobPhase.ADMITTED) return Decision.NONE;
    if (failure != null) return failed(s, "placing the bid", failure);
    if (result instanceof BookResult.Rejected r) {
      if (r.reason() != BookResult.Reason.DUPLICATE_ID) return Decision.record(new JobEvent.Failed("bid_rejected", r.detail(), now));
      needsBidCheck = true; // placed before a crash: ask the book where it stands
      return Decision.NONE;
    }
    return Decision.record(s.firstBidPlaced(b.bidId(), ((BookResult.Accepted) result).events(), now));
  }

  private Decision bidChecked(JobState s, OrderBook.BidStatus status, Throwable failure, long now) {
    if (s.phase() != JobPhase.ADMITTED && s.phase() != JobPhase.OPEN) {
      boolean unused = status != null && status.fill() != null && !s.hasFill(status.fill().fillId());
      return unused ? Decision.release(status.fill()) : Decision.NONE;
    }
    if (failure != null) {
      needsBidCheck = true;
      return failed(s, "reading the bid's state", failure);
    }
    return switch (status.status()) {
      case FILLED -> Decision.record(new JobEvent.Matched(Leg.of(status.fill(), 1, now, null), now));
      case RESTING -> s.phase() == JobPhase.ADMITTED ? Decision.record(new JobEvent.BidPlaced(firstBidId(), now)) : Decision.NONE;
      case NOT_ON_BOOK -> {
        // Expired (or withdrawn) while the job could not hear it.
        List<JobEvent> events = new ArrayList<>();
        if (s.phase() == JobPhase.ADMITTED) events.add(new JobEvent.BidPlaced(firstBidId(), now));
        events.addAll(s.escalation("no_feasible_ask", now));
        yield Decision.record(events);
      }
    };
  }

  private Decision withdrawn(JobState s, BookResult result, Throwable failure, long now) {
    if (s.phase() != JobPhase.OPEN) return Decision.NONE;
    if (failure != null) {
      escalationDue = true;
      return failed(s, "withdrawing the bid at its escalation point", failure);
    }
    if (result instanceof BookResult.Accepted) return Decision.record(s.escalation("no_feasible_ask", now));
    needsBidCheck = true; // not resting any more: it filled or expired just before; the book knows which
    return Decision.NONE;
  }

  private Decision moved(JobState s, Move m, BookResult result, Throwable failure, long now) {
    Fill filled = JobBookSteps.filled(result, m.bidId());
    if (s.phase() != JobPhase.RUNNING) return filled != null ? Decision.release(filled) : Decision.NONE;
    Leg from = s.currentLeg();
    if (filled != null) {
      Leg to = Leg.of(filled, s.legs().size() + 1, now, m.reason());
      return new Decision(List.of(new JobEvent.Rerouted(to, m.reason(), now)), List.of(), from, false);
    }
    if (JobBookSteps.expired(result, m.bidId())) {
      List<JobEvent> events = s.escalation(m.reason(), now);
      if (!events.isEmpty()) return new Decision(events, List.of(), from, false);
      log.warn("Job {}: {} on {}, and no other ask or backup can take the work; it stays", jobId, m.reason(), from.providerId());
    } else if (failure != null) {
      log.warn("Job {}: could not re-route ({}): {}", jobId, m.reason(), failure.toString());
      needsMoveCheck = true; // the book may have filled the bid all the same: look, and give that fill back
    }
    moveCooldownUntil = now + settings.stallAfter().toMillis();
    return Decision.NONE;
  }

  private Decision moveBidChecked(JobState s, OrderBook.BidStatus status, Throwable failure) {
    if (failure != null) {
      needsMoveCheck = true;
      return failed(s, "reading the move bid's state", failure);
    }
    // A move whose answer was lost: its fill (if any) is given back, and the next tick moves again if it must.
    boolean unused = status.fill() != null && !s.hasFill(status.fill().fillId());
    moveCooldownUntil = 0;
    return unused ? Decision.release(status.fill()) : Decision.NONE;
  }

  private Decision failed(JobState s, String what, Throwable failure) {
    log.warn("Job {}: {} failed, retrying in {}: {}", jobId, what, settings.retryDelay(), failure.toString());
    return Decision.RETRY;
  }
}
