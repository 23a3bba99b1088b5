package io.keld.exchange.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.ixp.RealtimeJob;
import io.keld.ixp.jobs.JobResource;
import io.keld.kit.JsonBodies;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real-time job's index row stores the facts its resource is built from, not the resource: the job
 * must read the same from the table as it did while it waited for its batch, on both databases, and
 * a row written before the change (holding the resource) must still read.
 */
class RealtimeJobRowTest {

  @TempDir Path dir;

  @Test
  void aRealtimeJobReadsTheSameFromItsRowAsBeforeItWasWrittenOnPostgres() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      readsTheSame(db);
    }
  }

  @Test
  void aRealtimeJobReadsTheSameFromItsRowAsBeforeItWasWrittenOnH2() throws Exception {
    try (TestDatabase db = TestDatabase.h2(dir)) {
      readsTheSame(db);
    }
  }

  private static void readsTheSame(TestDatabase db) throws Exception {
    JobsNode node = JobsNode.start(ModuleNode.config(db), false);
    try {
      // Nanoseconds in its times (a database column keeps microseconds at best), a reason, two models.
      Instant received = Instant.parse("2026-12-06T22:32:30.777123456Z");
      RealtimeJob failed = new RealtimeJob("job_rt0000000000000a", "org_r", "team_r", "prj_r", "chat", "failed", "provider_status_503",
          Set.of("m-a", "m-b"), 5_000_000, 258, received, received.plusSeconds(60), received.plusNanos(192_345_678), "fill", "prv_r", "m-a",
          300_000, 0, 0, 0);
      RealtimeJob completed = new RealtimeJob("job_rt0000000000000b", "org_r", "team_r", "prj_r", "chat", "completed", null, Set.of("m-a"),
          5_000_000, 258, received, received.plusSeconds(60), received.plusMillis(5), "direct", "prv_r", "m-a", 300_000, 12, 230, 73);
      JobResource failedWaiting = handOver(node, failed);
      JobResource completedWaiting = handOver(node, completed);
      node.index.flush().toCompletableFuture().get(30, TimeUnit.SECONDS);

      assertEquals(failedWaiting, get(node, failed.id()), "read from its row");
      assertEquals(completedWaiting, get(node, completed.id()));
      JobIndex.Page page = node.index.list(new JobIndex.Filter("org_r", null, null, null, null, true, null, null), 10, null)
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertEquals(Set.of(failedWaiting, completedWaiting), Set.copyOf(page.jobs()));
      try (Connection c = db.connect();
          PreparedStatement ps = c.prepareStatement("SELECT resource_json, realtime_json FROM ixp_jobs WHERE job_id = ?")) {
        ps.setString(1, completed.id());
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          assertNull(rs.getString(1), "no resource stored");
          int stored = rs.getString(2).length();
          int resource = JsonBodies.MAPPER.writeValueAsString(completedWaiting).length();
          assertTrue(stored * 3 < resource, "the facts (" + stored + " characters) are a fraction of the resource (" + resource + ")");
        }
      }

      // A row as the index wrote it before V18: the resource itself.
      RealtimeJob older = new RealtimeJob("job_rt0000000000000c", "org_r", "team_r", "prj_r", "chat", "completed", null, Set.of("m-a"),
          5_000_000, 258, received, received.plusSeconds(60), received.plusMillis(5), "fill", "prv_r", "m-a", 300_000, 12, 230, 73);
      try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement("INSERT INTO ixp_jobs (job_id, org_id, team_id, project_id, "
          + "use_case, state, realtime, submitted_at, version, resource_json) VALUES (?, 'org_r', 'team_r', 'prj_r', 'chat', 'completed', TRUE, ?, 1, ?)")) {
        ps.setString(1, older.id());
        ps.setTimestamp(2, Timestamp.from(received));
        ps.setString(3, JsonBodies.MAPPER.writeValueAsString(older.resource()));
        ps.executeUpdate();
      }
      assertEquals(older.resource(), get(node, older.id()), "a row from before V18");
    } finally {
      node.stop();
    }
  }

  private static JobResource handOver(JobsNode node, RealtimeJob job) throws Exception {
    node.index.recordRealtime(job);
    return get(node, job.id());
  }

  private static JobResource get(JobsNode node, String jobId) throws Exception {
    return node.index.get(jobId).toCompletableFuture().get(10, TimeUnit.SECONDS).orElseThrow().resource();
  }
}
