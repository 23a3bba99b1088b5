package io.keld.marketplace.entity;

import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookSnapshot;
import io.keld.marketplace.book.Quote;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;

/**
 * A node-local, read-only replica of every book. Each replica follows the events its book persists
 * (published on the book's topic, {@link BookEventTopics}) and starts again from a snapshot when it
 * misses some, when the book restarts, or when the book has been quiet for {@code resyncWhenQuiet}
 * (see {@link BookFollower}). The real-time path quotes from it without a round trip to the entity;
 * a quote here lags the book by the time an event takes to arrive, and it commits nothing (the book
 * stays the authority for fills).
 */
public final class LocalBooks {

  /** Tells the actors of two instances in one system apart (tests make more than one). */
  private static final AtomicLong INSTANCES = new AtomicLong();

  private final List<String> useCases;
  private final Clock clock;
  private final Map<String, BookReplica> replicas = new ConcurrentHashMap<>();
  private final LongAdder resyncs = new LongAdder();

  public LocalBooks(ActorSystem<?> system, BookClient books, List<String> useCases, Duration resyncWhenQuiet, Clock clock) {
    this.useCases = List.copyOf(useCases);
    this.clock = clock;
    long instance = INSTANCES.incrementAndGet();
    for (String useCase : this.useCases) {
      BookReplica replica = new BookReplica();
      replicas.put(useCase, replica);
      system.systemActorOf(BookFollower.create(useCase, books, replica, resyncWhenQuiet, resyncs),
          "local-books-" + instance + "-" + URLEncoder.encode(useCase, StandardCharsets.UTF_8), Props.empty());
    }
  }

  /** What {@code bid} would clear at on the replica now, or empty before the replica's first snapshot arrived. */
  public Optional<Quote> quote(String useCase, Bid bid, int maxOptions) {
    BookReplica replica = replicas.get(useCase);
    return replica == null ? Optional.empty() : replica.quote(bid, clock.millis(), maxOptions);
  }

  /**
   * Every ask on the book that is open now, cheapest first (the book's priority order): what the
   * catalog of models shows.
   */
  public List<Quote.Option> offers(String useCase) {
    BookReplica replica = replicas.get(useCase);
    return replica == null ? List.of() : replica.offers(clock.millis());
  }

  /** True once every book's replica has arrived at least once. */
  public boolean loaded() {
    return replicas.values().stream().allMatch(BookReplica::loaded);
  }

  public List<String> useCases() {
    return useCases;
  }

  /** How many snapshots the replicas have asked for so far: a start, a gap, a restart or a quiet book each cost one. */
  long resyncs() {
    return resyncs.sum();
  }

  /** The replica of {@code useCase} as it stands, or null before its first snapshot. */
  BookSnapshot replicaSnapshot(String useCase) {
    BookReplica replica = replicas.get(useCase);
    return replica == null ? null : replica.snapshot();
  }
}
