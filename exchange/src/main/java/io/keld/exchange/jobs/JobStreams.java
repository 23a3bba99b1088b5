package io.keld.exchange.jobs;

import io.keld.flow.Flow;
import io.keld.flow.FlowJob;
import io.keld.flow.Item;
import io.keld.flow.ItemResult;
import io.keld.flow.Route;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.stream.javadsl.Source;
import io.keld.kit.ProblemResponses;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The data plane of deadline jobs on this node. {@link #run} streams one upload of a job's items
 * through Flow and its results back; nothing is read from the upload before the job has a route
 * (it may start before the match and simply waits), and the job's entity moves the work between
 * providers as it decides. One {@link JobStream} actor per job on this node bridges Flow and the
 * entity.
 */
public final class JobStreams {

  /** Where a provider's model is served: the Flow route for a leg's provider and model. */
  @FunctionalInterface
  public interface RouteResolver {
    CompletionStage<Route> resolve(String providerId, String model);
  }

  /** Raised in an upload whose job has ended or does not exist. */
  public static final class JobEnded extends RuntimeException {
    public JobEnded(String message) {
      super(message);
    }
  }

  private final ActorRef<Manage> manager;

  public JobStreams(ActorSystem<?> system, Flow flow, RouteResolver routes, JobSettings settings) {
    ClusterSharding sharding = ClusterSharding.get(system);
    this.manager = system.systemActorOf(manager(sharding, flow, routes, settings), "job-streams", Props.empty());
  }

  /**
   * Runs one upload of a job's items and returns one result per item. Several uploads of one job may
   * run at once; a client whose connection dropped resumes by uploading the items it has no result for.
   * The upload's end tells the job: when an upload ends with every item answered, the job completes.
   * Fails with {@link JobEnded} if the job has ended or does not exist.
   */
  public Source<ItemResult, NotUsed> run(String jobId, Source<Item, ?> items) {
    CompletableFuture<FlowJob> ready = new CompletableFuture<>();
    CompletableFuture<ActorRef<JobStream.Command>> stream = new CompletableFuture<>();
    manager.tell(new OpenUpload(jobId, ready, stream));
    // An upload ended normally only if every item was read and every item got its result: a client
    // that went away (the response cancelled) or an upload that broke leaves the job running.
    AtomicLong read = new AtomicLong();
    AtomicLong answered = new AtomicLong();
    CompletableFuture<Boolean> allRead = new CompletableFuture<>();
    Source<Item, ?> counted = items.map(i -> {
      read.incrementAndGet();
      return i;
    }).watchTermination((mat, done) -> {
      done.whenComplete((d, failure) -> allRead.complete(failure == null));
      return mat;
    });
    return Source.completionStage(ready.exceptionallyCompose(JobStreams::translate))
        .flatMapConcat(flowJob -> flowJob.dispatch(counted))
        .map(r -> {
          answered.incrementAndGet();
          return r;
        })
        .watchTermination((mat, done) -> {
          done.whenComplete((d, failure) -> {
            boolean normally = failure == null && allRead.getNow(false) && answered.get() == read.get();
            stream.thenAccept(s -> s.tell(new JobStream.UploadEnded(normally)));
          });
          return NotUsed.notUsed();
        });
  }

  private static CompletionStage<FlowJob> translate(Throwable t) {
    Throwable cause = ProblemResponses.cause(t);
    if (cause instanceof JobStream.JobEndedException e) return CompletableFuture.failedFuture(new JobEnded(e.getMessage()));
    return CompletableFuture.failedFuture(cause);
  }

  // -- the manager: one JobStream per job on this node ------------------------------------------

  private interface Manage {}

  private record OpenUpload(String jobId, CompletableFuture<FlowJob> ready, CompletableFuture<ActorRef<JobStream.Command>> stream)
      implements Manage {}

  /** A stream would stop: it gets no more uploads from now on, and is told so. */
  private record StopRequest(String jobId, ActorRef<JobStream.Command> stream) implements Manage {}

  private static Behavior<Manage> manager(ClusterSharding sharding, Flow flow, RouteResolver routes, JobSettings settings) {
    return Behaviors.setup(ctx -> {
      Map<String, ActorRef<JobStream.Command>> streams = new HashMap<>();
      long[] counter = {0};
      return Behaviors.receive(Manage.class)
          .onMessage(OpenUpload.class, open -> {
            ActorRef<JobStream.Command> s = streams.get(open.jobId());
            if (s == null) {
              ActorRef<Manage> self = ctx.getSelf();
              ActorRef<JobStream.Command>[] created = new ActorRef[1];
              created[0] = ctx.spawn(JobStream.create(open.jobId(), sharding.entityRefFor(DeadlineJob.ENTITY_KEY, open.jobId()), flow, routes,
                  settings, () -> self.tell(new StopRequest(open.jobId(), created[0]))), "job-" + open.jobId() + "-" + (++counter[0]));
              s = created[0];
              streams.put(open.jobId(), s);
              // A stream that stopped for any reason (a failure too) must not keep taking uploads.
              ctx.watchWith(s, new StopRequest(open.jobId(), s));
            }
            // Open before the stream is handed out, so an upload is counted before it can end.
            s.tell(new JobStream.Open(open.ready()));
            open.stream().complete(s);
            return Behaviors.same();
          })
          .onMessage(StopRequest.class, stop -> {
            streams.remove(stop.jobId(), stop.stream());
            stop.stream().tell(JobStream.Retire.INSTANCE); // a dead letter if it already stopped
            return Behaviors.same();
          })
          .build();
    });
  }
}
