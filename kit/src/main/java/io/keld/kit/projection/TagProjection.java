package io.keld.kit.projection;

import io.keld.kit.sql.Sql;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.javadsl.EventsByTagQuery;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.RestartSettings;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.RestartSource;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read side fed from the event journal: the events of one tag, in journal order, from the stored
 * offset on ({@code eventsByTag} of the read journal). Each batch is applied and the offset moved in
 * one transaction of the same database, so every event is applied exactly once, also across
 * crashes: a node that dies after the events persisted and before the read side was written simply
 * applies them when it comes back. A failure restarts the stream from the stored offset, with backoff.
 *
 * <p>Pekko Projections would do this, but {@code pekko-projection-jdbc} exists only as 1.0.0 (built
 * on Pekko 1.0, not 1.7); this is the small part of it Keld needs.
 *
 * <p>A handler may keep what it folded from earlier events in memory between batches (the job
 * projection keeps each live job's state): it is told when the stream starts again from the stored
 * offset ({@link Handler#restarting}), and a batch of an earlier start still in flight is refused.
 *
 * <p>{@link #rebuild} clears the read side and sets the offset back to zero; a running projection
 * sees the new generation at its next batch (its write is refused) and starts again from zero.
 * Its lag is published as the gauges {@code keld_projection_lag_events} (events of the tag not yet
 * applied) and {@code keld_projection_lag_seconds} (age of the oldest of them), polled every second
 * at the cost of the journal rows written since the last poll.
 */
public final class TagProjection {

  private static final Logger log = LoggerFactory.getLogger(TagProjection.class);

  /** Applies a batch of events to the read side, on the connection of the transaction that also moves the offset. */
  @FunctionalInterface
  public interface Handler {
    void apply(Connection c, List<EventEnvelope> batch) throws SQLException;

    /**
     * The stream starts (again) from the stored offset: a handler that keeps anything in memory
     * between batches (state folded from earlier events) forgets it here, since a batch it saw may
     * have been rolled back.
     */
    default void restarting() {}
  }

  /** Empties a read side for a rebuild, inside the rebuild's transaction. */
  @FunctionalInterface
  public interface Reset {
    void clear(Connection tx) throws SQLException;

    Reset NONE = tx -> {};
  }

  /**
   * What a projection is: its name (the offset's key, and what {@code keld projections rebuild}
   * takes), the tag it reads, and what empties its read side for a rebuild: statements, then {@code reset}.
   */
  public record Spec(String name, String tag, List<String> resetStatements, Reset reset) {
    public Spec(String name, String tag, List<String> resetStatements) {
      this(name, tag, resetStatements, Reset.NONE);
    }
  }

  /** Batch size and wait: under load a batch fills; when quiet an event waits at most {@code maxWait}. */
  public record Settings(int maxBatch, Duration maxWait, Duration lagPoll) {
    public static final Settings DEFAULT = new Settings(500, Duration.ofMillis(50), Duration.ofSeconds(1));
  }

  private static final class StaleGeneration extends RuntimeException {
    StaleGeneration(String name) {
      super("projection " + name + " was rebuilt: starting again from its stored offset");
    }
  }

  private final ActorSystem<?> system;
  private final Sql sql;
  private final Spec spec;
  private final Handler handler;
  private final Settings settings;
  private final Clock clock;
  private final AtomicLong committed = new AtomicLong(-1);
  private final AtomicLong behind = new AtomicLong();
  private final AtomicLong lagMillis = new AtomicLong();
  /**
   * The lag is counted incrementally, so a poll costs the journal rows written since the last poll,
   * not every row after the offset (which, for a tag that is rare or behind, would be most of the
   * journal, every second): the tag's rows counted in (start offset, {@code scanned}], less the
   * events applied since the start.
   */
  private final AtomicLong scanned = new AtomicLong();
  private final AtomicLong counted = new AtomicLong();
  private final AtomicLong appliedSinceStart = new AtomicLong();
  private volatile UniqueKillSwitch running;
  /**
   * Which start of the stream may call the handler: a batch of an earlier start still in flight when
   * the stream restarted is refused, so a handler's memory never mixes two starts.
   */
  private final Object handlerLock = new Object();
  private long epoch;

  public TagProjection(ActorSystem<?> system, Sql sql, Spec spec, Handler handler, Settings settings, Clock clock, MeterRegistry registry) {
    this.system = system;
    this.sql = sql;
    this.spec = spec;
    this.handler = handler;
    this.settings = settings;
    this.clock = clock;
    Gauge.builder("keld.projection.lag.events", behind, AtomicLong::get).description("Events of the projection's tag not yet applied")
        .tag("projection", spec.name()).register(registry);
    Gauge.builder("keld.projection.lag.seconds", lagMillis, m -> m.get() / 1000.0)
        .description("How long the oldest event not yet applied has waited").tag("projection", spec.name()).register(registry);
  }

  public Spec spec() {
    return spec;
  }

  /** The journal ordering of the last event applied (-1 until the projection has read its offset). */
  public long offset() {
    return committed.get();
  }

  /** Events of the tag not yet applied, as of the last poll. */
  public long eventsBehind() {
    return behind.get();
  }

  /** Starts reading; runs until {@link #stop}, restarting after failures from the stored offset. */
  public TagProjection start() {
    EventsByTagQuery journal = PersistenceQuery.get(system).getReadJournalFor(EventsByTagQuery.class, "jdbc-read-journal");
    RestartSettings backoff = RestartSettings.create(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2);
    Source<Done, ?> source = RestartSource.withBackoff(backoff, () -> Source.completionStageSource(sql.run(this::startingPoint)
        .thenApply(from -> {
          AtomicLong applied = new AtomicLong(from.offset());
          Source<Done, ?> events = journal.eventsByTag(spec.tag(), Offset.sequence(from.offset()))
              .groupedWeightedWithin(settings.maxBatch(), e -> 1L, settings.maxWait())
              .mapAsync(1, batch -> sql.transaction(c -> commit(c, batch, from, applied)));
          // The lag poll also notices a rebuild of a quiet projection (no batch to refuse): the stream starts again.
          Source<Done, ?> lag = Source.tick(settings.lagPoll(), settings.lagPoll(), Done.done())
              .mapAsync(1, t -> sql.run(c -> pollLag(c, from.generation())));
          return events.merge(lag);
        })));
    running = source.viaMat(KillSwitches.single(), Keep.right()).toMat(Sink.ignore(), Keep.left()).run(system);
    return this;
  }

  public void stop() {
    UniqueKillSwitch r = running;
    if (r != null) r.shutdown();
  }

  private record StartingPoint(long offset, long generation, long epoch) {}

  private StartingPoint startingPoint(Connection c) throws SQLException {
    long started;
    synchronized (handlerLock) {
      started = ++epoch;
      handler.restarting();
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT journal_offset, generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          StartingPoint p = new StartingPoint(rs.getLong(1), rs.getLong(2), started);
          startCounting(p.offset());
          return p;
        }
      }
    }
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO projection_offsets (projection_name, tag, journal_offset, generation, updated_at) VALUES (?, ?, 0, 0, ?)")) {
      Sql.bind(ps, spec.name(), spec.tag(), Instant.now(clock));
      ps.executeUpdate();
    } catch (SQLException e) {
      if (!Sql.isUniqueViolation(e)) throw e; // another node's projection started first
    }
    startCounting(0);
    return new StartingPoint(0, 0, started);
  }

  /**
   * Moves the offset from where this stream left it to the batch's last event, then applies the
   * batch. The offset row is updated first, and only if it still holds this stream's offset and
   * generation: a projection that was rebuilt, or that another node moved on, refuses the batch
   * (rolled back, the stream starts again from the stored offset) and nothing is applied twice.
   */
  private Done commit(Connection c, List<EventEnvelope> batch, StartingPoint from, AtomicLong applied) throws SQLException {
    long last = ((Sequence) batch.get(batch.size() - 1).offset()).value();
    try (PreparedStatement ps = c.prepareStatement("UPDATE projection_offsets SET journal_offset = ?, updated_at = ? "
        + "WHERE projection_name = ? AND generation = ? AND journal_offset = ?")) {
      Sql.bind(ps, last, Instant.now(clock), spec.name(), from.generation(), applied.get());
      if (ps.executeUpdate() != 1) throw new StaleGeneration(spec.name());
    }
    synchronized (handlerLock) {
      if (epoch != from.epoch()) throw new StaleGeneration(spec.name());
      handler.apply(c, batch);
      appliedSinceStart.addAndGet(batch.size());
    }
    applied.set(last);
    committed.set(last);
    return Done.done();
  }

  private void startCounting(long offset) {
    committed.set(offset);
    appliedSinceStart.set(0);
    counted.set(0);
    scanned.set(offset);
  }

  private Done pollLag(Connection c, long generation) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && rs.getLong(1) != generation) throw new StaleGeneration(spec.name());
      }
    }
    long newest;
    try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(max(ordering), 0) FROM event_journal"); ResultSet rs = ps.executeQuery()) {
      rs.next();
      newest = rs.getLong(1);
    }
    long from = scanned.get();
    if (newest > from) {
      try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM event_tag WHERE tag = ? AND event_id > ? AND event_id <= ?")) {
        Sql.bind(ps, spec.tag(), from, newest);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          counted.addAndGet(rs.getLong(1));
        }
      }
      scanned.set(newest);
    }
    long count = counted.get() - appliedSinceStart.get();
    if (count < 0) {
      // A row that became visible after a later one was counted (concurrent journal writers): caught up, so count from here.
      counted.set(appliedSinceStart.get());
      count = 0;
    }
    behind.set(count);
    if (count == 0) {
      lagMillis.set(0);
      return Done.done();
    }
    // The oldest event not applied: the tag's first row after the offset (found at once when the tag is busy).
    try (PreparedStatement ps = c.prepareStatement("SELECT j.write_timestamp FROM event_tag t JOIN event_journal j ON j.ordering = t.event_id "
        + "WHERE t.tag = ? AND t.event_id > ? ORDER BY t.event_id LIMIT 1")) {
      Sql.bind(ps, spec.tag(), committed.get());
      try (ResultSet rs = ps.executeQuery()) {
        lagMillis.set(rs.next() ? Math.max(0, clock.millis() - rs.getLong(1)) : 0);
      }
    }
    return Done.done();
  }

  /**
   * Empties the read side of {@code spec} and puts its offset back to zero, in one transaction; a
   * running projection notices at its next batch and starts again from zero. Returns the offset it had.
   */
  public static long rebuild(Connection c, Spec spec) throws SQLException {
    return Sql.inTransaction(c, tx -> {
      long had = -1;
      try (PreparedStatement ps = tx.prepareStatement("SELECT journal_offset FROM projection_offsets WHERE projection_name = ? FOR UPDATE")) {
        ps.setString(1, spec.name());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) had = rs.getLong(1);
        }
      }
      for (String statement : spec.resetStatements()) {
        try (PreparedStatement ps = tx.prepareStatement(statement)) {
          ps.executeUpdate();
        }
      }
      spec.reset().clear(tx);
      if (had >= 0) {
        try (PreparedStatement ps = tx.prepareStatement(
            "UPDATE projection_offsets SET journal_offset = 0, generation = generation + 1, updated_at = ? WHERE projection_name = ?")) {
          Sql.bind(ps, Instant.now(), spec.name());
          ps.executeUpdate();
        }
      }
      // A projection fed by persistence id (PersistenceIdProjection) keeps an offset per entity.
      try (PreparedStatement ps = tx.prepareStatement("DELETE FROM projection_persistence_id_offsets WHERE projection_name = ?")) {
        ps.setString(1, spec.name());
        ps.executeUpdate();
      }
      log.info("projection {} rebuilt: its read side emptied, its offset {} set back to 0", spec.name(), Math.max(had, 0));
      return had;
    });
  }

  /** The stored offset of a projection, or -1 if it never ran. */
  public static long storedOffset(Connection c, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT journal_offset FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : -1;
      }
    }
  }
}
