package io.keld.marketplace.entity;

import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookSnapshot;
import io.keld.marketplace.book.OrderBookCore;
import io.keld.marketplace.book.Quote;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A read-only copy of one book that any thread may quote from. Its {@link BookFollower} is the only
 * writer: it replaces the copy from a snapshot and applies the book's events in between. The core is
 * not thread-safe, so quotes share a read lock and each applied batch takes the write lock (microseconds).
 */
final class BookReplica {

  /** A bid any open ask could serve: one token, no ceiling below the book's maximum, a deadline far away. */
  private static final Bid ANY = new Bid("catalog", "", null, 0, OrderBookCore.MAX_PRICE, 1, Long.MAX_VALUE / 4, Long.MAX_VALUE / 4,
      null, null, null, null);

  /**
   * How long the open-ask listing is reused while the book does not change: it depends on time only
   * through windows that close, so a second's delay is harmless and saves a sort per request.
   */
  private static final long OFFERS_MAX_AGE_MILLIS = 1_000;

  private record Offers(long version, long atMillis, List<Quote.Option> options) {}

  private final ReadWriteLock lock = new ReentrantReadWriteLock();
  private OrderBookCore core; // guarded by lock; null until the first snapshot
  private long version; // guarded by lock; moves with every change
  private volatile Offers offers = new Offers(-1, Long.MIN_VALUE, List.of());

  void replaceWith(BookSnapshot snapshot) {
    OrderBookCore rebuilt = OrderBookCore.fromSnapshot(snapshot);
    lock.writeLock().lock();
    try {
      core = rebuilt;
      version++;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Applies one persisted batch; throws if the events do not fit this copy (the follower then resynchronises). */
  void apply(List<BookEvent> events) {
    lock.writeLock().lock();
    try {
      version++;
      for (BookEvent event : events) core.apply(event);
    } finally {
      lock.writeLock().unlock();
    }
  }

  boolean loaded() {
    lock.readLock().lock();
    try {
      return core != null;
    } finally {
      lock.readLock().unlock();
    }
  }

  Optional<Quote> quote(Bid bid, long now, int maxOptions) {
    lock.readLock().lock();
    try {
      return core == null ? Optional.empty() : Optional.of(core.quote(bid, now, maxOptions));
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Every ask open at {@code now}, in the book's priority order. */
  List<Quote.Option> offers(long now) {
    Offers cached = offers;
    lock.readLock().lock();
    try {
      if (core == null) return List.of();
      if (cached.version() == version && now - cached.atMillis() < OFFERS_MAX_AGE_MILLIS) return cached.options();
      Offers fresh = new Offers(version, now, core.quote(ANY, now, Integer.MAX_VALUE).options());
      offers = fresh;
      return fresh.options();
    } finally {
      lock.readLock().unlock();
    }
  }

  /** The copy as it stands, or null before the first snapshot; for tests that compare it with the book. */
  BookSnapshot snapshot() {
    lock.readLock().lock();
    try {
      return core == null ? null : core.snapshot();
    } finally {
      lock.readLock().unlock();
    }
  }
}
