package io.keld.trade.feed;

import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.clearing.FillReceipt;
import io.keld.marketplace.clearing.FillReceipts;
import io.keld.marketplace.entity.BookListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns what books persist into feed messages, on the node that hosts the book:
 * <ul>
 *   <li>after each write the book hands over its public view; it is compared with the last one
 *       sent, and the price levels that changed (absolute values) and the resting demand go out as
 *       one {@code book_delta}. A change to a quiet book goes out at once; after that, a book's
 *       delta goes out at most once per {@link #conflation}, from its latest view, so a burst of
 *       amends costs one delta per subscriber, not one each (every delta is a message to every
 *       subscriber: that is what a busy book costs a node);
 *   <li>a fill goes to the provider whose ask it filled, without the job's or enterprise's identity.
 * </ul>
 */
public final class BookFeedPublisher implements BookListener {

  private static final Logger log = LoggerFactory.getLogger(BookFeedPublisher.class);

  private final FeedTopics topics;
  private final long conflationNanos;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "trade-feed-publisher");
    t.setDaemon(true);
    return t;
  });
  private final ConcurrentHashMap<String, BookState> books = new ConcurrentHashMap<>();

  /** One book's feed: its newest view not yet sent, and what was sent last. */
  private static final class BookState {
    /** The newest view handed over and not yet published (null when there is none). */
    final AtomicReference<BookView> pending = new AtomicReference<>();
    /** A publication is scheduled. */
    final AtomicBoolean scheduled = new AtomicBoolean();
    /** Whether a delta was published yet, and when (System.nanoTime); the view it led to is touched on the timer thread only. */
    volatile boolean published;
    volatile long lastPublishedNanos;
    BookView lastSent;
  }

  public BookFeedPublisher(FeedTopics topics, Duration conflation) {
    this.topics = topics;
    this.conflationNanos = conflation.toNanos();
  }

  /** Signs the receipts that fills carry to their providers; null until the node sets it (then fills carry none). */
  private volatile FillReceipts receipts;

  public void issueReceiptsWith(FillReceipts receipts) {
    this.receipts = receipts;
  }

  /**
   * Whether a provider has a feed connection to this node. A receipt is signed only for those:
   * Ed25519 costs ~0.5 ms a signature on this JDK (measured), so signing every fill of a busy book
   * on one thread held a core and cut persisted bids from 17,531/s to 2,197/s. A provider connected
   * to another node gets its fills without the receipt and reads it by the fill's seq
   * ({@code GET /ixp/v1/books/{use_case}/receipts/{seq}}, signed on request).
   */
  private volatile Predicate<String> connectedHere = provider -> true;

  public void signReceiptsFor(Predicate<String> connectedHere) {
    this.connectedHere = connectedHere;
  }

  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    onPersisted(useCase, 0, events);
  }

  /** Fills go out from the publisher's own thread, one task a write: signing a receipt is not the book's work. */
  @Override
  public void onPersisted(String useCase, long firstSeqNr, List<BookEvent> events) {
    boolean anyFill = false;
    for (BookEvent e : events) anyFill |= e instanceof BookEvent.Filled;
    if (!anyFill) return;
    List<BookEvent> written = List.copyOf(events);
    try {
      timer.execute(() -> {
        for (int i = 0; i < written.size(); i++) {
          if (written.get(i) instanceof BookEvent.Filled f) publishFill(useCase, firstSeqNr > 0 ? firstSeqNr + i : 0, f);
        }
      });
    } catch (RejectedExecutionException closed) {
      // Trade is shutting down: the book's write stands, the providers read these fills in their statements.
      log.debug("{} fills of book {} not published: the feed publisher is closed", events.size(), useCase);
    }
  }

  @Override
  public boolean wantsViews() {
    return true;
  }

  /** Called on the book's thread after each write: keeps the view and schedules its delta. */
  @Override
  public void onView(String useCase, BookView view) {
    BookState book = books.computeIfAbsent(useCase, u -> new BookState());
    book.pending.set(view);
    if (!book.scheduled.compareAndSet(false, true)) return; // the scheduled publication takes the newest view
    long wait = book.published ? Math.max(0, conflationNanos - (System.nanoTime() - book.lastPublishedNanos)) : 0;
    timer.schedule(() -> publish(useCase, book), wait, TimeUnit.NANOSECONDS);
  }

  private void publish(String useCase, BookState book) {
    book.scheduled.set(false); // a view handed over from here on schedules the next publication
    BookView view = book.pending.getAndSet(null);
    if (view == null) return; // an earlier publication took it
    book.lastPublishedNanos = System.nanoTime();
    book.published = true;
    try {
      FeedMessage.BookDelta delta = delta(book.lastSent, view);
      book.lastSent = view;
      if (delta != null) topics.book(useCase).tell(Topic.publish(FeedEvent.of(delta, useCase, view.atMillis())));
    } catch (RuntimeException e) {
      log.error("the {} book's delta could not be published", useCase, e);
    }
  }

  /** The levels that differ from {@code before} (all of them when there is no before), or null when nothing changed. */
  static FeedMessage.BookDelta delta(BookView before, BookView after) {
    Map<Long, BookView.PriceLevel> old = new HashMap<>();
    if (before != null) before.asks().forEach(l -> old.put(l.pricePerMtok(), l));
    List<BookView.PriceLevel> changed = new ArrayList<>();
    for (BookView.PriceLevel l : after.asks()) {
      if (!l.equals(old.remove(l.pricePerMtok()))) changed.add(l);
    }
    List<Long> removed = old.keySet().stream().sorted().toList();
    boolean demandChanged = before == null || !Objects.equals(before.restingDemand(), after.restingDemand());
    if (changed.isEmpty() && removed.isEmpty() && !demandChanged) return null;
    return new FeedMessage.BookDelta(after.useCase(), after.atMillis(), changed, removed, after.restingDemand());
  }

  private void publishFill(String useCase, long seq, BookEvent.Filled filled) {
    Fill f = filled.fill();
    FillReceipts signer = receipts;
    FillReceipt receipt = null;
    try {
      if (signer != null && seq > 0 && connectedHere.test(f.providerId())) receipt = signer.issue(useCase, seq, filled);
    } catch (RuntimeException e) {
      log.error("the receipt of fill {} could not be signed; the fill goes out without it", f.fillId(), e);
    }
    FeedMessage.FillMessage fill = new FeedMessage.FillMessage(FeedMessage.ProviderFill.of(useCase, f, receipt));
    topics.provider(f.providerId()).tell(Topic.publish(FeedEvent.of(fill, useCase, 0)));
  }

  public void close() {
    timer.shutdownNow();
  }
}
