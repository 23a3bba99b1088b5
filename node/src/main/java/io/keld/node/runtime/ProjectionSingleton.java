package io.keld.node.runtime;

import io.keld.kit.projection.PersistenceIdProjection;
import io.keld.kit.projection.TagProjection;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * Runs a projection on one node of the cluster at a time, as a cluster singleton: it starts where
 * the singleton starts and stops when it moves. Every node may run one safely (each batch commits
 * with its offset), but several at once keep refusing each other's batches and restarting.
 * Only the node that runs it has a current lag gauge.
 */
public final class ProjectionSingleton {

  private ProjectionSingleton() {}

  public static void run(ActorSystem<?> system, TagProjection projection) {
    run(system, projection.spec().name(), projection::start, projection::stop);
  }

  public static void run(ActorSystem<?> system, PersistenceIdProjection projection) {
    run(system, projection.spec().name(), projection::start, projection::stop);
  }

  private static void run(ActorSystem<?> system, String name, Runnable start, Runnable stop) {
    Behavior<Void> runner = Behaviors.setup(ctx -> {
      start.run();
      return Behaviors.receive(Void.class).onSignal(PostStop.class, signal -> {
        stop.run();
        return Behaviors.same();
      }).build();
    });
    ClusterSingleton.get(system).init(SingletonActor.of(runner, "projection-" + name));
  }
}
