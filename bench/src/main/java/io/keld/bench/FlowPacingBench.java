package io.keld.bench;

import com.typesafe.config.ConfigFactory;
import io.keld.flow.Flow;
import io.keld.flow.FlowJob;
import io.keld.flow.FlowSettings;
import io.keld.flow.Item;
import io.keld.flow.JobProgress;
import io.keld.flow.Operation;
import io.keld.flow.Route;
import io.keld.flow.client.Attempt;
import io.keld.flow.client.ProviderClient;
import io.keld.flow.client.ProviderEndpoint;
import io.keld.flow.pacing.Capacity;
import io.keld.sim.FleetSettings;
import io.keld.sim.SimulatedProvider;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;

/**
 * {@code bench/run flow-pacing}: a simulated fleet of K slots and service time S over real HTTP,
 * whose capacity steps from K to K/2 halfway through. Three dispatchers work the same job (enough
 * items to keep the fleet busy throughout):
 * <ul>
 *   <li><b>Flow, step told</b>: the provider sends a capacity message with the step, as Keld Trade providers do;
 *   <li><b>Flow, step not told</b>: Flow still believes K and must learn the step from the fleet's 429s;
 *   <li><b>unpaced</b>: plain dispatch, 256 requests at a time, retrying 429s with exponential backoff and jitter
 *       (what a client without pacing does).
 * </ul>
 * Figures: slot utilization while work remained, the share of requests answered 429, the queueing
 * delay (from when the dispatcher took an item to when the request that was answered went out)
 * p50/p99 over S, and the time to settle after the step (in-flight at or under the new slots,
 * no more 429s, and the 200 ms average in-flight at 90% or more of the new slots).
 */
final class FlowPacingBench {

  static final int SLOTS = 16;
  /** Mean service time: 100 ms to the first token, then 20 to 60 output tokens (mean 40) at 100 tokens/s. */
  static final long SERVICE_MS = 500;
  static final long TTFT_MS = 100;
  static final long TOKENS_PER_SECOND = 100;
  static final int UNPACED_CONCURRENCY = 256;
  static final long SAMPLE_MS = 2;

  record Result(String name, double utilization, long requests, long rateLimited, double p50OverS, double p99OverS,
      Double settleSeconds, double seconds, int items) {
    double share429() {
      return requests == 0 ? 0 : (double) rateLimited / requests;
    }
  }

  static BenchReport run(boolean quick) throws Exception {
    long phaseMs = quick ? 6_000 : 20_000;
    int items = (int) ((SLOTS * phaseMs + SLOTS / 2 * phaseMs) / SERVICE_MS);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "flow-pacing-bench", ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.http.server.request-timeout = 120s
        """).withFallback(ConfigFactory.load()));
    List<Result> results = new ArrayList<>();
    try {
      System.err.printf(Locale.ROOT, "flow-pacing: K=%d slots, S=%d ms, step to K/2 after %d ms, %d items per dispatcher%n", SLOTS, SERVICE_MS, phaseMs, items);
      results.add(runOne(system, "Flow, step told", items, phaseMs, Mode.FLOW_TOLD));
      results.add(runOne(system, "Flow, step not told", items, phaseMs, Mode.FLOW_UNTOLD));
      results.add(runOne(system, "unpaced", items, phaseMs, Mode.UNPACED));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    BenchReport report = new BenchReport("flow-pacing", quick);
    report.line(String.format(Locale.ROOT, "Simulated fleet over real HTTP (same JVM): K = %d slots; service time %d ms to the first token "
        + "plus 20–60 output tokens at %d tokens/s, so S = %d ms on average; capacity steps to K/2 = %d after %.0f s; %d chat items per dispatcher. "
        + "Utilization is the fleet's busy slots over its available slots while work remained (a slot is idle from the answer leaving "
        + "the fleet until the next request arrives, so the client's turnaround counts against it); queueing delay runs from the "
        + "dispatcher taking an item to sending the request that was answered.", SLOTS, TTFT_MS, TOKENS_PER_SECOND, SERVICE_MS, SLOTS / 2,
        phaseMs / 1000.0, items));
    report.line("");
    report.line("| dispatcher | slot utilization | 429s | queueing p50 / S | queueing p99 / S | settled after the step | run |");
    report.line("|---|---|---|---|---|---|---|");
    for (Result r : results) {
      report.line(String.format(Locale.ROOT, "| %s | %.1f%% | %.2f%% (%d of %d) | %.2f | %.2f | %s | %.1f s |", r.name(), r.utilization() * 100,
          r.share429() * 100, r.rateLimited(), r.requests(), r.p50OverS(), r.p99OverS(),
          r.settleSeconds() == null ? "not within the run" : String.format(Locale.ROOT, "%.2f s", r.settleSeconds()), r.seconds()));
    }
    Result told = results.get(0);
    report.line("");
    report.line(String.format(Locale.ROOT, "Targets for Flow (step told): utilization ≥ 95%% — %s; 429s ≤ 0.5%% — %s; p99 queueing ≤ 1.5 × S — %s; settled within 2 s — %s.",
        verdict(told.utilization() >= 0.95), verdict(told.share429() <= 0.005), verdict(told.p99OverS() <= 1.5),
        verdict(told.settleSeconds() != null && told.settleSeconds() <= 2.0)));
    String[] keys = {"told", "untold", "unpaced"};
    for (int i = 0; i < results.size(); i++) {
      Result r = results.get(i);
      report.figure(keys[i] + "_utilization", round(r.utilization()));
      report.figure(keys[i] + "_share_429", round(r.share429()));
      report.figure(keys[i] + "_queueing_p50_over_s", round(r.p50OverS()));
      report.figure(keys[i] + "_queueing_p99_over_s", round(r.p99OverS()));
      report.figure(keys[i] + "_settle_s", r.settleSeconds() == null ? -1 : round(r.settleSeconds()));
    }
    return report;
  }

  enum Mode { FLOW_TOLD, FLOW_UNTOLD, UNPACED }

  private static Result runOne(ActorSystem<Void> system, String name, int items, long phaseMs, Mode mode) throws Exception {
    FleetSettings full = FleetSettings.healthy(SLOTS, TOKENS_PER_SECOND, TTFT_MS);
    FleetSettings half = FleetSettings.healthy(SLOTS / 2, TOKENS_PER_SECOND, TTFT_MS);
    try (SimulatedProvider fleet = SimulatedProvider.start(system, "127.0.0.1", 0, "bench", List.of("sim-small"), full)) {
      ProviderEndpoint endpoint = new ProviderEndpoint("bench-" + mode.name().toLowerCase(Locale.ROOT), fleet.baseUrl(), null);
      List<Item> work = new ArrayList<>(items);
      for (int i = 0; i < items; i++) {
        work.add(chat("i-" + i, 20 + (int) ((i * 7919L) % 41))); // sizes vary, as real work does
      }
      Sampler sampler = new Sampler(fleet);
      Thread samplerThread = new Thread(sampler, "flow-pacing-sampler");
      samplerThread.setDaemon(true);

      warmUp(system, fleet);
      long start = System.nanoTime();
      AtomicInteger done = new AtomicInteger();
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      Flow flow = null;
      List<Long> unpacedDelays = Collections.synchronizedList(new ArrayList<>());
      CompletableFuture<?> finished;
      samplerThread.start();
      if (mode == Mode.UNPACED) {
        ProviderClient client = new ProviderClient(system, 1024);
        finished = Source.from(work)
            .mapAsyncUnordered(UNPACED_CONCURRENCY, item -> unpaced(system, client, endpoint, item, System.nanoTime(), 0, unpacedDelays))
            .map(x -> done.incrementAndGet())
            .runWith(Sink.ignore(), system).toCompletableFuture();
      } else {
        flow = new Flow(system, FlowSettings.DEFAULTS, registry);
        flow.endpoint(endpoint, new Capacity(SLOTS, 0));
        FlowJob job = flow.open("bench-job", Instant.now().plus(Duration.ofMinutes(30)), new Route(endpoint, "sim-small"), JobProgress.IGNORE);
        finished = job.dispatch(Source.from(work))
            .map(r -> {
              if (!r.ok()) throw new IllegalStateException("an item failed: " + r.error());
              return done.incrementAndGet();
            })
            .runWith(Sink.ignore(), system).toCompletableFuture();
      }

      // The step, halfway.
      Thread.sleep(phaseMs);
      long stepAt = System.nanoTime();
      if (mode == Mode.FLOW_TOLD) {
        flow.capacity(endpoint.id(), new Capacity(SLOTS / 2, 0));
        // the provider announces, then shrinks: its own in-flight work finishes first
        long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (fleet.stats().inFlight() > SLOTS / 2 && System.nanoTime() < until) Thread.sleep(1);
      }
      fleet.update(half);
      sampler.slots = SLOTS / 2;

      // Until the job is done; utilization counts while work remained (before the last K results).
      int tailFrom = items - SLOTS;
      long busyUntil = 0;
      while (!finished.isDone()) {
        if (busyUntil == 0 && done.get() >= tailFrom) busyUntil = System.nanoTime();
        Thread.sleep(1);
      }
      finished.get();
      long end = System.nanoTime();
      if (busyUntil == 0) busyUntil = end;
      sampler.stop = true;
      samplerThread.join();

      double p50;
      double p99;
      if (mode == Mode.UNPACED) {
        long[] d = unpacedDelays.stream().mapToLong(Long::longValue).sorted().toArray();
        p50 = d[(int) (d.length * 0.50)] / 1e6 / SERVICE_MS;
        p99 = d[Math.min(d.length - 1, (int) (d.length * 0.99))] / 1e6 / SERVICE_MS;
      } else {
        Timer t = registry.find("keld.flow.queueing.delay").timer();
        double[] pc = new double[2];
        for (ValueAtPercentile v : t.takeSnapshot().percentileValues()) {
          if (v.percentile() == 0.5) pc[0] = v.value(TimeUnit.MILLISECONDS);
          if (v.percentile() == 0.99) pc[1] = v.value(TimeUnit.MILLISECONDS);
        }
        p50 = pc[0] / SERVICE_MS;
        p99 = pc[1] / SERVICE_MS;
        flow.close();
      }
      SimulatedProvider.Stats stats = fleet.stats();
      Result r = new Result(name, sampler.utilization(start, busyUntil), stats.requests(), stats.rateLimited(), p50, p99,
          sampler.settleSeconds(stepAt, busyUntil, SLOTS / 2), (end - start) / 1e9, items);
      System.err.printf(Locale.ROOT, "  %-20s utilization %.1f%%, 429s %d of %d, queueing p50 %.2f S p99 %.2f S, settle %s, %.1f s%n", name,
          r.utilization() * 100, r.rateLimited(), r.requests(), p50, p99, r.settleSeconds(), r.seconds());
      return r;
    }
  }

  /** A few rounds through the client and the fleet first, so JIT compilation and connection setup are not measured. */
  private static void warmUp(ActorSystem<Void> system, SimulatedProvider fleet) throws Exception {
    ProviderClient client = new ProviderClient(system, 64);
    ProviderEndpoint endpoint = new ProviderEndpoint("warm-up", fleet.baseUrl(), null);
    Source.range(0, SLOTS * 6)
        .mapAsyncUnordered(SLOTS, i -> client.send(endpoint, "sim-small", chat("w-" + i, 1), Duration.ofSeconds(30)))
        .runWith(Sink.ignore(), system).toCompletableFuture().get(2, TimeUnit.MINUTES);
    fleet.resetStats();
  }

  /** Plain dispatch: send, and on a retryable failure wait (exponential backoff with jitter) and send again. */
  private static CompletionStage<Attempt> unpaced(ActorSystem<Void> system, ProviderClient client, ProviderEndpoint endpoint, Item item,
      long taken, int retries, List<Long> delays) {
    long sentAt = System.nanoTime();
    return client.send(endpoint, "sim-small", item, Duration.ofSeconds(60)).thenCompose(a -> {
      if (a instanceof Attempt.Answered) {
        delays.add(sentAt - taken);
        return CompletableFuture.completedFuture(a);
      }
      long backoffMs = Math.min(2_000, 50L << Math.min(6, retries));
      long wait = backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1);
      CompletableFuture<Void> later = new CompletableFuture<>();
      CompletableFuture.delayedExecutor(wait, TimeUnit.MILLISECONDS).execute(() -> later.complete(null));
      return later.thenCompose(v -> unpaced(system, client, endpoint, item, taken, retries + 1, delays));
    });
  }

  private static Item chat(String id, int outputTokens) {
    var body = new ObjectMapper().createObjectNode().put("model", "sim-small").put("max_tokens", outputTokens);
    body.putArray("messages").addObject().put("role", "user").put("content", "benchmark item " + id);
    return Item.of(id, Operation.CHAT_COMPLETIONS, body);
  }

  /** Samples the fleet's in-flight requests and 429 count every {@value #SAMPLE_MS} ms. */
  private static final class Sampler implements Runnable {
    private final SimulatedProvider fleet;
    volatile int slots = SLOTS;
    volatile boolean stop;
    final List<long[]> samples = new ArrayList<>(); // {time, inFlight, slots, rateLimited}

    Sampler(SimulatedProvider fleet) {
      this.fleet = fleet;
    }

    @Override
    public void run() {
      while (!stop) {
        SimulatedProvider.Stats s = fleet.stats();
        synchronized (samples) {
          samples.add(new long[] {System.nanoTime(), s.inFlight(), slots, s.rateLimited()});
        }
        try {
          Thread.sleep(SAMPLE_MS);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    double utilization(long from, long to) {
      double busy = 0;
      double available = 0;
      synchronized (samples) {
        for (long[] s : samples) {
          if (s[0] < from || s[0] > to) continue;
          busy += Math.min(s[1], s[2]);
          available += s[2];
        }
      }
      return available == 0 ? 0 : busy / available;
    }

    /**
     * Seconds from the step until the fleet has settled for good (until {@code to}): in-flight at or
     * under the new slots, no more 429s, and a 200 ms average in-flight of 90% of the new slots or more.
     */
    Double settleSeconds(long step, long to, int newSlots) {
      List<long[]> after;
      synchronized (samples) {
        after = samples.stream().filter(s -> s[0] >= step && s[0] <= to).toList();
      }
      if (after.isEmpty()) return null;
      int lastBad = -1;
      for (int i = 1; i < after.size(); i++) {
        if (after.get(i)[1] > newSlots || after.get(i)[3] > after.get(i - 1)[3]) lastBad = i;
      }
      if (lastBad >= after.size() - 1) return null;
      long window = Duration.ofMillis(200).toNanos();
      for (int i = lastBad + 1; i < after.size(); i++) {
        long t = after.get(i)[0];
        double sum = 0;
        int n = 0;
        for (int j = i; j < after.size() && after.get(j)[0] - t <= window; j++) {
          sum += after.get(j)[1];
          n++;
        }
        if (after.get(after.size() - 1)[0] - t < window) return null;
        if (sum / n >= 0.9 * newSlots) return (t - step) / 1e9;
      }
      return null;
    }
  }

  private static String verdict(boolean met) {
    return met ? "met" : "**not met**";
  }

  private static double round(double v) {
    return Math.round(v * 10_000) / 10_000.0;
  }

  private FlowPacingBench() {}
}
