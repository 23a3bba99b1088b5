package io.keld.marketplace.entity;

import io.keld.marketplace.book.BookEvent;
import java.util.List;

/**
 * Told every event a book has persisted, in order, after the write succeeded: fills and expiries
 * reach the deadline jobs this way, and metrics count them. Called on the book's actor thread, so
 * it must not block; route to actors (e.g. the job's entity ref) instead.
 */
@FunctionalInterface
public interface BookListener {

  void onPersisted(String useCase, List<BookEvent> events);
}
