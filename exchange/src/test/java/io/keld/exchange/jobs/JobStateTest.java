package io.keld.exchange.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import io.keld.atlas.budget.Refusal;
import io.keld.atlas.budget.ScopeKind;

/** The job's state machine without actors: transitions, cost per leg, and when work moves (time passed in). */
class JobStateTest {

  static final long T0 = 1_000_000;
  /** The defaults of exchange's reference.conf: tick 500 ms, stall after 5 s, backup margin 5 s, no operator backup. */
  static final JobSettings SETTINGS = JobSettings.fromConfig(ConfigFactory.load().getConfig("keld.jobs"));

  static JobSpec spec(long tokens, long deadline) {
    return new JobSpec("job_0000000000000001", "org_a", "team_a", "prj_a", "key_a", "summarize", Set.of(), 0, 2_000_000, tokens, T0,
        deadline, Set.of(), Set.of(), Set.of(), Set.of(), "batch", "opex", Map.of("env", "test"), null, "h");
  }

  static Leg fill(int no, String provider, long price, long at) {
    return new Leg(no, Leg.FILL, "job_0000000000000001.b" + no, "fill_" + no, "ask_" + no, provider, "m", price, 10_000, at, at + 10_000, no == 1 ? null : "stalled");
  }

  static JobEvent.Progressed progress(String reporter, long seq, int leg, long answered, long in, long out, long failedAttempts, int open,
      boolean finished, long at) {
    return new JobEvent.Progressed(reporter, seq, List.of(new JobEvent.LegUsage(leg, answered, 0, in, out, failedAttempts)), open, finished, at);
  }

  JobState running(long tokens, long deadline) {
    return new JobState()
        .apply(new JobEvent.Admitted(spec(tokens, deadline), null, deadline - 10_000, T0))
        .apply(new JobEvent.Reserved(2_000_000L * tokens / 1_000_000, T0 + 1))
        .apply(new JobEvent.Matched(fill(1, "prv_a", 1_000_000, T0 + 2), T0 + 2))
        .apply(new JobEvent.Started(T0 + 3));
  }

  @Test
  void theHappyPathEndsCompletedWithEachLegChargedAtItsOwnPrice() {
    JobState s = running(10_000, T0 + 60_000);
    assertEquals(JobPhase.RUNNING, s.phase());
    s.apply(progress("r1", 1, 1, 5, 1_000, 2_333, 0, 3, false, T0 + 1_000));
    s.apply(new JobEvent.Rerouted(fill(2, "prv_b", 1_500_000, T0 + 2_000), "stalled", T0 + 2_000));
    s.apply(progress("r1", 2, 2, 3, 500, 1_001, 0, 0, true, T0 + 3_000));
    s.apply(new JobEvent.Completed(T0 + 3_000));
    assertEquals(JobPhase.COMPLETED, s.phase());
    // 3,333 tokens at $1/Mtok = 3,333 µ$; 1,501 at $1.5/Mtok = 2,251.5 → 2,252 (half up)
    assertEquals(3_333 + 2_252, s.costMicroUsd());
    assertEquals(3_333 + 1_501, s.tokens());
    assertEquals(8, s.itemsAnswered());
    assertEquals(Set.of("prv_a", "prv_b"), s.triedProviders());
    assertEquals(1, s.moves().size());
    assertTrue(s.workDone());
  }

  @Test
  void aReportIsCountedOncePerReporterAndSequence() {
    JobState s = running(10_000, T0 + 60_000);
    s.apply(progress("r1", 1, 1, 1, 10, 10, 0, 1, false, T0 + 100));
    assertTrue(s.alreadyApplied("r1", 1));
    assertFalse(s.alreadyApplied("r1", 2));
    assertFalse(s.alreadyApplied("r2", 1));
  }

  @Test
  void nothingMovesDuringTheWarmupOrWhileNoItemIsWaiting() {
    JobState s = running(10_000, T0 + 60_000);
    assertNull(s.moveReason(T0 + 100_000 - 90_000, SETTINGS), "no item is open: the client is not sending");
    s.apply(progress("r1", 1, 1, 0, 0, 0, 0, 4, false, T0 + 100));
    assertNull(s.moveReason(T0 + 1_000, SETTINGS));
  }

  @Test
  void itemsWaitingWithNoAnswerForTheStallWindowMeanAStalledProvider() {
    JobState s = running(10_000, T0 + 3_600_000); // far off, so only the stall can move it
    s.apply(progress("r1", 1, 1, 1, 100, 100, 0, 4, false, T0 + 1_000));
    assertNull(s.moveReason(T0 + 1_000 + 4_999, SETTINGS));
    assertEquals("stalled", s.moveReason(T0 + 1_000 + 5_000, SETTINGS));
  }

  @Test
  void aRunOfFailedRequestsMovesAtOnceAndAnAnswerResetsIt() {
    JobState s = running(10_000, T0 + 60_000);
    s.apply(progress("r1", 1, 1, 0, 0, 0, 2, 4, false, T0 + 100));
    assertNull(s.moveReason(T0 + 200, SETTINGS));
    s.apply(progress("r1", 2, 1, 1, 10, 10, 0, 4, false, T0 + 300));
    s.apply(progress("r1", 3, 1, 0, 0, 0, 2, 4, false, T0 + 400));
    assertNull(s.moveReason(T0 + 500, SETTINGS), "the answer in between broke the run");
    s.apply(progress("r1", 4, 1, 0, 0, 0, 1, 4, false, T0 + 600));
    assertEquals("provider_errors", s.moveReason(T0 + 700, SETTINGS));
  }

  @Test
  void workProjectedToFinishAfterTheDeadlineLessTheMarginMoves() {
    // 10,000 tokens due in 20 s; after 4 s only 1,000 are done: 9,000 more need 36 s.
    JobState s = running(10_000, T0 + 20_000);
    s.apply(progress("r1", 1, 1, 1, 500, 500, 0, 4, false, T0 + 4_000));
    assertEquals("projected_late", s.moveReason(T0 + 4_003, SETTINGS));
    // The same progress on a job due in 60 s is on time.
    JobState relaxed = running(10_000, T0 + 60_000);
    relaxed.apply(progress("r1", 1, 1, 1, 500, 500, 0, 4, false, T0 + 4_000));
    assertNull(relaxed.moveReason(T0 + 4_003, SETTINGS));
  }

  @Test
  void workOnTheBackupNeverMoves() {
    JobState s = running(10_000, T0 + 20_000);
    s.apply(new JobEvent.Escalated(new Leg(2, Leg.BACKUP, null, null, null, "prv_backup", "m", 1_900_000, 10_000, T0 + 100, T0 + 5_000, "stalled"),
        "stalled", T0 + 100));
    assertEquals(JobPhase.ESCALATED, s.phase());
    s.apply(progress("r1", 1, 2, 0, 0, 0, 10, 4, false, T0 + 200));
    assertNull(s.moveReason(T0 + 19_000, SETTINGS));
  }

  @Test
  void aRefusedReservationEndsTheJobWithNothingToSettle() {
    JobState s = new JobState().apply(new JobEvent.Admitted(spec(1_000, T0 + 60_000), null, T0 + 50_000, T0))
        .apply(new JobEvent.Refused(new Refusal("prj_a", ScopeKind.PROJECT,
            Refusal.Limit.COST, 10, 10, 0, 2_000, 0, 0), T0 + 5));
    assertEquals(JobPhase.FAILED, s.phase());
    assertEquals("budget_refused", s.reason());
    assertTrue(s.settled());
  }

  @Test
  void theBackupsLeadTimeRoundsUp() {
    Backup b = new Backup("prv_b", "m", 1, 300, "operator");
    assertEquals(3_334, b.leadMillis(1_000));
  }
}
