package io.keld.exchange.jobs;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import io.keld.atlas.budget.Refusal;
import io.keld.ixp.CborSerializable;
import io.keld.ixp.Money;
import io.keld.marketplace.book.BookEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.HashSet;
import java.util.Set;

/**
 * A job's state machine, in plain Java: events are applied in order ({@link #apply}), and the
 * decisions that depend only on the state and the time ({@link #moveReason}) live here so they can
 * be tested without actors. The {@link DeadlineJob} entity persists events and does the I/O.
 *
 * <p>Mutable, touched only by the entity's event handler. Jackson reads and writes its fields for
 * snapshots.
 */
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class JobState implements CborSerializable {

  /** Counts of one leg. */
  @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
  public static final class LegCounts {
    long answered;
    long failed;
    long inputTokens;
    long outputTokens;
    long failedAttempts;
    /** Failed attempts since the leg last answered an item: a run of these is a failing provider. */
    long failuresInARow;
    long lastAnswerAtMillis;

    public long tokens() {
      return inputTokens + outputTokens;
    }

    public long answered() {
      return answered;
    }

    public long failed() {
      return failed;
    }

    public long inputTokens() {
      return inputTokens;
    }

    public long outputTokens() {
      return outputTokens;
    }

    public long failedAttempts() {
      return failedAttempts;
    }
  }

  /** One line of a job's timeline: a transition, what caused it, when. */
  public record TimelineEntry(long atMillis, String state, String event, String reason) implements CborSerializable {}

  JobSpec spec;
  Backup backup;
  /** fillId -> the seq of its Filled event in the book's log (its receipt). */
  Map<String, Long> fillLogSeqs = new HashMap<>();
  long escalateAtMillis;
  JobPhase phase;
  String reason;
  String detail;
  long reservedMicroUsd;
  boolean reserved;
  Refusal refusal;
  String firstBidId;
  int bidsPlaced;
  List<Leg> legs = new ArrayList<>();
  Map<Integer, LegCounts> counts = new HashMap<>();
  Map<String, Long> reporterSeqs = new HashMap<>();
  int itemsOpen;
  /** Items open per reporting data plane: the job's {@link #itemsOpen} is their sum, so each node's open items count. */
  Map<String, Integer> openByReporter = new HashMap<>();
  /** The last move bid sent (null if none): the job checks it after a restart if no leg took it up. */
  JobEvent.MoveRequested lastMove;
  long openSinceMillis;
  boolean uploadFinished;
  long startedAtMillis;
  long matchedAtMillis;
  long endedAtMillis;
  boolean settled;
  long settledCostMicroUsd;
  long settledTokens;
  List<TimelineEntry> timeline = new ArrayList<>();
  /** When this incarnation of the entity started (not persisted): nothing can have been waiting on it before. */
  @JsonIgnore
  transient long awakeSinceMillis;

  /**
   * The entity came back (a crash, a shard moving): the data plane it had is gone, so the stall and
   * rate windows start again from here instead of counting the time it was down.
   */
  public void awake(long atMillis) {
    awakeSinceMillis = atMillis;
  }

  /** True until the job's first event. */
  public boolean isEmpty() {
    return spec == null;
  }

  public JobState apply(JobEvent event) {
    if (event instanceof JobEvent.Admitted e) {
      spec = e.spec();
      backup = e.backup();
      escalateAtMillis = e.escalateAtMillis();
      phase = JobPhase.ADMITTED;
      mark(e.atMillis(), "admitted", null);
    } else if (event instanceof JobEvent.Reserved e) {
      reserved = true;
      reservedMicroUsd = e.amountMicroUsd();
      mark(e.atMillis(), "budget_reserved", null);
    } else if (event instanceof JobEvent.Refused e) {
      refusal = e.refusal();
      end(JobPhase.FAILED, "budget_refused", "the " + e.refusal().scopeKind().name().toLowerCase() + " budget " + e.refusal().scopeId()
          + " refused the reservation", e.atMillis());
      settled = true; // nothing was reserved, so nothing is left to settle
    } else if (event instanceof JobEvent.BidPlaced e) {
      firstBidId = e.bidId();
      bidsPlaced++;
      phase = JobPhase.OPEN;
      mark(e.atMillis(), "bid_placed", null);
    } else if (event instanceof JobEvent.FillLogged e) {
      fillLogSeqs.put(e.fillId(), e.seq());
    } else if (event instanceof JobEvent.Matched e) {
      addLeg(e.leg());
      if (firstBidId == null) {
        firstBidId = e.leg().bidId();
        bidsPlaced++;
      }
      matchedAtMillis = e.atMillis();
      phase = JobPhase.MATCHED;
      mark(e.atMillis(), "matched", null);
    } else if (event instanceof JobEvent.Started e) {
      startedAtMillis = e.atMillis();
      if (phase == JobPhase.MATCHED) phase = JobPhase.RUNNING;
      mark(e.atMillis(), "started", null);
    } else if (event instanceof JobEvent.MoveRequested e) {
      lastMove = e;
    } else if (event instanceof JobEvent.Rerouted e) {
      addLeg(e.leg());
      bidsPlaced++;
      mark(e.atMillis(), "rerouted", e.reason());
    } else if (event instanceof JobEvent.Escalated e) {
      addLeg(e.leg());
      phase = JobPhase.ESCALATED;
      reason = e.reason();
      mark(e.atMillis(), "escalated", e.reason());
    } else if (event instanceof JobEvent.Progressed e) {
      applyProgress(e);
    } else if (event instanceof JobEvent.Completed e) {
      end(JobPhase.COMPLETED, null, null, e.atMillis());
    } else if (event instanceof JobEvent.Cancelled e) {
      end(JobPhase.CANCELLED, e.reason(), null, e.atMillis());
    } else if (event instanceof JobEvent.Failed e) {
      end(JobPhase.FAILED, e.reason(), e.detail(), e.atMillis());
    } else if (event instanceof JobEvent.DeadlineMissed e) {
      end(JobPhase.DEADLINE_MISSED, "deadline_passed", null, e.atMillis());
    } else if (event instanceof JobEvent.Settled e) {
      settled = true;
      settledCostMicroUsd = e.costMicroUsd();
      settledTokens = e.tokens();
      timeline.add(new TimelineEntry(e.atMillis(), phase.wire(), "settled", null));
    }
    return this;
  }

  private void applyProgress(JobEvent.Progressed e) {
    reporterSeqs.put(e.reporter(), e.seq());
    for (JobEvent.LegUsage u : e.usage()) {
      LegCounts c = counts.computeIfAbsent(u.legNo(), n -> new LegCounts());
      c.answered += u.answered();
      c.failed += u.failed();
      c.inputTokens += u.inputTokens();
      c.outputTokens += u.outputTokens();
      c.failedAttempts += u.failedAttempts();
      if (u.answered() > 0) {
        c.failuresInARow = 0;
        c.lastAnswerAtMillis = e.atMillis();
      } else {
        c.failuresInARow += u.failedAttempts();
      }
    }
    int before = itemsOpen;
    if (e.itemsOpen() > 0) openByReporter.put(e.reporter(), e.itemsOpen());
    else openByReporter.remove(e.reporter());
    itemsOpen = openByReporter.values().stream().mapToInt(Integer::intValue).sum();
    if (before == 0 && itemsOpen > 0) openSinceMillis = e.atMillis();
    if (e.uploadFinished()) uploadFinished = true;
  }

  private void addLeg(Leg leg) {
    legs.add(leg);
    counts.putIfAbsent(leg.no(), new LegCounts());
  }

  private void end(JobPhase to, String why, String more, long at) {
    phase = to;
    reason = why;
    detail = more;
    endedAtMillis = at;
    itemsOpen = 0;
    openByReporter.clear();
    mark(at, to.wire(), why);
  }

  private void mark(long at, String event, String why) {
    timeline.add(new TimelineEntry(at, phase.wire(), event, why));
  }

  // -- queries ----------------------------------------------------------------------------------

  public JobSpec spec() {
    return spec;
  }

  public JobPhase phase() {
    return phase;
  }

  public Backup backup() {
    return backup;
  }

  public long escalateAtMillis() {
    return escalateAtMillis;
  }

  public long deadlineMillis() {
    return spec.deadlineMillis();
  }

  public boolean reserved() {
    return reserved;
  }

  public long reservedMicroUsdValue() {
    return reservedMicroUsd;
  }

  public boolean settled() {
    return settled;
  }

  public String reason() {
    return reason;
  }

  public String detail() {
    return detail;
  }

  public Refusal refusal() {
    return refusal;
  }

  public String firstBidId() {
    return firstBidId;
  }

  /** Bids the job has placed so far; the next one is numbered from this. */
  public int bidsPlaced() {
    return bidsPlaced;
  }

  public List<Leg> legs() {
    return List.copyOf(legs);
  }

  public Leg currentLeg() {
    return legs.isEmpty() ? null : legs.get(legs.size() - 1);
  }

  public LegCounts counts(int legNo) {
    return counts.getOrDefault(legNo, new LegCounts());
  }

  public List<TimelineEntry> timeline() {
    return List.copyOf(timeline);
  }

  public long matchedAtMillis() {
    return matchedAtMillis;
  }

  public boolean started() {
    return startedAtMillis > 0;
  }

  public int itemsOpen() {
    return itemsOpen;
  }

  /** Items this reporter would leave open, with every other reporter's open items: what a report of {@code open} makes the job's total. */
  public int itemsOpenIf(String reporter, int open) {
    return itemsOpen - openByReporter.getOrDefault(reporter, 0) + open;
  }

  /** Items open on data planes that still run, if {@code reporter} reported {@code open}: the ones that can still be answered. */
  public int itemsOpenOnLivePlanes(String reporter, int open, JobPorts.Planes planes) {
    int sum = open;
    for (Map.Entry<String, Integer> e : openByReporter.entrySet()) {
      if (!e.getKey().equals(reporter) && planes.alive(e.getKey())) sum += e.getValue();
    }
    return sum;
  }

  /**
   * The job is done when an upload ended with all its items answered and no data plane that still
   * runs has items open (a plane whose node is gone can never answer its items; the client resends them).
   */
  public boolean workDone(JobPorts.Planes planes) {
    return uploadFinished && itemsOpenOnLivePlanes("", 0, planes) == 0;
  }

  /** The move bid sent last, if no leg took it up: after a restart the job asks the book whether it filled. */
  public JobEvent.MoveRequested unresolvedMove() {
    if (lastMove == null) return null;
    for (Leg leg : legs) if (lastMove.bidId().equals(leg.bidId())) return null;
    return lastMove;
  }

  /** The seq of the fill's event in its book's log, or 0 when the job has not heard it. */
  public long fillLogSeq(String fillId) {
    Long seq = fillId == null ? null : fillLogSeqs.get(fillId);
    return seq == null ? 0 : seq;
  }

  /** Whether one of the job's legs runs on this fill of the book. */
  public boolean hasFill(String fillId) {
    return legs.stream().anyMatch(l -> fillId.equals(l.fillId()));
  }

  /** True when a report with this sequence number (or a later one) from this reporter was already applied. */
  public boolean alreadyApplied(String reporter, long seq) {
    Long last = reporterSeqs.get(reporter);
    return last != null && seq <= last;
  }

  public long itemsAnswered() {
    return counts.values().stream().mapToLong(c -> c.answered).sum();
  }

  public long itemsFailed() {
    return counts.values().stream().mapToLong(c -> c.failed).sum();
  }

  public long inputTokens() {
    return counts.values().stream().mapToLong(c -> c.inputTokens).sum();
  }

  public long outputTokens() {
    return counts.values().stream().mapToLong(c -> c.outputTokens).sum();
  }

  public long tokens() {
    return inputTokens() + outputTokens();
  }

  /** What one leg costs: its tokens at its price (the one rounding rule, {@link Money}). */
  public long legCostMicroUsd(Leg leg) {
    return Money.costMicroUsd(counts(leg.no()).tokens(), leg.pricePerMtok());
  }

  /** The cost so far: each leg's tokens at that leg's price. */
  public long costMicroUsd() {
    long cost = 0;
    for (Leg leg : legs) cost += legCostMicroUsd(leg);
    return cost;
  }

  /** Providers the job has already been routed to through the book (a re-route avoids them). */
  public Set<String> triedProviders() {
    Set<String> out = new HashSet<>();
    for (Leg leg : legs) out.add(leg.providerId());
    return out;
  }

  /** Escalations and re-routes, in order. */
  public List<TimelineEntry> moves() {
    return timeline.stream().filter(t -> t.event().equals("escalated") || t.event().equals("rerouted")).toList();
  }

  /** An upload has ended with all its items answered (the job completes once nothing else is open). */
  public boolean uploadFinished() {
    return uploadFinished;
  }

  /** The job is done when an upload ended with all its items answered and nothing else is open. */
  public boolean workDone() {
    return uploadFinished && itemsOpen == 0;
  }

  /** What a data plane's report records: it started the job, its progress, and the end when nothing is left open. */
  public List<JobEvent> progress(String reporter, long seq, List<JobEvent.LegUsage> usage, int open, boolean finished, long now) {
    return progress(reporter, seq, usage, open, finished, JobPorts.Planes.ALL_ALIVE, now);
  }

  public List<JobEvent> progress(String reporter, long seq, List<JobEvent.LegUsage> usage, int open, boolean finished, JobPorts.Planes planes,
      long now) {
    List<JobEvent> events = new ArrayList<>();
    if (phase == JobPhase.MATCHED && !started()) events.add(new JobEvent.Started(now));
    events.add(new JobEvent.Progressed(reporter, seq, usage, open, finished, now));
    // Complete only when no data plane has items open: another node's open items are not cut off.
    if ((finished || uploadFinished) && itemsOpenOnLivePlanes(reporter, open, planes) == 0) events.add(new JobEvent.Completed(now));
    return events;
  }

  /** What the book's answer to the first bid records: the match, or the bid resting (or expiring on arrival). */
  public List<JobEvent> firstBidPlaced(String bidId, List<BookEvent> events, long now) {
    for (BookEvent e : events) {
      if (e instanceof BookEvent.Filled f && f.fill().bidId().equals(bidId)) {
        return List.of(new JobEvent.Matched(Leg.of(f.fill(), 1, now, null), now));
      }
    }
    List<JobEvent> out = new ArrayList<>();
    out.add(new JobEvent.BidPlaced(bidId, now));
    for (BookEvent e : events) {
      // Placed past its escalation point and nothing could take it: it expired on arrival.
      if (e instanceof BookEvent.BidExpired x && x.bidId().equals(bidId)) out.addAll(escalation("no_feasible_ask", now));
    }
    return out;
  }

  /**
   * The events that move the work to the backup, or end the job when an unmatched job has none.
   * None when the job runs on a fill and has no backup: there is nothing better to go to.
   */
  public List<JobEvent> escalation(String why, long now) {
    if (backup == null) {
      if (currentLeg() != null) return List.of(); // running on a fill: nothing better to go to, keep going
      return List.of(new JobEvent.Failed(why, "no ask could finish the job before its deadline and it has no backup", now));
    }
    long remaining = Math.max(1, spec.estimatedTokens() - tokens());
    Leg leg = new Leg(legs.size() + 1, Leg.BACKUP, null, null, null, backup.providerId(), backup.model(), backup.pricePerMtok(),
        remaining, now, now + backup.leadMillis(remaining), why);
    return List.of(new JobEvent.Escalated(leg, why, now));
  }

  /**
   * Whether the running work should move off its current provider now, and why: {@code provider_errors}
   * (a run of failed requests), {@code stalled} (items waiting and no answer for a while), or
   * {@code projected_late} (at the observed rate the remaining tokens finish after the deadline less
   * the margin). Null when it should stay. Only a job on a book fill moves; the backup is the last resort.
   */
  public String moveReason(long now, JobSettings s) {
    if (phase != JobPhase.RUNNING) return null;
    Leg leg = currentLeg();
    if (leg == null || leg.backup()) return null;
    LegCounts c = counts(leg.no());
    if (c.failuresInARow >= s.failuresToReroute()) return "provider_errors";
    if (itemsOpen == 0) return null; // nothing is waiting on the provider: the client is not sending
    long waitingSince = Math.max(Math.max(leg.startedAtMillis(), awakeSinceMillis), Math.max(c.lastAnswerAtMillis, openSinceMillis));
    if (now - waitingSince >= s.stallAfter().toMillis()) return "stalled";
    long remaining = spec.estimatedTokens() - tokens();
    long activeSince = Math.max(Math.max(leg.startedAtMillis(), startedAtMillis), awakeSinceMillis);
    long elapsed = now - activeSince;
    if (remaining > 0 && elapsed >= s.projectionWarmup().toMillis() && c.tokens() > 0) {
      // Observed rate on this leg: c.tokens() over elapsed; the rest takes remaining / rate.
      double projectedFinish = now + (double) remaining * elapsed / c.tokens();
      if (projectedFinish > spec.deadlineMillis() - s.deadlineMargin().toMillis()) return "projected_late";
    }
    return null;
  }
}
