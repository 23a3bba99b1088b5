package io.keld.bench;

import java.util.Collection;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** {@code bench/run book-core}: JMH on the order book core, one thread. Target ≥ 2,000,000 ops/s. */
final class BookCoreBench {

  static final double TARGET_OPS = 2_000_000;

  static BenchReport run(boolean quick) throws Exception {
    Options options = new OptionsBuilder()
        .include(BookCoreBenchmark.class.getName())
        .forks(1)
        .threads(1)
        .warmupIterations(quick ? 2 : 5)
        .warmupTime(TimeValue.seconds(quick ? 1 : 2))
        .measurementIterations(quick ? 3 : 10)
        .measurementTime(TimeValue.seconds(quick ? 1 : 2))
        .jvmArgs("-Xms2g", "-Xmx2g")
        .build();
    Collection<RunResult> results = new Runner(options).run();
    RunResult r = results.iterator().next();
    double score = r.getPrimaryResult().getScore();
    double error = r.getPrimaryResult().getScoreError();

    // The shape of the mix, from a plain run of the same workload (not timed).
    BookCoreWorkload w = new BookCoreWorkload(42);
    int steps = 2_000_000;
    for (int i = 0; i < steps; i++) w.step();
    double matchRate = w.bids == 0 ? 0 : (double) w.fills / w.bids;

    BenchReport report = new BenchReport("book-core", quick)
        .figure("ops_per_s", Math.round(score))
        .figure("ops_per_s_error", Math.round(error))
        .figure("target_ops_per_s", (long) TARGET_OPS)
        .figure("met", score >= TARGET_OPS)
        .figure("asks_on_book", w.book.askCount())
        .figure("fills_per_bid", Math.round(matchRate * 1000) / 1000.0);
    report.line("JMH, one thread, one book of ~1,000 asks from 200 providers (10 models, 3 regions). Mix per 100")
        .line("operations: 45 amends (70% price moves, 30% throughput), 21 bids (85% priced to match, 30% with a")
        .line("model allow-list), 19 fill releases, 10 posts or withdrawals (holding ~1,000 asks), 5 cancels; an")
        .line("expiry sweep every 256. One JMH operation = one book operation, including building its command.")
        .line("")
        .line("| figure | value | target |")
        .line("|---|---|---|")
        .line(String.format("| operations/s | **%,.0f** ± %,.0f (99.9%% CI) | ≥ 2,000,000 |", score, error))
        .line(String.format("| fills per bid in the mix | %.3f | most match |", matchRate))
        .line(String.format("| asks on the book after %,d operations | %d | about 1,000 |", steps, w.book.askCount()))
        .line(String.format("| resting bids / active fills at that point | %d / %d | steady |", w.book.restingBidCount(), w.book.activeFillCount()));
    return report;
  }

  private BookCoreBench() {}
}
