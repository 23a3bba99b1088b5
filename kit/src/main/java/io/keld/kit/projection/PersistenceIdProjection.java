package io.keld.kit.projection;

import io.keld.kit.sql.Sql;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
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
 * A read side fed from the journals of a known, small set of entities (the order books, one per use
 * case). The journal is the truth; what is heard is a shortcut to it:
 * <ul>
 *   <li><b>heard</b>: each batch an entity persisted reaches the projection from memory (the entities
 *       publish them; see {@code BookEventTopics}) and is applied as it is, when it follows the last
 *       event applied for that entity;
 *   <li><b>read</b>: whatever was not heard comes from the journal: a gap before a heard batch (read
 *       then and there when small), and, at every {@code quietAfter} tick, any entity whose oldest
 *       unapplied event is older than {@code quietAfter} (the projection started, was rebuilt, or a
 *       batch was lost: dropped from a full buffer, lost in transit, or persisted by a node that died
 *       before it published).
 * </ul>
 * Each group of events is applied in one transaction with the entity's offset (the sequence number
 * of its last event applied, moved by compare-and-set), so every event counts exactly once however
 * it arrived, also across crashes and with two nodes briefly running the projection at once.
 *
 * <p>Why not by tag ({@link TagProjection}): pekko-persistence-jdbc 1.1 writes a batch that holds a
 * tagged event one row at a time, to read each row's ordering back for its tag row; on the books' hot
 * path that, with reading every event back through {@code eventsByTag}, cut persisted bids from
 * ~15k/s to ~2.6k/s on this machine (BENCHMARKS.md). Entities with a known set of ids need neither.
 *
 * <p>Rebuilt like the others ({@link TagProjection#rebuild}: the generation moves, the entities'
 * offsets are deleted); its lag is the same gauges, {@code keld_projection_lag_events} and
 * {@code keld_projection_lag_seconds}.
 */
public final class PersistenceIdProjection {

  private static final Logger log = LoggerFactory.getLogger(PersistenceIdProjection.class);

  /** What an entity persisted in one write: its events in order, the first at {@code firstSeqNr}. */
  public record Batch(String persistenceId, long firstSeqNr, List<?> events) {
    public long lastSeqNr() {
      return firstSeqNr + events.size() - 1;
    }
  }

  /** Applies an entity's events, in order, the first at {@code firstSeqNr}, on the connection of the transaction that moves its offset. */
  @FunctionalInterface
  public interface Handler {
    void apply(Connection c, String persistenceId, long firstSeqNr, List<?> events) throws SQLException;
  }

  /**
   * @param maxBatch        events applied in one transaction (heard batches are grouped up to this, journal reads page by it)
   * @param maxWait         how long heard batches wait to be grouped
   * @param quietAfter      how old an unapplied event gets before the journal is read for it; also how often that is checked
   * @param bufferedBatches heard batches kept while a transaction runs; past this they are dropped (and read from the journal)
   */
  public record Settings(int maxBatch, Duration maxWait, Duration quietAfter, int bufferedBatches) {
    /**
     * Large transactions: with 2,000 events and 50 ms the books' statement fell 350,000 events
     * (11 s) behind persisted bids at saturation; with 10,000 it stayed within a second (book-persistent).
     */
    public static final Settings DEFAULT = new Settings(10_000, Duration.ofMillis(100), Duration.ofSeconds(1), 10_000);
  }

  private sealed interface Item {}

  private record Heard(Batch batch) implements Item {}

  private enum Tick implements Item { INSTANCE }

  private static final class StaleOffset extends RuntimeException {
    StaleOffset(String why) {
      super(why);
    }
  }

  private final ActorSystem<?> system;
  private final Sql sql;
  private final TagProjection.Spec spec;
  private final List<String> persistenceIds;
  private final Supplier<Source<Batch, ?>> heard;
  private final Handler handler;
  private final Settings settings;
  private final Clock clock;
  private final Serialization serialization;
  /** The last sequence number applied, per entity, as committed. Touched by one transaction at a time. */
  private final Map<String, Long> offsets = new ConcurrentHashMap<>();
  /** The last sequence number heard for each entity since the stream started (some may still wait in the buffer). */
  private final Map<String, Long> heardUpTo = new ConcurrentHashMap<>();
  /** Entities whose next heard batch could not be applied: a gap too large (or with a hole) to read in passing. */
  private final Set<String> stalled = ConcurrentHashMap.newKeySet();
  private final AtomicLong behind = new AtomicLong();
  private final AtomicLong lagMillis = new AtomicLong();
  private final AtomicLong readFromJournal = new AtomicLong();
  private volatile UniqueKillSwitch running;

  /**
   * @param spec           the projection's name and what a rebuild empties ({@code tag} is only shown by {@code keld projections list})
   * @param persistenceIds the entities whose journals feed it
   * @param heard          a fresh source of the batches those entities persist, from the moment it is materialized
   */
  public PersistenceIdProjection(ActorSystem<?> system, Sql sql, TagProjection.Spec spec, List<String> persistenceIds,
      Supplier<Source<Batch, ?>> heard, Handler handler, Settings settings, Clock clock, MeterRegistry registry) {
    this.system = system;
    this.sql = sql;
    this.spec = spec;
    this.persistenceIds = List.copyOf(persistenceIds);
    this.heard = heard;
    this.handler = handler;
    this.settings = settings;
    this.clock = clock;
    this.serialization = SerializationExtension.get(system.classicSystem());
    FunctionCounter.builder("keld.projection.journal.reads", readFromJournal, AtomicLong::get)
        .description("Events applied from the journal rather than as heard (at start, after a rebuild, for gaps, or when the heard path stalls)")
        .tag("projection", spec.name()).register(registry);
    Gauge.builder("keld.projection.lag.events", behind, AtomicLong::get).description("Events of the projection's tag not yet applied")
        .tag("projection", spec.name()).register(registry);
    Gauge.builder("keld.projection.lag.seconds", lagMillis, m -> m.get() / 1000.0)
        .description("How long the oldest event not yet applied has waited").tag("projection", spec.name()).register(registry);
  }

  public TagProjection.Spec spec() {
    return spec;
  }

  /** The last sequence number applied for {@code persistenceId} (0: none). */
  public long offset(String persistenceId) {
    return offsets.getOrDefault(persistenceId, 0L);
  }

  /** Events not yet applied, as of the last tick. */
  public long eventsBehind() {
    return behind.get();
  }

  /** Events applied from the journal rather than as heard (at start, after a rebuild, for gaps). */
  public long eventsReadFromJournal() {
    return readFromJournal.get();
  }

  /** Starts; runs until {@link #stop}, restarting after failures from the stored offsets. */
  public PersistenceIdProjection start() {
    RestartSettings backoff = RestartSettings.create(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2);
    Source<Done, ?> source = RestartSource.withBackoff(backoff, () -> Source.completionStageSource(sql.run(this::startingPoint)
        .thenApply(generation -> {
          Source<Item, ?> live = heard.get()
              .map(b -> {
                heardUpTo.merge(b.persistenceId(), b.lastSeqNr(), Math::max);
                return b;
              })
              .buffer(settings.bufferedBatches(), org.apache.pekko.stream.OverflowStrategy.dropHead())
              .map(b -> (Item) new Heard(b));
          Source<Item, ?> ticks = Source.tick(Duration.ZERO, settings.quietAfter(), (Item) Tick.INSTANCE);
          return live.merge(ticks)
              .groupedWeightedWithin(settings.maxBatch(), i -> i instanceof Heard h ? Math.max(1L, h.batch().events().size()) : 1L,
                  settings.maxWait())
              .mapAsync(1, group -> {
                List<Item> fresh = unapplied(group);
                return fresh.isEmpty() ? CompletableFuture.completedFuture(Done.done()) : sql.run(c -> apply(c, fresh, generation));
              });
        })));
    running = source.viaMat(KillSwitches.single(), Keep.right()).toMat(Sink.ignore(), Keep.left()).run(system);
    return this;
  }

  public void stop() {
    UniqueKillSwitch r = running;
    if (r != null) r.shutdown();
  }

  /** The projection's generation (its row created the first time), and the entities' offsets as stored. */
  private long startingPoint(Connection c) throws SQLException {
    long generation = -1;
    try (PreparedStatement ps = c.prepareStatement("SELECT generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) generation = rs.getLong(1);
      }
    }
    if (generation < 0) {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO projection_offsets (projection_name, tag, journal_offset, generation, updated_at) VALUES (?, ?, 0, 0, ?)")) {
        Sql.bind(ps, spec.name(), spec.tag(), Instant.now(clock));
        ps.executeUpdate();
      } catch (SQLException e) {
        if (!Sql.isUniqueViolation(e)) throw e; // another node's projection started first
      }
      generation = 0;
    }
    offsets.clear();
    heardUpTo.clear();
    stalled.clear();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT persistence_id, sequence_number FROM projection_persistence_id_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) offsets.put(rs.getString(1), rs.getLong(2));
      }
    }
    return generation;
  }

  /**
   * The group without the heard batches already applied (read from the journal while they waited in
   * the buffer): skipping those costs no transaction, so the heard path catches up at once after a
   * read from the journal instead of spending a round trip on each stale group.
   */
  private List<Item> unapplied(List<Item> group) {
    List<Item> fresh = new ArrayList<>(group.size());
    for (Item item : group) {
      if (item instanceof Heard h && (h.batch().events().isEmpty() || h.batch().lastSeqNr() <= offset(h.batch().persistenceId()))) continue;
      fresh.add(item);
    }
    return fresh;
  }

  private Done apply(Connection c, List<Item> group, long generation) throws SQLException {
    Map<String, List<Batch>> byEntity = new LinkedHashMap<>();
    boolean tick = false;
    for (Item item : group) {
      if (item instanceof Heard h) byEntity.computeIfAbsent(h.batch().persistenceId(), k -> new ArrayList<>()).add(h.batch());
      else tick = true;
    }
    if (!byEntity.isEmpty()) applyHeard(c, byEntity, generation);
    if (tick) catchUpQuietEntities(c, generation);
    return Done.done();
  }

  /**
   * Applies heard batches that follow the entity's offset, as one run of events per entity; a small
   * gap before one is read from the journal into the run. Batches behind a larger gap, or a gap with
   * a hole, are left to the journal (the next tick reads them).
   */
  private void applyHeard(Connection c, Map<String, List<Batch>> byEntity, long generation) throws SQLException {
    Map<String, Long> moved = Sql.inTransaction(c, tx -> {
      Map<String, Long> to = new HashMap<>();
      long applied = 0;
      for (Map.Entry<String, List<Batch>> e : byEntity.entrySet()) {
        String pid = e.getKey();
        long offset = offset(pid);
        long runFirst = offset + 1;
        List<Object> run = new ArrayList<>();
        for (Batch b : e.getValue()) {
          if (b.events().isEmpty() || b.lastSeqNr() <= offset) continue; // already applied (read from the journal)
          if (b.firstSeqNr() > offset + 1) {
            long missing = b.firstSeqNr() - 1 - offset;
            if (missing > settings.maxBatch()) {
              stalled.add(pid);
              break;
            }
            List<Object> gap = read(tx, pid, offset + 1, b.firstSeqNr() - 1);
            if (gap.size() != missing) {
              stalled.add(pid);
              break;
            }
            run.addAll(gap);
            readFromJournal.addAndGet(missing);
            offset = b.firstSeqNr() - 1;
          }
          int skip = (int) (offset + 1 - b.firstSeqNr());
          run.addAll(b.events().subList(skip, b.events().size()));
          offset = b.lastSeqNr();
        }
        if (run.isEmpty()) continue;
        handler.apply(tx, pid, runFirst, run);
        applied += run.size();
        to.put(pid, offset);
      }
      moveOffsets(tx, to, generation, applied);
      return to;
    });
    offsets.putAll(moved);
  }

  /**
   * Every tick: the lag of each entity, and a read of the journal, a page a transaction, for each
   * whose oldest unapplied event is older than {@code quietAfter} and that nothing heard will bring:
   * the event was never heard (lost with a node, written before the stream started, or never
   * published), or a heard batch is stuck behind a gap it could not read in passing. An event that
   * was heard and only waits in the buffer, because the projection is busier than the books, is left
   * to the heard path: reading it from the journal as well costs a query and deserialization, and
   * would slow a projection that is already behind further (measured: with this rule missing, the
   * books' statement read every event from the journal under load).
   */
  private void catchUpQuietEntities(Connection c, long generation) throws SQLException {
    checkGeneration(c, generation);
    long totalBehind = 0;
    long oldestMillis = 0;
    for (String pid : persistenceIds) {
      long last = lastSeqNr(c, pid);
      long offset = offset(pid);
      if (last <= offset) continue;
      long writtenAt = writeTimestamp(c, pid, offset + 1);
      boolean unheard = heardUpTo.getOrDefault(pid, 0L) <= offset || stalled.contains(pid);
      if (unheard && clock.millis() - writtenAt >= settings.quietAfter().toMillis()) {
        stalled.remove(pid);
        while (offset < last) {
          long from = offset + 1;
          long to = Math.min(last, offset + settings.maxBatch());
          Sql.inTransaction(c, tx -> {
            long applied = readAndApply(tx, pid, from, to);
            moveOffsets(tx, Map.of(pid, to), generation, applied);
            return null;
          });
          offsets.put(pid, to);
          offset = to;
        }
        log.debug("projection {}: {} read from the journal up to {}", spec.name(), pid, last);
      } else {
        totalBehind += last - offset;
        oldestMillis = Math.max(oldestMillis, clock.millis() - writtenAt);
      }
    }
    behind.set(totalBehind);
    lagMillis.set(oldestMillis);
  }

  /** Reads the entity's events {@code from} to {@code to} from the journal and applies them; returns how many sequence numbers that covered. */
  private int readAndApply(Connection tx, String pid, long from, long to) throws SQLException {
    List<Object> events = new ArrayList<>();
    long first = -1;
    long expected = from;
    try (PreparedStatement ps = journalRange(tx, pid, from, to); ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        long seq = rs.getLong(1);
        if (seq != expected) {
          // A hole (deleted events): apply what came before it, then go on after it.
          if (!events.isEmpty()) handler.apply(tx, pid, first, events);
          events = new ArrayList<>();
          first = -1;
        }
        if (first < 0) first = seq;
        events.add(event(rs));
        expected = seq + 1;
      }
    }
    if (!events.isEmpty()) handler.apply(tx, pid, first, events);
    readFromJournal.addAndGet(to - from + 1);
    return (int) (to - from + 1);
  }

  /** The entity's events {@code from} to {@code to} as the journal has them (fewer when some were deleted). */
  private List<Object> read(Connection tx, String pid, long from, long to) throws SQLException {
    List<Object> events = new ArrayList<>();
    try (PreparedStatement ps = journalRange(tx, pid, from, to); ResultSet rs = ps.executeQuery()) {
      while (rs.next()) events.add(event(rs));
    }
    return events;
  }

  private static PreparedStatement journalRange(Connection tx, String pid, long from, long to) throws SQLException {
    PreparedStatement ps = tx.prepareStatement("SELECT sequence_number, event_ser_id, event_ser_manifest, event_payload "
        + "FROM event_journal WHERE persistence_id = ? AND sequence_number >= ? AND sequence_number <= ? AND deleted = FALSE "
        + "ORDER BY sequence_number");
    Sql.bind(ps, pid, from, to);
    return ps;
  }

  private Object event(ResultSet rs) throws SQLException {
    return serialization.deserialize(rs.getBytes(4), rs.getInt(2), rs.getString(3)).get();
  }

  /**
   * Moves the entities' offsets from what this instance holds, by compare-and-set: a rebuild (the
   * generation moved) or another node's instance (an offset moved) refuses the transaction, and the
   * stream starts again from the stored offsets.
   */
  private void moveOffsets(Connection tx, Map<String, Long> to, long generation, long applied) throws SQLException {
    if (to.isEmpty()) return;
    try (PreparedStatement ps = tx.prepareStatement("UPDATE projection_offsets SET journal_offset = journal_offset + ?, updated_at = ? "
        + "WHERE projection_name = ? AND generation = ?")) {
      Sql.bind(ps, applied, Instant.now(clock), spec.name(), generation);
      if (ps.executeUpdate() != 1) throw new StaleOffset("projection " + spec.name() + " was rebuilt: starting again from its stored offsets");
    }
    try (PreparedStatement update = tx.prepareStatement("UPDATE projection_persistence_id_offsets SET sequence_number = ? "
            + "WHERE projection_name = ? AND persistence_id = ? AND sequence_number = ?");
        PreparedStatement insert = tx.prepareStatement(
            "INSERT INTO projection_persistence_id_offsets (projection_name, persistence_id, sequence_number) VALUES (?, ?, ?)")) {
      for (Map.Entry<String, Long> e : to.entrySet()) {
        Long held = offsets.get(e.getKey());
        int changed;
        if (held == null) {
          Sql.bind(insert, spec.name(), e.getKey(), e.getValue());
          try {
            changed = insert.executeUpdate();
          } catch (SQLException dup) {
            if (!Sql.isUniqueViolation(dup)) throw dup;
            changed = 0;
          }
        } else {
          Sql.bind(update, e.getValue(), spec.name(), e.getKey(), held);
          changed = update.executeUpdate();
        }
        if (changed != 1) throw new StaleOffset("projection " + spec.name() + ": another instance moved " + e.getKey() + "; starting again");
      }
    }
  }

  private void checkGeneration(Connection c, long generation) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT generation FROM projection_offsets WHERE projection_name = ?")) {
      ps.setString(1, spec.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && rs.getLong(1) != generation) {
          throw new StaleOffset("projection " + spec.name() + " was rebuilt: starting again from its stored offsets");
        }
      }
    }
  }

  private static long lastSeqNr(Connection c, String pid) throws SQLException {
    // Planned each run: this runs every tick while the journal grows (see Sql.planEachRun).
    try (PreparedStatement ps = Sql.planEachRun(c.prepareStatement("SELECT max(sequence_number) FROM event_journal WHERE persistence_id = ?"))) {
      ps.setString(1, pid);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    }
  }

  private long writeTimestamp(Connection c, String pid, long seq) throws SQLException {
    try (PreparedStatement ps = Sql.planEachRun(c.prepareStatement(
        "SELECT write_timestamp FROM event_journal WHERE persistence_id = ? AND sequence_number >= ? ORDER BY sequence_number LIMIT 1"))) {
      Sql.bind(ps, pid, seq);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : clock.millis();
      }
    }
  }
}
