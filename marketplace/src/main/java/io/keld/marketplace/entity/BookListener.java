package io.keld.marketplace.entity;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookView;
import java.util.List;

/**
 * Told every event a book has persisted, in order, after the write succeeded: fills and expiries
 * reach the deadline jobs this way, and metrics count them. Called on the book's actor thread, so
 * it must not block; route to actors (e.g. the job's entity ref) instead.
 */
@FunctionalInterface
public interface BookListener {

  void onPersisted(String useCase, List<BookEvent> events);

  /**
   * The same, with where the events are in the book's journal: the first has sequence number
   * {@code firstSeqNr}, the others follow it (the public book log numbers them so). Listeners that
   * need positions (fill receipts) override this one; by default it calls {@link #onPersisted(String, List)}.
   */
  default void onPersisted(String useCase, long firstSeqNr, List<BookEvent> events) {
    onPersisted(useCase, events);
  }

  /** Whether this listener wants the book's public view after each write ({@link #onView}). */
  default boolean wantsViews() {
    return false;
  }

  /**
   * The book's public view right after a write (after {@link #onPersisted} of that write's events),
   * for listeners that {@link #wantsViews}: a feed gets the view as the book stands without asking
   * the book for it, and so without waiting behind the book's next write.
   */
  default void onView(String useCase, BookView view) {}
}
