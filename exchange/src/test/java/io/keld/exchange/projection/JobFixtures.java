package io.keld.exchange.projection;

import io.keld.exchange.jobs.JobEvent;
import io.keld.exchange.jobs.JobSpec;
import io.keld.exchange.jobs.JobState;
import io.keld.exchange.jobs.Leg;
import io.keld.ixp.Money;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Settled deadline jobs as their journals hold them, and what the read sides must show for them,
 * worked out from the numbers put in (not by the projection's code).
 */
final class JobFixtures {

  private JobFixtures() {}

  /** A job's events, in order, to be appended after the job's first {@code before} events. */
  record JobEvents(String jobId, int before, List<JobEvent> events) {
    JobEvents first(int n) {
      return new JobEvents(jobId, before, events.subList(0, n));
    }

    JobEvents rest(int n) {
      return new JobEvents(jobId, before + n, events.subList(n, events.size()));
    }
  }

  /** What the read sides hold, summed: index rows (deadline jobs), completed ones, usage rows, their cost and tokens, ledger records and cost. */
  record Totals(long indexRows, long completed, long usageRows, long usageCost, long usageTokens, long ledgerRecords, long ledgerCost,
      long rollupRecords, long rollupCost) {
    Totals plus(Totals o) {
      return new Totals(indexRows + o.indexRows, completed + o.completed, usageRows + o.usageRows, usageCost + o.usageCost,
          usageTokens + o.usageTokens, ledgerRecords + o.ledgerRecords, ledgerCost + o.ledgerCost, rollupRecords + o.rollupRecords,
          rollupCost + o.rollupCost);
    }
  }

  /** {@code n} settled jobs named {@code prefix}; every fourth one re-routed to a second provider halfway. */
  static List<JobEvents> settledJobs(String prefix, int n) {
    List<JobEvents> jobs = new ArrayList<>();
    for (int i = 0; i < n; i++) jobs.add(settledJob(jobId(prefix, i), i));
    return jobs;
  }

  static Totals totalsOf(List<JobEvents> jobs) {
    long usageRows = 0;
    long cost = 0;
    long tokens = 0;
    for (int i = 0; i < jobs.size(); i++) {
      long price1 = 1_000_000 + i;
      long first = (100 + i) + 50;
      if (rerouted(i)) {
        usageRows += 2;
        cost += Money.costMicroUsd(first, price1) + Money.costMicroUsd(60 + 40, 900_000);
      } else {
        usageRows += 1;
        cost += Money.costMicroUsd(first + 60 + 40, price1);
      }
      tokens += first + 60 + 40;
    }
    return new Totals(jobs.size(), jobs.size(), usageRows, cost, tokens, usageRows, cost, usageRows, cost);
  }

  static String jobId(String prefix, int i) {
    // Job ids are job_ and 16 characters of [0-9a-z]; the prefix keeps tests' jobs apart.
    String digits = String.format("%015d", i);
    return "job_" + prefix + digits;
  }

  private static boolean rerouted(int i) {
    return i % 4 == 0;
  }

  /**
   * One job: admitted, reserved, bid, matched at {@code 1_000_000 + i} micro-USD/Mtok, started, 5
   * items answered, then 3 more (on a second provider at 900,000 if re-routed), completed, settled to
   * the cost the entity would charge.
   */
  static JobEvents settledJob(String jobId, int i) {
    long t0 = System.currentTimeMillis() - 60_000;
    JobSpec spec = new JobSpec(jobId, "org_p", "team_p", "prj_p", "key_p", "summarize", Set.of(), 0, 2_000_000, 10_000, t0, t0 + 600_000,
        Set.of(), Set.of(), Set.of(), Set.of(), i % 3 == 0 ? "nightly" : null, "opex", Map.of("run", "r" + (i % 5)), "idem-" + jobId,
        "hash-" + jobId);
    Leg first = new Leg(1, Leg.FILL, jobId + ".b1", "fill_" + jobId + "_1", "ask_a", "prv_a", "m-a", 1_000_000 + i, 10_000, t0 + 30,
        t0 + 10_000, null);
    List<JobEvent> events = new ArrayList<>(List.of(
        new JobEvent.Admitted(spec, null, t0 + 300_000, t0),
        new JobEvent.Reserved(20_000, t0 + 10),
        new JobEvent.BidPlaced(jobId + ".b1", t0 + 20),
        new JobEvent.Matched(first, t0 + 30),
        new JobEvent.Started(t0 + 40),
        new JobEvent.Progressed("plane-1", 1, List.of(new JobEvent.LegUsage(1, 5, 0, 100 + i, 50, 0)), 3, false, t0 + 50)));
    if (rerouted(i)) {
      Leg second = new Leg(2, Leg.FILL, jobId + ".b2", "fill_" + jobId + "_2", "ask_b", "prv_b", "m-b", 900_000, 5_000, t0 + 70,
          t0 + 20_000, "stalled");
      events.add(new JobEvent.MoveRequested(jobId + ".b2", "stalled", 5_000, t0 + 60));
      events.add(new JobEvent.Rerouted(second, "stalled", t0 + 70));
      events.add(new JobEvent.Progressed("plane-1", 2, List.of(new JobEvent.LegUsage(2, 3, 0, 60, 40, 0)), 0, true, t0 + 80));
    } else {
      events.add(new JobEvent.Progressed("plane-1", 2, List.of(new JobEvent.LegUsage(1, 3, 0, 60, 40, 0)), 0, true, t0 + 80));
    }
    events.add(new JobEvent.Completed(t0 + 90));
    JobState ended = new JobState();
    events.forEach(ended::apply);
    events.add(new JobEvent.Settled(ended.costMicroUsd(), ended.tokens(), t0 + 100));
    return new JobEvents(jobId, 0, events);
  }
}
