package io.keld.bench;

import io.keld.node.cli.MarketCommand;
import io.keld.sim.market.ListedModel;
import io.keld.sim.market.MarketDay;
import io.keld.sim.market.MarketReport;
import io.keld.sim.market.MarketSettings;
import io.keld.sim.market.PriceBookModels;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench/run market-day}: {@code keld market simulate} on the default day (seed 42, 40
 * providers, about 8,100 jobs): its headline figures, how long the day took to simulate (target under
 * 5 minutes), and the report with its charts written to {@code bench/market-day/}.
 */
final class MarketDayBench {

  static final long SEED = 42;
  static final int PROVIDERS = 40;

  static BenchReport run(boolean quick) throws Exception {
    Path root = Path.of(System.getProperty("keld.root", "."));
    List<ListedModel> models;
    try (Reader csv = Files.newBufferedReader(root.resolve("config/price-book.csv"))) {
      models = PriceBookModels.read(csv);
    }
    MarketSettings settings = MarketSettings.of(SEED, PROVIDERS).withJobScale(quick ? 0.25 : 1.0);
    long started = System.nanoTime();
    MarketDay.Result day = MarketDay.run(settings, models, MarketCommand.Simulate.rules());
    double simulatedS = (System.nanoTime() - started) / 1e9;
    Path out = root.resolve(quick ? "bench/target/market-day" : "bench/market-day");
    Path report = MarketReport.write(day, out);
    double totalS = (System.nanoTime() - started) / 1e9;
    MarketReport.Headline h = MarketReport.headline(day);

    BenchReport r = new BenchReport("market-day", quick);
    r.line(String.format(Locale.ROOT, "`keld market simulate --seed %d --providers %d%s`: %,d jobs, one simulated day, through the real", SEED, PROVIDERS,
        quick ? " --job-scale 0.25" : "", day.market().jobs().size()));
    r.line("`OrderBookCore` and the deadline job's escalation rule. Full report with charts: [`bench/market-day/report.md`](bench/market-day/report.md).");
    r.line("Latency-tolerant work (overnight enrichment, backlog classification, evaluation runs, report generation):");
    r.line("");
    r.line("| figure | value | target |");
    r.line("|---|---|---|");
    r.line(String.format(Locale.ROOT, "| buyer savings against the list price | **%.1f%%** | |", 100 * h.savingsVsList()));
    r.line(String.format(Locale.ROOT, "| buyer savings against the 50%% batch tier (list where its 24 h window does not fit) | **%.1f%%** | |",
        100 * h.savingsVsBatchTier()));
    r.line(String.format(Locale.ROOT, "| buyer savings against the batch tier, only the %,d jobs whose deadline fits its window | **%.1f%%** | |",
        h.batchFitJobs(), 100 * h.savingsVsBatchWhereItFits()));
    r.line(String.format(Locale.ROOT, "| deadline hit rate, jobs with a backup | **%.2f%%** (%,d of %,d) | 100%% |", 100 * h.hitRateWithBackup(),
        h.onTimeWithBackup(), h.jobsWithBackup()));
    r.line(String.format(Locale.ROOT, "| jobs escalated to the backup | %,d (%.1f%% of tokens) | |", h.escalated(), 100 * h.backupTokenShare()));
    r.line(String.format(Locale.ROOT, "| cost-sorting router: hit rate; Keld's savings against it | %.1f%%; %.1f%% | |", 100 * h.routerHitRate(),
        100 * h.savingsVsRouter()));
    r.line(String.format(Locale.ROOT, "| provider utilisation over the day, own customers → with Keld | %.1f%% → %.1f%% | |", 100 * h.utilisationBefore(),
        100 * h.utilisationAfter()));
    r.line(String.format(Locale.ROOT, "| time to simulate the day (report and charts included) | %.1f s (%.1f s) | < 300 s |", simulatedS, totalS));
    r.figure("jobs", day.market().jobs().size()).figure("providers", PROVIDERS).figure("seed", SEED)
        .figure("savings_vs_list", round(h.savingsVsList())).figure("savings_vs_batch_tier", round(h.savingsVsBatchTier()))
        .figure("savings_vs_batch_where_it_fits", round(h.savingsVsBatchWhereItFits())).figure("hit_rate_with_backup", round(h.hitRateWithBackup()))
        .figure("utilisation_before", round(h.utilisationBefore())).figure("utilisation_after", round(h.utilisationAfter()))
        .figure("simulate_s", round(simulatedS)).figure("met", totalS < 300);
    System.err.println("market-day: report written to " + report);
    return r;
  }

  private static double round(double v) {
    return Math.round(v * 10_000) / 10_000.0;
  }

  private MarketDayBench() {}
}
