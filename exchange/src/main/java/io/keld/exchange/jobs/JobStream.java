package io.keld.exchange.jobs;

import io.keld.flow.Flow;
import io.keld.flow.FlowJob;
import io.keld.flow.ItemError;
import io.keld.flow.JobProgress;
import io.keld.flow.Route;
import io.keld.flow.Usage;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job's data plane on one node: the bridge between its uploads (Flow) and its entity.
 *
 * <p>It attaches to the job's entity, which tells it the current leg; it resolves the leg to a Flow
 * route, opens the job in Flow and hands the job over when the leg changes. Flow's progress comes
 * back here and goes to the entity as counted {@link DeadlineJob.Report}s, one outstanding at a
 * time and sent again until acknowledged, so each count reaches the job exactly once.
 *
 * <p>Only counts and usage pass through here; items and results stay in the upload's stream.
 */
final class JobStream extends AbstractBehavior<JobStream.Command> {

  private static final Logger log = LoggerFactory.getLogger(JobStream.class);

  interface Command {}

  /** An upload wants the job's Flow job; completes once the job has a route. */
  record Open(CompletableFuture<FlowJob> ready) implements Command {}

  /** An upload's stream ended: {@code normally} when every item got its result. */
  record UploadEnded(boolean normally) implements Command {}

  /** The manager no longer hands this actor uploads: stop once quiet. */
  enum Retire implements Command { INSTANCE }

  private record Routed(DeadlineJob.RouteUpdate update) implements Command {}

  private record RouteResolved(Leg leg, Route route, Throwable failure) implements Command {}

  private record Answered(String customId, Usage usage, String endpointId) implements Command {}

  private record ItemFailedHere(String customId, String endpointId) implements Command {}

  private record AttemptFailed(String endpointId) implements Command {}

  private enum Tick implements Command { INSTANCE }

  /** Raised in an upload whose job has ended or does not exist. */
  static final class JobEndedException extends RuntimeException {
    final JobPhase phase;

    JobEndedException(String jobId, JobPhase phase) {
      super("job " + jobId + " is " + phase.wire() + " and takes no more items");
      this.phase = phase;
    }
  }

  static Behavior<Command> create(String jobId, EntityRef<DeadlineJob.Command> job, Flow flow, JobStreams.RouteResolver routes,
      JobSettings settings, Runnable askToStop) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new JobStream(ctx, timers, jobId, job, flow, routes, settings, askToStop)));
  }

  private final TimerScheduler<Command> timers;
  private final String jobId;
  private final EntityRef<DeadlineJob.Command> job;
  private final Flow flow;
  private final JobStreams.RouteResolver routes;
  private final JobSettings settings;
  private final Runnable askToStop;
  private final ActorRef<DeadlineJob.RouteUpdate> routeAdapter;
  /** Unique per incarnation, so the entity counts this stream's reports apart from any other's. */
  private final String reporter;

  private FlowJob flowJob;
  private Leg currentLeg;
  private Leg resolving;
  private final Map<String, Integer> legOfEndpoint = new HashMap<>();
  private final List<CompletableFuture<FlowJob>> waiting = new ArrayList<>();
  private int activeUploads;
  private boolean uploadFinished;
  private boolean retired;
  private boolean askedToStop;
  private JobPhase phase;
  private long deadlineMillis;

  // Counts not yet in a report, per leg.
  private final Map<Integer, long[]> pending = new HashMap<>();
  private DeadlineJob.Report outstanding;
  private long outstandingSentAt;
  private long seq;
  private int lastReportedOpen = -1;
  private long idleSince = System.nanoTime();
  private long attachedAt = System.currentTimeMillis();

  private JobStream(ActorContext<Command> ctx, TimerScheduler<Command> timers, String jobId, EntityRef<DeadlineJob.Command> job, Flow flow,
      JobStreams.RouteResolver routes, JobSettings settings, Runnable askToStop) {
    super(ctx);
    this.timers = timers;
    this.jobId = jobId;
    this.job = job;
    this.flow = flow;
    this.routes = routes;
    this.settings = settings;
    this.askToStop = askToStop;
    this.routeAdapter = ctx.messageAdapter(DeadlineJob.RouteUpdate.class, Routed::new);
    this.reporter = JobPorts.reporterId(ctx.getSystem());
    job.tell(new DeadlineJob.Attach(reporter, routeAdapter));
    timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.reportInterval());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Open.class, this::onOpen)
        .onMessage(UploadEnded.class, this::onUploadEnded)
        .onMessageEquals(Retire.INSTANCE, () -> {
          retired = true;
          return maybeStop();
        })
        .onMessage(Routed.class, r -> onRouted(r.update()))
        .onMessage(RouteResolved.class, this::onRouteResolved)
        .onMessage(Answered.class, a -> {
          long[] c = counts(legOf(a.endpointId()));
          c[0]++;
          c[2] += a.usage().inputTokens();
          c[3] += a.usage().outputTokens();
          return this;
        })
        .onMessage(ItemFailedHere.class, f -> {
          counts(legOf(f.endpointId()))[1]++;
          return this;
        })
        .onMessage(AttemptFailed.class, f -> {
          counts(legOf(f.endpointId()))[4]++;
          return this;
        })
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .build();
  }

  private Behavior<Command> onOpen(Open open) {
    activeUploads++; // counted even when refused: its UploadEnded comes all the same
    if (phase != null && phase.terminal()) {
      open.ready().completeExceptionally(new JobEndedException(jobId, phase));
      return this;
    }
    idleSince = 0;
    if (flowJob != null) open.ready().complete(flowJob);
    else waiting.add(open.ready());
    return this;
  }

  private Behavior<Command> onUploadEnded(UploadEnded ended) {
    activeUploads--;
    if (ended.normally() && activeUploads == 0) uploadFinished = true;
    if (activeUploads == 0) idleSince = System.nanoTime();
    return this;
  }

  private Behavior<Command> onRouted(DeadlineJob.RouteUpdate u) {
    if (outstanding != null && u.ackedSeq() == outstanding.seq()) outstanding = null;
    phase = u.phase();
    if (u.deadlineMillis() > 0) deadlineMillis = u.deadlineMillis();
    if (phase.terminal()) {
      JobEndedException ended = new JobEndedException(jobId, phase);
      waiting.forEach(w -> w.completeExceptionally(ended));
      waiting.clear();
      if (flowJob != null && !flowJob.cancelled()) flowJob.cancel();
      return maybeStop();
    }
    Leg leg = u.leg();
    if (leg != null && (currentLeg == null || leg.no() != currentLeg.no()) && (resolving == null || resolving.no() != leg.no())) {
      resolving = leg;
      getContext().pipeToSelf(routes.resolve(leg.providerId(), leg.model()), (route, failure) -> new RouteResolved(leg, route, failure));
    }
    return this;
  }

  private Behavior<Command> onRouteResolved(RouteResolved r) {
    if (resolving == null || resolving.no() != r.leg().no()) return this; // superseded by a newer leg
    resolving = null;
    if (r.failure() != null) {
      // The provider cannot be reached from here: for the job that is a failing provider.
      log.warn("Job {}: no route to provider {} ({}): {}", jobId, r.leg().providerId(), r.leg().model(), r.failure().toString());
      counts(r.leg().no())[4] += settings.failuresToReroute();
      return this;
    }
    legOfEndpoint.put(r.route().endpoint().id(), r.leg().no());
    currentLeg = r.leg();
    if (flowJob == null) {
      flowJob = flow.open(jobId, Instant.ofEpochMilli(deadlineMillis), r.route(), progress());
      waiting.forEach(w -> w.complete(flowJob));
      waiting.clear();
    } else {
      flowJob.handover(r.route(), r.leg().resendInFlight()).whenComplete((moved, failure) -> {
        if (failure == null) log.info("Job {}: {} queued items moved to {}", jobId, moved, r.route().endpoint().id());
      });
    }
    return this;
  }

  private Behavior<Command> onTick() {
    long now = System.currentTimeMillis();
    if ((flowJob == null && !waiting.isEmpty()) && now - attachedAt >= 1000) {
      // Still waiting for a route: attach again, in case the entity restarted and forgot us.
      job.tell(new DeadlineJob.Attach(reporter, routeAdapter));
      attachedAt = now;
    }
    if (outstanding != null) {
      // Not acknowledged yet (the entity may be recovering or moving): send the same report again.
      if (now - outstandingSentAt >= Math.max(1000, settings.reportInterval().toMillis() * 4)) {
        job.tell(outstanding);
        outstandingSentAt = now;
      }
      return this;
    }
    int open = flowJob == null ? 0 : flowJob.progress().itemsOpen();
    boolean finished = uploadFinished && activeUploads == 0;
    if (pending.isEmpty() && open == lastReportedOpen && !finished) return maybeStop();
    List<JobEvent.LegUsage> usage = new ArrayList<>();
    pending.forEach((leg, c) -> usage.add(new JobEvent.LegUsage(leg, c[0], c[1], c[2], c[3], c[4])));
    pending.clear();
    outstanding = new DeadlineJob.Report(reporter, ++seq, usage, open, finished, routeAdapter);
    outstandingSentAt = now;
    lastReportedOpen = open;
    if (finished) uploadFinished = false;
    job.tell(outstanding);
    return this;
  }

  /**
   * Stops when nothing is left to do here: no upload, nothing to report, and the job ended or has
   * been idle a while. The manager is asked first and answers {@link Retire} once it no longer hands
   * this actor uploads, so an upload is never given to an actor that is stopping.
   */
  private Behavior<Command> maybeStop() {
    boolean quiet = activeUploads == 0 && waiting.isEmpty() && outstanding == null && pending.isEmpty() && !uploadFinished
        && (flowJob == null || flowJob.progress().itemsOpen() == 0);
    if (!quiet) return this;
    if (retired) return Behaviors.stopped();
    boolean idleLong = idleSince != 0 && System.nanoTime() - idleSince > Duration.ofSeconds(30).toNanos();
    if (!askedToStop && ((phase != null && phase.terminal()) || idleLong)) {
      askedToStop = true;
      askToStop.run();
    }
    return this;
  }

  private long[] counts(int leg) {
    return pending.computeIfAbsent(leg, l -> new long[5]);
  }

  private int legOf(String endpointId) {
    Integer leg = endpointId == null ? null : legOfEndpoint.get(endpointId);
    if (leg != null) return leg;
    return currentLeg == null ? 0 : currentLeg.no();
  }

  /** Flow calls these from stream threads: hand them to the actor at once. */
  private JobProgress progress() {
    ActorRef<Command> self = getContext().getSelf();
    return new JobProgress() {
      @Override
      public void itemAnswered(String customId, Usage usage, String endpointId) {
        self.tell(new Answered(customId, usage, endpointId));
      }

      @Override
      public void itemFailed(String customId, ItemError error, String endpointId) {
        self.tell(new ItemFailedHere(customId, endpointId));
      }

      @Override
      public void attemptFailed(String endpointId, ItemError error) {
        self.tell(new AttemptFailed(endpointId));
      }
    };
  }
}
