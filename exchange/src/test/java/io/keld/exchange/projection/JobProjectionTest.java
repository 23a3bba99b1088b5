package io.keld.exchange.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.keld.exchange.ixp.RealtimeJob;
import io.keld.exchange.jobs.JobEvent;
import io.keld.exchange.projection.JobFixtures.JobEvents;
import io.keld.exchange.projection.JobFixtures.Totals;
import io.keld.ixp.jobs.JobResource;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
import io.keld.testkit.ModuleNode;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deadline jobs' index rows, usage rows and their spend-ledger records are a projection of the
 * jobs' journal: a node that dies after the events persisted and before the read sides were written
 * loses none and counts none twice (also a job cut in half by the crash), a rebuild from offset zero
 * over thousands of settled jobs gives the same rows, and the same events applied twice count once.
 */
class JobProjectionTest {

  static final Duration WAIT = Duration.ofSeconds(120);

  static Totals readSides(TestDatabase db) throws SQLException {
    try (Connection c = db.connect()) {
      long[] index = longs(c, "SELECT count(*), coalesce(sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), 0) FROM ixp_jobs "
          + "WHERE realtime = FALSE");
      long[] usage = longs(c, "SELECT count(*), coalesce(sum(cost_micro_usd), 0), coalesce(sum(input_tokens + output_tokens), 0) "
          + "FROM job_usage WHERE leg_kind <> 'realtime'");
      long[] ledger = longs(c, "SELECT count(*), coalesce(sum(cost_micro_usd), 0) FROM usage_records WHERE source = 'keld' "
          + "AND latency_class = 'deadline'");
      long[] rollup = longs(c, "SELECT coalesce(sum(records), 0), coalesce(sum(cost_micro_usd), 0) FROM usage_rollup_hourly "
          + "WHERE provider <> 'prv_rt'");
      return new Totals(index[0], index[1], usage[0], usage[1], usage[2], ledger[0], ledger[1], rollup[0], rollup[1]);
    }
  }

  private static long[] longs(Connection c, String query) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(query); ResultSet rs = ps.executeQuery()) {
      rs.next();
      long[] out = new long[rs.getMetaData().getColumnCount()];
      for (int i = 0; i < out.length; i++) out[i] = rs.getLong(i + 1);
      return out;
    }
  }

  /** Every row of a table, every column but those named, in a fixed order: to compare a rebuilt read side with the one before. */
  static List<String> rows(TestDatabase db, String table, String orderBy, String... skipped) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement("SELECT * FROM " + table + " ORDER BY " + orderBy);
        ResultSet rs = ps.executeQuery()) {
      ResultSetMetaData md = rs.getMetaData();
      while (rs.next()) {
        StringBuilder row = new StringBuilder();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          if (List.of(skipped).contains(md.getColumnName(i).toLowerCase())) continue;
          row.append(md.getColumnName(i)).append('=').append(rs.getString(i)).append(' ');
        }
        out.add(row.toString());
      }
    }
    return out;
  }

  static long storedOffset(TestDatabase db) throws SQLException {
    try (Connection c = db.connect()) {
      return TagProjection.storedOffset(c, JobProjection.SPEC.name());
    }
  }

  static void awaitReadSides(TestDatabase db, Totals expected) throws Exception {
    long end = System.nanoTime() + WAIT.toNanos();
    Totals seen = readSides(db);
    while (!seen.equals(expected)) {
      if (System.nanoTime() > end) throw new AssertionError("the read sides show " + seen + ", the journal " + expected);
      Thread.sleep(100);
      seen = readSides(db);
    }
  }

  @Test
  void aNodeThatDiesBeforeWritingTheReadSidesLosesNoRowAndCountsNoneTwice() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      Config config = ModuleNode.config(db);
      // The read side never runs: the jobs persist their events, and the node dies before any row is written.
      JobsNode node = JobsNode.start(config, false);
      List<JobEvents> first = JobFixtures.settledJobs("a", 150);
      node.persist(first);
      node.stop();
      assertEquals(new Totals(0, 0, 0, 0, 0, 0, 0, 0, 0), readSides(db), "nothing was written before the node died");

      node = JobsNode.start(config, true);
      awaitReadSides(db, JobFixtures.totalsOf(first));
      // Mid-stream: more jobs, half of them cut in two by the crash (their first events before it, the rest
      // after), and the node stopped the moment the journal has them, wherever the projection is.
      List<JobEvents> second = JobFixtures.settledJobs("b", 150);
      List<JobEvents> halves = new ArrayList<>();
      for (int i = 0; i < second.size(); i++) halves.add(i % 2 == 0 ? second.get(i).first(5) : second.get(i));
      node.persist(halves);
      node.stop();
      Totals partial = readSides(db);
      assertTrue(partial.indexRows() <= 300, partial.toString());

      node = JobsNode.start(config, true);
      try {
        List<JobEvents> rests = new ArrayList<>();
        for (int i = 0; i < second.size(); i += 2) rests.add(second.get(i).rest(5));
        node.persist(rests); // the projection restarted: these jobs' states are read back from the journal
        Totals expected = JobFixtures.totalsOf(first).plus(JobFixtures.totalsOf(second));
        awaitReadSides(db, expected);
        Thread.sleep(1_500); // nothing more arrives later: each row once
        assertEquals(expected, readSides(db));
        // An index row is the job as its whole journal left it: state, legs and cost.
        JobResource job = node.index.get(JobFixtures.jobId("b", 0)).toCompletableFuture().get(10, TimeUnit.SECONDS).orElseThrow().resource();
        assertEquals("completed", job.state());
        assertEquals(2, job.legs().size());
        assertTrue(job.settled());
      } finally {
        node.stop();
      }
    }
  }

  @Test
  void rebuildingFromOffsetZeroOnThousandsOfSettledJobsGivesTheSameRows() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      rebuildGivesTheSameRows(db, 2_000);
    }
  }

  /** The embedded store a node uses by default: the ledger's rollups are taken out with standard MERGE there. */
  @Test
  void rebuildingOnH2GivesTheSameRows(@TempDir Path dir) throws Exception {
    try (TestDatabase db = TestDatabase.h2(dir)) {
      rebuildGivesTheSameRows(db, 200);
    }
  }

  private static void rebuildGivesTheSameRows(TestDatabase db, int settledJobs) throws Exception {
    JobsNode node = JobsNode.start(ModuleNode.config(db), true);
    try {
      List<JobEvents> jobs = JobFixtures.settledJobs("r", settledJobs);
      node.persist(jobs);
      // A real-time job beside them: not a projection (it has no events), so a rebuild leaves it.
      node.index.recordRealtime(realtimeJob());
      node.index.flush().toCompletableFuture().get(30, TimeUnit.SECONDS);
      Totals expected = JobFixtures.totalsOf(jobs);
      awaitReadSides(db, expected);
      while (rows(db, "ixp_jobs", "job_id").size() < settledJobs + 1) Thread.sleep(50); // the real-time batch (a flush under way answers 0 at once)
      long offset = storedOffset(db);
      assertTrue(offset > 0);
      List<String> index = rows(db, "ixp_jobs", "job_id");
      List<String> usage = rows(db, "job_usage", "job_id, leg_no");
      // A ledger record's id and ingestion time say when it was written, not what it records.
      List<String> ledger = rows(db, "usage_records", "org_id, source, source_event_id", "id", "ingested_at");
      List<String> rollups = rows(db, "usage_rollup_hourly", "org_id, bucket_hour, team_id, project_id, provider, model, job_category, spend_class");
      assertEquals(settledJobs + 1, index.size());

      long had;
      try (Connection c = db.connect()) {
        had = TagProjection.rebuild(c, JobProjection.SPEC); // what `keld projections rebuild jobs` runs
      }
      assertEquals(offset, had);
      assertEquals(1, rows(db, "ixp_jobs", "job_id").size(), "emptied but for the real-time job");
      long end = System.nanoTime() + WAIT.toNanos();
      while (storedOffset(db) != offset || !readSides(db).equals(expected)) {
        if (System.nanoTime() > end) throw new AssertionError("not rebuilt: offset " + storedOffset(db) + ", read sides " + readSides(db));
        Thread.sleep(100);
      }
      assertEquals(index, rows(db, "ixp_jobs", "job_id"));
      assertEquals(usage, rows(db, "job_usage", "job_id, leg_no"));
      assertEquals(ledger, rows(db, "usage_records", "org_id, source, source_event_id", "id", "ingested_at"));
      assertEquals(rollups, rows(db, "usage_rollup_hourly", "org_id, bucket_hour, team_id, project_id, provider, model, job_category, spend_class"));
    } finally {
      node.stop();
    }
  }

  @Test
  void theSameEventsAppliedTwiceCountOnce() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      JobsNode node = JobsNode.start(ModuleNode.config(db), false);
      try {
        List<JobEvents> jobs = JobFixtures.settledJobs("i", 40);
        node.persist(jobs);
        CurrentEventsByTagQuery journal = PersistenceQuery.get(node.module.system())
            .getReadJournalFor(CurrentEventsByTagQuery.class, "jdbc-read-journal");
        List<EventEnvelope> events = journal.currentEventsByTag(JobEvent.TAG, Offset.noOffset()).runWith(Sink.seq(), node.module.system())
            .toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertEquals(jobs.stream().mapToInt(j -> j.events().size()).sum(), events.size());
        Sql sql = new Sql(node.module.dataSource(), node.module.blocking());
        JobProjection projection = new JobProjection(node.module.system(), node.usage);

        sql.transaction(c -> {
          projection.apply(c, events);
          return null;
        }).toCompletableFuture().get(60, TimeUnit.SECONDS);
        Totals once = readSides(db);
        assertEquals(JobFixtures.totalsOf(jobs), once);
        List<String> index = rows(db, "ixp_jobs", "job_id");

        // The same batch again; again after the projection forgot what it folded (each job read back from the
        // journal); then its second half alone: every row stays as it was.
        List<List<EventEnvelope>> repeats = List.of(events, events, events.subList(events.size() / 2, events.size()));
        for (int i = 0; i < repeats.size(); i++) {
          if (i > 0) projection.restarting();
          List<EventEnvelope> again = repeats.get(i);
          sql.transaction(c -> {
            projection.apply(c, again);
            return null;
          }).toCompletableFuture().get(60, TimeUnit.SECONDS);
          assertEquals(once, readSides(db), "after repeat " + i);
          assertEquals(index, rows(db, "ixp_jobs", "job_id"), "after repeat " + i);
        }
        assertNotEquals(0, once.ledgerRecords());
      } finally {
        node.stop();
      }
    }
  }

  private static RealtimeJob realtimeJob() {
    Instant now = Instant.now();
    return new RealtimeJob("job_rt00000000000001", "org_p", "team_p", "prj_p", "chat", "completed", null, Set.of(), 1_000_000, 30, now, now,
        now, "fill", "prv_rt", "m-rt", 1_000_000, 10, 20, 30);
  }
}
