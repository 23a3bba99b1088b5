package io.keld.exchange.ixp;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.kit.JsonBodies;
import io.keld.kit.sql.Sql;
import io.keld.ixp.jobs.JobResource;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job index behind {@code GET /ixp/v1/jobs}: each job's latest resource. A deadline job's row is
 * a projection of its journal ({@code projection/JobProjection} calls {@link #writeProjected} in the
 * transaction that moves its offset), so a crash cannot lose it and a rebuild reproduces it. A
 * real-time job has no events: its row and usage record are written here, in batches off the request
 * thread, both in one transaction, every {@code interval}; nothing on the edge waits on the database,
 * and a crash loses at most the records of one interval (see README, "Read sides from the journal").
 */
public final class JobIndex {

  private static final Logger log = LoggerFactory.getLogger(JobIndex.class);

  /** How long a real-time job's record may wait before it is written: the lag of lists behind the edge. */
  public static final Duration FLUSH_INTERVAL = Duration.ofMillis(100);

  /**
   * At most this many job rows, and as many usage records, per transaction. A backlog (a busy edge
   * on a busy database) drains in batches of this size one after another, never as one transaction
   * that grows with the backlog and takes longer the further behind it is.
   */
  static final int MAX_BATCH = 5_000;

  /** A batch slower than this is worth an operator's look (the database is behind the edge). */
  private static final long SLOW_BATCH_NANOS = Duration.ofSeconds(2).toNanos();

  /**
   * A job's row: the resource and what lists filter on. {@code version} is the entity's sequence number
   * (1 for real-time jobs). A real-time job's row also has the facts its resource is built from
   * ({@code realtimeJob}, null for a deadline job): those are what is stored, and its resource is built
   * from them when read (most real-time jobs are never read while they wait for their batch, so the
   * request path builds none).
   */
  public record Row(String jobId, String orgId, String teamId, String projectId, String useCase, String state, boolean realtime,
      Instant submittedAt, long version, JobResource resource, RealtimeJob realtimeJob) {

    /** A deadline job's row, from its view after the event {@code version}. */
    public static Row of(JobResource r, long version) {
      return new Row(r.id(), r.organizationId(), r.teamId(), r.projectId(), r.useCase(), r.state(), false, r.submittedAt(), version, r, null);
    }

    static Row of(RealtimeJob j) {
      return new Row(j.id(), j.orgId(), j.teamId(), j.projectId(), j.useCase(), j.state(), true, j.submittedAt(), 1, null, j);
    }

    /** The job as IXP shows it. */
    @Override
    public JobResource resource() {
      return resource != null ? resource : realtimeJob.resource();
    }
  }

  /** A page of jobs, newest first; {@code nextCursor} is null on the last page. */
  public record Page(List<JobResource> jobs, String nextCursor) {}

  /** What a list may filter on; null means any. */
  public record Filter(String orgId, String projectId, String teamId, String state, String useCase, Boolean realtime,
      Instant submittedAfter, Instant submittedBefore) {}

  private final Sql sql;
  private final JobUsageStore usage;
  private final Map<String, Row> pending = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<JobUsageStore.UsageRecord> pendingUsage = new ConcurrentLinkedQueue<>();
  /** The size of {@code pendingUsage} (a queue's own size() walks it). */
  private final AtomicLong pendingUsageCount = new AtomicLong();
  /** The drain under way, if any; guarded by {@code this}. */
  private CompletableFuture<Integer> draining;
  private final AtomicLong lastSlowWarningNanos = new AtomicLong(System.nanoTime() - Duration.ofMinutes(1).toNanos());
  /** Real-time rows of a batch whose write failed: its commit may have happened all the same, so they are written only if missing. */
  private final Set<String> retried = ConcurrentHashMap.newKeySet();
  /** Usage records of a batch whose write failed, likewise: only these are looked up before they are written. */
  private final Set<JobUsageStore.UsageRecord> retriedUsage = ConcurrentHashMap.newKeySet();

  public JobIndex(ActorSystem<?> system, Sql sql, JobUsageStore usage, Duration interval, MeterRegistry registry) {
    this.sql = sql;
    this.usage = usage;
    Gauge.builder("keld.edge.index.rows.waiting", pending, Map::size)
        .description("Real-time jobs' index rows not yet written").register(registry);
    Gauge.builder("keld.edge.usage.records.waiting", pendingUsageCount, AtomicLong::get)
        .description("Real-time jobs' usage records not yet written (their budget is already charged)").register(registry);
    system.scheduler().scheduleWithFixedDelay(interval, interval, this::flushInBackground, system.executionContext());
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceStop(), "keld-flush-job-index",
        () -> flush().thenApply(n -> Done.getInstance()));
  }

  /** A finished real-time job and its usage record, written with the next batch. */
  public void recordRealtime(RealtimeJob job) {
    pending.put(job.id(), Row.of(job));
    pendingUsage.add(job.usageRecord());
    pendingUsageCount.incrementAndGet();
  }

  /** Usage records handed over and not yet written. */
  public long usageRecordsWaiting() {
    return pendingUsageCount.get();
  }

  /** A job's latest row: a change not yet written wins over the table. */
  public CompletionStage<Optional<Row>> get(String jobId) {
    Row waiting = pending.get(jobId);
    if (waiting != null) return CompletableFuture.completedFuture(Optional.of(waiting));
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM ixp_jobs WHERE job_id = ?")) {
        ps.setString(1, jobId);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(row(rs)) : Optional.<Row>empty();
        }
      }
    });
  }

  /** One page of jobs, newest first, from the written rows. */
  public CompletionStage<Page> list(Filter f, int limit, String cursor) {
    Cursor after = cursor == null ? null : Cursor.parse(cursor);
    return sql.run(c -> {
      StringBuilder q = new StringBuilder("SELECT * FROM ixp_jobs WHERE org_id = ?");
      List<Object> args = new ArrayList<>(List.of(f.orgId()));
      if (f.projectId() != null) { q.append(" AND project_id = ?"); args.add(f.projectId()); }
      if (f.teamId() != null) { q.append(" AND team_id = ?"); args.add(f.teamId()); }
      if (f.state() != null) { q.append(" AND state = ?"); args.add(f.state()); }
      if (f.useCase() != null) { q.append(" AND use_case = ?"); args.add(f.useCase()); }
      if (f.realtime() != null) { q.append(" AND realtime = ?"); args.add(f.realtime()); }
      if (f.submittedAfter() != null) { q.append(" AND submitted_at >= ?"); args.add(f.submittedAfter()); }
      if (f.submittedBefore() != null) { q.append(" AND submitted_at < ?"); args.add(f.submittedBefore()); }
      if (after != null) {
        q.append(" AND (submitted_at < ? OR (submitted_at = ? AND job_id < ?))");
        args.add(after.submittedAt());
        args.add(after.submittedAt());
        args.add(after.jobId());
      }
      q.append(" ORDER BY submitted_at DESC, job_id DESC LIMIT ").append(limit + 1);
      try (PreparedStatement ps = c.prepareStatement(q.toString())) {
        Sql.bind(ps, args.toArray());
        try (ResultSet rs = ps.executeQuery()) {
          List<Row> rows = new ArrayList<>();
          while (rs.next()) rows.add(row(rs));
          String next = null;
          if (rows.size() > limit) {
            rows = rows.subList(0, limit);
            Row last = rows.get(limit - 1);
            next = new Cursor(last.submittedAt(), last.jobId()).encode();
          }
          return new Page(rows.stream().map(Row::resource).toList(), next);
        }
      }
    });
  }

  /**
   * The scheduler's tick. It must never throw: Pekko stops a fixed-delay schedule whose task throws,
   * and every later record would wait forever. A drain already under way is left to run.
   */
  private void flushInBackground() {
    try {
      synchronized (this) {
        if (draining != null) return;
      }
      flush().whenComplete((n, failure) -> {
        if (failure != null) log.warn("The job index could not be written; retrying with the next batch: {}", failure.toString());
      });
    } catch (RuntimeException e) {
      log.error("The job index's flush could not start; trying again at the next tick", e);
    }
  }

  /**
   * Writes everything that waits, in transactions of at most {@link #MAX_BATCH} rows and as many usage
   * records (rows and usage of a batch in one transaction), one after another until nothing waits.
   * Completes with the number of job rows written. Called while a drain is under way, it completes
   * after that drain and then drains what still waits: when it completes, everything handed over
   * before the call is written (shutdown relies on this), or it fails.
   */
  public CompletionStage<Integer> flush() {
    CompletableFuture<Integer> mine;
    synchronized (this) {
      if (draining != null) return draining.handle((n, failure) -> null).thenCompose(ignored -> flush());
      if (pending.isEmpty() && pendingUsage.isEmpty()) return CompletableFuture.completedFuture(0);
      mine = draining = new CompletableFuture<>();
    }
    drain(0, mine);
    return mine;
  }

  /** Writes the next batch; on success goes on with the next, until nothing waits. */
  private void drain(int writtenSoFar, CompletableFuture<Integer> done) {
    List<Row> batch = new ArrayList<>(Math.min(pending.size(), MAX_BATCH));
    for (String id : pending.keySet()) {
      if (batch.size() >= MAX_BATCH) break;
      Row r = pending.remove(id);
      if (r != null) batch.add(r);
    }
    List<JobUsageStore.UsageRecord> usageBatch = new ArrayList<>();
    for (JobUsageStore.UsageRecord u; usageBatch.size() < MAX_BATCH && (u = pendingUsage.poll()) != null; ) usageBatch.add(u);
    pendingUsageCount.addAndGet(-usageBatch.size());
    if (batch.isEmpty() && usageBatch.isEmpty()) {
      end(done, writtenSoFar, null);
      return;
    }
    long started = System.nanoTime();
    // When the transaction began, and ended its index rows and its usage: for the slow batch's warning.
    long[] steps = new long[3];
    CompletionStage<Integer> written;
    try {
      written = sql.transaction(c -> {
        steps[0] = System.nanoTime();
        int rows = insertRealtime(c, batch);
        steps[1] = System.nanoTime();
        usage.writeRealtimeInTransaction(c, usageBatch, retriedUsage::contains);
        steps[2] = System.nanoTime();
        return rows;
      });
    } catch (RuntimeException e) {
      written = CompletableFuture.failedFuture(e);
    }
    written.whenComplete((n, failure) -> {
      if (failure != null) {
        // Put the batch back and try again next time; a row or record already there is not written twice.
        batch.forEach(r -> {
          retried.add(r.jobId());
          pending.putIfAbsent(r.jobId(), r);
        });
        retriedUsage.addAll(usageBatch);
        pendingUsage.addAll(usageBatch);
        pendingUsageCount.addAndGet(usageBatch.size());
        end(done, writtenSoFar, failure);
        return;
      }
      batch.forEach(r -> retried.remove(r.jobId()));
      if (!retriedUsage.isEmpty()) usageBatch.forEach(retriedUsage::remove);
      warnIfSlow(started, steps, batch.size(), usageBatch.size());
      drain(writtenSoFar + n, done);
    });
  }

  private void end(CompletableFuture<Integer> done, int written, Throwable failure) {
    synchronized (this) {
      draining = null;
    }
    if (failure != null) done.completeExceptionally(failure);
    else done.complete(written);
  }

  /** At most one warning a minute: the database is behind the edge, and lists and spend reports lag. */
  private void warnIfSlow(long started, long[] steps, int rows, int records) {
    long ended = System.nanoTime();
    long tookNanos = ended - started;
    if (tookNanos < SLOW_BATCH_NANOS) return;
    long last = lastSlowWarningNanos.get();
    long now = System.nanoTime();
    if (now - last < Duration.ofMinutes(1).toNanos() || !lastSlowWarningNanos.compareAndSet(last, now)) return;
    log.warn("Writing {} real-time job rows and {} usage records took {} ms (waiting for a thread and a connection {} ms, index rows {} ms, "
        + "ledger records {} ms, commit {} ms); {} rows and {} records wait", rows, records, tookNanos / 1_000_000,
        (steps[0] - started) / 1_000_000, (steps[1] - steps[0]) / 1_000_000, (steps[2] - steps[1]) / 1_000_000, (ended - steps[2]) / 1_000_000,
        pending.size(), pendingUsageCount.get());
  }

  /**
   * Real-time jobs are written once, under fresh ids: one plain batched insert (which the PostgreSQL
   * driver sends as multi-row statements), and for rows of a batch that failed before, an insert that
   * skips a row already there. A row holds the job's facts ({@code realtime_json}), not its resource.
   */
  private int insertRealtime(Connection c, List<Row> rows) throws SQLException {
    if (rows.isEmpty()) return 0;
    List<Row> again = rows.stream().filter(r -> retried.contains(r.jobId())).toList();
    List<Row> fresh = rows.stream().filter(r -> !retried.contains(r.jobId())).toList();
    String columns = "INSERT INTO ixp_jobs (job_id, org_id, team_id, project_id, use_case, state, realtime, submitted_at, version, realtime_json) ";
    try (PreparedStatement insert = c.prepareStatement(columns + "VALUES (?,?,?,?,?,?,?,?,?,?)");
        PreparedStatement insertIfMissing = c.prepareStatement(columns + "SELECT ?,?,?,?,?,?,?,?,?,? "
            + "WHERE NOT EXISTS (SELECT 1 FROM ixp_jobs WHERE job_id = ?)")) {
      for (Row r : fresh) {
        Sql.bind(insert, r.jobId(), r.orgId(), r.teamId(), r.projectId(), r.useCase(), r.state(), r.realtime(), r.submittedAt(),
            r.version(), r.realtimeJob().storedJson());
        insert.addBatch();
      }
      for (Row r : again) {
        Sql.bind(insertIfMissing, r.jobId(), r.orgId(), r.teamId(), r.projectId(), r.useCase(), r.state(), r.realtime(), r.submittedAt(),
            r.version(), r.realtimeJob().storedJson(), r.jobId());
        insertIfMissing.addBatch();
      }
      if (!fresh.isEmpty()) insert.executeBatch();
      if (!again.isEmpty()) insertIfMissing.executeBatch();
    }
    return rows.size();
  }

  /**
   * Writes deadline jobs' rows within the caller's transaction (the job projection's): a row replaces
   * the one there only if its version is newer, so an event applied twice changes nothing. One batch
   * of updates, one query for the rows that were not there, one batch of inserts.
   */
  public static void writeProjected(Connection c, Collection<Row> rows) throws SQLException {
    if (rows.isEmpty()) return;
    List<Row> list = List.copyOf(rows);
    int[] updated;
    try (PreparedStatement update = c.prepareStatement("UPDATE ixp_jobs SET state = ?, version = ?, resource_json = ? "
        + "WHERE job_id = ? AND version < ?")) {
      for (Row r : list) {
        Sql.bind(update, r.state(), r.version(), json(r.resource()), r.jobId(), r.version());
        update.addBatch();
      }
      updated = update.executeBatch();
    }
    List<Row> notUpdated = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      if (updated[i] != 1) notUpdated.add(list.get(i)); // 0, or a driver that could not say (then the existence check decides)
    }
    if (notUpdated.isEmpty()) return;
    Set<String> there = new HashSet<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT job_id FROM ixp_jobs WHERE job_id IN ("
        + String.join(",", Collections.nCopies(notUpdated.size(), "?")) + ")")) {
      Sql.bind(ps, notUpdated.stream().map(Row::jobId).toArray());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) there.add(rs.getString(1));
      }
    }
    try (PreparedStatement insert = c.prepareStatement("INSERT INTO ixp_jobs (job_id, org_id, team_id, project_id, use_case, state, "
        + "realtime, submitted_at, version, resource_json) VALUES (?,?,?,?,?,?,?,?,?,?)")) {
      int inserts = 0;
      for (Row r : notUpdated) {
        if (there.contains(r.jobId())) continue; // there with this version or a newer one
        Sql.bind(insert, r.jobId(), r.orgId(), r.teamId(), r.projectId(), r.useCase(), r.state(), r.realtime(), r.submittedAt(),
            r.version(), json(r.resource()));
        insert.addBatch();
        inserts++;
      }
      if (inserts > 0) insert.executeBatch();
    }
  }

  /** Empties the deadline jobs' rows, for the job projection's rebuild; real-time jobs' rows stay (they have no events). */
  public static void clearDeadlineJobs(Connection tx) throws SQLException {
    try (PreparedStatement ps = tx.prepareStatement("DELETE FROM ixp_jobs WHERE realtime = FALSE")) {
      ps.executeUpdate();
    }
  }

  /** A row as read: a deadline job's resource as stored, or a real-time job's built from its facts (rows from before V18 hold its resource). */
  private static Row row(ResultSet rs) throws SQLException {
    String jobId = rs.getString("job_id");
    String orgId = rs.getString("org_id");
    String teamId = rs.getString("team_id");
    String projectId = rs.getString("project_id");
    String useCase = rs.getString("use_case");
    String state = rs.getString("state");
    String resourceJson = rs.getString("resource_json");
    String realtimeJson = rs.getString("realtime_json");
    JobResource resource;
    RealtimeJob realtimeJob = null;
    try {
      if (resourceJson != null) {
        resource = JsonBodies.MAPPER.readValue(resourceJson, JobResource.class);
      } else if (realtimeJson != null) {
        realtimeJob = RealtimeJob.fromRow(jobId, orgId, teamId, projectId, useCase, state, realtimeJson);
        resource = realtimeJob.resource();
      } else {
        throw new SQLException("job " + jobId + " has an index row with neither a resource nor a real-time job's facts");
      }
    } catch (JsonProcessingException e) {
      throw new SQLException("job " + jobId + " has an unreadable index row", e);
    }
    return new Row(jobId, orgId, teamId, projectId, useCase, state, rs.getBoolean("realtime"), Sql.instant(rs, "submitted_at"),
        rs.getLong("version"), resource, realtimeJob);
  }

  private static String json(JobResource r) {
    try {
      return JsonBodies.MAPPER.writeValueAsString(r);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a job resource always serializes", e);
    }
  }

  /** 9999-12-31T23:59:59.999Z: no job is submitted later, and databases store no later time. */
  static final long LATEST_MILLIS = 253_402_300_799_999L;

  /** Where a page ends: opaque to clients. */
  record Cursor(Instant submittedAt, String jobId) {
    String encode() {
      return Base64.getUrlEncoder().withoutPadding().encodeToString((submittedAt.toEpochMilli() + ":" + jobId).getBytes(StandardCharsets.UTF_8));
    }

    /** @throws IllegalArgumentException for a cursor this index did not make */
    static Cursor parse(String text) {
      try {
        String s = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
        int colon = s.indexOf(':');
        long millis = Long.parseLong(s.substring(0, colon));
        if (millis < 0 || millis > LATEST_MILLIS) throw new IllegalArgumentException("bad time");
        Instant at = Instant.ofEpochMilli(millis);
        String id = s.substring(colon + 1);
        if (!id.matches("job_[0-9a-z]{16}")) throw new IllegalArgumentException("bad id");
        return new Cursor(at, id);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("the cursor is not one this API returned");
      }
    }
  }
}
