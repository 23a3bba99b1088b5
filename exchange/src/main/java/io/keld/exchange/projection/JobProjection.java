package io.keld.exchange.projection;

import io.keld.exchange.ixp.JobIndex;
import io.keld.exchange.ixp.JobResources;
import io.keld.exchange.jobs.DeadlineJob;
import io.keld.exchange.jobs.JobEvent;
import io.keld.exchange.jobs.JobState;
import io.keld.exchange.jobs.JobUsageStore;
import io.keld.exchange.jobs.JobView;
import io.keld.kit.projection.TagProjection;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The deadline jobs' read sides as one projection of their journal ({@link JobEvent#TAG}): the job
 * index rows behind {@code GET /ixp/v1/jobs} ({@link JobIndex#writeProjected}), and, from a job's
 * {@code Settled}, its usage rows and their spend-ledger records ({@link JobUsageStore}). One
 * projection, not three, so the jobs' events are read back once and each batch is one transaction.
 *
 * <p>A row needs the job's whole state, so the projection folds each job's events into a
 * {@link JobState} with the entity's own {@link JobState#apply}, and keeps the states of live jobs in
 * memory between batches. A job it has no state for (the projection restarted, or the job was
 * evicted) is read back from the journal up to the event before the batch's. Per batch, each job's
 * row is written once, at its last event; usage rows come from the state just before
 * {@code Settled}, the state the settlement charged.
 *
 * <p>Every write is idempotent: an index row is replaced only by a newer sequence number, usage rows
 * and ledger records are keyed by job and leg. So a batch applied twice (which the offset's
 * transaction already prevents) changes nothing.
 */
public final class JobProjection implements TagProjection.Handler {

  /** {@code keld projections rebuild jobs}: empties the deadline jobs' index rows, usage rows and their ledger records. */
  public static final TagProjection.Spec SPEC = new TagProjection.Spec("jobs", JobEvent.TAG, List.of(), tx -> {
    JobUsageStore.clearDeadlineJobs(tx);
    JobIndex.clearDeadlineJobs(tx);
  });

  /** Folded states kept between batches; a job past this many is read back from the journal when it next has an event. */
  static final int MAX_JOBS_IN_MEMORY = 20_000;
  private static final Duration REPLAY_TIMEOUT = Duration.ofSeconds(30);
  private static final String PERSISTENCE_ID_PREFIX = DeadlineJob.ENTITY_KEY.name() + "|";

  /** A job's state after the event {@code seqNr}. */
  private static final class Folded {
    final JobState state;
    long seqNr;

    Folded(JobState state, long seqNr) {
      this.state = state;
      this.seqNr = seqNr;
    }
  }

  private final ActorSystem<?> system;
  private final JobUsageStore usage;
  private final Map<String, Folded> states = new LinkedHashMap<>(1_024, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Folded> eldest) {
      return size() > MAX_JOBS_IN_MEMORY;
    }
  };

  public JobProjection(ActorSystem<?> system, JobUsageStore usage) {
    this.system = system;
    this.usage = usage;
  }

  @Override
  public void restarting() {
    states.clear(); // a batch folded into them may have been rolled back
  }

  @Override
  public void apply(Connection c, List<EventEnvelope> batch) throws SQLException {
    Map<String, Folded> touched = new LinkedHashMap<>();
    List<JobUsageStore.UsageRecord> settled = new ArrayList<>();
    for (EventEnvelope e : batch) {
      if (!(e.event() instanceof JobEvent event) || !e.persistenceId().startsWith(PERSISTENCE_ID_PREFIX)) continue;
      String jobId = e.persistenceId().substring(PERSISTENCE_ID_PREFIX.length());
      Folded job = touched.get(jobId);
      if (job == null) job = states.get(jobId);
      if (job == null || job.seqNr >= e.sequenceNr() || job.seqNr + 1 < e.sequenceNr()) job = replay(e.persistenceId(), e.sequenceNr());
      if (event instanceof JobEvent.Settled && !job.state.isEmpty()) settled.addAll(JobUsageStore.recordsOf(job.state));
      job.state.apply(event);
      job.seqNr = e.sequenceNr();
      touched.put(jobId, job);
    }
    List<JobIndex.Row> rows = new ArrayList<>(touched.size());
    for (Folded job : touched.values()) {
      if (!job.state.isEmpty()) rows.add(JobIndex.Row.of(JobResources.of(JobView.of(job.state)), job.seqNr));
    }
    JobIndex.writeProjected(c, rows);
    usage.writeInTransaction(c, settled);
    // A settled job has nothing left to project; a late event (a fill's log position) reads it back.
    touched.forEach((jobId, job) -> {
      if (job.state.settled()) states.remove(jobId);
      else states.put(jobId, job);
    });
  }

  /**
   * The job's state just before its event {@code seqNr}, from the journal: its first event starts
   * from nothing. Blocks the projection's thread (a JDBC thread already) until the journal answers.
   */
  private Folded replay(String persistenceId, long seqNr) throws SQLException {
    JobState state = new JobState();
    if (seqNr <= 1) return new Folded(state, 0);
    CurrentEventsByPersistenceIdQuery journal = PersistenceQuery.get(system)
        .getReadJournalFor(CurrentEventsByPersistenceIdQuery.class, "jdbc-read-journal");
    List<EventEnvelope> earlier;
    try {
      earlier = journal.currentEventsByPersistenceId(persistenceId, 1, seqNr - 1).runWith(Sink.seq(), system)
          .toCompletableFuture().get(REPLAY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      throw new SQLException("could not read the journal of " + persistenceId + " up to " + (seqNr - 1), e);
    }
    long last = 0;
    for (EventEnvelope e : earlier) {
      state.apply((JobEvent) e.event());
      last = e.sequenceNr();
    }
    if (last != seqNr - 1) throw new SQLException(persistenceId + ": the journal has events up to " + last + ", not " + (seqNr - 1));
    return new Folded(state, last);
  }
}
