package io.keld.atlas.budget;

import io.keld.ixp.CborSerializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The budgets of one team and its projects: plain Java, no actors, time passed in (the
 * {@code TeamBudgets} entity wraps it). One team is the consistency boundary: a project belongs to
 * exactly one team, so a reservation on a project and its team is one decision and one event,
 * atomic by construction, and concurrent reservations are decided one after another.
 *
 * <p>Decisions ({@link #reserve}, {@link #settle}, ...) only read the state and return events;
 * {@link #apply} is the only mutator. Rules:
 * <ul>
 *   <li>A reservation is refused when, on the project or on the team, spent + reserved + amount
 *       would exceed the hard cap, or tokens spent + reserved + tokens the token quota. The project
 *       is checked first; the refusal names the first scope that refuses.</li>
 *   <li>Settling charges the actual cost and tokens to the period in which it settles, and frees
 *       everything the reservation held (so a settlement below the reservation gives the
 *       difference back). A settlement above the reservation is charged in full.</li>
 *   <li>At a period boundary (UTC) spent and tokens spent reset; outstanding reservations stay
 *       held, because the work they stand for has not finished.</li>
 *   <li>A soft cap raises one {@link BudgetEvent.SoftCapCrossed} per scope per period when spent +
 *       reserved reaches it.</li>
 *   <li>Reserving is idempotent by reservation id: the same id with the same figures returns the
 *       same reservation; with other figures it is a conflict. Settling or releasing a reservation
 *       that was just closed the same way (a settlement: with the same figures) is acknowledged
 *       again without effect; closed another way, it is a conflict.</li>
 * </ul>
 */
public final class BudgetLedger {

  /** How many closed reservation ids are remembered, so retried settlements stay idempotent. */
  static final int CLOSED_MEMORY = 10_000;

  /** Largest amount one command may carry: $1 billion. Keeps every sum far from overflowing a long. */
  public static final long MAX_AMOUNT_MICRO_USD = 1_000_000_000_000_000L;
  /** Largest token count one command may carry. */
  public static final long MAX_TOKENS = 1_000_000_000_000L;

  private final String teamId;
  private final Map<String, Scope> scopes = new LinkedHashMap<>();
  private final Map<String, Reservation> reservations = new LinkedHashMap<>();
  private final LinkedHashMap<String, String> closed = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
      return size() > CLOSED_MEMORY;
    }
  };

  public BudgetLedger(String teamId) {
    this.teamId = teamId;
  }

  // -- decisions --------------------------------------------------------------------------------

  public Outcome setBudget(String scopeId, ScopeKind kind, BudgetSpec spec, long now) {
    if (kind == ScopeKind.TEAM && !scopeId.equals(teamId)) {
      return new Outcome.Rejected(Outcome.Reason.INVALID, "team scope " + scopeId + " is not team " + teamId);
    }
    return new Outcome.Done(List.of(new BudgetEvent.BudgetSet(scopeId, kind, spec, now)));
  }

  public Outcome removeBudget(String scopeId, long now) {
    Scope s = scopes.get(scopeId);
    if (s == null || !s.hasBudget) return new Outcome.Rejected(Outcome.Reason.NOT_FOUND, "no budget is set on " + scopeId);
    return new Outcome.Done(List.of(new BudgetEvent.BudgetRemoved(scopeId, now)));
  }

  public Outcome reserve(String reservationId, String projectId, long amountMicroUsd, long tokens, long now) {
    if (amountMicroUsd < 0 || tokens < 0 || amountMicroUsd > MAX_AMOUNT_MICRO_USD || tokens > MAX_TOKENS) {
      return new Outcome.Rejected(Outcome.Reason.INVALID,
          "amount must be 0 to " + MAX_AMOUNT_MICRO_USD + " micro-USD and tokens 0 to " + MAX_TOKENS);
    }
    Reservation existing = reservations.get(reservationId);
    if (existing != null) {
      if (existing.projectId.equals(projectId) && existing.amountMicroUsd == amountMicroUsd && existing.tokens == tokens) {
        return new Outcome.Done(List.of());
      }
      return new Outcome.Rejected(Outcome.Reason.CONFLICT,
          "reservation " + reservationId + " exists with other figures");
    }
    if (closed.containsKey(reservationId)) {
      return new Outcome.Rejected(Outcome.Reason.CONFLICT, "reservation " + reservationId + " was already " + closed.get(reservationId));
    }
    Scope project = scopeAt(projectId, ScopeKind.PROJECT, now);
    Scope team = scopeAt(teamId, ScopeKind.TEAM, now);
    for (Scope s : List.of(project, team)) {
      if (s.spec.hardCapMicroUsd() != null && sum(s.spent, s.reserved, amountMicroUsd) > s.spec.hardCapMicroUsd()) {
        return new Outcome.Refused(s.refusal(Refusal.Limit.COST, s.spec.hardCapMicroUsd(), s.spent, s.reserved, amountMicroUsd));
      }
      if (s.spec.tokenQuota() != null && sum(s.tokensSpent, s.tokensReserved, tokens) > s.spec.tokenQuota()) {
        return new Outcome.Refused(s.refusal(Refusal.Limit.TOKENS, s.spec.tokenQuota(), s.tokensSpent, s.tokensReserved, tokens));
      }
    }
    List<BudgetEvent> events = new ArrayList<>();
    events.add(new BudgetEvent.Reserved(reservationId, projectId, amountMicroUsd, tokens, now));
    softCapCrossings(List.of(project, team), amountMicroUsd, now, events);
    return new Outcome.Done(events);
  }

  public Outcome settle(String reservationId, long actualMicroUsd, long actualTokens, long now) {
    if (actualMicroUsd < 0 || actualTokens < 0 || actualMicroUsd > MAX_AMOUNT_MICRO_USD || actualTokens > MAX_TOKENS) {
      return new Outcome.Rejected(Outcome.Reason.INVALID,
          "actual cost must be 0 to " + MAX_AMOUNT_MICRO_USD + " micro-USD and tokens 0 to " + MAX_TOKENS);
    }
    Reservation r = reservations.get(reservationId);
    if (r == null) return closedOrMissing(reservationId, "settled at " + actualMicroUsd + " micro-USD, " + actualTokens + " tokens");
    Scope project = scopeAt(r.projectId, ScopeKind.PROJECT, now);
    Scope team = scopeAt(teamId, ScopeKind.TEAM, now);
    List<BudgetEvent> events = new ArrayList<>();
    events.add(new BudgetEvent.Settled(reservationId, actualMicroUsd, actualTokens, now));
    softCapCrossings(List.of(project, team), actualMicroUsd - r.amountMicroUsd, now, events);
    return new Outcome.Done(events);
  }

  public Outcome release(String reservationId, long now) {
    if (!reservations.containsKey(reservationId)) return closedOrMissing(reservationId, "released");
    return new Outcome.Done(List.of(new BudgetEvent.Released(reservationId, now)));
  }

  private Outcome closedOrMissing(String reservationId, String how) {
    String was = closed.get(reservationId);
    if (how.equals(was)) return new Outcome.Done(List.of());
    if (was != null) return new Outcome.Rejected(Outcome.Reason.CONFLICT, "reservation " + reservationId + " was already " + was);
    return new Outcome.Rejected(Outcome.Reason.NOT_FOUND, "reservation " + reservationId + " does not exist");
  }

  /** Saturating sum: a total past {@code Long.MAX_VALUE} stays above every cap instead of wrapping. */
  private static long sum(long a, long b, long c) {
    try {
      return Math.addExact(Math.addExact(a, b), c);
    } catch (ArithmeticException overflow) {
      return Long.MAX_VALUE;
    }
  }

  /**
   * The soft cap alerts when committed spend (spent + reserved) is at or above it after a change
   * and the scope has not alerted yet this period (a cap set below current spend alerts at the next
   * change).
   */
  private static void softCapCrossings(List<Scope> touched, long delta, long now, List<BudgetEvent> events) {
    for (Scope s : touched) {
      Long soft = s.spec.softCapMicroUsd();
      long after = s.spent + s.reserved + delta;
      if (soft != null && !s.softAlerted && after >= soft) {
        events.add(new BudgetEvent.SoftCapCrossed(s.scopeId, soft, after, s.periodStart, now));
      }
    }
  }

  // -- state ------------------------------------------------------------------------------------

  /** The only mutator: applies one persisted event. */
  public void apply(BudgetEvent event) {
    long at = event.at();
    if (event instanceof BudgetEvent.BudgetSet e) {
      Scope s = scopeAt(e.scopeId(), e.kind(), at);
      if (s.spec.period() != e.spec().period()) s.periodStart = e.spec().period().startOf(at);
      if (!Objects.equals(s.spec.softCapMicroUsd(), e.spec().softCapMicroUsd())) {
        s.softAlerted = false; // a new soft cap gets its own alert
        s.softAlertedAt = 0;
      }
      s.spec = e.spec();
      s.hasBudget = true;
    } else if (event instanceof BudgetEvent.BudgetRemoved e) {
      Scope s = scopeAt(e.scopeId(), ScopeKind.PROJECT, at);
      s.spec = BudgetSpec.UNLIMITED_MONTHLY;
      s.hasBudget = false;
      s.periodStart = s.spec.period().startOf(at);
    } else if (event instanceof BudgetEvent.Reserved e) {
      reservations.put(e.reservationId(), new Reservation(e.reservationId(), e.projectId(), e.amountMicroUsd(), e.tokens(), at));
      for (Scope s : scopesOf(e.projectId(), at)) {
        s.reserved += e.amountMicroUsd();
        s.tokensReserved += e.tokens();
      }
    } else if (event instanceof BudgetEvent.Settled e) {
      Reservation r = reservations.remove(e.reservationId());
      closed.put(e.reservationId(), "settled at " + e.actualMicroUsd() + " micro-USD, " + e.actualTokens() + " tokens");
      for (Scope s : scopesOf(r.projectId, at)) {
        s.reserved -= r.amountMicroUsd;
        s.tokensReserved -= r.tokens;
        s.spent += e.actualMicroUsd();
        s.tokensSpent += e.actualTokens();
      }
    } else if (event instanceof BudgetEvent.Released e) {
      Reservation r = reservations.remove(e.reservationId());
      closed.put(e.reservationId(), "released");
      for (Scope s : scopesOf(r.projectId, at)) {
        s.reserved -= r.amountMicroUsd;
        s.tokensReserved -= r.tokens;
      }
    } else if (event instanceof BudgetEvent.SoftCapCrossed e) {
      Scope s = scopes.get(e.scopeId());
      if (s != null && s.periodStart == e.periodStart()) {
        s.softAlerted = true;
        s.softAlertedAt = at;
      }
    }
  }

  private List<Scope> scopesOf(String projectId, long at) {
    return List.of(scopeAt(projectId, ScopeKind.PROJECT, at), scopeAt(teamId, ScopeKind.TEAM, at));
  }

  /**
   * The scope, created on first use, rolled forward to the period that contains {@code at}. Rolling
   * depends only on time, so doing it while deciding and again while applying gives one result.
   */
  private Scope scopeAt(String scopeId, ScopeKind kind, long at) {
    Scope s = scopes.computeIfAbsent(scopeId, id -> new Scope(id, id.equals(teamId) ? ScopeKind.TEAM : kind, at));
    s.rollTo(at);
    return s;
  }

  public ScopeView view(String scopeId, long now) {
    Scope s = scopes.get(scopeId);
    if (s == null) {
      return new Scope(scopeId, scopeId.equals(teamId) ? ScopeKind.TEAM : ScopeKind.PROJECT, now).view();
    }
    s.rollTo(now);
    return s.view();
  }

  public Reservation reservation(String reservationId) {
    return reservations.get(reservationId);
  }

  public int openReservations() {
    return reservations.size();
  }

  // -- snapshots --------------------------------------------------------------------------------

  public Snapshot snapshot() {
    List<ScopeState> s = new ArrayList<>();
    for (Scope x : scopes.values()) {
      s.add(new ScopeState(x.scopeId, x.kind, x.spec, x.hasBudget, x.periodStart, x.spent, x.reserved, x.tokensSpent,
          x.tokensReserved, x.softAlerted, x.softAlertedAt));
    }
    return new Snapshot(teamId, s, new ArrayList<>(reservations.values()), new ArrayList<>(closed.keySet()),
        new ArrayList<>(closed.values()));
  }

  public static BudgetLedger fromSnapshot(Snapshot snap) {
    BudgetLedger l = new BudgetLedger(snap.teamId());
    for (ScopeState st : snap.scopes()) {
      Scope x = new Scope(st.scopeId(), st.kind(), st.periodStart());
      x.spec = st.spec();
      x.hasBudget = st.hasBudget();
      x.periodStart = st.periodStart();
      x.spent = st.spent();
      x.reserved = st.reserved();
      x.tokensSpent = st.tokensSpent();
      x.tokensReserved = st.tokensReserved();
      x.softAlerted = st.softAlerted();
      x.softAlertedAt = st.softAlertedAt();
      l.scopes.put(x.scopeId, x);
    }
    for (Reservation r : snap.reservations()) l.reservations.put(r.reservationId(), r);
    for (int i = 0; i < snap.closedIds().size(); i++) l.closed.put(snap.closedIds().get(i), snap.closedHow().get(i));
    return l;
  }

  public record Snapshot(String teamId, List<ScopeState> scopes, List<Reservation> reservations, List<String> closedIds,
      List<String> closedHow) implements CborSerializable {}

  public record ScopeState(String scopeId, ScopeKind kind, BudgetSpec spec, boolean hasBudget, long periodStart, long spent,
      long reserved, long tokensSpent, long tokensReserved, boolean softAlerted, long softAlertedAt) implements CborSerializable {}

  /** An open reservation: what it holds on its project and the project's team. */
  public record Reservation(String reservationId, String projectId, long amountMicroUsd, long tokens, long reservedAt)
      implements CborSerializable {}

  /** Mutable usage of one scope in its current period. */
  private static final class Scope {
    final String scopeId;
    final ScopeKind kind;
    BudgetSpec spec = BudgetSpec.UNLIMITED_MONTHLY;
    boolean hasBudget;
    long periodStart;
    long spent;
    long reserved;
    long tokensSpent;
    long tokensReserved;
    boolean softAlerted;
    long softAlertedAt;

    Scope(String scopeId, ScopeKind kind, long now) {
      this.scopeId = scopeId;
      this.kind = kind;
      this.periodStart = spec.period().startOf(now);
    }

    void rollTo(long now) {
      if (now >= spec.period().endOf(periodStart)) {
        periodStart = spec.period().startOf(now);
        spent = 0;
        tokensSpent = 0;
        softAlerted = false;
        softAlertedAt = 0;
      }
    }

    Refusal refusal(Refusal.Limit limit, long cap, long spentNow, long reservedNow, long requested) {
      return new Refusal(scopeId, kind, limit, cap, spentNow, reservedNow, requested, periodStart, spec.period().endOf(periodStart));
    }

    ScopeView view() {
      return new ScopeView(scopeId, kind, hasBudget ? spec : null, spec.period(), periodStart, spec.period().endOf(periodStart),
          spent, reserved, tokensSpent, tokensReserved, softAlerted ? softAlertedAt : null);
    }
  }
}
