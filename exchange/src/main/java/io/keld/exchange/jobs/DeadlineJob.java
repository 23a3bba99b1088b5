package io.keld.exchange.jobs;

import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.ixp.CborSerializable;
import io.keld.ixp.Money;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.OrderBook;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import io.keld.atlas.budget.Refusal;

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
  public record Refused(Refusal refusal, JobView view) implements SubmitReply {}

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
  public record BookFilled(String useCase, Fill fill, long seq) implements Command {}

  /** From the books: one of the job's bids expired at its escalation point. */
  public record BookBidExpired(String bidId) implements Command {}

  // Answers of the job's own asynchronous steps, and its timers: never sent by anyone else.
  private record ReserveDone(long amount, TeamBudgets.Reply reply, Throwable failure) implements Command {}

  private record FirstBidDone(BookResult result, Throwable failure) implements Command {}

  private record BidChecked(OrderBook.BidStatus status, Throwable failure) implements Command {}

  private record EscalationCancelDone(BookResult result, Throwable failure) implements Command {}

  private record MoveDone(String reason, String bidId, long tokens, BookResult result, Throwable failure) implements Command {}

  private record SettleDone(long cost, long tokens, Throwable failure) implements Command {}

  /** Armed by {@link JobTimers}. */
  enum Timer implements Command { ESCALATION_DUE, DEADLINE_DUE, TICK, RETRY, PASSIVATE }

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
  private final Clock clock;
  private final JobSettings settings;
  private final BudgetClient budgets;
  private final JobMetrics metrics;
  private final JobBookSteps book;
  private final Settlement settlement;
  private final JobTimers timers;

  // In memory only: who waits for what on this incarnation. After a restart the data planes
  // re-attach through their reports, and submitters retry with their idempotency key.
  private final JobWatchers watchers;
  private final AttachedPlanes planes;
  private boolean busy;
  private boolean needsBidCheck;
  private String pendingMoveBidId;
  private BookFilled heldFill;
  private long moveCooldownUntil;

  private DeadlineJob(String jobId, ActorRef<ClusterSharding.ShardCommand> shard, ActorContext<Command> ctx, TimerScheduler<Command> timers,
      Deps deps) {
    super(PersistenceId.of(ENTITY_KEY.name(), jobId));
    this.jobId = jobId;
    this.shard = shard;
    this.ctx = ctx;
    this.clock = deps.clock();
    this.settings = deps.settings();
    this.budgets = deps.budgets();
    this.metrics = deps.metrics();
    this.book = new JobBookSteps(jobId, deps.books(), deps.settings());
    this.settlement = new Settlement(jobId, book, deps.usage(), deps.budgets());
    this.timers = new JobTimers(timers, deps.clock(), deps.settings());
    this.watchers = new JobWatchers(deps.observer());
    this.planes = new AttachedPlanes(jobId);
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
          watchers.unfollow(c.subscriber());
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
      if (s.phase() == JobPhase.ADMITTED) watchers.awaitAdmission(c.replyTo());
      else c.replyTo().tell(JobWatchers.submitReply(s, false));
      return Effect().none();
    }
    watchers.awaitAdmission(c.replyTo());
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
      if (bidToCancel != null) book.cancelBid(after.spec().useCase(), bidToCancel);
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
      watchers.follow(c.subscriber());
      ctx.watchWith(c.subscriber(), new Unfollow(c.subscriber()));
    }
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onAttach(JobState s, Attach c) {
    if (s.isEmpty()) {
      c.replyTo().tell(planes.noSuchJob(0));
      passivate();
      return Effect().none();
    }
    planes.attach(s, c.reporter(), c.replyTo());
    c.replyTo().tell(planes.route(s, 0));
    if (s.phase() == JobPhase.MATCHED && !s.started()) return persist(s, List.of(new JobEvent.Started(now())));
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onReport(JobState s, Report c) {
    if (s.isEmpty()) {
      c.replyTo().tell(planes.noSuchJob(c.seq()));
      return Effect().none();
    }
    planes.attach(s, c.reporter(), c.replyTo());
    boolean countable = s.phase() == JobPhase.MATCHED || s.phase() == JobPhase.RUNNING || s.phase() == JobPhase.ESCALATED;
    boolean changes = !c.usage().isEmpty() || c.itemsOpen() != s.itemsOpen() || c.uploadFinished();
    if (!countable || s.alreadyApplied(c.reporter(), c.seq()) || !changes) {
      // Usage told after a job ended is not charged: the job's cost was settled when it ended.
      if (s.phase().terminal() && !c.usage().isEmpty()) log.debug("Job {}: usage reported after the job ended is not charged", jobId);
      return Effect().reply(c.replyTo(), planes.route(s, c.seq()));
    }
    List<JobEvent> events = s.progress(c.reporter(), c.seq(), c.usage(), c.itemsOpen(), c.uploadFinished(), now());
    return persist(s, events).thenRun(after -> {
      c.replyTo().tell(planes.route(after, c.seq()));
      maybeMove(after);
    });
  }

  private Effect<JobEvent, JobState> onBookFilled(JobState s, BookFilled c) {
    Fill fill = c.fill();
    if (s.isEmpty()) {
      book.release(c.useCase(), fill);
      passivate();
      return Effect().none();
    }
    // Where the fill is in the book's log, kept whatever becomes of the fill: the job's view links
    // each leg's receipt by it (the fill may also reach the job first through its own bid's reply).
    List<JobEvent> logged = c.seq() > 0 && s.fillLogSeq(fill.fillId()) == 0
        ? List.of(new JobEvent.FillLogged(fill.fillId(), c.useCase(), c.seq(), now())) : List.of();
    if (s.hasFill(fill.fillId()) || fill.bidId().equals(pendingMoveBidId)) return persist(s, logged);
    boolean wanted = fill.bidId().equals(book.firstBidId());
    if (wanted && (s.phase() == JobPhase.OPEN || s.phase() == JobPhase.ADMITTED) && !busy) {
      List<JobEvent> events = new ArrayList<>(logged);
      events.add(new JobEvent.Matched(Leg.of(fill, 1, now(), null), now()));
      return persist(s, events);
    }
    if (wanted && (s.phase() == JobPhase.OPEN || s.phase() == JobPhase.ADMITTED)) {
      heldFill = c; // a step is under way: taken up (or given back) when it ends
      return persist(s, logged);
    }
    // A fill the job no longer wants (it escalated, ended, or was cut off mid-move): give the capacity back.
    book.release(c.useCase(), fill);
    return persist(s, logged);
  }

  private Effect<JobEvent, JobState> onBookBidExpired(JobState s, BookBidExpired c) {
    if (s.isEmpty() || s.phase() != JobPhase.OPEN || !c.bidId().equals(s.firstBidId())) return Effect().none();
    if (busy) {
      needsBidCheck = true;
      return Effect().none();
    }
    return persist(s, s.escalation("no_feasible_ask", now()));
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

  private void placeFirstBid(JobState s) {
    busy = true;
    ctx.pipeToSelf(book.placeFirstBid(s), FirstBidDone::new);
  }

  private Effect<JobEvent, JobState> onFirstBidDone(JobState s, FirstBidDone c) {
    busy = false;
    if (s.phase() != JobPhase.ADMITTED) return afterStep(s);
    if (c.failure() != null) return retryLater(s, "placing the bid", c.failure());
    if (c.result() instanceof BookResult.Rejected r) {
      if (r.reason() == BookResult.Reason.DUPLICATE_ID) {
        // Placed before a crash: ask the book where it stands.
        checkBid(s, book.firstBidId());
        return Effect().none();
      }
      return persist(s, List.of(new JobEvent.Failed("bid_rejected", r.detail(), now())));
    }
    return persist(s, s.firstBidPlaced(book.firstBidId(), ((BookResult.Accepted) c.result()).events(), now()));
  }

  private void checkBid(JobState s, String bidId) {
    busy = true;
    needsBidCheck = false;
    ctx.pipeToSelf(book.bidStatus(s.spec().useCase(), bidId), BidChecked::new);
  }

  private Effect<JobEvent, JobState> onBidChecked(JobState s, BidChecked c) {
    busy = false;
    if (s.phase() != JobPhase.ADMITTED && s.phase() != JobPhase.OPEN) {
      if (c.status() != null && c.status().fill() != null && !s.hasFill(c.status().fill().fillId())) {
        book.release(s.spec().useCase(), c.status().fill());
      }
      return afterStep(s);
    }
    if (c.failure() != null) {
      needsBidCheck = true;
      return retryLater(s, "reading the bid's state", c.failure());
    }
    long now = now();
    return switch (c.status().status()) {
      case FILLED -> persist(s, List.of(new JobEvent.Matched(Leg.of(c.status().fill(), 1, now(), null), now)));
      case RESTING -> s.phase() == JobPhase.ADMITTED ? persist(s, List.of(new JobEvent.BidPlaced(book.firstBidId(), now))) : afterStep(s);
      case NOT_ON_BOOK -> {
        // Expired (or cancelled) while the job could not hear it.
        List<JobEvent> events = new ArrayList<>();
        if (s.phase() == JobPhase.ADMITTED) events.add(new JobEvent.BidPlaced(book.firstBidId(), now));
        events.addAll(s.escalation("no_feasible_ask", now()));
        yield persist(s, events);
      }
    };
  }

  /** The escalation point came with the bid still open: take it off the book, then escalate. */
  private Effect<JobEvent, JobState> onEscalationDue(JobState s) {
    if (s.phase() == JobPhase.ADMITTED && s.reserved() && !busy) return persist(s, s.escalation("no_feasible_ask", now()));
    if (s.phase() != JobPhase.OPEN) return Effect().none();
    if (busy) {
      timers.escalationAgainSoon();
      return Effect().none();
    }
    busy = true;
    ctx.pipeToSelf(book.cancelBid(s.spec().useCase(), s.firstBidId()), EscalationCancelDone::new);
    return Effect().none();
  }

  private Effect<JobEvent, JobState> onEscalationCancelDone(JobState s, EscalationCancelDone c) {
    busy = false;
    if (s.phase() != JobPhase.OPEN) return afterStep(s);
    if (c.failure() != null) return retryLater(s, "withdrawing the bid at its escalation point", c.failure());
    if (c.result() instanceof BookResult.Accepted) return persist(s, s.escalation("no_feasible_ask", now()));
    // Not resting any more: it filled or expired just before; the book knows which.
    checkBid(s, s.firstBidId());
    return Effect().none();
  }

  /** On a tick or a report: move the running work if it would miss its deadline where it is. */
  private void maybeMove(JobState s) {
    long now = now();
    if (busy || now < moveCooldownUntil || now >= s.deadlineMillis()) return;
    String reason = s.moveReason(now, settings);
    if (reason == null) return;
    Leg from = s.currentLeg();
    long remaining = Math.max(1, s.spec().estimatedTokens() - s.tokens());
    String bidId = book.moveBidId(s, now);
    log.info("Job {}: moving off {} ({}), {} tokens left", jobId, from.providerId(), reason, remaining);
    busy = true;
    pendingMoveBidId = bidId;
    ctx.pipeToSelf(book.placeMoveBid(s, bidId, remaining, now), (result, failure) -> new MoveDone(reason, bidId, remaining, result, failure));
  }

  private Effect<JobEvent, JobState> onMoveDone(JobState s, MoveDone c) {
    busy = false;
    pendingMoveBidId = null;
    Fill filled = JobBookSteps.filled(c.result(), c.bidId());
    boolean expired = JobBookSteps.expired(c.result(), c.bidId());
    if (s.phase() != JobPhase.RUNNING) {
      if (filled != null) book.release(s.spec().useCase(), filled);
      return afterStep(s);
    }
    Leg from = s.currentLeg();
    if (filled != null) {
      Leg to = Leg.of(filled, s.legs().size() + 1, now(), c.reason());
      return persist(s, List.of(new JobEvent.Rerouted(to, c.reason(), now()))).thenRun(after -> book.releaseLeg(after, from, true));
    }
    if (expired) {
      List<JobEvent> events = s.escalation(c.reason(), now());
      if (!events.isEmpty()) return persist(s, events).thenRun(after -> book.releaseLeg(after, from, true));
      log.warn("Job {}: {} on {}, and no other ask or backup can take the work; it stays", jobId, c.reason(), from.providerId());
    } else if (c.failure() != null) {
      log.warn("Job {}: could not re-route ({}): {}", jobId, c.reason(), c.failure().toString());
      book.releaseIfFilled(s.spec().useCase(), c.bidId());
    }
    moveCooldownUntil = now() + settings.stallAfter().toMillis();
    return Effect().none();
  }

  /** Settles the ended job (see {@link Settlement}); {@code Settled} is recorded when it is done. */
  private void settle(JobState s) {
    busy = true;
    Settlement.Charge charge = Settlement.Charge.of(s);
    ctx.pipeToSelf(settlement.run(s, charge), (reply, failure) -> new SettleDone(charge.costMicroUsd(), charge.tokens(), failure));
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
          timers.arm(s); // the timer ran early against the wall clock: wait the rest
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
    timers.retry();
    return Effect().none();
  }

  private Effect<JobEvent, JobState> afterStep(JobState s) {
    advance(s);
    return Effect().none();
  }

  // -- after every write ------------------------------------------------------------------------

  private EffectBuilder<JobEvent, JobState> persist(JobState before, List<JobEvent> events) {
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
    watchers.changed(s, lastSequenceNumber(ctx));
    planes.push(s);
    timers.arm(s);
    if (s.phase().terminal() && s.settled()) {
      passivate();
      return;
    }
    advance(s);
  }

  private void onRecovered(JobState s) {
    if (s.isEmpty()) return;
    s.awake(now());
    metrics.live(jobId, s.phase());
    planes.recovered(s);
    if (s.phase() == JobPhase.OPEN) needsBidCheck = true;
    if (s.phase().terminal() && s.settled()) {
      timers.passivateSoon();
      return;
    }
    timers.arm(s);
    advance(s);
  }

  private void passivate() {
    shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
  }

  private long now() {
    return clock.millis();
  }
}
