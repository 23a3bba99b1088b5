package io.keld.exchange.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.keld.exchange.ixp.RealtimeJob;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The real-time path charges a budget at once and writes the job's usage record later, in the job
 * index's batches: the budget balances with the usage only if every record handed over gets written,
 * however far the database falls behind the edge. A backlog of several batches is written whole, and
 * a flush asked for while another is under way (as shutdown does) returns only once everything handed
 * over before it is written.
 */
class RealtimeBacklogTest {

  private static final int JOBS = 12_345; // more than two of the index's batches
  private static final long COST = 73;

  @Test
  void aBacklogOfSeveralBatchesIsWrittenWholeAndAFlushDuringADrainWaitsForIt() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      // The job index's tick is left to run: it is part of what must not lose or double a record.
      JobsNode node = JobsNode.start(ModuleNode.config(db), false);
      try {
        for (int i = 0; i < JOBS; i++) handOver(node, i);
        CompletableFuture<Integer> first = node.index.flush().toCompletableFuture();
        for (int i = JOBS; i < JOBS + 100; i++) handOver(node, i); // while the first drain runs
        node.index.flush().toCompletableFuture().get(120, TimeUnit.SECONDS);
        assertEquals(List.of((long) JOBS + 100, (long) JOBS + 100, (JOBS + 100) * COST, (JOBS + 100) * COST, 0L), written(db),
            "index rows, ledger records, their cost, the rollups' cost and job_usage rows, right after the second flush returned");
        assertEquals(0, node.index.usageRecordsWaiting());
        first.get(10, TimeUnit.SECONDS);
      } finally {
        node.stop();
      }
    }
  }

  /**
   * A batch whose write fails may have committed all the same (only the answer lost): its records
   * are then looked up before they are written again, and none is written twice or lost. The ledger's
   * table is away while the first writes run; when it is back, one job's record is already there,
   * written by the same store, as that lost commit would have left it.
   */
  @Test
  void aBatchWrittenAgainAfterAFailureWritesEachRecordOnce() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      JobsNode node = JobsNode.start(ModuleNode.config(db), false);
      try {
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
          st.execute("ALTER TABLE usage_records RENAME TO usage_records_away");
        }
        for (int i = 0; i < 10; i++) handOver(node, i);
        assertThrows(ExecutionException.class, () -> node.index.flush().toCompletableFuture().get(60, TimeUnit.SECONDS));
        // A failed batch is put back whole (the index's own tick may be holding it for another try).
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (node.index.usageRecordsWaiting() != 10 && System.nanoTime() < until) Thread.sleep(5);
        assertEquals(10, node.index.usageRecordsWaiting(), "a failed batch is put back whole");
        // One transaction, so the index's own tick cannot write before the record that "committed" is there.
        try (Connection c = db.connect()) {
          c.setAutoCommit(false);
          try (Statement st = c.createStatement()) {
            st.execute("ALTER TABLE usage_records_away RENAME TO usage_records");
          }
          node.usage.writeRealtimeInTransaction(c, List.of(usageRecord(String.format("job_rt%014d", 3), Instant.now())), r -> false);
          c.commit();
        }
        node.index.flush().toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertEquals(List.of(10L, 10L, 10 * COST, 10 * COST, 0L), written(db),
            "index rows, ledger records, their cost, the rollups' cost and job_usage rows");
        assertEquals(0, node.index.usageRecordsWaiting());
      } finally {
        node.stop();
      }
    }
  }

  private static void handOver(JobsNode node, int i) {
    String id = String.format("job_rt%014d", i);
    Instant now = Instant.now();
    RealtimeJob job = new RealtimeJob(id, "org_b", "team_b", "prj_b", "chat", "completed", null, Set.of(), 1_000_000, 30, now, now, now, "fill",
        "prv_rt", "m-rt", 2_433_333, 10, 20, COST);
    node.index.recordRealtime(job);
  }

  private static JobUsageStore.UsageRecord usageRecord(String jobId, Instant at) {
    return new JobUsageStore.UsageRecord(jobId, 1, "org_b", "team_b", "prj_b", "chat", "prv_rt", "m-rt", JobUsageStore.REALTIME, null, null,
        "{}", "completed", 1, 0, 10, 20, 2_433_333, COST, at, at);
  }

  private static List<Long> written(TestDatabase db) throws Exception {
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT (SELECT count(*) FROM ixp_jobs WHERE project_id = 'prj_b'), "
            + "(SELECT count(*) FROM usage_records WHERE project_id = 'prj_b'), "
            + "(SELECT coalesce(sum(cost_micro_usd), 0) FROM usage_records WHERE project_id = 'prj_b'), "
            + "(SELECT coalesce(sum(cost_micro_usd), 0) FROM usage_rollup_hourly WHERE project_id = 'prj_b'), "
            + "(SELECT count(*) FROM job_usage WHERE project_id = 'prj_b')");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return List.of(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5));
    }
  }
}
