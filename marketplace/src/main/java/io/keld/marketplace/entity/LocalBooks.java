package io.keld.marketplace.entity;

import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.OrderBookCore;
import io.keld.marketplace.book.Quote;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node-local, read-only replica of every book, refreshed from the book entities every
 * {@code refresh}. The real-time path quotes from it without a round trip to the entity; a quote
 * here is at most one refresh old, and it commits nothing (the book stays the authority for fills).
 */
public final class LocalBooks {

  private static final Logger log = LoggerFactory.getLogger(LocalBooks.class);

  private final BookClient books;
  private final List<String> useCases;
  private final Clock clock;
  private final Map<String, OrderBookCore> replicas = new ConcurrentHashMap<>();
  private final Map<String, List<Quote.Option>> offers = new ConcurrentHashMap<>();

  public LocalBooks(ActorSystem<?> system, BookClient books, List<String> useCases, Duration refresh, Clock clock) {
    this.books = books;
    this.useCases = List.copyOf(useCases);
    this.clock = clock;
    system.scheduler().scheduleWithFixedDelay(Duration.ZERO, refresh, this::refresh, system.executionContext());
  }

  private void refresh() {
    for (String useCase : useCases) {
      books.snapshot(useCase).whenComplete((snapshot, failure) -> {
        if (failure != null) {
          log.debug("The local replica of book {} could not be refreshed: {}", useCase, failure.toString());
        } else {
          OrderBookCore replica = OrderBookCore.fromSnapshot(snapshot.book());
          replicas.put(useCase, replica);
          offers.put(useCase, replica.quote(ANY, clock.millis(), Integer.MAX_VALUE).options());
        }
      });
    }
  }

  /** What {@code bid} would clear at on the replica now, or empty before the first refresh answered. */
  public Optional<Quote> quote(String useCase, Bid bid, int maxOptions) {
    OrderBookCore replica = replicas.get(useCase);
    return replica == null ? Optional.empty() : Optional.of(replica.quote(bid, clock.millis(), maxOptions));
  }

  /**
   * Every ask on the book that is open now, cheapest first (the book's priority order): what the
   * catalog of models shows.
   */
  public List<Quote.Option> offers(String useCase) {
    return offers.getOrDefault(useCase, List.of());
  }

  /** A bid any open ask could serve: one token, no ceiling below the book's maximum, a deadline far away. */
  private static final Bid ANY = new Bid("catalog", "", null, 0, OrderBookCore.MAX_PRICE, 1, Long.MAX_VALUE / 4, Long.MAX_VALUE / 4,
      null, null, null, null);

  /** True once every book's replica has arrived at least once. */
  public boolean loaded() {
    return replicas.keySet().containsAll(useCases);
  }

  public List<String> useCases() {
    return useCases;
  }
}
