package io.keld.atlas.budget;

import io.keld.ixp.CborSerializable;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * The budgets of one team and its projects: a sharded, event-sourced entity (entity id = team id)
 * around {@link BudgetLedger}. Cluster Sharding runs exactly one instance per team in the cluster,
 * and the entity decides one command at a time (the next waits while a write is in flight), so two
 * reservations can never both see the same headroom, from whichever node they come.
 */
public final class TeamBudgets extends EventSourcedBehaviorWithEnforcedReplies<TeamBudgets.Command, BudgetEvent, BudgetLedger> {

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "TeamBudgets");

  // -- protocol ---------------------------------------------------------------------------------

  public sealed interface Command extends CborSerializable {}

  public record SetBudget(String scopeId, ScopeKind kind, BudgetSpec spec, ActorRef<Reply> replyTo) implements Command {}

  public record RemoveBudget(String scopeId, ActorRef<Reply> replyTo) implements Command {}

  public record Reserve(String reservationId, String projectId, long amountMicroUsd, long tokens, ActorRef<Reply> replyTo)
      implements Command {}

  public record Settle(String reservationId, long actualMicroUsd, long actualTokens, ActorRef<Reply> replyTo) implements Command {}

  public record Release(String reservationId, ActorRef<Reply> replyTo) implements Command {}

  public record GetScope(String scopeId, ActorRef<Reply> replyTo) implements Command {}

  public record GetReservation(String reservationId, ActorRef<Reply> replyTo) implements Command {}

  /** Every command is answered with one of these. */
  public sealed interface Reply extends CborSerializable {}

  /** Done. {@code reservation} is set for reservation commands (null once settled or released). */
  public record Ok(BudgetLedger.Reservation reservation, List<ScopeView> scopes) implements Reply {}

  public record Refused(Refusal refusal) implements Reply {}

  public record Rejected(Outcome.Reason reason, String detail) implements Reply {}

  // -- wiring -----------------------------------------------------------------------------------

  /** Persisted events go here after the write (alerts, metrics). */
  public interface Listener {
    void onPersisted(String teamId, List<BudgetEvent> events);
  }

  public static void init(ActorSystem<?> system, Clock clock, Listener listener) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), clock, listener)));
  }

  public static Behavior<Command> create(String teamId, Clock clock, Listener listener) {
    return Behaviors.<Command>supervise(Behaviors.setup(ctx -> new TeamBudgets(teamId, clock, listener)))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  private final String teamId;
  private final Clock clock;
  private final Listener listener;

  private TeamBudgets(String teamId, Clock clock, Listener listener) {
    super(PersistenceId.of(ENTITY_KEY.name(), teamId));
    this.teamId = teamId;
    this.clock = clock;
    this.listener = listener;
  }

  @Override
  public BudgetLedger emptyState() {
    return new BudgetLedger(teamId);
  }

  /** A soft cap crossed is tagged for its alert ({@link BudgetEvent#ALERTS_TAG}); nothing else is. */
  @Override
  public Set<String> tagsFor(BudgetEvent event) {
    return event instanceof BudgetEvent.SoftCapCrossed ? ALERT_TAGS : Set.of();
  }

  private static final Set<String> ALERT_TAGS = Set.of(BudgetEvent.ALERTS_TAG);

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(1_000, 2);
  }

  @Override
  public SnapshotAdapter<BudgetLedger> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(BudgetLedger state) {
        return state.snapshot();
      }

      @Override
      public BudgetLedger fromJournal(Object from) {
        return BudgetLedger.fromSnapshot((BudgetLedger.Snapshot) from);
      }
    };
  }

  @Override
  public CommandHandlerWithReply<Command, BudgetEvent, BudgetLedger> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(SetBudget.class, (s, c) -> effect(s, s.setBudget(c.scopeId(), c.kind(), c.spec(), clock.millis()), c.replyTo(), null, c.scopeId()))
        .onCommand(RemoveBudget.class, (s, c) -> effect(s, s.removeBudget(c.scopeId(), clock.millis()), c.replyTo(), null, c.scopeId()))
        .onCommand(Reserve.class, (s, c) -> effect(
            s, s.reserve(c.reservationId(), c.projectId(), c.amountMicroUsd(), c.tokens(), clock.millis()), c.replyTo(), c.reservationId(), c.projectId()))
        .onCommand(Settle.class, (s, c) -> {
          BudgetLedger.Reservation r = s.reservation(c.reservationId());
          return effect(s, s.settle(c.reservationId(), c.actualMicroUsd(), c.actualTokens(), clock.millis()), c.replyTo(), null,
              r != null ? r.projectId() : null);
        })
        .onCommand(Release.class, (s, c) -> {
          BudgetLedger.Reservation r = s.reservation(c.reservationId());
          return effect(s, s.release(c.reservationId(), clock.millis()), c.replyTo(), null, r != null ? r.projectId() : null);
        })
        .onCommand(GetScope.class, (s, c) -> Effect().reply(c.replyTo(), new Ok(null, List.of(s.view(c.scopeId(), clock.millis())))))
        .onCommand(GetReservation.class, (s, c) -> {
          BudgetLedger.Reservation r = s.reservation(c.reservationId());
          Reply reply = r == null
              ? new Rejected(Outcome.Reason.NOT_FOUND, "reservation " + c.reservationId() + " is not open")
              : new Ok(r, List.of(s.view(r.projectId(), clock.millis()), s.view(teamId, clock.millis())));
          return Effect().reply(c.replyTo(), reply);
        })
        .build();
  }

  /**
   * Persists what the ledger decided and answers with the scopes it touched, as they stand after
   * the write. {@code reservationId} is echoed back as the open reservation, if it still is one.
   */
  private ReplyEffect<BudgetEvent, BudgetLedger> effect(BudgetLedger state, Outcome outcome, ActorRef<Reply> replyTo, String reservationId, String scopeId) {
    if (outcome instanceof Outcome.Refused r) return Effect().reply(replyTo, new Refused(r.refusal()));
    if (outcome instanceof Outcome.Rejected r) return Effect().reply(replyTo, new Rejected(r.reason(), r.detail()));
    List<BudgetEvent> events = ((Outcome.Done) outcome).events();
    if (events.isEmpty()) return Effect().reply(replyTo, ok(state, reservationId, scopeId));
    return Effect().persist(events)
        .thenRun(s -> listener.onPersisted(teamId, events))
        .thenReply(replyTo, s -> ok(s, reservationId, scopeId));
  }

  private Ok ok(BudgetLedger s, String reservationId, String scopeId) {
    long now = clock.millis();
    BudgetLedger.Reservation r = reservationId != null ? s.reservation(reservationId) : null;
    List<ScopeView> views = scopeId == null || scopeId.equals(teamId)
        ? List.of(s.view(teamId, now))
        : List.of(s.view(scopeId, now), s.view(teamId, now));
    return new Ok(r, views);
  }

  @Override
  public EventHandler<BudgetLedger, BudgetEvent> eventHandler() {
    return (state, event) -> {
      state.apply(event);
      return state;
    };
  }
}
