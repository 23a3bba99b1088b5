package io.keld.exchange.jobs;

import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.ixp.CborSerializable;
import io.keld.ixp.Money;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.OrderBook;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One deadline job: a sharded, event-sourced entity (entity id = job id).
 *
 * <p>The entity drives the job through its life with one asynchronous step at a time (reserve
 * budget, place the bid, move the work, settle), each answered back to the actor and recorded as an
 * event. Every step is safe to repeat: the budget's reservation id and the book's bid ids are
 * derived from the job id, so a step cut short by a crash is simply done again after recovery.
 *
 * <p>Timers are never persisted; they are computed from the persisted escalation point and deadline
 * after every event and after recovery, and a timer that fires in a state where its step is already
 * done does nothing. A job whose bid rested while it was down asks the book where the bid stands.
 *
 * <p>The data plane ({@link JobStreams}) attaches to the job, is told where to send items
 * ({@link RouteUpdate}), and reports counts and usage; the job decides when work moves.
 */
public final class DeadlineJob extends EventSourcedBehavior<DeadlineJob.Command, JobEvent, JobState> {

  private static final Logger log = LoggerFactory.getLogger(DeadlineJob.class);

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "DeadlineJob");

  // -- protocol ---------------------------------------------------------------------------------

  public sealed interface Command extends CborSerializable {}

  /** Admit a job (or, for a job that exists, answer with it: the idempotent resubmission). */
  public record Submit(JobSpec spec, Backup backup, long escalateAtMillis, ActorRef<SubmitReply> replyTo) implements Command {}

  public sealed interface SubmitReply extends CborSerializable {}

  /** The job is admitted (or was already): its view after admission decided. */
  public record Accepted(JobView view, boolean created) implements SubmitReply {}

  /** A budget refused the reservation; the job ended as failed with reason {@code budget_refused}. */
  public record Refused(io.keld.atlas.budget.Refusal refusal, JobView view) implements SubmitReply {}

  /** The idempotency key was used for another request body. */
  public record KeyConflict(String jobId) implements SubmitReply {}

  public record Get(ActorRef<GetReply> replyTo) implements Command {}

  /** {@code view} is null when there is no such job. */
  public record GetReply(JobView view) implements CborSerializable {}

  public record Cancel(String reason, ActorRef<CancelReply> replyTo) implements Command {}

  /** {@code cancelled} is false when the job had already ended (or does not exist: then view is null). */
  public record CancelReply(JobView view, boolean cancelled) implements CborSerializable {}

  /** Send the job's view now and after every change, until it ends or the subscriber stops. */
  public record Follow(ActorRef<JobView> subscriber) implements Command {}

  public record Unfollow(ActorRef<JobView> subscriber) implements Command {}

  /** A data plane wants to run items: it is told the route now and whenever it changes. */
  public record Attach(String reporter, ActorRef<RouteUpdate> replyTo) implements Command {}

  /**
   * A data plane's progress since its previous report: counts and usage per leg, items still open
   * there, and whether an upload ended with all its items answered.
   */
  public record Report(String reporter, long seq, List<JobEvent.LegUsage> usage, int itemsOpen, boolean uploadFinished,
      ActorRef<RouteUpdate> replyTo) implements Command {}

  /**
   * Where a job's items go now. {@code leg} is null while the job waits for a match; a terminal
   * {@code phase} tells the data plane to stop. {@code ackedSeq} acknowledges a report.
   */
  public record RouteUpdate(String jobId, long ackedSeq, JobPhase phase, Leg leg, long deadlineMillis) implements CborSerializable {}

  /** From the books (see {@link JobBookListener}): one of the job's bids filled. */
  public record BookFilled(String useCase, Fill fill) implements Command {}

  /** From the books: one of the job's bids expired at its escalation point. */
  public record BookBidExpired(String bidId) implements Command {}

  // Answers of the job's own asynchronous steps, and its timers: never sent by anyone else.
  private record ReserveDone(long amount, TeamBudgets.Reply reply, Throwable failure) implements Command {}

  private record FirstBidDone(BookResult result, Throwable failure) implements Command {}

  private record BidChecked(OrderBook.BidStatus status, Throwable failure) implements Command {}

  private record EscalationCancelDone(BookResult result, Throwable failure) implements Command {}

  private record MoveDone(String reason, String bidId, long tokens, BookResult result, Throwable failure) implements Command {}

  private record SettleDone(long cost, long tokens, Throwable failure) implements Command {}

  private enum Timer implements Command { ESCALATION_DUE, DEADLINE_DUE, TICK, RETRY, PASSIVATE }

  // -- wiring -----------------------------------------------------------------------------------

  /** What the entity needs of its node. */
  public record Deps(Clock clock, JobSettings settings, BookClient books, BudgetClient budgets, JobUsageStore usage, JobMetrics metrics,
      JobObserver observer) {}

  /**
   * Registers the entity type with Cluster Sharding. Jobs are remembered entities: after a crash or
   * a hand-over they start again by themselves, so their deadline timers run with nobody asking.
   * A settled job passivates itself and is forgotten.
   */
  public static void init(ActorSystem<?> system, Deps deps) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), ctx.getShard(), deps))
        .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true)));
  }

  static Behavior<Command> create(String jobId, ActorRef<ClusterSharding.ShardCommand> shard, Deps deps) {
    return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new DeadlineJob(jobId, shard, ctx, timers, deps))))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  private final String jobId;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Clock clock;
  private final JobSettings settings;
  private final BookClient books;
  private final BudgetClient budgets;
  private final JobUsageStore usage;
  private final JobMetrics metrics;
  private final JobObserver observer;

  // In memory only: who waits for what on this incarnation. After a restart the data planes
  // re-attach through their reports, and submitters retry with their idempotency key.
  private final List<ActorRef<SubmitReply>> pendingSubmits = new ArrayList<>();
  private final Set<ActorRef<JobView>> followers = new HashSet<>();
  private final Map<String, ActorRef<RouteUpdate>> attached = new HashMap<>();
  private boolean busy;
  private boolean needsBidCheck;
  private String pendingMoveBidId;
  private BookFilled heldFill;
  private long moveCooldownUntil;
  private int pushedLegNo = -1;
  private JobPhase pushedPhase;

  private DeadlineJob(String jobId, ActorRef<ClusterSharding.ShardCommand> shard, ActorContext<Command> ctx, TimerScheduler<Command> timers,
      Deps deps) {
    super(PersistenceId.of(ENTITY_KEY.name(), jobId));
    this.jobId = jobId;
    this.shard = shard;
    this.ctx = ctx;
    this.timers = timers;
    this.clock = deps.clock();
    this.settings = deps.settings();
    this.books = deps.books();
    this.budgets = deps.budgets();
    this.usage = deps.usage();
    this.metrics = deps.metrics();
    this.observer = deps.observer();
  }

  @Override
  public JobState emptyState() {
    return new JobState();
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    // Progress reports add events while a job runs; a snapshot every 200 keeps recovery short.
    return RetentionCriteria.snapshotEvery(200, 2);
  }

  @Override
  public EventHandler<JobState, JobEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(JobState::apply);
  }

  @Override
  public SignalHandler<JobState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), this::onRecovered)
        .onSignal(PostStop.instance(), s -> metrics.stopped(jobId))
        .build();
  }

  @Override
  public CommandHandler<Command, JobEvent, JobState> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Submit.class, this::onSubmit)
        .onCommand(Get.class, this::onGet)
        .onCommand(Cancel.class, this::onCancel)
        .onCommand(Follow.class, this::onFollow)
        .onCommand(Unfollow.class, (s, c) -> {
          followers.remove(c.subscriber());
          return Effect().none();
        })
        .onCommand(Attach.class, this::onAttach)
        .onCommand(Report.class, this::onReport)
        .onCommand(BookFilled.class, this::onBookFilled)
        .onCommand(BookBidExpired.class, this::onBookBidExpired)
        .onCommand(ReserveDone.class, this::onReserveDone)
        .onCommand(FirstBidDone.class, this::onFirstBidDone)
        .onCommand(BidChecked.class, this::onBidChecked)
        .onCommand(EscalationCancelDone.class, this::onEscalationCancelDone)
        .onCommand(MoveDone.class, this::onMoveDone)
        .onCommand(SettleDone.class, this::onSettleDone)
        .onCommand(Timer.class, this::onTimer)
        .build();
  }

  // -- commands from outside --------------------------------------------------------------------

  private Effect<JobEvent, JobState> onSubmit(JobState s, Submit c) {
    if (!s.isEmpty()) {
      if (!s.spec().requestHash().equals(c.spec().requestHash())) return Effect().reply(c.replyTo(), new KeyConflict(jobId));
      if (s.phase() == JobPhase.ADMITTED) pendingSubmits.add(c.replyTo());
      else c.replyTo().tell(submitReply(s, false));
      return Effect().none();
    }
    pendingSubmits.add(c.replyTo());
    return persist(s, List.of(new JobEvent.Admitted(c.spec(), c.backup(), c.escalateAtMillis(), now())));
  }

  private Effect<JobEvent, JobState> onGet(JobState s, Get c) {
    c.replyTo().tell(new GetReply(s.isEmpty() ? null : JobView.of(s)));
    if (s.isEmpty()) passivate();
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onCancel(JobState s, Cancel c) {
    if (s.isEmpty()) {
      c.replyTo().tell(new CancelReply(null, false));
      passivate();
      return Effect().none();
    }
    if (s.phase().terminal()) return Effect().reply(c.replyTo(), new CancelReply(JobView.of(s), false));
    String bidToCancel = s.phase() == JobPhase.OPEN ? s.firstBidId() : null;
    return persist(s, List.of(new JobEvent.Cancelled(c.reason(), now()))).thenRun(after -> {
      // A bid left resting could still fill; if it fills anyway, the fill is released when it is told.
      if (bidToCancel != null) books.submit(after.spec().useCase(), new BookOp.CancelBid(bidToCancel));
      c.replyTo().tell(new CancelReply(JobView.of(after), true));
    });
  }

  private Effect<JobEvent, JobState> onFollow(JobState s, Follow c) {
    if (s.isEmpty()) {
      passivate();
      return Effect().none();
    }
    c.subscriber().tell(JobView.of(s));
    if (!s.phase().terminal() || !s.settled()) {
      followers.add(c.subscriber());
      ctx.watchWith(c.subscriber(), new Unfollow(c.subscriber()));
    }
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onAttach(JobState s, Attach c) {
    if (s.isEmpty()) {
      c.replyTo().tell(new RouteUpdate(jobId, 0, JobPhase.CANCELLED, null, 0));
      passivate();
      return Effect().none();
    }
    if (!s.phase().terminal()) attached.put(c.reporter(), c.replyTo());
    c.replyTo().tell(route(s, 0));
    if (s.phase() == JobPhase.MATCHED && !s.started()) return persist(s, List.of(new JobEvent.Started(now())));
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onReport(JobState s, Report c) {
    if (s.isEmpty()) {
      c.replyTo().tell(new RouteUpdate(jobId, c.seq(), JobPhase.CANCELLED, null, 0));
      return Effect().none();
    }
    if (!s.phase().terminal()) attached.put(c.reporter(), c.replyTo());
    boolean countable = s.phase() == JobPhase.MATCHED || s.phase() == JobPhase.RUNNING || s.phase() == JobPhase.ESCALATED;
    boolean changes = !c.usage().isEmpty() || c.itemsOpen() != s.itemsOpen() || c.uploadFinished();
    if (!countable || s.alreadyApplied(c.reporter(), c.seq()) || !changes) {
      // Usage told after a job ended is not charged: the job's cost was settled when it ended.
      if (s.phase().terminal() && !c.usage().isEmpty()) log.debug("Job {}: usage reported after the job ended is not charged", jobId);
      return Effect().reply(c.replyTo(), route(s, c.seq()));
    }
    long now = now();
    List<JobEvent> events = new ArrayList<>();
    if (s.phase() == JobPhase.MATCHED && !s.started()) events.add(new JobEvent.Started(now));
    events.add(new JobEvent.Progressed(c.reporter(), c.seq(), c.usage(), c.itemsOpen(), c.uploadFinished(), now));
    if ((c.uploadFinished() || s.uploadFinished()) && c.itemsOpen() == 0) events.add(new JobEvent.Completed(now));
    return persist(s, events).thenRun(after -> {
      c.replyTo().tell(route(after, c.seq()));
      maybeMove(after);
    });
  }

  private Effect<JobEvent, JobState> onBookFilled(JobState s, BookFilled c) {
    Fill fill = c.fill();
    if (s.isEmpty()) {
      release(c.useCase(), fill);
      passivate();
      return Effect().none();
    }
    boolean known = s.legs().stream().anyMatch(l -> fill.fillId().equals(l.fillId()));
    if (known || fill.bidId().equals(pendingMoveBidId)) return Effect().none();
    boolean wanted = fill.bidId().equals(firstBidId());
    if (wanted && (s.phase() == JobPhase.OPEN || s.phase() == JobPhase.ADMITTED) && !busy) {
      return persist(s, List.of(new JobEvent.Matched(legOf(fill, 1, null), now())));
    }
    if (wanted && (s.phase() == JobPhase.OPEN || s.phase() == JobPhase.ADMITTED)) {
      heldFill = c; // a step is under way: taken up (or given back) when it ends
      return Effect().none();
    }
    // A fill the job no longer wants (it escalated, ended, or was cut off mid-move): give the capacity back.
    release(c.useCase(), fill);
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onBookBidExpired(JobState s, BookBidExpired c) {
    if (s.isEmpty() || s.phase() != JobPhase.OPEN || !c.bidId().equals(s.firstBidId())) return Effect().none();
    if (busy) {
      needsBidCheck = true;
      return Effect().none();
    }
    return persist(s, escalation(s, "no_feasible_ask"));
  }

  // -- the job's own steps ----------------------------------------------------------------------

  /** Starts the next step the state calls for, if none is under way. */
  private void advance(JobState s) {
    if (s.isEmpty() || busy) return;
    if (heldFill != null) {
      BookFilled held = heldFill;
      heldFill = null;
      // Told again now that no step runs: it becomes the match, or is released if the job moved on.
      ctx.getSelf().tell(held);
      return;
    }
    JobPhase phase = s.phase();
    if (phase == JobPhase.ADMITTED) {
      if (!s.reserved()) reserve(s);
      else placeFirstBid(s);
    } else if (phase == JobPhase.OPEN && needsBidCheck) {
      checkBid(s, s.firstBidId());
    } else if (phase.terminal() && !s.settled()) {
      settle(s);
    }
  }

  private void reserve(JobState s) {
    busy = true;
    JobSpec spec = s.spec();
    long amount = Money.costMicroUsd(spec.estimatedTokens(), spec.ceilingPerMtok());
    ctx.pipeToSelf(budgets.reserve(spec.teamId(), spec.projectId(), jobId, amount, spec.estimatedTokens()),
        (reply, failure) -> new ReserveDone(amount, reply, failure));
  }

  private Effect<JobEvent, JobState> onReserveDone(JobState s, ReserveDone c) {
    busy = false;
    if (s.phase() != JobPhase.ADMITTED || s.reserved()) return afterStep(s);
    if (c.failure() != null) return retryLater(s, "reserving budget", c.failure());
    if (c.reply() instanceof TeamBudgets.Ok) return persist(s, List.of(new JobEvent.Reserved(c.amount(), now())));
    if (c.reply() instanceof TeamBudgets.Refused r) return persist(s, List.of(new JobEvent.Refused(r.refusal(), now())));
    TeamBudgets.Rejected r = (TeamBudgets.Rejected) c.reply();
    return persist(s, List.of(new JobEvent.Failed("budget_rejected", r.detail(), now())));
  }

  private String firstBidId() {
    return jobId + ".b1";
  }

  private void placeFirstBid(JobState s) {
    busy = true;
    Bid bid = s.spec().bid(firstBidId(), s.spec().estimatedTokens(), s.escalateAtMillis(), Set.of());
    ctx.pipeToSelf(books.submit(s.spec().useCase(), new BookOp.PlaceBid(bid)), FirstBidDone::new);
  }

  private Effect<JobEvent, JobState> onFirstBidDone(JobState s, FirstBidDone c) {
    busy = false;
    if (s.phase() != JobPhase.ADMITTED) return afterStep(s);
    if (c.failure() != null) return retryLater(s, "placing the bid", c.failure());
    if (c.result() instanceof BookResult.Rejected r) {
      if (r.reason() == BookResult.Reason.DUPLICATE_ID) {
        // Placed before a crash: ask the book where it stands.
        checkBid(s, firstBidId());
        return Effect().none();
      }
      return persist(s, List.of(new JobEvent.Failed("bid_rejected", r.detail(), now())));
    }
    return persist(s, onFirstBid(s, ((BookResult.Accepted) c.result()).events()));
  }

  private List<JobEvent> onFirstBid(JobState s, List<BookEvent> events) {
    long now = now();
    for (BookEvent e : events) {
      if (e instanceof BookEvent.Filled f && f.fill().bidId().equals(firstBidId())) {
        return List.of(new JobEvent.Matched(legOf(f.fill(), 1, null), now));
      }
    }
    List<JobEvent> out = new ArrayList<>();
    out.add(new JobEvent.BidPlaced(firstBidId(), now));
    for (BookEvent e : events) {
      // Placed past its escalation point and nothing could take it: it expired on arrival.
      if (e instanceof BookEvent.BidExpired x && x.bidId().equals(firstBidId())) out.addAll(escalation(s, "no_feasible_ask"));
    }
    return out;
  }

  private void checkBid(JobState s, String bidId) {
    busy = true;
    needsBidCheck = false;
    ctx.pipeToSelf(books.bidStatus(s.spec().useCase(), bidId), BidChecked::new);
  }

  private Effect<JobEvent, JobState> onBidChecked(JobState s, BidChecked c) {
    busy = false;
    if (s.phase() != JobPhase.ADMITTED && s.phase() != JobPhase.OPEN) {
      if (c.status() != null && c.status().fill() != null) {
        boolean known = s.legs().stream().anyMatch(l -> c.status().fill().fillId().equals(l.fillId()));
        if (!known) release(s.spec().useCase(), c.status().fill());
      }
      return afterStep(s);
    }
    if (c.failure() != null) {
      needsBidCheck = true;
      return retryLater(s, "reading the bid's state", c.failure());
    }
    long now = now();
    return switch (c.status().status()) {
      case FILLED -> persist(s, List.of(new JobEvent.Matched(legOf(c.status().fill(), 1, null), now)));
      case RESTING -> s.phase() == JobPhase.ADMITTED ? persist(s, List.of(new JobEvent.BidPlaced(firstBidId(), now))) : afterStep(s);
      case NOT_ON_BOOK -> {
        // Expired (or cancelled) while the job could not hear it.
        List<JobEvent> events = new ArrayList<>();
        if (s.phase() == JobPhase.ADMITTED) events.add(new JobEvent.BidPlaced(firstBidId(), now));
        events.addAll(escalation(s, "no_feasible_ask"));
        yield persist(s, events);
      }
    };
  }

  /** The escalation point came with the bid still open: take it off the book, then escalate. */
  private Effect<JobEvent, JobState> onEscalationDue(JobState s) {
    if (s.phase() == JobPhase.ADMITTED && s.reserved() && !busy) return persist(s, escalation(s, "no_feasible_ask"));
    if (s.phase() != JobPhase.OPEN) return Effect().none();
    if (busy) {
      timers.startSingleTimer(Timer.ESCALATION_DUE, Timer.ESCALATION_DUE, Duration.ofMillis(100));
      return Effect().none();
    }
    busy = true;
    ctx.pipeToSelf(books.submit(s.spec().useCase(), new BookOp.CancelBid(s.firstBidId())), EscalationCancelDone::new);
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onEscalationCancelDone(JobState s, EscalationCancelDone c) {
    busy = false;
    if (s.phase() != JobPhase.OPEN) return afterStep(s);
    if (c.failure() != null) return retryLater(s, "withdrawing the bid at its escalation point", c.failure());
    if (c.result() instanceof BookResult.Accepted) return persist(s, escalation(s, "no_feasible_ask"));
    // Not resting any more: it filled or expired just before; the book knows which.
    checkBid(s, s.firstBidId());
    return Effect().none();
  }

  /** Moves the work to the backup, or ends the job when an unmatched job has none. */
  private List<JobEvent> escalation(JobState s, String reason) {
    long now = now();
    Backup backup = s.backup();
    if (backup == null) {
      if (s.currentLeg() != null) return List.of(); // running on a fill: nothing better to go to, keep going
      return List.of(new JobEvent.Failed(reason, "no ask could finish the job before its deadline and it has no backup", now));
    }
    long remaining = Math.max(1, s.spec().estimatedTokens() - s.tokens());
    Leg leg = new Leg(s.legs().size() + 1, Leg.BACKUP, null, null, null, backup.providerId(), backup.model(), backup.pricePerMtok(),
        remaining, now, now + backup.leadMillis(remaining), reason);
    return List.of(new JobEvent.Escalated(leg, reason, now));
  }

  private Leg legOf(Fill fill, int no, String movedFor) {
    return new Leg(no, Leg.FILL, fill.bidId(), fill.fillId(), fill.askId(), fill.providerId(), fill.model(), fill.pricePerMtok(),
        fill.tokens(), now(), fill.finishMillis(), movedFor);
  }

  /** On a tick or a report: move the running work if it would miss its deadline where it is. */
  private void maybeMove(JobState s) {
    long now = now();
    if (busy || now < moveCooldownUntil || now >= s.deadlineMillis()) return;
    String reason = s.moveReason(now, settings);
    if (reason == null) return;
    Leg from = s.currentLeg();
    long remaining = Math.max(1, s.spec().estimatedTokens() - s.tokens());
    // A fresh bid for what is left, away from every provider already tried. Its escalation point is
    // now, so it fills at once or expires at once: it never rests.
    String bidId = jobId + ".b" + (s.bidsPlaced() + 1) + "." + Long.toString(now, 36);
    Bid bid = s.spec().bid(bidId, remaining, now, s.triedProviders());
    log.info("Job {}: moving off {} ({}), {} tokens left", jobId, from.providerId(), reason, remaining);
    busy = true;
    pendingMoveBidId = bidId;
    ctx.pipeToSelf(books.submit(s.spec().useCase(), new BookOp.PlaceBid(bid)),
        (result, failure) -> new MoveDone(reason, bidId, remaining, result, failure));
  }

  private Effect<JobEvent, JobState> onMoveDone(JobState s, MoveDone c) {
    busy = false;
    pendingMoveBidId = null;
    Fill filled = null;
    boolean expired = false;
    if (c.result() instanceof BookResult.Accepted a) {
      for (BookEvent e : a.events()) {
        if (e instanceof BookEvent.Filled f && f.fill().bidId().equals(c.bidId())) filled = f.fill();
        if (e instanceof BookEvent.BidExpired x && x.bidId().equals(c.bidId())) expired = true;
      }
    }
    if (s.phase() != JobPhase.RUNNING) {
      if (filled != null) release(s.spec().useCase(), filled);
      return afterStep(s);
    }
    Leg from = s.currentLeg();
    if (filled != null) {
      Leg to = legOf(filled, s.legs().size() + 1, c.reason());
      return persist(s, List.of(new JobEvent.Rerouted(to, c.reason(), now()))).thenRun(after -> releaseLeg(after, from, true));
    }
    if (expired) {
      List<JobEvent> events = escalation(s, c.reason());
      if (!events.isEmpty()) return persist(s, events).thenRun(after -> releaseLeg(after, from, true));
      log.warn("Job {}: {} on {}, and no other ask or backup can take the work; it stays", jobId, c.reason(), from.providerId());
    } else if (c.failure() != null) {
      log.warn("Job {}: could not re-route ({}): {}", jobId, c.reason(), c.failure().toString());
      // The book may have filled the bid all the same: give that fill back.
      String useCase = s.spec().useCase();
      books.bidStatus(useCase, c.bidId()).thenAccept(st -> {
        if (st.fill() != null) release(useCase, st.fill());
      });
    }
    moveCooldownUntil = now() + settings.stallAfter().toMillis();
    return Effect().none();
  }

  private void releaseLeg(JobState s, Leg leg, boolean failed) {
    if (leg == null || leg.fillId() == null) return; // settlement releases every leg's fill again, in case this one is lost
    releaseWithRetries(s.spec().useCase(), new BookOp.ReleaseFill(leg.fillId(), s.counts(leg.no()).tokens(), failed), 3);
  }

  /** Gives a fill the job does not use back to the book (nothing was served on it), trying again if the book does not answer. */
  private void release(String useCase, Fill fill) {
    releaseWithRetries(useCase, new BookOp.ReleaseFill(fill.fillId(), 0, true), 5);
  }

  private void releaseWithRetries(String useCase, BookOp.ReleaseFill op, int triesLeft) {
    books.submit(useCase, op).whenComplete((r, failure) -> {
      if (failure != null && triesLeft > 1) {
        CompletableFuture.delayedExecutor(settings.retryDelay().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
            .execute(() -> releaseWithRetries(useCase, op, triesLeft - 1));
      } else if (failure != null) {
        log.error("Job {}: could not release fill {} in the {} book: {}", jobId, op.fillId(), useCase, failure.toString());
      }
    });
  }

  /**
   * Settlement, once the job has ended: every fill released in the book, the usage records written,
   * and the budget settled to the actual cost (or released, if the job never reserved). Each part is
   * idempotent, so a settlement cut short is simply run again; {@code Settled} is recorded last.
   */
  private void settle(JobState s) {
    busy = true;
    JobSpec spec = s.spec();
    long cost = s.costMicroUsd();
    long tokens = s.tokens();
    Leg last = s.currentLeg();
    List<CompletableFuture<BookResult>> releases = new ArrayList<>();
    for (Leg leg : s.legs()) {
      if (leg.fillId() == null) continue;
      boolean failed = s.phase() != JobPhase.COMPLETED || leg != last;
      releases.add(books.submit(spec.useCase(), new BookOp.ReleaseFill(leg.fillId(), s.counts(leg.no()).tokens(), failed))
          .toCompletableFuture());
    }
    // The first bid may hold a fill the job never took up (it filled while the job was ending): release it.
    Set<String> legFills = new HashSet<>();
    s.legs().forEach(l -> legFills.add(l.fillId()));
    releases.add(books.bidStatus(spec.useCase(), firstBidId()).thenCompose(st -> st.fill() != null && !legFills.contains(st.fill().fillId())
        ? books.submit(spec.useCase(), new BookOp.ReleaseFill(st.fill().fillId(), 0, true))
        : CompletableFuture.<BookResult>completedFuture(null)).toCompletableFuture());
    List<JobUsageStore.UsageRecord> records = JobUsageStore.recordsOf(s);
    boolean reserved = s.reserved();
    CompletionStage<TeamBudgets.Reply> done = CompletableFuture.allOf(releases.toArray(CompletableFuture[]::new))
        .thenCompose(x -> usage.write(records))
        .thenCompose(x -> reserved ? budgets.settle(spec.teamId(), jobId, cost, tokens) : budgets.release(spec.teamId(), jobId));
    ctx.pipeToSelf(done, (reply, failure) -> {
      if (failure == null && reply instanceof TeamBudgets.Rejected r && (reserved || r.reason() != io.keld.atlas.budget.Outcome.Reason.NOT_FOUND)) {
        // Not retried: the budget holds another settlement of this job, which only a bug can cause.
        log.error("Job {}: the budget refused its settlement of {} micro-USD: {}", jobId, cost, r.detail());
      }
      return new SettleDone(cost, tokens, failure);
    });
  }

  private Effect<JobEvent, JobState> onSettleDone(JobState s, SettleDone c) {
    busy = false;
    if (s.settled()) return Effect().none();
    if (c.failure() != null) return retryLater(s, "settling", c.failure());
    return persist(s, List.of(new JobEvent.Settled(c.cost(), c.tokens(), now())));
  }

  private Effect<JobEvent, JobState> onTimer(JobState s, Timer t) {
    if (s.isEmpty()) return Effect().none();
    switch (t) {
      case ESCALATION_DUE:
        return onEscalationDue(s);
      case DEADLINE_DUE:
        if (s.phase().terminal()) return Effect().none();
        if (now() < s.deadlineMillis()) {
          armTimers(s); // the timer ran early against the wall clock: wait the rest
          return Effect().none();
        }
        return persist(s, List.of(new JobEvent.DeadlineMissed(now())));
      case TICK:
        if (s.phase() == JobPhase.RUNNING) maybeMove(s);
        return Effect().none();
      case RETRY:
        if (s.phase() == JobPhase.OPEN && now() >= s.escalateAtMillis()) return onEscalationDue(s);
        advance(s);
        return Effect().none();
      case PASSIVATE:
        if (s.phase().terminal() && s.settled() && !busy) passivate();
        return Effect().none();
      default:
        return Effect().none();
    }
  }

  private Effect<JobEvent, JobState> retryLater(JobState s, String what, Throwable failure) {
    log.warn("Job {}: {} failed, retrying in {}: {}", jobId, what, settings.retryDelay(), failure.toString());
    timers.startSingleTimer(Timer.RETRY, Timer.RETRY, settings.retryDelay());
    return Effect().none();
  }

  private Effect<JobEvent, JobState> afterStep(JobState s) {
    advance(s);
    return Effect().none();
  }

  // -- after every write ------------------------------------------------------------------------

  private org.apache.pekko.persistence.typed.javadsl.EffectBuilder<JobEvent, JobState> persist(JobState before, List<JobEvent> events) {
    if (events.isEmpty()) return Effect().none();
    JobPhase from = before.isEmpty() ? null : before.phase();
    return Effect().persist(events).thenRun(after -> afterWrite(from, after, events));
  }

  private void afterWrite(JobPhase from, JobState s, List<JobEvent> events) {
    for (JobEvent e : events) {
      if (e instanceof JobEvent.Matched m) metrics.matched(Duration.ofMillis(Math.max(0, m.atMillis() - s.spec().submittedAtMillis())));
      if (e instanceof JobEvent.Escalated x) {
        metrics.moved("escalation", x.reason());
        log.info("Job {} escalated to backup {} ({})", jobId, x.leg().providerId(), x.reason());
      }
      if (e instanceof JobEvent.Rerouted x) metrics.moved("reroute", x.reason());
      if (e instanceof JobEvent.DeadlineMissed) log.warn("Job {} missed its deadline ({} of its items answered)", jobId, s.itemsAnswered());
    }
    if (from != s.phase()) metrics.transition(s.phase());
    metrics.live(jobId, s.phase());
    if (s.phase() != JobPhase.ADMITTED && !pendingSubmits.isEmpty()) {
      SubmitReply reply = submitReply(s, true);
      pendingSubmits.forEach(r -> r.tell(reply));
      pendingSubmits.clear();
    }
    JobView view = JobView.of(s);
    observer.changed(view, lastSequenceNumber(ctx));
    followers.forEach(f -> f.tell(view));
    if (s.phase().terminal() && s.settled()) followers.clear();
    pushRoute(s);
    armTimers(s);
    if (s.phase().terminal() && s.settled()) {
      passivate();
      return;
    }
    advance(s);
  }

  private SubmitReply submitReply(JobState s, boolean created) {
    if (s.refusal() != null) return new Refused(s.refusal(), JobView.of(s));
    return new Accepted(JobView.of(s), created);
  }

  private RouteUpdate route(JobState s, long ackedSeq) {
    return new RouteUpdate(jobId, ackedSeq, s.phase(), s.currentLeg(), s.deadlineMillis());
  }

  /** Tells attached data planes when the leg or the phase changed. */
  private void pushRoute(JobState s) {
    Leg leg = s.currentLeg();
    int legNo = leg == null ? 0 : leg.no();
    if (legNo == pushedLegNo && s.phase() == pushedPhase) return;
    pushedLegNo = legNo;
    pushedPhase = s.phase();
    RouteUpdate update = route(s, 0);
    attached.values().forEach(a -> a.tell(update));
    if (s.phase().terminal()) attached.clear();
  }

  /** Timers follow from persisted times, so re-arming them after every write or a recovery never drifts. */
  private void armTimers(JobState s) {
    long now = now();
    if (s.phase().terminal()) {
      timers.cancel(Timer.DEADLINE_DUE);
      timers.cancel(Timer.ESCALATION_DUE);
      timers.cancel(Timer.TICK);
      return;
    }
    timers.startSingleTimer(Timer.DEADLINE_DUE, Timer.DEADLINE_DUE, Duration.ofMillis(Math.max(0, s.deadlineMillis() - now)));
    if (s.phase() == JobPhase.ADMITTED || s.phase() == JobPhase.OPEN) {
      // A little after the book's own expiry, which usually tells the job first.
      long due = s.escalateAtMillis() + 50 - now;
      timers.startSingleTimer(Timer.ESCALATION_DUE, Timer.ESCALATION_DUE, Duration.ofMillis(Math.max(0, due)));
    } else {
      timers.cancel(Timer.ESCALATION_DUE);
    }
    if (s.phase() == JobPhase.RUNNING && !timers.isTimerActive(Timer.TICK)) {
      timers.startTimerWithFixedDelay(Timer.TICK, Timer.TICK, settings.tick());
    }
  }

  private void onRecovered(JobState s) {
    if (s.isEmpty()) return;
    s.awake(now());
    metrics.live(jobId, s.phase());
    pushedLegNo = s.currentLeg() == null ? 0 : s.currentLeg().no();
    pushedPhase = s.phase();
    if (s.phase() == JobPhase.OPEN) needsBidCheck = true;
    if (s.phase().terminal() && s.settled()) {
      timers.startSingleTimer(Timer.PASSIVATE, Timer.PASSIVATE, Duration.ofSeconds(30));
      return;
    }
    armTimers(s);
    advance(s);
  }

  private void passivate() {
    shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
  }

  private long now() {
    return clock.millis();
  }
}
