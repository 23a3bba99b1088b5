package io.keld.marketplace.entity;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.pubsub.Topic;

/**
 * Keeps one {@link BookReplica} in step with its book: it applies each batch the book publishes
 * ({@link OrderBook.PersistedEvents}) when it follows the last one applied, and otherwise
 * resynchronises from a snapshot ({@link BookClient#snapshot}): at start, on a gap in the sequence
 * numbers, when the book has restarted (a new incarnation), and when the book has been quiet for a
 * while. Batches that arrive while a snapshot is on its way wait, and those the snapshot already
 * holds are dropped.
 */
final class BookFollower extends AbstractBehavior<BookFollower.Command> {

  sealed interface Command {}

  private record Heard(OrderBook.PersistedEvents batch) implements Command {}

  private record SnapshotTaken(OrderBook.SnapshotAt snapshot, Throwable failure) implements Command {}

  /** Re-read a quiet book, or retry a snapshot that failed. */
  private enum Resync implements Command { WHEN_QUIET, RETRY }

  /** How long after a failed snapshot the next is asked for. */
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);
  /** Batches kept while a snapshot is on its way; past this the oldest go (and their gap forces another resync). */
  private static final int MAX_WAITING = 10_000;

  static Behavior<Command> create(String useCase, BookClient books, BookReplica replica, Duration resyncWhenQuiet,
      LongAdder resyncs) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new BookFollower(ctx, timers, useCase, books, replica, resyncWhenQuiet, resyncs)));
  }

  private final TimerScheduler<Command> timers;
  private final String useCase;
  private final BookClient books;
  private final BookReplica replica;
  private final LongAdder resyncs;
  private final ArrayDeque<OrderBook.PersistedEvents> waiting = new ArrayDeque<>();

  private boolean syncing;
  private String incarnation;
  private long seqNr;
  private boolean heardSinceQuietCheck;

  private BookFollower(ActorContext<Command> ctx, TimerScheduler<Command> timers, String useCase, BookClient books,
      BookReplica replica, Duration resyncWhenQuiet, LongAdder resyncs) {
    super(ctx);
    this.timers = timers;
    this.useCase = useCase;
    this.books = books;
    this.replica = replica;
    this.resyncs = resyncs;
    BookEventTopics.get(ctx.getSystem()).topic(useCase)
        .tell(Topic.subscribe(ctx.messageAdapter(OrderBook.PersistedEvents.class, Heard::new)));
    // A batch lost in transit with nothing after it would go unnoticed; a quiet book is re-read this
    // often (seconds, not the old 250 ms poll), and a busy one never is.
    timers.startTimerWithFixedDelay(Resync.WHEN_QUIET, resyncWhenQuiet);
    resync("the replica starts");
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Heard.class, this::onHeard)
        .onMessage(SnapshotTaken.class, this::onSnapshotTaken)
        .onMessageEquals(Resync.WHEN_QUIET, this::onQuietCheck)
        .onMessageEquals(Resync.RETRY, () -> {
          resync("the last snapshot failed");
          return this;
        })
        .build();
  }

  private Behavior<Command> onHeard(Heard heard) {
    heardSinceQuietCheck = true;
    if (syncing) {
      if (waiting.size() >= MAX_WAITING) waiting.poll();
      waiting.add(heard.batch());
    } else {
      follow(heard.batch());
    }
    return this;
  }

  private void follow(OrderBook.PersistedEvents batch) {
    if (!batch.incarnation().equals(incarnation)) {
      resync("the book restarted");
    } else if (batch.lastSeqNr() <= seqNr) {
      // Already in the replica (it came with the snapshot).
    } else if (batch.firstSeqNr() != seqNr + 1) {
      resync("events " + (seqNr + 1) + " to " + (batch.firstSeqNr() - 1) + " did not arrive");
    } else {
      try {
        replica.apply(batch.events());
        seqNr = batch.lastSeqNr();
      } catch (RuntimeException e) {
        resync("the events did not fit the replica (" + e + ")");
      }
    }
  }

  private Behavior<Command> onSnapshotTaken(SnapshotTaken taken) {
    if (taken.failure() != null) {
      getContext().getLog().debug("The local replica of book {} could not be resynchronised: {}", useCase, taken.failure().toString());
      timers.startSingleTimer(Resync.RETRY, RETRY_AFTER);
      return this;
    }
    OrderBook.SnapshotAt snapshot = taken.snapshot();
    replica.replaceWith(snapshot.book());
    incarnation = snapshot.incarnation();
    seqNr = snapshot.seqNr();
    syncing = false;
    heardSinceQuietCheck = true;
    while (!syncing && !waiting.isEmpty()) follow(waiting.poll());
    return this;
  }

  private Behavior<Command> onQuietCheck() {
    if (!heardSinceQuietCheck && !syncing) resync("the book has been quiet");
    heardSinceQuietCheck = false;
    return this;
  }

  /** Asks for a snapshot; what was heard before the ask is in it, so only what comes after is kept. */
  private void resync(String why) {
    getContext().getLog().debug("Resynchronising the local replica of book {}: {}", useCase, why);
    syncing = true;
    waiting.clear();
    resyncs.increment();
    getContext().pipeToSelf(books.snapshot(useCase), SnapshotTaken::new);
  }
}
