package io.keld.node.cli;

import com.typesafe.config.ConfigFactory;
import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.JobSettings;
import io.keld.sim.market.JobRules;
import io.keld.sim.market.ListedModel;
import io.keld.sim.market.MarketDay;
import io.keld.sim.market.MarketReport;
import io.keld.sim.market.MarketSettings;
import io.keld.sim.market.PriceBookModels;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code keld market}: the market, simulated. */
@Command(name = "market", description = "The Keld market, simulated.", subcommands = {MarketCommand.Simulate.class, CommandLine.HelpCommand.class})
public final class MarketCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** {@code keld market simulate}: one day of trade from a seed, and what it saved, as a Markdown report with charts. */
  @Command(name = "simulate", description = "Simulate a day of trade through the real order book core and deadline job rules, reproducibly "
      + "from a seed, and write a report (report.md and PNG charts): what the same jobs cost at list price, at the 50% batch tier, "
      + "through a cost-sorting router and on Keld; deadline hit rates, escalations, clearing prices, provider utilisation and revenue.")
  public static final class Simulate implements Callable<Integer> {

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the day (default 42). The same seed writes the same report.")
    long seed = 42;

    @Option(names = "--providers", paramLabel = "N", description = "Providers on the market, 20 to 100 (default 40).")
    int providers = 40;

    @Option(names = "--job-scale", paramLabel = "X", description = "Multiplies the jobs of every class (default 1: about 8,100 jobs).")
    double jobScale = 1.0;

    @Option(names = "--fault-rate", paramLabel = "R", description = "Share of jobs whose first provider fails part-way (default 0.01).")
    double faultRate = 0.01;

    @Option(names = "--out", paramLabel = "DIR", description = "Where report.md and the charts go (default ./market-day).")
    Path out = Path.of("market-day");

    @Option(names = "--price-book", paramLabel = "FILE", description = "List prices (default: the bundled config/price-book.csv).")
    Path priceBook;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      MarketSettings settings;
      try {
        settings = MarketSettings.of(seed, providers).withJobScale(jobScale).withFaultRate(faultRate);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      List<ListedModel> models;
      try (Reader csv = priceBook()) {
        models = PriceBookModels.read(csv);
      }
      long started = System.nanoTime();
      MarketDay.Result day = MarketDay.run(settings, models, rules());
      Path report = MarketReport.write(day, out);
      MarketReport.Headline h = MarketReport.headline(day);
      System.out.printf(Locale.ROOT, "Simulated %,d jobs on %d providers in %.1f s (seed %d); report: %s%n", day.market().jobs().size(),
          day.market().providers().size(), (System.nanoTime() - started) / 1e9, seed, report);
      System.out.printf(Locale.ROOT, "Latency-tolerant work on Keld: %.1f%% under list price, %.1f%% under the batch tier (%.1f%% where its 24 h window fits),"
          + " deadline hit rate %.1f%% with backups; provider utilisation %.1f%% -> %.1f%%%n", 100 * h.savingsVsList(), 100 * h.savingsVsBatchTier(),
          100 * h.savingsVsBatchWhereItFits(), 100 * h.hitRateWithBackup(), 100 * h.utilisationBefore(), 100 * h.utilisationAfter());
      return 0;
    }

    private Reader priceBook() throws IOException {
      if (priceBook != null) return Files.newBufferedReader(priceBook, StandardCharsets.UTF_8);
      InputStream bundled = MarketCommand.class.getResourceAsStream("/keld-config/price-book.csv");
      if (bundled == null) throw new IOException("the bundled price book is missing; name one with --price-book");
      return new InputStreamReader(bundled, StandardCharsets.UTF_8);
    }

    /** The exchange's own rules for deadline jobs, as a node would run them with its defaults. */
    public static JobRules rules() {
      JobSettings jobs = JobSettings.fromConfig(ConfigFactory.defaultReference().getConfig("keld.jobs"));
      return new JobRules((deadline, tokens, backupTps) -> jobs.escalationPoint(deadline, tokens,
          backupTps == null ? null : new Backup("prv_backup", "backup", 0, backupTps, "operator")), jobs.stallAfter().toMillis());
    }
  }
}
