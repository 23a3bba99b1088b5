package io.keld.marketplace.entity;

import io.keld.ixp.CborSerializable;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookSnapshot;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import io.keld.marketplace.book.Quote;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * The order book of one use case: a sharded, event-sourced entity (entity id = use case) around
 * {@link OrderBookCore}.
 *
 * <p>The core decides each operation and applies the resulting events as it goes; the entity
 * persists those events in one write per command ({@link Execute} carries many operations), and
 * replays them through {@link OrderBookCore#apply} on recovery. If a write fails the entity restarts
 * from the journal, so state that was decided but not persisted is dropped with it.
 *
 * <p>A timer fires at the earliest escalation point among resting bids; it is re-armed after every
 * write and after recovery, so a bid whose escalation point passed while the book was down
 * expires right after it comes back. Persisted events go to the {@link BookListener}, and with their
 * sequence numbers to the book's topic ({@link BookEventTopics}), which node-local replicas follow.
 */
public final class OrderBook extends EventSourcedBehaviorWithEnforcedReplies<OrderBook.Command, BookEvent, OrderBook.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "OrderBook");

  // -- protocol ---------------------------------------------------------------------------------

  public sealed interface Command extends CborSerializable {}

  /** Runs the operations in order, persists their events in one write, answers one result per operation. */
  public record Execute(List<BookOp> ops, ActorRef<ExecuteReply> replyTo) implements Command {}

  public record ExecuteReply(List<BookResult> results) implements CborSerializable {}

  /** What a bid would clear at now; commits nothing. */
  public record GetQuote(Bid bid, int maxOptions, ActorRef<Quote> replyTo) implements Command {}

  public record GetView(ActorRef<BookView> replyTo) implements Command {}

  /** The whole book as it stands, for a node-local read replica ({@link LocalBooks}). */
  public record GetSnapshot(ActorRef<SnapshotAt> replyTo) implements Command {}

  /**
   * The book as it stood after event {@code seqNr} of this {@code incarnation}: where a replica
   * starts following {@link PersistedEvents}.
   */
  public record SnapshotAt(String incarnation, long seqNr, BookSnapshot book) implements CborSerializable {}

  /**
   * What one write persisted, published on the book's topic: events {@link #firstSeqNr} to
   * {@code lastSeqNr}, in order. {@code incarnation} is new each time the book starts, so a replica
   * sees a restart even when sequence numbers go on; a book that has just recovered announces itself
   * with no events.
   */
  public record PersistedEvents(String useCase, String incarnation, long lastSeqNr, List<BookEvent> events)
      implements CborSerializable {
    public long firstSeqNr() {
      return lastSeqNr - events.size() + 1;
    }
  }

  /** Where a bid stands, for a job that recovers and must learn what it missed. */
  public record GetBidStatus(String bidId, ActorRef<BidStatus> replyTo) implements Command {}

  /** {@code fill} is set when the bid has an active fill. */
  public record BidStatus(String bidId, Status status, Fill fill) implements CborSerializable {
    public enum Status { RESTING, FILLED, NOT_ON_BOOK }
  }

  /** The escalation timer. */
  private enum ExpireTick implements Command { INSTANCE }

  // -- state ------------------------------------------------------------------------------------

  /**
   * The book. Mutable, and only touched by this actor: while running, the core has applied the
   * events before they are persisted; during recovery, the event handler applies them.
   */
  public static final class State {
    final OrderBookCore core;
    boolean recovered;

    State(OrderBookCore core) {
      this.core = core;
    }

    public OrderBookCore core() {
      return core;
    }
  }

  // -- wiring -----------------------------------------------------------------------------------

  /**
   * Registers the entity type with Cluster Sharding on this node. Books are remembered entities:
   * after a crash or a hand-over they start again by themselves, so their expiry timers run even
   * when nobody writes to them.
   */
  public static void init(ActorSystem<?> system, Clock clock, MatchingRules rules, BookListener listener) {
    ClusterSharding.get(system).init(
        Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), clock, rules, listener))
            .withEntityProps(dispatcher(system))
            .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true)));
  }

  /** Where the books and their gateways run (see {@code keld.marketplace.book-dispatcher}). */
  public static final String BOOK_DISPATCHER = "keld.marketplace.book-dispatcher";

  /**
   * Books and their gateways run on a dispatcher of their own when the node configures one: a
   * book's writes then never wait in line behind the feed's work for hundreds of connections on
   * the default dispatcher, which under load added milliseconds to every hop of an amend.
   */
  static Props dispatcher(ActorSystem<?> system) {
    return system.settings().config().hasPath(BOOK_DISPATCHER) ? DispatcherSelector.fromConfig(BOOK_DISPATCHER) : Props.empty();
  }

  public static Behavior<Command> create(String useCase, Clock clock, MatchingRules rules, BookListener listener) {
    return Behaviors.<Command>supervise(
            Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new OrderBook(useCase, ctx, timers, clock, rules, listener))))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  private static final String EXPIRY_TIMER = "expiry";

  private final String useCase;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final Clock clock;
  private final MatchingRules rules;
  private final BookListener listener;
  private final ActorRef<Topic.Command<PersistedEvents>> published;
  private final String incarnation = UUID.randomUUID().toString();

  private OrderBook(String useCase, ActorContext<Command> context, TimerScheduler<Command> timers, Clock clock,
      MatchingRules rules, BookListener listener) {
    super(PersistenceId.of(ENTITY_KEY.name(), useCase));
    this.useCase = useCase;
    this.context = context;
    this.timers = timers;
    this.clock = clock;
    this.rules = rules;
    this.listener = listener;
    this.published = BookEventTopics.get(context.getSystem()).topic(useCase);
  }

  @Override
  public State emptyState() {
    return new State(new OrderBookCore(useCase, rules));
  }

  /**
   * A snapshot every 10,000 events, the last two kept. While a snapshot is written the book holds
   * its commands (Pekko stashes them), so at thousands of amends a second a short interval is a
   * pause every second; replaying 10,000 small events on recovery takes well under a second.
   */
  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(10_000, 2);
  }

  @Override
  public SnapshotAdapter<State> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(State state) {
        return state.core.snapshot();
      }

      @Override
      public State fromJournal(Object from) {
        return new State(OrderBookCore.fromSnapshot((BookSnapshot) from));
      }
    };
  }

  @Override
  public CommandHandlerWithReply<Command, BookEvent, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Execute.class, this::onExecute)
        .onCommand(GetQuote.class, (state, q) -> Effect().reply(q.replyTo(), state.core.quote(q.bid(), clock.millis(), Math.max(1, q.maxOptions()))))
        .onCommand(GetView.class, (state, v) -> Effect().reply(v.replyTo(), state.core.view(clock.millis())))
        .onCommand(GetSnapshot.class, (state, v) -> Effect().reply(v.replyTo(),
            new SnapshotAt(incarnation, lastSequenceNumber(context), state.core.snapshot())))
        .onCommand(GetBidStatus.class, this::onBidStatus)
        .onCommand(ExpireTick.class, this::onExpireTick)
        .build();
  }

  private ReplyEffect<BookEvent, State> onExecute(State state, Execute cmd) {
    long now = clock.millis();
    List<BookEvent> events = new ArrayList<>(state.core.expireDue(now));
    List<BookResult> results = new ArrayList<>(cmd.ops().size());
    for (BookOp op : cmd.ops()) {
      BookResult result = state.core.execute(op, now);
      results.add(result);
      if (result instanceof BookResult.Accepted accepted) events.addAll(accepted.events());
    }
    ExecuteReply reply = new ExecuteReply(results);
    if (events.isEmpty()) return Effect().reply(cmd.replyTo(), reply);
    return Effect().persist(events).thenRun(s -> afterWrite(s, events)).thenReply(cmd.replyTo(), s -> reply);
  }

  private ReplyEffect<BookEvent, State> onExpireTick(State state, ExpireTick tick) {
    List<BookEvent> events = state.core.expireDue(clock.millis());
    if (events.isEmpty()) {
      armExpiryTimer(state);
      return Effect().noReply();
    }
    return Effect().persist(events).thenRun(s -> afterWrite(s, events)).thenNoReply();
  }

  private ReplyEffect<BookEvent, State> onBidStatus(State state, GetBidStatus q) {
    Fill fill = state.core.activeFillOfBid(q.bidId());
    BidStatus.Status status = fill != null ? BidStatus.Status.FILLED
        : state.core.isResting(q.bidId()) ? BidStatus.Status.RESTING : BidStatus.Status.NOT_ON_BOOK;
    return Effect().reply(q.replyTo(), new BidStatus(q.bidId(), status, fill));
  }

  private void afterWrite(State state, List<BookEvent> events) {
    armExpiryTimer(state);
    published.tell(Topic.publish(new PersistedEvents(useCase, incarnation, lastSequenceNumber(context), List.copyOf(events))));
    listener.onPersisted(useCase, lastSequenceNumber(context) - events.size() + 1, events);
    if (listener.wantsViews()) listener.onView(useCase, state.core.view(clock.millis()));
  }

  private void armExpiryTimer(State state) {
    long next = state.core.nextEscalationMillis();
    if (next == Long.MAX_VALUE) {
      timers.cancel(EXPIRY_TIMER);
    } else {
      timers.startSingleTimer(EXPIRY_TIMER, ExpireTick.INSTANCE, Duration.ofMillis(Math.max(0, next - clock.millis())));
    }
  }

  /**
   * The journal's id of the book of {@code useCase}. The books' events carry no tags: a read side
   * follows the books by these ids (kit's PersistenceIdProjection), because a tagged event makes the
   * JDBC journal write its batch one row at a time (see BENCHMARKS.md, book-persistent).
   */
  public static String persistenceId(String useCase) {
    return PersistenceId.of(ENTITY_KEY.name(), useCase).id();
  }

  @Override
  public EventHandler<State, BookEvent> eventHandler() {
    return (state, event) -> {
      // While running, the core applied the event when it decided it; only replay applies here.
      if (!state.recovered) state.core.apply(event);
      return state;
    };
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          state.recovered = true;
          context.getLog().debug("Book {} recovered: {} asks, {} resting bids, {} active fills", useCase,
              state.core.askCount(), state.core.restingBidCount(), state.core.activeFillCount());
          armExpiryTimer(state);
          published.tell(Topic.publish(new PersistedEvents(useCase, incarnation, lastSequenceNumber(context), List.of())));
        })
        .build();
  }
}
