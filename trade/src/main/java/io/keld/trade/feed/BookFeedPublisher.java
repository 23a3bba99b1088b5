package io.keld.trade.feed;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.edge.JsonBodies;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.BookListener;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.pubsub.Topic;

/**
 * Turns what books persist into feed messages, on the node that hosts the book:
 * <ul>
 *   <li>any change to a book marks it; within {@link #conflation} the book's public view is read
 *       once and compared with the last one, and the price levels that changed (absolute values) and
 *       the resting demand go out as one {@code book_delta}: a burst of amends costs one view, not
 *       one each;
 *   <li>a fill goes to the provider whose ask it filled, without the job's or enterprise's identity.
 * </ul>
 */
public final class BookFeedPublisher implements BookListener {

  private final BookClient books;
  private final FeedTopics topics;
  private final Duration conflation;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "trade-feed-publisher");
    t.setDaemon(true);
    return t;
  });
  /** A book changed since its view was last read. */
  private final ConcurrentHashMap<String, AtomicBoolean> dirty = new ConcurrentHashMap<>();
  /** A read of the book's view is scheduled or running. */
  private final ConcurrentHashMap<String, AtomicBoolean> reading = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, BookView> last = new ConcurrentHashMap<>();

  public BookFeedPublisher(BookClient books, FeedTopics topics, Duration conflation) {
    this.books = books;
    this.topics = topics;
    this.conflation = conflation;
  }

  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    for (BookEvent e : events) {
      if (e instanceof BookEvent.Filled f) publishFill(useCase, f.fill());
    }
    dirty.computeIfAbsent(useCase, u -> new AtomicBoolean()).set(true);
    startRefresh(useCase);
  }

  /** Schedules a read of the book's view unless one is scheduled or running: one at a time per book. */
  private void startRefresh(String useCase) {
    AtomicBoolean busy = reading.computeIfAbsent(useCase, u -> new AtomicBoolean());
    if (busy.compareAndSet(false, true)) timer.schedule(() -> refresh(useCase, busy), conflation.toNanos(), TimeUnit.NANOSECONDS);
  }

  private void refresh(String useCase, AtomicBoolean busy) {
    dirty.get(useCase).set(false); // changes from here on ask for another read
    books.view(useCase).whenComplete((view, failure) -> {
      if (failure == null) {
        BookView before = last.get(useCase);
        if (before == null || view.atMillis() >= before.atMillis()) {
          last.put(useCase, view);
          ObjectNode delta = delta(before, view);
          if (delta != null) topics.book(useCase).tell(Topic.publish(new FeedEvent("book_delta", useCase, view.atMillis(), delta.toString())));
        }
      } else {
        dirty.get(useCase).set(true); // try again
      }
      busy.set(false);
      if (dirty.get(useCase).get()) startRefresh(useCase);
    });
  }

  /** The levels that differ from {@code before} (all of them when there is no before), or null when nothing changed. */
  static ObjectNode delta(BookView before, BookView after) {
    Map<Long, BookView.PriceLevel> old = new HashMap<>();
    if (before != null) before.asks().forEach(l -> old.put(l.pricePerMtok(), l));
    ObjectNode out = JsonBodies.MAPPER.createObjectNode().put("use_case", after.useCase()).put("at_millis", after.atMillis());
    ArrayNode changed = out.putArray("asks");
    for (BookView.PriceLevel l : after.asks()) {
      if (!l.equals(old.remove(l.pricePerMtok()))) changed.add(JsonBodies.MAPPER.valueToTree(l));
    }
    ArrayNode removed = out.putArray("removed_prices");
    old.keySet().stream().sorted().forEach(removed::add);
    boolean demandChanged = before == null || !Objects.equals(before.restingDemand(), after.restingDemand());
    if (changed.isEmpty() && removed.isEmpty() && !demandChanged) return null;
    out.set("resting_demand", JsonBodies.MAPPER.valueToTree(after.restingDemand()));
    return out;
  }

  private void publishFill(String useCase, Fill f) {
    ObjectNode fill = JsonBodies.MAPPER.createObjectNode()
        .put("fill_id", f.fillId()).put("ask_id", f.askId()).put("use_case", useCase).put("model", f.model())
        .put("price_per_mtok", f.pricePerMtok()).put("tokens", f.tokens()).put("start_millis", f.startMillis())
        .put("finish_millis", f.finishMillis()).put("deadline_millis", f.deadlineMillis()).put("filled_at_millis", f.filledAtMillis());
    ObjectNode msg = JsonBodies.MAPPER.createObjectNode();
    msg.set("fill", fill);
    topics.provider(f.providerId()).tell(Topic.publish(new FeedEvent("fill", useCase, 0, msg.toString())));
  }

  public void close() {
    timer.shutdownNow();
  }
}
