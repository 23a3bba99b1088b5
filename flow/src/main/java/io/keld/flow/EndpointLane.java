package io.keld.flow;

import io.keld.flow.client.Attempt;
import io.keld.flow.client.ProviderClient;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.flow.pacing.LaneScheduler;
import io.keld.flow.pacing.LaneScheduler.Batch;
import io.keld.flow.pacing.LaneScheduler.Withdrawn;
import io.keld.flow.pacing.Ticket;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.GraphStageWithMaterializedValue;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import io.micrometer.core.instrument.Meter;

/**
 * The pipeline of one provider endpoint, shared by every job routed to it:
 *
 * <pre>
 *   Pacer (EDF queue, concurrency limit, token bucket)  ──▶  mapAsyncUnordered(send)  ──▶  answers back to the Pacer
 * </pre>
 *
 * The Pacer is a stream stage around a {@link LaneScheduler}: it emits the next ticket only when
 * the stage downstream pulls and the scheduler allows, so requests leave at the fleet's pace. Jobs
 * talk to it through an async callback (offer a batch, withdraw, new capacity); answers come back
 * the same way. All scheduler state is touched on the stage's own thread only.
 */
final class EndpointLane {

  /** Requests one lane may have open at the HTTP layer; the pacing limit keeps the real number far lower. */
  static final int MAX_PARALLEL = 4096;
  private static final String WAKE = "wake";

  /** Where an admitted batch reports back to the upload that offered it. */
  record Admission(Object run, CompletableFuture<Done> admitted) {}

  /** A counted snapshot for metrics and callers. */
  record Snapshot(String endpointId, int waitingItems, int queued, int inFlight, int limit, long tokensPerSecond,
      long limitDecreases) {}

  private record Sent(Ticket<Work> ticket, Attempt attempt) {}

  private volatile ProviderEndpoint endpoint;
  private final FlowSettings settings;
  private final ProviderClient client;
  private final LaneMetrics metrics;
  private volatile AsyncCallback<Consumer<Logic>> commands;
  private volatile Snapshot snapshot;

  EndpointLane(Materializer materializer, ProviderEndpoint endpoint, Capacity capacity, FlowSettings settings,
      ProviderClient client, MeterRegistry registry) {
    this.endpoint = endpoint;
    this.settings = settings;
    this.client = client;
    this.snapshot = new Snapshot(endpoint.id(), 0, 0, 0, 0, capacity.tokensPerSecond(), 0);
    this.metrics = new LaneMetrics(endpoint.id(), registry);
    this.commands = Source.fromGraph(new Pacer(capacity))
        .mapAsyncUnordered(MAX_PARALLEL, this::send)
        .to(Sink.foreach(this::answer))
        .run(materializer);
  }

  /** The endpoint's URL or credential changed: requests from now on use the new one. */
  ProviderEndpoint endpoint() {
    return endpoint;
  }

  void endpoint(ProviderEndpoint next) {
    endpoint = next;
  }

  Snapshot snapshot() {
    return snapshot;
  }

  /** Offers a micro-batch; its admission promise completes when it is admitted (here or where its job moved). */
  void offer(FlowJob job, Batch<Work> batch) {
    command(l -> {
      EndpointLane current = job.lane();
      if (current != this) {
        current.offer(job, batch); // the job moved while this batch was on its way
        return;
      }
      l.core.offer(batch, System.nanoTime());
      l.pump();
    }, () -> admission(batch).admitted().completeExceptionally(stopped()));
  }

  /** Queues tickets admitted elsewhere (a handover, a retry that follows its job), to go no earlier than {@code notBefore}. */
  void take(List<Ticket<Work>> tickets, long notBefore) {
    command(l -> {
      l.core.enqueue(tickets, notBefore, System.nanoTime());
      l.pump();
    }, () -> tickets.forEach(t -> t.payload().job.failed(t.payload(), unavailable(), endpoint.id(), t.attempts())));
  }

  /** Takes out all of a job's work that is not in flight. */
  CompletionStage<Withdrawn<Work>> withdraw(FlowJob job) {
    CompletableFuture<Withdrawn<Work>> out = new CompletableFuture<>();
    command(l -> out.complete(l.core.withdraw(job, System.nanoTime())), () -> out.complete(new Withdrawn<>(List.of(), List.of())));
    return out;
  }

  /** Takes out the work of one upload that is not in flight (the upload ended or broke). */
  CompletionStage<Withdrawn<Work>> withdrawRun(Object run) {
    CompletableFuture<Withdrawn<Work>> out = new CompletableFuture<>();
    // A waiting batch goes whole if its upload is this one; the caller keeps the items a resumed upload took over.
    command(l -> out.complete(l.core.withdraw(b -> admission(b).run() == run, t -> t.payload().run == run, System.nanoTime())),
        () -> out.complete(new Withdrawn<>(List.of(), List.of())));
    return out;
  }

  /** The provider stated new limits. */
  void capacity(Capacity capacity) {
    command(l -> {
      l.core.capacity(capacity, System.nanoTime());
      l.pump();
    }, () -> {});
  }

  /** Stops the pipeline; what is queued ends with an error, answers in flight are still delivered. */
  void stop() {
    command(GraphStageLogic::completeStage, () -> {});
  }

  private void command(Consumer<Logic> command, Runnable ifStopped) {
    commands.invokeWithFeedbackCompletionStage(command).whenComplete((done, failure) -> {
      if (failure != null) ifStopped.run();
    });
  }

  private static Admission admission(Batch<Work> batch) {
    return (Admission) batch.attachment();
  }

  private static IllegalStateException stopped() {
    return new IllegalStateException("the provider endpoint's pipeline has stopped");
  }

  private static ItemError unavailable() {
    return ItemError.of("provider_unavailable", "the provider endpoint's pipeline has stopped");
  }

  // -- sending ----------------------------------------------------------------------------------

  private CompletionStage<Sent> send(Ticket<Work> t) {
    Work w = t.payload();
    Duration left = Duration.ofNanos(t.deadline() - System.nanoTime());
    Duration timeout = left.compareTo(settings.requestTimeout()) < 0 ? left : settings.requestTimeout();
    ProviderEndpoint target = endpoint;
    try {
      return client.send(target, w.job.modelAt(target.id()), w.item, timeout).thenApply(a -> new Sent(t, a));
    } catch (RuntimeException e) { // never let one item fail the endpoint's stream
      return CompletableFuture.completedFuture(new Sent(t, new Attempt.Failed(Attempt.Failure.REJECTED,
          ItemError.of("invalid_request_error", "the request could not be sent: " + e.getMessage()), null, Duration.ZERO)));
    }
  }

  private void answer(Sent sent) {
    commands.invokeWithFeedbackCompletionStage(l -> l.onAttempt(sent.ticket(), sent.attempt())).whenComplete((d, failure) -> {
      if (failure == null) return;
      // The pipeline stopped while this request was out: deliver what came back directly.
      Work w = sent.ticket().payload();
      if (sent.attempt() instanceof Attempt.Answered a) w.job.answered(w, a.body(), a.usage(), endpoint.id(), sent.ticket().attempts());
      else w.job.failed(w, ((Attempt.Failed) sent.attempt()).error(), endpoint.id(), sent.ticket().attempts());
    });
  }

  /** Exponential backoff with jitter (half to all of the step), or the provider's Retry-After if longer; capped. */
  private long backoffNanos(int attempts, Duration retryAfter) {
    long step = settings.retryBase().toNanos() << Math.min(20, Math.max(0, attempts - 1));
    long cap = settings.retryCap().toNanos();
    long jittered = (long) (Math.min(step, cap) * (0.5 + 0.5 * ThreadLocalRandom.current().nextDouble()));
    if (retryAfter != null) jittered = Math.max(jittered, Math.min(retryAfter.toNanos(), cap));
    return jittered;
  }

  // -- the stage --------------------------------------------------------------------------------

  private final class Pacer extends GraphStageWithMaterializedValue<SourceShape<Ticket<Work>>, AsyncCallback<Consumer<Logic>>> {
    private final Outlet<Ticket<Work>> out = Outlet.create("EndpointLane.out");
    private final SourceShape<Ticket<Work>> shape = SourceShape.of(out);
    private final Capacity capacity;

    Pacer(Capacity capacity) {
      this.capacity = capacity;
    }

    @Override
    public SourceShape<Ticket<Work>> shape() {
      return shape;
    }

    @Override
    public scala.Tuple2<GraphStageLogic, AsyncCallback<Consumer<Logic>>> createLogicAndMaterializedValue(Attributes attributes) {
      Logic logic = new Logic(shape, out, capacity);
      return new scala.Tuple2<>(logic, logic.commands);
    }
  }

  final class Logic extends TimerGraphStageLogic {
    private final Outlet<Ticket<Work>> out;
    final LaneScheduler<Work> core;
    final AsyncCallback<Consumer<Logic>> commands = createAsyncCallback(command -> command.accept(this));

    Logic(SourceShape<Ticket<Work>> shape, Outlet<Ticket<Work>> out, Capacity capacity) {
      super(shape);
      this.out = out;
      this.core = new LaneScheduler<>(capacity, settings.limitHold().toNanos(), System.nanoTime(),
          batch -> admission(batch).admitted().complete(Done.getInstance()));
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          pump();
        }
      });
    }

    @Override
    public void onTimer(Object key) {
      pump();
    }

    /** Sends what the scheduler allows now, then sleeps until time alone could allow more. */
    void pump() {
      long now = System.nanoTime();
      while (isAvailable(out)) {
        Ticket<Work> t = core.poll(now);
        if (t == null) break;
        Work w = t.payload();
        if (w.settled()) { // answered or abandoned while queued
          core.failed(t, false, now);
          continue;
        }
        if (w.job.cancelled()) {
          core.failed(t, false, now);
          w.job.failed(w, ItemError.of("cancelled", "the job was cancelled"), null, t.attempts() - 1);
          continue;
        }
        if (now >= t.deadline()) {
          core.failed(t, false, now);
          w.job.failed(w, deadlineError(w), endpoint.id(), t.attempts() - 1);
          continue;
        }
        push(out, t);
      }
      publish();
      if (isAvailable(out)) {
        long wake = core.wakeAt(now);
        if (wake != Long.MAX_VALUE) scheduleOnce(WAKE, Duration.ofNanos(Math.max(wake - now, 1_000_000)));
      }
    }

    void onAttempt(Ticket<Work> t, Attempt attempt) {
      long now = System.nanoTime();
      Work w = t.payload();
      String endpointId = endpoint.id();
      if (attempt instanceof Attempt.Answered a) {
        core.answered(t, now);
        metrics.answered(a.usage(), t.sentAt() - t.admittedAt());
        w.job.answered(w, a.body(), a.usage(), endpointId, t.attempts());
      } else {
        Attempt.Failed f = (Attempt.Failed) attempt;
        // A timeout the job's deadline cut short says nothing about the fleet's load.
        boolean overload = f.kind().overload()
            && !(f.kind() == Attempt.Failure.TIMEOUT && f.latency().compareTo(settings.requestTimeout().multipliedBy(9).dividedBy(10)) < 0);
        core.failed(t, overload, now);
        metrics.failed(f.kind());
        w.lastError = f.error();
        w.lastEndpoint = endpointId;
        w.job.attemptFailed(endpointId, f.error());
        retryOrFail(t, f, now);
      }
      pump();
    }

    private void retryOrFail(Ticket<Work> t, Attempt.Failed f, long now) {
      Work w = t.payload();
      if (!f.kind().retryable() || t.attempts() >= settings.maxAttempts() || w.job.cancelled() || w.settled()) {
        w.job.failed(w, f.error(), endpoint.id(), t.attempts());
        return;
      }
      long notBefore = now + backoffNanos(t.attempts(), f.retryAfter());
      if (notBefore >= t.deadline()) {
        w.job.failed(w, new ItemError("deadline_exceeded", f.error().code(),
            "no time left before the deadline to retry; the last attempt failed: " + f.error().message(), f.error().status()),
            endpoint.id(), t.attempts());
        return;
      }
      EndpointLane current = w.job.lane();
      if (current == EndpointLane.this) core.retryAt(t, notBefore, now);
      else current.take(List.of(t), notBefore); // the job moved: its retries follow it
    }

    private ItemError deadlineError(Work w) {
      ItemError last = w.lastError;
      return new ItemError("deadline_exceeded", null, last == null
          ? "the job's deadline passed before the item could be sent"
          : "the job's deadline passed; the last attempt failed: " + last.message(), last == null ? 0 : last.status());
    }

    private void publish() {
      LaneScheduler.Snapshot s = core.snapshot();
      snapshot = new Snapshot(endpoint.id(), s.waitingItems(), s.queued(), s.inFlight(), s.limit(), s.tokensPerSecond(), s.limitDecreases());
    }

    @Override
    public void postStop() {
      Withdrawn<Work> left = core.withdraw(b -> true, t -> true, System.nanoTime());
      for (Batch<Work> b : left.waiting()) {
        for (Ticket<Work> t : b.tickets()) t.payload().job.failed(t.payload(), unavailable(), endpoint.id(), t.attempts());
        admission(b).admitted().completeExceptionally(stopped());
      }
      for (Ticket<Work> t : left.queued()) t.payload().job.failed(t.payload(), unavailable(), endpoint.id(), t.attempts());
      publish();
      metrics.close();
    }
  }

  // -- metrics ----------------------------------------------------------------------------------

  /** Per-endpoint meters: offered and in-flight work, the limit, utilization, outcomes (429s among them), queueing delay. */
  private final class LaneMetrics {
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();
    private final Counter answered;
    private final Map<Attempt.Failure, Counter> failed = new EnumMap<>(Attempt.Failure.class);
    private final Counter inputTokens;
    private final Counter outputTokens;
    private final Timer queueing;

    LaneMetrics(String endpointId, MeterRegistry registry) {
      this.registry = registry;
      meters.add(Gauge.builder("keld.flow.offered.items", () -> snapshot.waitingItems() + snapshot.queued() + snapshot.inFlight())
          .description("items handed to the endpoint's pipeline and not yet answered").tag("endpoint", endpointId).register(registry));
      meters.add(Gauge.builder("keld.flow.in.flight", () -> snapshot.inFlight())
          .description("requests open at the endpoint").tag("endpoint", endpointId).register(registry));
      meters.add(Gauge.builder("keld.flow.limit", () -> snapshot.limit())
          .description("the endpoint's current concurrency limit").tag("endpoint", endpointId).register(registry));
      meters.add(Gauge.builder("keld.flow.utilization", () -> snapshot.limit() == 0 ? 0 : (double) snapshot.inFlight() / snapshot.limit())
          .description("requests in flight over the concurrency limit").tag("endpoint", endpointId).register(registry));
      answered = Counter.builder("keld.flow.requests").tag("endpoint", endpointId).tag("outcome", "answered")
          .description("requests sent to the endpoint, by outcome").register(registry);
      meters.add(answered);
      for (Attempt.Failure f : Attempt.Failure.values()) {
        Counter c = Counter.builder("keld.flow.requests").tag("endpoint", endpointId).tag("outcome", f.name().toLowerCase())
            .description("requests sent to the endpoint, by outcome").register(registry);
        failed.put(f, c);
        meters.add(c);
      }
      inputTokens = Counter.builder("keld.flow.tokens").tag("endpoint", endpointId).tag("direction", "input").register(registry);
      outputTokens = Counter.builder("keld.flow.tokens").tag("endpoint", endpointId).tag("direction", "output").register(registry);
      queueing = Timer.builder("keld.flow.queueing.delay").tag("endpoint", endpointId)
          .description("from an item's admission to the endpoint's queue to the sending of the request that was answered")
          .publishPercentiles(0.5, 0.99).register(registry);
      meters.add(inputTokens);
      meters.add(outputTokens);
      meters.add(queueing);
    }

    void answered(Usage usage, long queueingNanos) {
      answered.increment();
      inputTokens.increment(usage.inputTokens());
      outputTokens.increment(usage.outputTokens());
      queueing.record(Duration.ofNanos(Math.max(0, queueingNanos)));
    }

    void failed(Attempt.Failure kind) {
      failed.get(kind).increment();
    }

    void close() {
      meters.forEach(registry::remove);
    }
  }
}
