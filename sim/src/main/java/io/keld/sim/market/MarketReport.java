package io.keld.sim.market;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The day's report in Markdown: the headline figures, the set-up and its assumptions, each job
 * class against each alternative, and the providers' side. Everything in it is computed from the
 * run's outcomes; nothing depends on the clock, so the same seed writes the same report.
 */
public final class MarketReport {

  /** The figures the README and BENCHMARKS.md quote. */
  public record Headline(double savingsVsList, double savingsVsBatchTier, double savingsVsBatchWhereItFits, int batchFitJobs,
      double hitRateWithBackup, int jobsWithBackup, int onTimeWithBackup, double hitRateAll, int escalated, double backupTokenShare,
      double utilisationBefore, double utilisationAfter, double routerHitRate, double savingsVsRouter, int pinnedJobs,
      double pinnedSavingsVsList, double pinnedSavingsVsBatchTier) {}

  private MarketReport() {}

  public static Headline headline(MarketDay.Result r) {
    Predicate<SimJob> tolerant = j -> j.jobClass().latencyTolerant();
    Predicate<SimJob> tolerantFits = j -> tolerant.test(j) && MarketDay.batchFits(j);
    MarketDay.Totals list = MarketDay.totals(r.list(), tolerant);
    MarketDay.Totals batch = MarketDay.totals(r.batch(), tolerant);
    MarketDay.Totals router = MarketDay.totals(r.router(), tolerant);
    MarketDay.Totals keld = MarketDay.totals(r.keld(), tolerant);
    MarketDay.Totals batchFit = MarketDay.totals(r.batch(), tolerantFits);
    MarketDay.Totals keldFit = MarketDay.totals(r.keld(), tolerantFits);
    MarketDay.Totals keldBackup = MarketDay.totals(r.keld(), j -> tolerant.test(j) && j.hasBackup());
    double[] all = MarketDay.utilisationByStrategy(r, r.keldLedger()).get("all providers");
    Predicate<SimJob> pinned = j -> tolerant.test(j) && !j.models().isEmpty();
    MarketDay.Totals pinnedKeld = MarketDay.totals(r.keld(), pinned);
    return new Headline(saving(keld.costMicroUsd(), list.costMicroUsd()), saving(keld.costMicroUsd(), batch.costMicroUsd()),
        saving(keldFit.costMicroUsd(), batchFit.costMicroUsd()), batchFit.jobs(), keldBackup.hitRate(), keldBackup.jobs(), keldBackup.onTime(),
        keld.hitRate(), keld.escalated(), (double) keld.listTokens() / keld.tokens(), all[0], all[1], router.hitRate(),
        saving(keld.costMicroUsd(), router.costMicroUsd()), pinnedKeld.jobs(),
        saving(pinnedKeld.costMicroUsd(), MarketDay.totals(r.list(), pinned).costMicroUsd()),
        saving(pinnedKeld.costMicroUsd(), MarketDay.totals(r.batch(), pinned).costMicroUsd()));
  }

  /** 1 - cost / reference: 0.4 means 40% cheaper; negative means dearer. */
  static double saving(long cost, long reference) {
    return reference == 0 ? Double.NaN : 1 - (double) cost / reference;
  }

  public static String markdown(MarketDay.Result r, List<String> charts) {
    StringBuilder md = new StringBuilder();
    MarketSettings s = r.settings();
    Headline h = headline(r);
    line(md, "# Keld Market: a simulated day (seed %d)", s.seed());
    line(md, "");
    line(md, "Written by `keld market simulate --seed %d --providers %d%s`. The same command writes the same report.", s.seed(), s.providers(),
        s.jobScale() == 1.0 ? "" : String.format(Locale.ROOT, " --job-scale %s", trim(s.jobScale())));
    line(md, "%d providers and %,d jobs on %s (UTC); every job is bought four ways: at its model's list price, at the 50%% batch tier where",
        r.market().providers().size(), r.market().jobs().size(), s.dayStart().toString().substring(0, 10));
    line(md, "its deadline allows the tier's 24 h window, through a cost-sorting router, and on Keld: the real `OrderBookCore`, one per use");
    line(md, "case, and the deadline job's escalation rule (`JobSettings.escalationPoint`), in simulated time.");
    line(md, "");
    line(md, "## Headline (latency-tolerant work: %s)", String.join(", ",
        JobClass.DEFAULTS.stream().filter(JobClass::latencyTolerant).map(JobClass::name).toList()));
    line(md, "");
    line(md, "| figure | measured |");
    line(md, "|---|---|");
    line(md, "| buyer savings against the list price | **%s** |", pct(h.savingsVsList()));
    line(md, "| buyer savings against the batch tier (list price where its 24 h window does not fit the deadline) | **%s** |", pct(h.savingsVsBatchTier()));
    line(md, "| buyer savings against the batch tier, only the %,d jobs whose deadline fits its 24 h window | **%s** |", h.batchFitJobs(),
        pct(h.savingsVsBatchWhereItFits()));
    line(md, "| the same for the %,d jobs that name their model (only its maker's asks qualify): against list; against the batch tier | %s; %s |",
        h.pinnedJobs(), pct(h.pinnedSavingsVsList()), pct(h.pinnedSavingsVsBatchTier()));
    line(md, "| buyer savings against the cost-sorting router (its failures bought at list) | %s |", pct(h.savingsVsRouter()));
    line(md, "| deadline hit rate on Keld, jobs with a backup | **%s** (%,d of %,d) |", pct(h.hitRateWithBackup()), h.onTimeWithBackup(), h.jobsWithBackup());
    line(md, "| deadline hit rate on Keld, all latency-tolerant jobs (some cap their price under list and so have no backup) | %s |", pct(h.hitRateAll()));
    line(md, "| deadline hit rate through the cost-sorting router | %s |", pct(h.routerHitRate()));
    line(md, "| jobs escalated to the backup on Keld | %,d (%s of tokens) |", h.escalated(), pct(h.backupTokenShare()));
    line(md, "| provider utilisation over the day, own customers alone → with Keld's work | %s → %s (%+.1f points) |", pct(h.utilisationBefore()),
        pct(h.utilisationAfter()), 100 * (h.utilisationAfter() - h.utilisationBefore()));
    line(md, "");
    line(md, "Most of the saving comes from buyers accepting any model within a few quality points of theirs (see \"How the day is made\"):");
    line(md, "a job that names its model can only buy its maker's spare capacity, which is priced between the batch tier and the list price.");
    line(md, "");
    verdicts(md, r);

    line(md, "## Cost and deadlines by job class");
    line(md, "");
    line(md, "Cost in USD; a pricing's jobs it could not serve are bought at list price on top (the work still has to be done).");
    line(md, "");
    line(md, "| class | jobs | Mtok | list | batch tier | router (on time) | Keld (on time) | Keld vs list | Keld vs batch tier | escalated | re-routed |");
    line(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (JobClass c : JobClass.DEFAULTS) {
      Predicate<SimJob> in = j -> j.jobClass() == c;
      MarketDay.Totals list = MarketDay.totals(r.list(), in);
      MarketDay.Totals batch = MarketDay.totals(r.batch(), in);
      MarketDay.Totals router = MarketDay.totals(r.router(), in);
      MarketDay.Totals keld = MarketDay.totals(r.keld(), in);
      line(md, "| %s | %,d | %,.1f | %s | %s | %s (%s) | %s (%s) | %s | %s | %,d | %,d |", c.name(), list.jobs(), list.tokens() / 1e6,
          usd(list.costMicroUsd()), usd(batch.costMicroUsd()), usd(router.costMicroUsd()), pct(router.hitRate()), usd(keld.costMicroUsd()),
          pct(keld.hitRate()), pct(saving(keld.costMicroUsd(), list.costMicroUsd())), pct(saving(keld.costMicroUsd(), batch.costMicroUsd())),
          keld.escalated(), keld.rerouted());
    }
    line(md, "");
    for (String chart : charts.subList(0, Math.min(3, charts.size()))) line(md, "![%s](%s)", chart.replace(".png", ""), chart);
    line(md, "");

    line(md, "## Clearing prices through the day");
    line(md, "");
    line(md, "Keld's clearing price index by use case: the cost of the work filled in each hour at its clearing prices, against the same work at its");
    line(md, "list price (100 = list; 50 = the batch tier's price).");
    line(md, "");
    StringBuilder head = new StringBuilder("| use case |");
    StringBuilder rule = new StringBuilder("|---|");
    for (int hour = 0; hour < 24; hour += 3) {
      head.append(String.format(Locale.ROOT, " %02d–%02d |", hour, hour + 3));
      rule.append("---:|");
    }
    line(md, "%s", head);
    line(md, "%s", rule);
    for (Map.Entry<String, long[][]> e : r.keldLedger().clearingByHour().entrySet()) {
      StringBuilder row = new StringBuilder("| " + e.getKey() + " |");
      for (int hour = 0; hour < 24; hour += 3) {
        long cost = 0;
        long atList = 0;
        for (int k = hour; k < hour + 3; k++) {
          cost += e.getValue()[k][0];
          atList += e.getValue()[k][1];
        }
        row.append(atList == 0 ? " – |" : String.format(Locale.ROOT, " %.0f |", 100.0 * cost / atList));
      }
      line(md, "%s", row);
    }
    line(md, "");
    if (charts.size() > 3) line(md, "![%s](%s)", charts.get(3).replace(".png", ""), charts.get(3));
    line(md, "");

    line(md, "## Providers");
    line(md, "");
    line(md, "Utilisation over the day's 24 hours, capacity-weighted: own customers alone, then with the market's work.");
    line(md, "");
    line(md, "| providers | count | own customers | with Keld | with the router | revenue on Keld | revenue through the router |");
    line(md, "|---|---:|---:|---:|---:|---:|---:|");
    Map<String, double[]> keldUse = MarketDay.utilisationByStrategy(r, r.keldLedger());
    Map<String, double[]> routerUse = MarketDay.utilisationByStrategy(r, r.routerLedger());
    Map<String, Long> keldRevenue = byGroup(r, r.keldLedger());
    Map<String, Long> routerRevenue = byGroup(r, r.routerLedger());
    Map<String, Integer> counts = new TreeMap<>();
    for (ProviderSpec p : r.market().providers()) counts.merge(group(p), 1, Integer::sum);
    for (String g : keldUse.keySet()) {
      line(md, "| %s | %s | %s | %s | %s | %s | %s |", g, g.equals("all providers") ? String.valueOf(r.market().providers().size()) : String.valueOf(counts.get(g)),
          pct(keldUse.get(g)[0]), pct(keldUse.get(g)[1]), pct(routerUse.get(g)[1]),
          usd(g.equals("all providers") ? keldRevenue.values().stream().mapToLong(Long::longValue).sum() : keldRevenue.get(g)),
          usd(g.equals("all providers") ? routerRevenue.values().stream().mapToLong(Long::longValue).sum() : routerRevenue.get(g)));
    }
    line(md, "");
    for (String chart : charts.subList(Math.min(4, charts.size()), charts.size())) line(md, "![%s](%s)", chart.replace(".png", ""), chart);
    line(md, "");

    assumptions(md, r);
    return md.toString();
  }

  /** Where Keld does not beat an alternative on a class, say so, and why, from the run's own figures. */
  private static void verdicts(StringBuilder md, MarketDay.Result r) {
    boolean any = false;
    for (JobClass c : JobClass.DEFAULTS) {
      Predicate<SimJob> in = j -> j.jobClass() == c;
      MarketDay.Totals list = MarketDay.totals(r.list(), in);
      MarketDay.Totals batch = MarketDay.totals(r.batch(), in);
      MarketDay.Totals keld = MarketDay.totals(r.keld(), in);
      MarketDay.Totals router = MarketDay.totals(r.router(), in);
      if (keld.costMicroUsd() < batch.costMicroUsd() && keld.costMicroUsd() <= router.costMicroUsd()) continue;
      if (!any) {
        line(md, "**Where Keld does not win.**");
        line(md, "");
      }
      any = true;
      int fits = MarketDay.totals(r.batch(), j -> in.test(j) && MarketDay.batchFits(j)).jobs();
      StringBuilder why = new StringBuilder();
      if (keld.costMicroUsd() >= batch.costMicroUsd()) {
        why.append(String.format(Locale.ROOT, "- %s: Keld costs %s, the batch tier %s (%s of its jobs fit the tier's 24 h window). ", c.name(),
            usd(keld.costMicroUsd()), usd(batch.costMicroUsd()), pct((double) fits / Math.max(1, list.jobs()))));
      } else {
        why.append(String.format(Locale.ROOT, "- %s: Keld costs %s, the cost-sorting router %s, but the router is on time for %s of them, Keld for %s. ",
            c.name(), usd(keld.costMicroUsd()), usd(router.costMicroUsd()), pct(router.hitRate()), pct(keld.hitRate())));
      }
      long marketTokens = keld.tokens() - keld.listTokens();
      long marketCost = 0;
      for (JobOutcome o : r.keld()) if (in.test(o.job())) marketCost += o.costMicroUsd();
      why.append(String.format(Locale.ROOT, "%s of its tokens went to the backup at list price (%,d escalations: no ask of enough quality, under its ceiling, "
          + "could finish in time); the rest cleared at %s of list on average.", pct((double) keld.listTokens() / Math.max(1, keld.tokens())),
          keld.escalated(), pct(marketTokens == 0 ? Double.NaN
              : (double) (marketCost - costAtList(r, in, true)) / Math.max(1, costAtList(r, in, false) - costAtList(r, in, true)))));
      line(md, "%s", why);
    }
    if (any) line(md, "");
  }

  /** The list-price cost of a class's tokens: those the backup served ({@code backupOnly}), or all it served. */
  private static long costAtList(MarketDay.Result r, Predicate<SimJob> in, boolean backupOnly) {
    long sum = 0;
    for (JobOutcome o : r.keld()) {
      if (!in.test(o.job())) continue;
      long tokens = backupOnly ? o.listTokens() : o.listTokens() + o.marketTokens();
      sum += io.keld.ixp.Money.costMicroUsd(tokens, o.job().listPerMtok());
    }
    return sum;
  }

  private static void assumptions(StringBuilder md, MarketDay.Result r) {
    MarketSettings s = r.settings();
    line(md, "## How the day is made");
    line(md, "");
    line(md, "- **Reference models and list prices** from `config/price-book.csv` (input and output prices blended by each class's output share):");
    for (ListedModel m : r.market().references()) {
      line(md, "  %s `%s`, $%s in / $%s out per Mtok, quality %d (assumed).", m.provider(), m.model(), money(m.inputPerMtok()), money(m.outputPerMtok()), m.quality());
    }
    line(md, "- **Their makers** post spare capacity on Keld by utilisation, from half the list price when idle (the batch tier's price) to the");
    line(md, "  list price when busy. Jobs escalate to the same makers' APIs at list price (%,d tokens/s for one job).", s.backupTps());
    line(md, "- **Open-weight hosts** (the other %d providers): model families with quality and fair-price ranges (assumed):",
        r.market().providers().size() - r.market().references().size());
    for (MarketSetup.OpenFamily f : MarketSetup.OPEN_FAMILIES) {
      line(md, "  `%s` quality %d–%d, $%s–$%s per Mtok, %,d–%,d tokens/s.", f.model(), f.minQuality(), f.maxQuality(), money(f.minPrice()),
          money(f.maxPrice()), f.minTps(), f.maxTps());
    }
    Map<String, Integer> kinds = new TreeMap<>();
    for (ProviderSpec p : r.market().providers()) if (!p.firstParty()) kinds.merge(p.strategy().kind(), 1, Integer::sum);
    line(md, "  Strategies: %s. Utilisation: 0.6× to 1.4× the fair price; undercutter: 1–5%% under the best other ask, between 0.6× and",
        kinds.toString().replace("{", "").replace("}", "").replace("=", ": "));
    line(md, "  1.3× the fair price; off-peak: 45–65%% of the fair price, only from 19–23 h to 5–8 h; fixed: the fair price.");
    line(md, "- **Capacity**: each fleet's own customers follow a daily curve (trough 5–20%%, peak 60–90%% between 12 and 20 h, ±4%% noise per");
    line(md, "  %d-minute tick); the rest is split over the provider's use cases and re-stated on the book every tick.", s.tick().toMinutes());
    line(md, "- **Workload** (jobs per day at scale %s): ", trim(s.jobScale()));
    for (JobClass c : JobClass.DEFAULTS) {
      line(md, "  `%s` on `%s`: %,d jobs, %,d–%,d tokens, deadlines %s–%s after arrival, quality at most %d under its model%s.", c.name(), c.useCase(),
          Math.round(c.jobsPerDay() * s.jobScale()), c.minTokens(), c.maxTokens(), human(c.minLead()), human(c.maxLead()), c.qualityTolerance(),
          c.latencyTolerant() ? "" : " (not latency-tolerant: left out of the headline)");
    }
    line(md, "  80%% of jobs cap their price at the list price and so keep a backup; 20%% cap it at 60–95%% of list and, as the exchange");
    line(md, "  admits them, have none. 15%% name their model (only its maker's asks qualify).");
    line(md, "- **Faults**: the first provider of %s of jobs fails part-way (the same jobs in every pricing); Keld notices after the", pct(s.faultRate()));
    line(md, "  deadline job's stall time and bids the rest again (or escalates); the router's buyer re-runs the rest at list price.");
    line(md, "- **Batch tier**: half the list price, only for jobs whose deadline is at least 24 h away; the others pay list.");
    line(md, "- **Cost-sorting router**: the cheapest price posted for the use case at arrival (quality and model filters only), queued");
    line(md, "  behind that provider's earlier jobs; a job that cannot start before its deadline fails and is bought at list price.");
  }

  private static Map<String, Long> byGroup(MarketDay.Result r, WorldLedger ledger) {
    Map<String, Long> out = new TreeMap<>();
    for (ProviderSpec p : r.market().providers()) out.merge(group(p), ledger.revenueMicroUsd().get(p.providerId()), Long::sum);
    return out;
  }

  private static String group(ProviderSpec p) {
    return p.firstParty() ? "first-party" : p.strategy().kind();
  }

  static String pct(double share) {
    return Double.isNaN(share) ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * share);
  }

  static String usd(long microUsd) {
    return String.format(Locale.ROOT, "$%,.2f", microUsd / 1e6);
  }

  private static String money(long microUsdPerMtok) {
    return trim(microUsdPerMtok / 1e6);
  }

  private static String trim(double v) {
    String t = String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "");
    return t.endsWith(".") ? t.substring(0, t.length() - 1) : t;
  }

  private static String human(java.time.Duration d) {
    return d.toMinutes() < 120 ? d.toMinutes() + " min" : d.toHours() + " h";
  }

  private static void line(StringBuilder md, String format, Object... args) {
    md.append(String.format(Locale.ROOT, format, args)).append('\n');
  }

  /** Writes {@code report.md} and its charts into {@code dir} (created if needed) and returns the report's path. */
  public static java.nio.file.Path write(MarketDay.Result r, java.nio.file.Path dir) throws java.io.IOException {
    java.nio.file.Files.createDirectories(dir);
    List<String> charts = MarketCharts.write(r, dir);
    java.nio.file.Path report = dir.resolve("report.md");
    java.nio.file.Files.writeString(report, markdown(r, charts));
    return report;
  }
}
