package io.keld.exchange.jobs;

import io.keld.atlas.budget.Refusal;
import io.keld.ixp.CborSerializable;
import io.keld.marketplace.book.Fill;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
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
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One deadline job: a sharded, event-sourced entity (entity id = job id).
 *
 * <p>The entity drives the job through its life with one asynchronous step at a time (reserve
 * budget, place the bid, move the work, settle): which step, and what its answer records, is decided
 * by the plain-Java {@link JobSteps}; the entity persists, replies and does the I/O. Commands are
 * handled per phase (no job, ended, waiting for a match, live) and every request is answered
 * (enforced replies). Every step is safe to repeat: the budget's reservation id and the book's bid ids are
 * derived from the job id, so a step cut short by a crash is simply done again after recovery.
 *
 * <p>Timers are never persisted; they are computed from the persisted escalation point and deadline
 * after every event and after recovery, and a timer that fires in a state where its step is already
 * done does nothing. A job whose bid rested while it was down asks the book where the bid stands.
 *
 * <p>The data plane ({@link JobStreams}) attaches to the job, is told where to send items
 * ({@link RouteUpdate}), and reports counts and usage; the job decides when work moves.
 */
public final class DeadlineJob extends EventSourcedBehaviorWithEnforcedReplies<DeadlineJob.Command, JobEvent, JobState> {

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

  /** The answer of one of the job's own steps (see {@link JobSteps}): never sent by anyone else. */
  private record StepDone(JobSteps.Answer answer) implements Command {}

  /** Armed by {@link JobTimers}. */
  enum Timer implements Command { ESCALATION_DUE, DEADLINE_DUE, TICK, RETRY, PASSIVATE }

  // -- wiring -----------------------------------------------------------------------------------

  /** What the entity needs of its node; {@code journalPlugin} "" is the default journal (tests). */
  public record Deps(Clock clock, JobSettings settings, JobPorts.Books books, JobPorts.Budgets budgets, JobPorts.Planes planes,
      JobMetrics metrics, JobObserver observer, String journalPlugin) {}

  /**
   * Registers the entity type with Cluster Sharding. Jobs are remembered entities: after a crash or
   * a hand-over they start again by themselves, so their deadline timers run with nobody asking.
   * A settled job passivates itself and is forgotten.
   */
  public static void init(ActorSystem<?> system, Deps deps) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), ctx.getShard(), deps))
        .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true)));
  }

  /** The entity, restarted with a backoff when it fails; every restart is a new incarnation (see {@link JobSteps}). */
  static Behavior<Command> create(String jobId, ActorRef<ClusterSharding.ShardCommand> shard, Deps deps) {
    return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new DeadlineJob(jobId, shard, ctx, timers, deps))))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  private final String jobId;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> ctx;
  private final Clock clock;
  private final JobPorts.Budgets budgets;
  private final JobPorts.Planes planesAlive;
  private final JobMetrics metrics;
  private final JobBookSteps book;
  private final Settlement settlement;
  private final JobTimers timers;
  // In memory only, for this incarnation: the step under way, who waits, which data planes listen.
  private final JobSteps steps;
  private final JobWatchers watchers;
  private final AttachedPlanes planes;
  private final String journalPlugin;

  private DeadlineJob(String jobId, ActorRef<ClusterSharding.ShardCommand> shard, ActorContext<Command> ctx, TimerScheduler<Command> timers,
      Deps deps) {
    super(PersistenceId.of(ENTITY_KEY.name(), jobId));
    this.jobId = jobId;
    this.shard = shard;
    this.ctx = ctx;
    this.clock = deps.clock();
    this.budgets = deps.budgets();
    this.planesAlive = deps.planes();
    this.metrics = deps.metrics();
    this.book = new JobBookSteps(jobId, deps.books(), deps.settings(), ctx.getSystem());
    this.settlement = new Settlement(jobId, book, deps.budgets());
    this.timers = new JobTimers(timers, deps.clock(), deps.settings());
    this.steps = new JobSteps(jobId, ThreadLocalRandom.current().nextLong(), deps.settings(), deps.planes());
    this.watchers = new JobWatchers(deps.observer());
    this.planes = new AttachedPlanes(jobId);
    this.journalPlugin = deps.journalPlugin();
  }

  @Override
  public JobState emptyState() {
    return new JobState();
  }

  /** Every event, for the job read sides ({@link JobEvent#TAG}). */
  @Override
  public Set<String> tagsFor(JobEvent event) {
    return Set.of(JobEvent.TAG);
  }

  @Override
  public String journalPluginId() {
    return journalPlugin;
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
  public CommandHandlerWithReply<Command, JobEvent, JobState> commandHandler() {
    var handlers = newCommandHandlerWithReplyBuilder();
    // No such job (yet): only a submission creates it; anything else is answered as such and the entity stops.
    handlers.forState(JobState::isEmpty)
        .onCommand(Submit.class, this::onAdmit)
        .onCommand(Get.class, c -> passivating(Effect().reply(c.replyTo(), new GetReply(null))))
        .onCommand(Cancel.class, c -> passivating(Effect().reply(c.replyTo(), new CancelReply(null, false))))
        .onCommand(Attach.class, c -> passivating(Effect().reply(c.replyTo(), planes.noSuchJob(0))))
        .onCommand(Report.class, c -> Effect().reply(c.replyTo(), planes.noSuchJob(c.seq())))
        .onCommand(BookFilled.class, c -> passivating(Effect().none().thenRun(x -> book.release(c.useCase(), c.fill())).thenNoReply()))
        .onAnyCommand(c -> passivating(Effect().noReply()));
    // Ended: nothing changes but settlement; usage told now is not charged (the cost was settled when the job ended).
    handlers.forState(s -> s.phase().terminal())
        .onCommand(Cancel.class, (s, c) -> Effect().reply(c.replyTo(), new CancelReply(JobView.of(s), false)))
        .onCommand(Report.class, (s, c) -> Effect().reply(c.replyTo(), planes.route(s, c.seq())));
    // Waiting for a match: the first bid's fill and expiry matter, and a cancel withdraws the bid.
    handlers.forState(s -> s.phase() == JobPhase.ADMITTED || s.phase() == JobPhase.OPEN)
        .onCommand(BookBidExpired.class, (s, c) -> enact(s, steps.bidExpired(s, c.bidId(), now())))
        .onCommand(Report.class, (s, c) -> Effect().reply(c.replyTo(), planes.route(s, c.seq())));
    // Live: submissions answered from the state, progress counted, fills decided by the steps, the steps' answers and timers.
    handlers.forAnyState()
        .onCommand(Submit.class, this::onResubmit)
        .onCommand(Get.class, (s, c) -> Effect().reply(c.replyTo(), new GetReply(JobView.of(s))))
        .onCommand(Cancel.class, this::onCancel)
        .onCommand(Follow.class, this::onFollow)
        .onCommand(Unfollow.class, (s, c) -> {
          watchers.unfollow(c.subscriber());
          return Effect().noReply();
        })
        .onCommand(Attach.class, this::onAttach)
        .onCommand(Report.class, this::onReport)
        .onCommand(BookFilled.class, (s, c) -> enact(s, steps.bookFilled(s, c.useCase(), c.fill(), c.seq(), now())))
        .onCommand(BookBidExpired.class, c -> Effect().noReply())
        .onCommand(StepDone.class, (s, c) -> enact(s, steps.answered(s, c.answer(), now())))
        .onCommand(Timer.class, this::onTimer);
    return handlers.build();
  }

  // -- commands from outside --------------------------------------------------------------------

  /** Admission is answered once the budget has decided it (see {@link JobWatchers}), not when it is recorded. */
  private ReplyEffect<JobEvent, JobState> onAdmit(JobState s, Submit c) {
    watchers.awaitAdmission(c.replyTo());
    return persist(s, List.of(new JobEvent.Admitted(c.spec(), c.backup(), c.escalateAtMillis(), now()))).thenNoReply();
  }

  private ReplyEffect<JobEvent, JobState> onResubmit(JobState s, Submit c) {
    if (!s.spec().requestHash().equals(c.spec().requestHash())) return Effect().reply(c.replyTo(), new KeyConflict(jobId));
    if (s.phase() != JobPhase.ADMITTED) return Effect().reply(c.replyTo(), JobWatchers.submitReply(s, false));
    watchers.awaitAdmission(c.replyTo()); // answered with the first submitter's answer
    return Effect().noReply();
  }

  private ReplyEffect<JobEvent, JobState> onCancel(JobState s, Cancel c) {
    String bidToCancel = s.phase() == JobPhase.OPEN ? s.firstBidId() : null;
    return persist(s, List.of(new JobEvent.Cancelled(c.reason(), now()))).thenRun(after -> {
      // A bid left resting could still fill; if it fills anyway, the fill is released when it is told.
      if (bidToCancel != null) book.cancelBid(after.spec().useCase(), bidToCancel);
    }).thenReply(c.replyTo(), after -> new CancelReply(JobView.of(after), true));
  }

  private ReplyEffect<JobEvent, JobState> onFollow(JobState s, Follow c) {
    c.subscriber().tell(JobView.of(s));
    if (!s.phase().terminal() || !s.settled()) {
      watchers.follow(c.subscriber());
      ctx.watchWith(c.subscriber(), new Unfollow(c.subscriber()));
    }
    return Effect().noReply();
  }

  private ReplyEffect<JobEvent, JobState> onAttach(JobState s, Attach c) {
    planes.attach(s, c.reporter(), c.replyTo());
    if (s.phase() == JobPhase.MATCHED && !s.started()) {
      return persist(s, List.of(new JobEvent.Started(now()))).thenReply(c.replyTo(), after -> planes.route(after, 0));
    }
    return Effect().reply(c.replyTo(), planes.route(s, 0));
  }

  /** Progress of a running job; a report seen before (same reporter, same or older sequence) counts once. */
  private ReplyEffect<JobEvent, JobState> onReport(JobState s, Report c) {
    planes.attach(s, c.reporter(), c.replyTo());
    boolean changes = !c.usage().isEmpty() || s.itemsOpenIf(c.reporter(), c.itemsOpen()) != s.itemsOpen() || c.uploadFinished();
    if (s.alreadyApplied(c.reporter(), c.seq()) || !changes) return Effect().reply(c.replyTo(), planes.route(s, c.seq()));
    List<JobEvent> events = s.progress(c.reporter(), c.seq(), c.usage(), c.itemsOpen(), c.uploadFinished(), planesAlive, now());
    return persist(s, events).thenRun(after -> {
      if (after.phase() == JobPhase.RUNNING) ctx.getSelf().tell(Timer.TICK); // would the work now miss its deadline where it is?
    }).thenReply(c.replyTo(), after -> planes.route(after, c.seq()));
  }

  private ReplyEffect<JobEvent, JobState> onTimer(JobState s, Timer t) {
    return switch (t) {
      case ESCALATION_DUE -> enact(s, steps.escalationDue(s, now()));
      case DEADLINE_DUE -> {
        if (s.phase().terminal()) yield Effect().noReply();
        if (now() >= s.deadlineMillis()) yield persist(s, List.of(new JobEvent.DeadlineMissed(now()))).thenNoReply();
        timers.arm(s); // the timer ran early against the wall clock: wait the rest
        yield Effect().noReply();
      }
      case TICK -> enact(s, steps.tick(s, now()));
      case RETRY -> {
        if (s.phase() == JobPhase.OPEN && now() >= s.escalateAtMillis()) steps.escalationDue(s, now());
        yield enact(s, JobSteps.Decision.NONE);
      }
      case PASSIVATE -> s.phase().terminal() && s.settled() && steps.running() == null ? passivating(Effect().noReply()) : Effect().noReply();
    };
  }

  // -- the job's own steps ----------------------------------------------------------------------

  /** Does what a {@link JobSteps} decision says: persist, give back fills, then start the next step. */
  private ReplyEffect<JobEvent, JobState> enact(JobState s, JobSteps.Decision d) {
    String useCase = s.spec().useCase();
    d.releases().forEach(fill -> book.release(useCase, fill));
    if (d.retry()) timers.retry();
    if (!d.events().isEmpty()) {
      Leg movedOff = d.releaseLegAfter();
      return persist(s, d.events()).thenRun(after -> book.releaseLeg(after, movedOff, true)).thenNoReply();
    }
    if (!d.retry()) advance(s);
    return Effect().noReply();
  }

  /** Starts the step the state calls for, if none is under way; a fill held during a step is told again first. */
  private void advance(JobState s) {
    Fill held = steps.takeHeldFill();
    if (held != null) {
      ctx.getSelf().tell(new BookFilled(s.spec().useCase(), held, 0)); // it becomes the match, or is released if the job moved on (its log seq is recorded)
      return;
    }
    JobSteps.Started step = steps.next(s);
    if (step == null) return;
    ctx.pipeToSelf(run(s, step.step()), (result, failure) -> new StepDone(new JobSteps.Answer(step.incarnation(), step.no(), result, failure)));
  }

  /** The I/O of one step; what it needs of the state is read now, before anything is sent. */
  private CompletionStage<?> run(JobState s, JobSteps.Step step) {
    JobSpec spec = s.spec();
    if (step instanceof JobSteps.Reserve r) return budgets.reserve(spec.teamId(), spec.projectId(), jobId, r.amountMicroUsd(), spec.estimatedTokens());
    if (step instanceof JobSteps.PlaceFirstBid) return book.placeFirstBid(s);
    if (step instanceof JobSteps.CheckBid c) return book.bidStatus(spec.useCase(), c.bidId());
    if (step instanceof JobSteps.WithdrawBid w) return book.cancelBid(spec.useCase(), w.bidId());
    if (step instanceof JobSteps.Move m) return book.placeMoveBid(s, m.bidId(), m.tokens(), now());
    if (step instanceof JobSteps.CheckMoveBid c) return book.bidStatus(spec.useCase(), c.bidId());
    return settlement.run(s, ((JobSteps.Settle) step).charge());
  }

  // -- after every write ------------------------------------------------------------------------

  private EffectBuilder<JobEvent, JobState> persist(JobState before, List<JobEvent> events) {
    JobPhase from = before.isEmpty() ? null : before.phase();
    return Effect().persist(events).thenRun(after -> afterWrite(from, after, events));
  }

  private void afterWrite(JobPhase from, JobState s, List<JobEvent> events) {
    metrics.recorded(jobId, from, s, events);
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
    steps.recovered(s, now());
    metrics.live(jobId, s.phase());
    planes.recovered(s);
    if (s.phase().terminal() && s.settled()) {
      timers.passivateSoon();
      return;
    }
    timers.arm(s);
    advance(s);
  }

  private ReplyEffect<JobEvent, JobState> passivating(ReplyEffect<JobEvent, JobState> effect) {
    passivate();
    return effect;
  }

  private void passivate() {
    shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
  }

  private long now() {
    return clock.millis();
  }
}
