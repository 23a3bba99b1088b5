package io.keld.bench;

import io.micrometer.core.instrument.MeterRegistry;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.entity.BookClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * {@code bench/run book-persistent}: bids submitted through the sharded OrderBook entities of one
 * node on a local PostgreSQL, matched and persisted; each fill is then released, as a finished job
 * would. Two phases: saturation (closed loop, many bids in flight) and a fixed offered rate of
 * 10,000 bids/s (open loop: latency from the bid's scheduled send time to its persisted fill).
 *
 * <p>Database: a fresh schema on a local PostgreSQL, see {@link BenchNode}.
 */
final class BookPersistentBench {

  static final String[] USE_CASES = {"summarize", "classify", "extract", "translate"};
  static final int ASKS_PER_BOOK = 250;
  static final double TARGET_BIDS_PER_S = 20_000;
  static final int OFFERED_RATE = 10_000;

  /**
   * {@code runs} measurements, each on a fresh node and schema; the figures are their medians, with
   * every run's value beside them (run-to-run spread on this machine is tens of percent).
   */
  static BenchReport run(boolean quick, int runs) throws Exception {
    KernelWriteback writeback = KernelWriteback.now();
    List<Run> all = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Run r = BenchNode.onPostgres(null, node -> measure(node.books(), node.metrics().registry(), quick));
      System.err.printf("book-persistent: run %d of %d: %,.0f bids/s at saturation; at %,d/s p99 %.2f ms%n", i + 1, runs,
          r.saturation, OFFERED_RATE, r.p99);
      all.add(r);
    }
    return report(all, quick, writeback);
  }

  /** One measurement's figures. */
  private record Run(double saturation, double achieved, double p50, double p99, double max, double halfAchieved, double halfP50,
      double halfP99, double halfMax, long unfilled, long lagEvents, double lagSeconds, long caughtUpMs, long journalReads,
      long checkpointSyncMs, double walBytesPerBid, double postgresCpuMicrosPerBid) {}

  private static Run measure(BookClient books, MeterRegistry registry, boolean quick) throws Exception {
    long now = System.currentTimeMillis();
    List<CompletableFuture<BookResult>> posts = new ArrayList<>();
    for (String uc : USE_CASES) {
      for (int i = 0; i < ASKS_PER_BOOK; i++) {
        // Ample capacity: the benchmark measures the book and its journal, not a shortage of asks.
        Ask ask = new Ask("ask_" + uc + "_" + i, "prv_" + (i % 200), "model-" + (i % 10), uc, 100_000 + (i % 50) * 5_000,
            60 + i % 40, 1_000_000_000L, 1_000_000, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "eu", Set.of("zdr"));
        posts.add(books.submit(uc, new BookOp.PostAsk(ask)).toCompletableFuture());
      }
    }
    CompletableFuture.allOf(posts.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

    Submitter submitter = new Submitter(books);
    // Warm up the JIT, the pool and the journal: with 5 s, compilation still took ~30% of the JVM's CPU
    // samples over the run (async-profiler), so the figures measured the JIT as much as the book.
    submitter.saturate(quick ? 2 : 20, 4_000);
    // The statement projection follows the books' fills in the journal: its lag, sampled every 100 ms while bids run.
    ProjectionLag lag = new ProjectionLag(registry, "statement");
    double reads0 = lag.journalReads();
    Phase saturation = submitter.saturate(quick ? 5 : 15, 4_000);
    double reads1 = lag.journalReads();
    // Half the offered rate too: where the node keeps up, this is its latency.
    Phase half = submitter.fixedRate(OFFERED_RATE / 2, quick ? 5 : 15);
    double reads2 = lag.journalReads();
    long syncBefore = BenchNode.postgresCheckpointSyncMillis();
    PostgresCounters pgBefore = BenchNode.postgresCounters();
    Phase fixed = submitter.fixedRate(OFFERED_RATE, quick ? 5 : 15);
    PostgresCounters pgAfter = BenchNode.postgresCounters();
    long syncAfter = BenchNode.postgresCheckpointSyncMillis();
    System.err.printf("book-persistent: statement events read from the journal (not heard): saturation %,.0f, half rate %,.0f, offered rate %,.0f%n",
        reads1 - reads0, reads2 - reads1, lag.journalReads() - reads2);
    long caughtUpMs = lag.stopAndAwaitCaughtUp();

    return new Run(saturation.bidsPerSecond(), fixed.bidsPerSecond(), fixed.percentileMs(50), fixed.percentileMs(99),
        fixed.percentileMs(100), half.bidsPerSecond(), half.percentileMs(50), half.percentileMs(99), half.percentileMs(100),
        saturation.unfilled + half.unfilled + fixed.unfilled, lag.maxEvents, lag.maxSeconds, caughtUpMs, Math.round(lag.journalReads() - reads0),
        syncBefore < 0 || syncAfter < 0 ? -1 : syncAfter - syncBefore,
        pgBefore == null || pgAfter == null ? Double.NaN : pgAfter.walBytesPerRequest(pgBefore, fixed.count()),
        pgBefore == null || pgAfter == null ? Double.NaN : pgAfter.cpuMicrosPerRequest(pgBefore, fixed.count()));
  }

  private static double median(List<Run> runs, ToDoubleFunction<Run> f) {
    double[] v = runs.stream().mapToDouble(f).sorted().toArray();
    double m = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    return Math.round(m * 100) / 100.0;
  }

  /** Every run's value, in run order: "a / b / c". */
  private static String each(List<Run> runs, ToDoubleFunction<Run> f, String format) {
    return runs.stream().map(r -> String.format(format, f.applyAsDouble(r))).collect(Collectors.joining(" / "));
  }

  private static BenchReport report(List<Run> runs, boolean quick, KernelWriteback writebackBefore) {
    double saturation = median(runs, Run::saturation);
    double p99 = median(runs, Run::p99);
    long unfilled = runs.stream().mapToLong(Run::unfilled).sum();
    BenchReport report = new BenchReport("book-persistent", quick)
        .figure("runs", runs.size())
        .figure("saturation_bids_per_s", Math.round(saturation))
        .figure("saturation_bids_per_s_runs", each(runs, Run::saturation, "%.0f"))
        .figure("target_bids_per_s", (long) TARGET_BIDS_PER_S)
        .figure("met_throughput", saturation >= TARGET_BIDS_PER_S)
        .figure("offered_bids_per_s", OFFERED_RATE)
        .figure("achieved_bids_per_s", Math.round(median(runs, Run::achieved)))
        .figure("p50_ms", median(runs, Run::p50))
        .figure("p99_ms", p99)
        .figure("p99_ms_runs", each(runs, Run::p99, "%.2f"))
        .figure("max_ms", median(runs, Run::max))
        .figure("met_p99", p99 <= 25.0)
        .figure("half_rate_p50_ms", median(runs, Run::halfP50))
        .figure("half_rate_p99_ms", median(runs, Run::halfP99))
        .figure("unfilled", unfilled)
        .figure("checkpoint_sync_ms_in_offered_rate_phase_runs", each(runs, Run::checkpointSyncMs, "%.0f"))
        .figure("statement_lag_max_events", Math.round(median(runs, Run::lagEvents)))
        .figure("statement_lag_max_s", median(runs, Run::lagSeconds))
        .figure("statement_caught_up_after_ms", Math.round(median(runs, Run::caughtUpMs)))
        .figure("statement_events_read_from_journal", Math.round(median(runs, Run::journalReads)));
    KernelWriteback writebackAfter = KernelWriteback.now();
    KernelWriteback.addFigures(report, writebackBefore);
    report.line("One node, " + USE_CASES.length + " books (use cases) of " + ASKS_PER_BOOK + " asks each, PostgreSQL on the same machine. Each bid")
        .line("goes through the node's batching gateway to its sharded, event-sourced OrderBook; it is matched, its")
        .line("events written to the journal, and the reply returned; each fill is then released (a second, persisted")
        .line("operation). Latency is measured from the bid's scheduled send time (open loop) to its persisted fill.")
        .line("The providers' statement (a projection of the books' journals) runs throughout, as on every node.")
        .line(String.format("Each figure is the median of %d run(s), each on a fresh node and schema after a %d s warm-up; every run's value follows it.",
            runs.size(), quick ? 2 : 20))
        .line("")
        .line("| figure | median | runs | target |")
        .line("|---|---|---|---|")
        .line(String.format("| saturation throughput (4,000 bids in flight, %d s) | **%,.0f bids/s** (+ as many releases) | %s | ≥ 20,000 bids/s |",
            quick ? 5 : 15, saturation, each(runs, Run::saturation, "%,.0f")))
        .line(String.format("| at a fixed offered rate of %,d bids/s: answered (filled, or refused as overloaded) | %,.0f bids/s | %s | |", OFFERED_RATE,
            median(runs, Run::achieved), each(runs, Run::achieved, "%,.0f")))
        .line(String.format("| bid-to-fill latency p50 | **%.2f ms** | %s | |", median(runs, Run::p50), each(runs, Run::p50, "%.2f")))
        .line(String.format("| bid-to-fill latency p99 | **%.2f ms** | %s | ≤ 25 ms |", p99, each(runs, Run::p99, "%.2f")))
        .line(String.format("| bid-to-fill latency max | %.2f ms | %s | |", median(runs, Run::max), each(runs, Run::max, "%.2f")))
        .line(String.format("| PostgreSQL checkpoints' data-file sync that ended during the %,d bids/s phase (commits stall while it runs; -1: not readable) | | %s ms | |",
            OFFERED_RATE, each(runs, Run::checkpointSyncMs, "%.0f")))
        .line("| this machine's kernel writeback threshold while it ran: what a checkpoint's sync can find left to write (OPERATIONS.md, "
            + "\"PostgreSQL settings\"; the database server's when it runs on this machine) | "
            + KernelWriteback.describe(writebackBefore, writebackAfter) + " | | |")
        .line(String.format("| at %,d bids/s offered: achieved | %,.0f bids/s | %s | |", OFFERED_RATE / 2, median(runs, Run::halfAchieved),
            each(runs, Run::halfAchieved, "%,.0f")))
        .line(String.format("| at %,d bids/s: latency p50 / p99 / max | %.2f / %.2f / %.2f ms | p99: %s | |", OFFERED_RATE / 2,
            median(runs, Run::halfP50), median(runs, Run::halfP99), median(runs, Run::halfMax), each(runs, Run::halfP99, "%.2f")))
        .line(String.format("| bids that did not fill (refused as overloaded, or timed out), all runs | %d | | 0 |", unfilled))
        .line(String.format("| statement projection lag while bids ran (max of `keld_projection_lag_events` / `_seconds`, sampled every 100 ms) | %,.0f events / %.1f s | %s s | |",
            median(runs, Run::lagEvents), median(runs, Run::lagSeconds), each(runs, Run::lagSeconds, "%.1f")))
        .line(String.format("| statement projection caught up after the last bid | %,.0f ms | | |", median(runs, Run::caughtUpMs)))
        .line(String.format("| statement events read back from the journal rather than heard from the books (`keld_projection_journal_reads`) | %,.0f | %s | |",
            median(runs, Run::journalReads), each(runs, Run::journalReads, "%,.0f")));
    // From PostgreSQL's counters (PostgresCounters): left out when this machine cannot read them.
    if (runs.stream().allMatch(r -> !Double.isNaN(r.walBytesPerBid()))) {
      report.figure("wal_bytes_per_bid", Math.round(median(runs, Run::walBytesPerBid)))
          .figure("postgres_cpu_us_per_bid", Math.round(median(runs, Run::postgresCpuMicrosPerBid)))
          .line(String.format("| at %,d bids/s, about a bid: WAL (`pg_current_wal_lsn`) and PostgreSQL's CPU (its processes, from /proc) over the phase, "
              + "divided by its bids; includes the releases, the statement's rows and what the previous phase left | %,.0f bytes, %.0f µs | %s bytes; %s µs | |",
              OFFERED_RATE, median(runs, Run::walBytesPerBid), median(runs, Run::postgresCpuMicrosPerBid),
              each(runs, Run::walBytesPerBid, "%,.0f"), each(runs, Run::postgresCpuMicrosPerBid, "%.0f")));
    }
    return report;
  }

  /** Samples a projection's lag gauges (they are refreshed once a second by the projection itself). */
  private static final class ProjectionLag {
    private final MeterRegistry registry;
    private final String name;
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    volatile long maxEvents;
    volatile double maxSeconds;

    ProjectionLag(MeterRegistry registry, String name) {
      this.registry = registry;
      this.name = name;
      sampler.scheduleAtFixedRate(() -> {
        maxEvents = Math.max(maxEvents, (long) events());
        maxSeconds = Math.max(maxSeconds, seconds());
      }, 100, 100, TimeUnit.MILLISECONDS);
    }

    private double events() {
      return registry.get("keld.projection.lag.events").tag("projection", name).gauge().value();
    }

    double journalReads() {
      return registry.get("keld.projection.journal.reads").tag("projection", name).functionCounter().count();
    }

    private double seconds() {
      return registry.get("keld.projection.lag.seconds").tag("projection", name).gauge().value();
    }

    /** How long after the load the projection had applied every event (at most 120 s). */
    long stopAndAwaitCaughtUp() throws InterruptedException {
      sampler.shutdownNow();
      long start = System.nanoTime();
      Thread.sleep(1_100); // one refresh of the gauges after the last bid
      while (events() > 0 && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(120)) Thread.sleep(100);
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
  }

  /** Sends bids and releases their fills; counts and times them. */
  private static final class Submitter {
    private final BookClient books;
    private final AtomicLong seq = new AtomicLong();

    Submitter(BookClient books) {
      this.books = books;
    }

    private CompletableFuture<Boolean> bidAndRelease() {
      long n = seq.incrementAndGet();
      String uc = USE_CASES[(int) (n % USE_CASES.length)];
      long now = System.currentTimeMillis();
      Bid bid = new Bid("job_" + n, uc, Set.of(), 50, 400_000, 2_000, now + 3_600_000, now + 3_000_000,
          Set.of(), Set.of(), Set.of(), Set.of());
      return books.submit(uc, new BookOp.PlaceBid(bid)).toCompletableFuture().thenCompose(result -> {
        if (result instanceof BookResult.Accepted a && !a.events().isEmpty() && a.events().get(0) instanceof BookEvent.Filled f) {
          books.submit(uc, new BookOp.ReleaseFill(f.fill().fillId(), 2_000, false));
          return CompletableFuture.completedFuture(true);
        }
        return CompletableFuture.completedFuture(false);
      });
    }

    /** Closed loop: keeps {@code inFlight} bids outstanding for {@code seconds}. */
    Phase saturate(int seconds, int inFlight) throws InterruptedException {
      Semaphore permits = new Semaphore(inFlight);
      AtomicLong done = new AtomicLong();
      AtomicLong unfilled = new AtomicLong();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      long start = System.nanoTime();
      while (System.nanoTime() < end) {
        permits.acquire();
        bidAndRelease().whenComplete((filled, error) -> {
          if (error != null || !filled) unfilled.incrementAndGet();
          done.incrementAndGet();
          permits.release();
        });
      }
      permits.acquire(inFlight);
      double elapsed = (System.nanoTime() - start) / 1e9;
      return new Phase(seconds, done.get() / elapsed, new long[0], 0, unfilled.get());
    }

    /** Open loop: {@code rate} bids per second for {@code seconds}, each timed from its scheduled send. */
    Phase fixedRate(int rate, int seconds) throws InterruptedException {
      int total = rate * seconds;
      long[] latencies = new long[total];
      CountDownLatch finished = new CountDownLatch(total);
      AtomicLong unfilled = new AtomicLong();
      AtomicLong sent = new AtomicLong();
      int perTick = rate / 1000;
      ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
      long start = System.nanoTime();
      ticker.scheduleAtFixedRate(() -> {
        long tickIndex = (System.nanoTime() - start) / 1_000_000;
        // Catch up on any ticks the scheduler missed, each bid keeping its own scheduled time.
        while (sent.get() < Math.min(total, (tickIndex + 1) * perTick)) {
          int i = (int) sent.getAndIncrement();
          long scheduled = start + (i / perTick) * 1_000_000L;
          bidAndRelease().whenComplete((filled, error) -> {
            latencies[i] = System.nanoTime() - scheduled;
            if (error != null || !filled) unfilled.incrementAndGet();
            finished.countDown();
          });
        }
      }, 0, 1, TimeUnit.MILLISECONDS);
      boolean all = finished.await(seconds + 60L, TimeUnit.SECONDS);
      ticker.shutdownNow();
      double elapsed = (System.nanoTime() - start) / 1e9;
      if (!all) throw new IllegalStateException("not every bid was answered within a minute of the run");
      if ("1".equals(System.getenv("KELD_BENCH_TIMELINE"))) printStalls(rate, latencies, perTick, start);
      Arrays.sort(latencies);
      return new Phase(seconds, total / elapsed, latencies, total, unfilled.get());
    }
  }

  /**
   * {@code KELD_BENCH_TIMELINE=1}: each 100 ms of the phase in which a bid took over 25 ms (bids grouped
   * by their scheduled send time), by wall-clock time, to set beside PostgreSQL's log and a GC log (how
   * the tail was traced to stalled commits).
   */
  private static void printStalls(int rate, long[] latencies, int perTick, long startNanos) {
    long slowNanos = 25_000_000L;
    long wallStart = System.currentTimeMillis() - (System.nanoTime() - startNanos) / 1_000_000;
    int perWindow = perTick * 100;
    for (int from = 0; from < latencies.length; from += perWindow) {
      long max = 0;
      int slow = 0;
      for (int i = from; i < Math.min(latencies.length, from + perWindow); i++) {
        max = Math.max(max, latencies[i]);
        if (latencies[i] > slowNanos) slow++;
      }
      if (slow > 0) {
        System.err.printf("book-persistent: %,d bids/s, stall at %s: max %.1f ms, %d of %d bids sent then over 25 ms%n",
            rate, java.time.Instant.ofEpochMilli(wallStart + from / perTick), max / 1e6, slow, perWindow);
      }
    }
  }

  private record Phase(int seconds, double bidsPerSecond, long[] sortedLatenciesNanos, int count, long unfilled) {
    double percentileMs(double p) {
      if (sortedLatenciesNanos.length == 0) return Double.NaN;
      int i = (int) Math.min(sortedLatenciesNanos.length - 1, Math.ceil(p / 100.0 * sortedLatenciesNanos.length) - 1);
      return Math.round(sortedLatenciesNanos[Math.max(0, i)] / 10_000.0) / 100.0;
    }
  }



  private BookPersistentBench() {}
}
