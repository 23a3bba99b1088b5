package io.keld.testkit;

import io.keld.ixp.CborSerializable;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;

/** A minimal sharded, event-sourced entity for exercising a node's (or a {@link ModuleNode}'s) persistence and cluster set-up. */
public final class Tally extends EventSourcedBehavior<Tally.Command, Tally.Added, Tally.State> {

  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "Tally");

  public sealed interface Command extends CborSerializable {}

  public record Add(long amount, ActorRef<State> replyTo) implements Command {}

  public record Get(ActorRef<State> replyTo) implements Command {}

  public record Added(long amount) implements CborSerializable {}

  public record State(long total, int additions) implements CborSerializable {}

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(KEY, ctx -> new Tally(ctx.getEntityId())));
  }

  private Tally(String id) {
    super(PersistenceId.of(KEY.name(), id));
  }

  @Override
  public State emptyState() {
    return new State(0, 0);
  }

  @Override
  public CommandHandler<Command, Added, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Add.class, (state, add) -> Effect().persist(new Added(add.amount())).thenReply(add.replyTo(), s -> s))
        .onCommand(Get.class, (state, get) -> Effect().reply(get.replyTo(), state))
        .build();
  }

  @Override
  public EventHandler<State, Added> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Added.class, (state, added) -> new State(state.total() + added.amount(), state.additions() + 1))
        .build();
  }
}
