package io.keld.node.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.atlas.budget.ScopeView;
import io.keld.exchange.jobs.JobRequest;
import io.keld.exchange.jobs.JobView;
import io.keld.flow.ItemResult;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.Test;

/**
 * Chaos: many jobs on three market fleets that randomly fail, drop connections and stall while the
 * jobs run, with a working backup. Every job must finish before its deadline and settle exactly
 * once, and the budgets must balance to the micro-dollar. The figures are printed for the record.
 */
class DeadlineJobsChaosTest {

  static final int JOBS = 30;
  static final int ITEMS = 12;
  static final int OUTPUT_TOKENS = 40;

  @Test
  void manyJobsWithFailingAndStallingProvidersAndAWorkingBackupMissNoDeadline() throws Exception {
    Random random = new Random(20261121);
    try (JobWorld world = new JobWorld()) {
      List<SimulatedProvider> market = new ArrayList<>();
      long[] prices = {1_000_000, 1_200_000, 1_400_000};
      for (int i = 0; i < prices.length; i++) {
        String id = "prv_market" + i;
        market.add(world.fleet(id, "m" + i, FleetSettings.healthy(8, 400, 5)));
        world.ask("ask_market" + i, id, "m" + i, "summarize", prices[i], 3_200);
      }
      world.fleet("prv_backup", "m-backup", FleetSettings.healthy(16, 400, 5));
      world.backup("prv_backup", "m-backup", 1_900_000, 4_000);

      // The chaos: every 400 ms one market fleet turns healthy, erratic, flaky or stalled.
      AtomicInteger injected = new AtomicInteger();
      ScheduledExecutorService chaos = Executors.newSingleThreadScheduledExecutor();
      chaos.scheduleAtFixedRate(() -> {
        SimulatedProvider f = market.get(random.nextInt(market.size()));
        FleetSettings next = switch (random.nextInt(4)) {
          case 0 -> FleetSettings.healthy(8, 400, 5);
          case 1 -> new FleetSettings(8, 400, 5, 0.5, 0, 0, 0);
          case 2 -> new FleetSettings(8, 400, 5, 0, 0, 0, 0.3);
          default -> new FleetSettings(8, 400, 5, 0, 1.0, 30_000, 0);
        };
        if (next.errorRate() + next.dropRate() + next.stallRate() > 0) injected.incrementAndGet();
        f.update(next);
      }, 0, 400, TimeUnit.MILLISECONDS);

      List<CompletableFuture<Map.Entry<String, List<ItemResult>>>> runs = new ArrayList<>();
      for (int j = 0; j < JOBS; j++) {
        Instant deadline = Instant.now().plusSeconds(20);
        JobView job = world.submitAccepted(JobRequest.of("summarize", 2_000_000, ITEMS * (OUTPUT_TOKENS + 10), deadline, world.project.id()));
        runs.add(world.node.jobs().streams().run(job.jobId(), Source.from(JobWorld.items("j" + j, ITEMS, OUTPUT_TOKENS)))
            .runWith(Sink.seq(), world.node.system()).toCompletableFuture().thenApply(r -> Map.entry(job.jobId(), r)));
        Thread.sleep(150);
      }
      List<Map.Entry<String, List<ItemResult>>> results = new ArrayList<>();
      for (var run : runs) results.add(run.get(60, TimeUnit.SECONDS));
      chaos.shutdownNow();

      int misses = 0, escalations = 0, reroutes = 0, failedItems = 0, completed = 0;
      long cost = 0;
      for (var r : results) {
        assertEquals(ITEMS, r.getValue().size(), "one result per item");
        JobView v = world.awaitSettled(r.getKey(), Duration.ofSeconds(30));
        if (v.state().equals("deadline_missed")) misses++;
        if (v.state().equals("completed")) completed++;
        escalations += v.escalations();
        reroutes += v.reroutes();
        failedItems += (int) v.progress().itemsFailed();
        cost += v.costMicroUsd();
        world.assertSettledOnce(v);
      }
      long failedRequests = 0, served = 0;
      for (SimulatedProvider f : world.fleets.values()) {
        failedRequests += f.stats().errors() + f.stats().dropped();
        served += f.stats().served();
      }
      ScopeView team = world.scope(world.team.id());
      ScopeView project = world.scope(world.project.id());
      System.out.printf("CHAOS jobs=%d items=%d faults_injected=%d failed_requests=%d requests_served=%d escalations=%d reroutes=%d "
          + "deadline_misses=%d failed_items=%d cost_micro_usd=%d team_spent=%d team_reserved=%d%n", JOBS, JOBS * ITEMS, injected.get(),
          failedRequests, served, escalations, reroutes, misses, failedItems, cost, team.spentMicroUsd(), team.reservedMicroUsd());

      assertEquals(0, misses, "no deadline missed");
      assertEquals(JOBS, completed, "every job completed");
      assertTrue(injected.get() > 0 && escalations + reroutes > 0, "the chaos did something");
      assertEquals(cost, team.spentMicroUsd(), "the team's budget holds exactly the jobs' cost");
      assertEquals(cost, project.spentMicroUsd());
      assertEquals(0, team.reservedMicroUsd(), "nothing left reserved");
      assertEquals(0, project.reservedMicroUsd());
    }
  }
}
