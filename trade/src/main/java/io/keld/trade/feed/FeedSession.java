package io.keld.trade.feed;

import io.keld.marketplace.book.BookView;
import io.keld.marketplace.entity.BookClient;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.KillSwitch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One feed connection's outgoing side, as an actor: everything the provider is sent passes through
 * here, so every message gets the next sequence number. It subscribes to the provider's topic at
 * once and to books on request (a snapshot first, then deltas; a delta older than the snapshot is
 * not sent). It writes into a bounded queue and never waits: a provider that falls {@code buffer}
 * messages behind gets a {@code closing} message and is disconnected, and no book waits for it.
 */
public final class FeedSession extends AbstractBehavior<FeedSession.Msg> {

  private static final Logger log = LoggerFactory.getLogger(FeedSession.class);

  public sealed interface Msg {}

  /** A reply to one of the provider's messages ({@code ack} or {@code error}). */
  public record Reply(FeedMessage message) implements Msg {}

  public record Subscribe(String correlationId, List<String> useCases) implements Msg {}

  public record Unsubscribe(String correlationId, List<String> useCases) implements Msg {}

  /** The provider's side of the connection ended. */
  public record Closed() implements Msg {}

  record Event(FeedEvent event) implements Msg {}

  /** A book's view read for a subscription; {@code request} tells which subscribe asked for it. */
  record SnapshotRead(String useCase, long request, BookView view, Throwable failure) implements Msg {}

  record Heartbeat() implements Msg {}

  record CutOff() implements Msg {}

  private final String orgId;
  private final BoundedSourceQueue<Message> out;
  private final KillSwitch cut;
  private final FeedTopics topics;
  private final BookClient books;
  private final FeedSettings settings;
  private final Runnable onStop;
  private final ActorRef<FeedEvent> events;
  private final TimerScheduler<Msg> timers;
  private final Set<String> subscribed = new LinkedHashSet<>();
  /** Books whose snapshot is on its way, with the deltas that arrived meanwhile. */
  private final Map<String, List<FeedEvent>> awaitingSnapshot = new HashMap<>();
  private final Map<String, Long> snapshotAt = new HashMap<>();
  /**
   * The latest snapshot asked for, per book: only that one is used, so a view read for an earlier
   * subscribe (before an unsubscribe, say) cannot start a later subscription with a gap after it.
   */
  private final Map<String, Long> snapshotRequest = new HashMap<>();
  private long snapshotRequests;
  private long seq;
  private boolean closing;

  /**
   * @param out    the connection's outgoing messages
   * @param cut    aborts the outgoing side at once (a slow consumer that does not read its last messages)
   * @param onStop run once when the connection is over
   */
  public static Behavior<Msg> create(String orgId, BoundedSourceQueue<Message> out, KillSwitch cut, FeedTopics topics, BookClient books,
      FeedSettings settings, Runnable onStop) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new FeedSession(ctx, timers, orgId, out, cut, topics, books, settings, onStop)));
  }

  private FeedSession(ActorContext<Msg> ctx, TimerScheduler<Msg> timers, String orgId, BoundedSourceQueue<Message> out, KillSwitch cut,
      FeedTopics topics, BookClient books, FeedSettings settings, Runnable onStop) {
    super(ctx);
    this.cut = cut;
    this.timers = timers;
    this.orgId = orgId;
    this.out = out;
    this.topics = topics;
    this.books = books;
    this.settings = settings;
    this.onStop = onStop;
    this.events = ctx.messageAdapter(FeedEvent.class, Event::new);
    topics.provider(orgId).tell(Topic.subscribe(events));
    timers.startTimerAtFixedRate(new Heartbeat(), settings.heartbeat());
    emit(new FeedMessage.Welcome(orgId, settings.heartbeat().toMillis(), settings.buffer()));
  }

  @Override
  public Receive<Msg> createReceive() {
    return newReceiveBuilder()
        .onMessage(Reply.class, r -> {
          emit(r.message());
          return this;
        })
        .onMessage(Event.class, e -> onEvent(e.event()))
        .onMessage(Subscribe.class, this::onSubscribe)
        .onMessage(Unsubscribe.class, this::onUnsubscribe)
        .onMessage(SnapshotRead.class, this::onSnapshot)
        .onMessage(Heartbeat.class, h -> {
          emit(new FeedMessage.Heartbeat(Instant.now()));
          return this;
        })
        .onMessage(Closed.class, c -> {
          completeOutgoing();
          return Behaviors.stopped();
        })
        .onMessage(CutOff.class, c -> {
          cut.abort(new IllegalStateException("the provider stopped reading the feed"));
          return Behaviors.stopped();
        })
        .onSignal(PostStop.class, s -> {
          onStop.run();
          return this;
        })
        .build();
  }

  private Behavior<Msg> onEvent(FeedEvent e) {
    if (e.useCase() != null && e.type().equals("book_delta")) {
      if (!subscribed.contains(e.useCase())) return this;
      List<FeedEvent> waiting = awaitingSnapshot.get(e.useCase());
      if (waiting != null) {
        waiting.add(e);
        return this;
      }
      if (e.atMillis() < snapshotAt.getOrDefault(e.useCase(), 0L)) return this;
    }
    emitRendered(e);
    return this;
  }

  private Behavior<Msg> onSubscribe(Subscribe s) {
    List<String> added = new ArrayList<>();
    for (String useCase : s.useCases()) {
      if (subscribed.add(useCase)) {
        added.add(useCase);
        topics.book(useCase).tell(Topic.subscribe(events));
      }
      // A snapshot every time: a client that saw a gap in the sequence subscribes again to resync.
      awaitingSnapshot.putIfAbsent(useCase, new ArrayList<>());
      long request = ++snapshotRequests;
      snapshotRequest.put(useCase, request);
      getContext().pipeToSelf(books.view(useCase), (view, failure) -> new SnapshotRead(useCase, request, view, failure));
    }
    emit(new FeedMessage.Ack(s.correlationId(), new FeedMessage.Subscribed(List.copyOf(subscribed))));
    return this;
  }

  private Behavior<Msg> onUnsubscribe(Unsubscribe u) {
    for (String useCase : u.useCases()) {
      if (subscribed.remove(useCase)) topics.book(useCase).tell(Topic.unsubscribe(events));
      awaitingSnapshot.remove(useCase);
      snapshotAt.remove(useCase);
      snapshotRequest.remove(useCase);
    }
    emit(new FeedMessage.Ack(u.correlationId(), new FeedMessage.Subscribed(List.copyOf(subscribed))));
    return this;
  }

  private Behavior<Msg> onSnapshot(SnapshotRead r) {
    if (r.request() != snapshotRequest.getOrDefault(r.useCase(), -1L)) return this; // a later subscribe's snapshot is on its way
    List<FeedEvent> waiting = awaitingSnapshot.remove(r.useCase());
    if (waiting == null || !subscribed.contains(r.useCase())) return this;
    if (r.failure() != null) {
      subscribed.remove(r.useCase());
      topics.book(r.useCase()).tell(Topic.unsubscribe(events));
      emit(new FeedMessage.Error(null, 503, "unavailable", "the " + r.useCase() + " book did not answer; subscribe again", null));
      return this;
    }
    emit(FeedMessage.BookSnapshot.of(r.view()));
    snapshotAt.put(r.useCase(), r.view().atMillis());
    for (FeedEvent e : waiting) {
      if (e.atMillis() >= r.view().atMillis()) emitRendered(e);
    }
    return this;
  }

  /** Numbers and queues one message; a connection too far behind is told why and closed. */
  private void emit(FeedMessage message) {
    emitRendered(FeedEvent.of(message, null, 0));
  }

  /** The same for an event rendered once for every subscriber: only the sequence number and type are put in front. */
  private void emitRendered(FeedEvent e) {
    if (!roomFor()) return;
    if (!out.offer(TextMessage.create(e.render(++seq))).isEnqueued()) closing = true;
  }

  /** False once the connection is closing; a connection too far behind is told why and closed here. */
  private boolean roomFor() {
    if (closing) return false;
    if (out.size() >= settings.buffer() - 1) {
      closing = true;
      log.warn("disconnecting a feed connection of {}: slow consumer, {} messages waiting", orgId, out.size());
      FeedMessage closingMessage = new FeedMessage.Closing("slow_consumer",
          "more than " + (settings.buffer() - 1) + " messages were waiting for this connection; read faster, then reconnect and subscribe again");
      out.offer(TextMessage.create(FeedEvent.of(closingMessage, null, 0).render(++seq)));
      completeOutgoing();
      timers.startSingleTimer(new CutOff(), settings.closeGrace());
      return false;
    }
    return true;
  }

  /** Ends the outgoing side after what is queued; the queue may have ended already (closed by the slow-consumer rule, or by the client). */
  private void completeOutgoing() {
    try {
      out.complete();
    } catch (IllegalStateException alreadyCompleted) {
      // nothing left to end
    }
  }
}
