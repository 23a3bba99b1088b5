package io.keld.marketplace.entity;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookView;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** The node's listeners to book events; modules add theirs as they start (jobs, metrics, feeds). */
public final class BookListeners implements BookListener {

  private final List<BookListener> listeners = new CopyOnWriteArrayList<>();

  public void add(BookListener listener) {
    listeners.add(listener);
  }

  public void remove(BookListener listener) {
    listeners.remove(listener);
  }

  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    for (BookListener l : listeners) l.onPersisted(useCase, events);
  }

  @Override
  public void onPersisted(String useCase, long firstSeqNr, List<BookEvent> events) {
    for (BookListener l : listeners) l.onPersisted(useCase, firstSeqNr, events);
  }

  @Override
  public boolean wantsViews() {
    for (BookListener l : listeners) if (l.wantsViews()) return true;
    return false;
  }

  @Override
  public void onView(String useCase, BookView view) {
    for (BookListener l : listeners) if (l.wantsViews()) l.onView(useCase, view);
  }
}
