package io.keld.atlas.budget;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import java.time.Instant;

/**
 * Generated command sequences against the ledger: whatever the order of reservations,
 * settlements and releases, and however time moves, committed spend (spent + reserved) never
 * exceeds a hard cap because of a reservation, and replaying the events gives the same state.
 */
class BudgetLedgerPropertiesTest {

  static final String TEAM = "team_t";
  static final List<String> PROJECTS = List.of("prj_a", "prj_b", "prj_c");
  static final long START = Instant.parse("2026-01-30T20:00:00Z").toEpochMilli();

  record Op(int kind, int project, int reservation, long amount, long tokens, long advanceMillis) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Op> op = Combinators.combine(
        Arbitraries.integers().between(0, 9), Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 30),
        Arbitraries.longs().between(0, 400), Arbitraries.longs().between(0, 50),
        Arbitraries.longs().between(0, 6 * 3_600_000L)).as(Op::new);
    return op.list().ofMinSize(1).ofMaxSize(200);
  }

  @Property(tries = 300)
  void committedSpendNeverPassesAHardCapThroughAReservation(@ForAll("ops") List<Op> ops) {
    BudgetLedger l = new BudgetLedger(TEAM);
    List<BudgetEvent> journal = new ArrayList<>();
    long now = START;
    apply(l, journal, l.setBudget(TEAM, ScopeKind.TEAM, new BudgetSpec(BudgetPeriod.DAY, 1_000L, 700L, 200L), now));
    apply(l, journal, l.setBudget("prj_a", ScopeKind.PROJECT, new BudgetSpec(BudgetPeriod.MONTH, 600L, null, null), now));
    for (Op op : ops) {
      now += op.advanceMillis();
      String project = PROJECTS.get(op.project());
      String rid = "r" + op.reservation();
      Outcome o;
      if (op.kind() < 6) {
        ScopeView teamBefore = l.view(TEAM, now);
        ScopeView projectBefore = l.view(project, now);
        o = l.reserve(rid, project, op.amount(), op.tokens(), now);
        if (o instanceof Outcome.Done d && !d.events().isEmpty()) {
          assertTrue(teamBefore.spentMicroUsd() + teamBefore.reservedMicroUsd() + op.amount() <= 1_000, "team cap");
          assertTrue(teamBefore.tokensSpent() + teamBefore.tokensReserved() + op.tokens() <= 200, "team token quota");
          if (project.equals("prj_a")) {
            assertTrue(projectBefore.spentMicroUsd() + projectBefore.reservedMicroUsd() + op.amount() <= 600, "project cap");
          }
        }
        if (o instanceof Outcome.Refused r) {
          Refusal f = r.refusal();
          assertTrue(f.spent() + f.reserved() + f.requested() > f.cap(), "a refusal is only given when the cap would be passed: " + f);
        }
      } else if (op.kind() < 8) {
        BudgetLedger.Reservation held = l.reservation(rid);
        // Jobs settle at or under what they reserved (they pay the ask's price, at most the ceiling).
        o = l.settle(rid, held == null ? 0 : Math.min(op.amount(), held.amountMicroUsd()), held == null ? 0 : Math.min(op.tokens(), held.tokens()), now);
      } else {
        o = l.release(rid, now);
      }
      apply(l, journal, o);
      ScopeView team = l.view(TEAM, now);
      assertTrue(team.spentMicroUsd() + team.reservedMicroUsd() <= 1_000, "committed within the cap: " + team);
      assertTrue(team.reservedMicroUsd() >= 0 && team.tokensReserved() >= 0);
    }

    BudgetLedger replayed = new BudgetLedger(TEAM);
    journal.forEach(replayed::apply);
    for (String scope : List.of(TEAM, "prj_a", "prj_b", "prj_c")) {
      assertEquals(l.view(scope, now), replayed.view(scope, now), "replay of " + scope);
    }
    assertEquals(l.openReservations(), replayed.openReservations());
  }

  private static void apply(BudgetLedger l, List<BudgetEvent> journal, Outcome o) {
    if (o instanceof Outcome.Done d) {
      for (BudgetEvent e : d.events()) {
        l.apply(e);
        journal.add(e);
      }
    }
  }
}
