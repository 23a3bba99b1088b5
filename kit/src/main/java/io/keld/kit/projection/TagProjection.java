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
 * <p>{@link #rebuild} clears the read side and sets the offset back to zero; a running projection
 * sees the new generation at its next batch (its write is refused) and starts again from zero.
 * Its lag is published as the gauges {@code keld_projection_lag_events} (events of the tag not yet
 * applied) and {@code keld_projection_lag_seconds} (age of the oldest of them).
 */
public final class TagProjection {

  private static final Logger log = LoggerFactory.getLogger(TagProjection.class);

  /** Applies a batch of events to the read side, on the connection of the transaction that also moves the offset. */
  @FunctionalInterface
  public interface Handler {
    void apply(Connection c, List<EventEnvelope> batch) throws SQLException;
  }

  /**
   * What a projection is: its name (the offset's key, and what {@code keld projections rebuild}
   * takes), the tag it reads, and the statements that empty its read side for a rebuild.
   */
  public record Spec(String name, String tag, List<String> resetStatements) {}

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
  private volatile UniqueKillSwitch running;

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
              .mapAsync(1, batch -> sql.transaction(c -> commit(c, batch, from.generation(), applied)));
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

  private record StartingPoint(long offset, long generation) {}

  private StartingPoint startingPoint(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT journal_offset, generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          StartingPoint p = new StartingPoint(rs.getLong(1), rs.getLong(2));
          committed.set(p.offset());
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
    committed.set(0);
    return new StartingPoint(0, 0);
  }

  /**
   * Moves the offset from where this stream left it to the batch's last event, then applies the
   * batch. The offset row is updated first, and only if it still holds this stream's offset and
   * generation: a projection that was rebuilt, or that another node moved on, refuses the batch
   * (rolled back, the stream starts again from the stored offset) and nothing is applied twice.
   */
  private Done commit(Connection c, List<EventEnvelope> batch, long generation, AtomicLong applied) throws SQLException {
    long last = ((Sequence) batch.get(batch.size() - 1).offset()).value();
    try (PreparedStatement ps = c.prepareStatement("UPDATE projection_offsets SET journal_offset = ?, updated_at = ? "
        + "WHERE projection_name = ? AND generation = ? AND journal_offset = ?")) {
      Sql.bind(ps, last, Instant.now(clock), spec.name(), generation, applied.get());
      if (ps.executeUpdate() != 1) throw new StaleGeneration(spec.name());
    }
    handler.apply(c, batch);
    applied.set(last);
    committed.set(last);
    return Done.done();
  }

  private Done pollLag(Connection c, long generation) throws SQLException {
    long from = committed.get();
    try (PreparedStatement ps = c.prepareStatement("SELECT generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && rs.getLong(1) != generation) throw new StaleGeneration(spec.name());
      }
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT count(*), min(j.write_timestamp) FROM event_tag t "
        + "JOIN event_journal j ON j.ordering = t.event_id WHERE t.tag = ? AND t.event_id > ?")) {
      Sql.bind(ps, spec.tag(), from);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        long count = rs.getLong(1);
        long oldest = rs.getLong(2);
        behind.set(count);
        lagMillis.set(count == 0 || rs.wasNull() ? 0 : Math.max(0, clock.millis() - oldest));
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
