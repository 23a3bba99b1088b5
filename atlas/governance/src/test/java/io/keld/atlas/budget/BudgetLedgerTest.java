package io.keld.atlas.budget;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The budget rules, with time passed in: settlement, roll-over, soft caps, quotas, idempotency. */
class BudgetLedgerTest {

  static final String TEAM = "team_t";
  static final String P1 = "prj_1";
  static final String P2 = "prj_2";

  static long at(String iso) {
    return Instant.parse(iso).toEpochMilli();
  }

  /** Decides and applies, as the entity does; returns the outcome. */
  static Outcome run(BudgetLedger l, Outcome o) {
    if (o instanceof Outcome.Done d) d.events().forEach(l::apply);
    return o;
  }

  static BudgetLedger ledgerWithTeamCap(long cap, BudgetPeriod period, long now) {
    BudgetLedger l = new BudgetLedger(TEAM);
    run(l, l.setBudget(TEAM, ScopeKind.TEAM, new BudgetSpec(period, (Long) cap, null, null), now));
    return l;
  }

  @Test
  void settlementChargesTheActualCostAndReleasesTheDifference() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, now);
    assertInstanceOf(Outcome.Done.class, run(l, l.reserve("r1", P1, 600, 60, now)));
    assertEquals(600, l.view(TEAM, now).reservedMicroUsd());

    run(l, l.settle("r1", 250, 25, now + 1));
    ScopeView team = l.view(TEAM, now + 1);
    assertEquals(250, team.spentMicroUsd());
    assertEquals(0, team.reservedMicroUsd());
    assertEquals(25, team.tokensSpent());
    assertEquals(0, team.tokensReserved());
    assertEquals(250, l.view(P1, now + 1).spentMicroUsd(), "the project is charged with its team");

    // The 350 the settlement gave back can be reserved again: 250 spent + 750 = the cap exactly.
    assertInstanceOf(Outcome.Done.class, run(l, l.reserve("r2", P1, 750, 0, now + 2)));
    assertInstanceOf(Outcome.Refused.class, l.reserve("r3", P1, 1, 0, now + 3));
  }

  @Test
  void releaseFreesTheWholeReservationWithoutSpend() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, now);
    run(l, l.reserve("r1", P1, 1_000, 0, now));
    assertInstanceOf(Outcome.Refused.class, l.reserve("r2", P1, 1, 0, now));
    run(l, l.release("r1", now));
    assertEquals(0, l.view(TEAM, now).spentMicroUsd());
    assertEquals(0, l.view(TEAM, now).reservedMicroUsd());
    assertInstanceOf(Outcome.Done.class, l.reserve("r2", P1, 1_000, 0, now));
  }

  @Test
  void aRefusalNamesTheScopeTheCapAndTheFigures() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(10_000, BudgetPeriod.MONTH, now);
    run(l, l.setBudget(P1, ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.MONTH, 3_000L, null, null), now));
    run(l, l.reserve("a", P1, 2_000, 0, now));
    run(l, l.settle("a", 1_500, 0, now));
    run(l, l.reserve("b", P1, 1_000, 0, now));

    Refusal project = ((Outcome.Refused) l.reserve("c", P1, 501, 0, now)).refusal();
    assertEquals(new Refusal(P1, ScopeKind.PROJECT, Refusal.Limit.COST, 3_000, 1_500, 1_000, 501,
        at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")), project);

    // Another project of the team has no cap of its own: the team's cap decides.
    run(l, l.reserve("d", P2, 7_500, 0, now));
    Refusal team = ((Outcome.Refused) l.reserve("e", P2, 1, 0, now)).refusal();
    assertEquals(TEAM, team.scopeId());
    assertEquals(ScopeKind.TEAM, team.scopeKind());
    assertEquals(10_000, team.cap());
    assertEquals(1_500, team.spent());
    assertEquals(8_500, team.reserved());
  }

  @Test
  void aTokenQuotaRefusesLikeACap() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = new BudgetLedger(TEAM);
    run(l, l.setBudget(P1, ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.DAY, null, null, 1_000L), now));
    run(l, l.reserve("a", P1, 5, 900, now));
    Refusal r = ((Outcome.Refused) l.reserve("b", P1, 5, 101, now)).refusal();
    assertEquals(Refusal.Limit.TOKENS, r.limit());
    assertEquals(1_000, r.cap());
    assertEquals(900, r.reserved());
    assertInstanceOf(Outcome.Done.class, l.reserve("b", P1, 5, 100, now));
  }

  @Test
  void aMonthlyBudgetResetsAtTheCalendarMonthBoundaryInUtc() {
    long nov = at("2026-11-30T23:59:59.999Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, at("2026-11-01T00:00:00Z"));
    run(l, l.reserve("a", P1, 1_000, 0, nov - 1000));
    run(l, l.settle("a", 1_000, 0, nov));
    assertInstanceOf(Outcome.Refused.class, l.reserve("b", P1, 1, 0, nov), "the last millisecond of November is still November");

    long dec = at("2026-12-01T00:00:00Z");
    ScopeView view = l.view(TEAM, dec);
    assertEquals(0, view.spentMicroUsd());
    assertEquals(dec, view.periodStart());
    assertEquals(at("2027-01-01T00:00:00Z"), view.periodEnd());
    assertInstanceOf(Outcome.Done.class, run(l, l.reserve("b", P1, 1_000, 0, dec)));
  }

  @Test
  void aDailyBudgetResetsAtMidnightUtcAndOpenReservationsStayHeld() {
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.DAY, at("2026-02-28T08:00:00Z"));
    run(l, l.reserve("spent", P1, 400, 0, at("2026-02-28T09:00:00Z")));
    run(l, l.settle("spent", 400, 0, at("2026-02-28T10:00:00Z")));
    run(l, l.reserve("open", P1, 500, 0, at("2026-02-28T23:00:00Z")));

    long next = at("2026-03-01T00:00:00Z"); // 2026 is not a leap year
    ScopeView view = l.view(TEAM, next);
    assertEquals(0, view.spentMicroUsd(), "spend resets");
    assertEquals(500, view.reservedMicroUsd(), "work still running keeps its hold");
    assertInstanceOf(Outcome.Refused.class, l.reserve("x", P1, 501, 0, next));
    assertInstanceOf(Outcome.Done.class, l.reserve("x", P1, 500, 0, next));

    // Settled after midnight: charged to the new day.
    run(l, l.settle("open", 300, 0, next + 1));
    assertEquals(300, l.view(TEAM, next + 2).spentMicroUsd());
  }

  @Test
  void theSoftCapAlertsOncePerPeriod() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = new BudgetLedger(TEAM);
    run(l, l.setBudget(TEAM, ScopeKind.TEAM, new BudgetSpec(BudgetPeriod.DAY, 1_000L, 500L, null), now));
    Outcome.Done below = (Outcome.Done) run(l, l.reserve("a", P1, 499, 0, now));
    assertEquals(1, below.events().size());
    Outcome.Done crossing = (Outcome.Done) run(l, l.reserve("b", P1, 1, 0, now));
    assertTrue(crossing.events().stream().anyMatch(e -> e instanceof BudgetEvent.SoftCapCrossed));
    Outcome.Done again = (Outcome.Done) run(l, l.reserve("c", P1, 100, 0, now));
    assertTrue(again.events().stream().noneMatch(e -> e instanceof BudgetEvent.SoftCapCrossed), "one alert per period");
    run(l, l.settle("a", 499, 0, now));
    run(l, l.settle("b", 1, 0, now));
    run(l, l.settle("c", 100, 0, now));

    long tomorrow = at("2026-11-11T00:00:01Z");
    assertNull(l.view(TEAM, tomorrow).softCapAlertedAt());
    Outcome.Done nextDay = (Outcome.Done) run(l, l.reserve("d", P1, 600, 0, tomorrow));
    assertTrue(nextDay.events().stream().anyMatch(e -> e instanceof BudgetEvent.SoftCapCrossed), "a new period alerts again");
  }

  @Test
  void reservationsAreIdempotentByIdAndClosedOnesAcknowledgeRetries() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, now);
    run(l, l.reserve("r", P1, 600, 0, now));
    assertEquals(new Outcome.Done(List.of()), l.reserve("r", P1, 600, 0, now), "a retried reservation holds nothing more");
    assertEquals(600, l.view(TEAM, now).reservedMicroUsd());
    assertEquals(Outcome.Reason.CONFLICT, ((Outcome.Rejected) l.reserve("r", P1, 700, 0, now)).reason());

    run(l, l.settle("r", 100, 0, now));
    assertEquals(new Outcome.Done(List.of()), l.settle("r", 100, 0, now), "a retried settlement changes nothing");
    assertEquals(Outcome.Reason.CONFLICT, ((Outcome.Rejected) l.settle("r", 90, 0, now)).reason(), "other figures conflict");
    assertEquals(100, l.view(TEAM, now).spentMicroUsd());
    assertEquals(Outcome.Reason.CONFLICT, ((Outcome.Rejected) l.release("r", now)).reason());
    assertEquals(Outcome.Reason.CONFLICT, ((Outcome.Rejected) l.reserve("r", P1, 600, 0, now)).reason(), "ids are not reused");
    assertEquals(Outcome.Reason.NOT_FOUND, ((Outcome.Rejected) l.settle("never", 1, 0, now)).reason());
  }

  @Test
  void aSnapshotRestoresTheSameLedger() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, now);
    run(l, l.setBudget(P1, ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.DAY, 500L, 100L, 50L), now));
    run(l, l.reserve("a", P1, 200, 10, now));
    run(l, l.reserve("b", P1, 100, 10, now));
    run(l, l.settle("a", 50, 5, now));
    BudgetLedger copy = BudgetLedger.fromSnapshot(l.snapshot());
    assertEquals(l.snapshot(), copy.snapshot());
    assertEquals(l.view(P1, now), copy.view(P1, now));
    assertEquals(l.reserve("c", P1, 400, 0, now), copy.reserve("c", P1, 400, 0, now));
  }

  @Test
  void hugeFiguresAreRejectedInsteadOfWrappingPastTheCap() {
    long now = at("2026-11-10T12:00:00Z");
    BudgetLedger l = ledgerWithTeamCap(1_000, BudgetPeriod.MONTH, now);
    run(l, l.reserve("a", P1, 500, 0, now));
    assertEquals(Outcome.Reason.INVALID, ((Outcome.Rejected) l.reserve("b", P1, Long.MAX_VALUE, 0, now)).reason());
    assertEquals(Outcome.Reason.INVALID, ((Outcome.Rejected) l.reserve("b", P1, 1, Long.MAX_VALUE, now)).reason());
    assertEquals(Outcome.Reason.INVALID, ((Outcome.Rejected) l.settle("a", Long.MAX_VALUE, 0, now)).reason());
    assertEquals(500, l.view(TEAM, now).reservedMicroUsd());
  }
}
