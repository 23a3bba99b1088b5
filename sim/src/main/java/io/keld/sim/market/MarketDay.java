package io.keld.sim.market;

import io.keld.ixp.Money;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code keld market simulate}: one day of trade, drawn from a seed, bought four ways by the same
 * buyers from the same providers: at the list price (the rate card), at the providers' 50% batch tier
 * where a 24 h window fits the deadline, through a cost-sorting router, and on Keld (the real book
 * core and the deadline job's escalation rule, in simulated time).
 */
public final class MarketDay {

  /** The batch tiers of the big providers are half the list price (OpenAI Batch and Flex, Anthropic, Gemini). */
  public static final double BATCH_DISCOUNT = 0.5;
  /** A batch tier promises its results within 24 hours; only a job whose deadline is that far off can use it. */
  public static final long BATCH_WINDOW_MILLIS = 24 * 3_600_000L;

  /** Everything the day produced; the report and the charts are drawn from it alone. */
  public record Result(MarketSettings settings, MarketSetup.Market market, List<JobOutcome> list, List<JobOutcome> batch,
      List<JobOutcome> router, List<JobOutcome> keld, WorldLedger routerLedger, WorldLedger keldLedger, Map<String, long[]> bestAskByTick,
      double[] backgroundTokensByHour, double[] capacityTokensByHour) {}

  private MarketDay() {}

  public static Result run(MarketSettings settings, List<ListedModel> priceBook, JobRules rules) {
    MarketSetup.Market market = MarketSetup.draw(settings, priceBook);
    List<JobOutcome> list = new ArrayList<>();
    List<JobOutcome> batch = new ArrayList<>();
    for (SimJob job : market.jobs()) {
      long listFinish = job.arrivalMillis() + (job.tokens() * 1000 + settings.backupTps() - 1) / settings.backupTps();
      JobOutcome atList = new JobOutcome(job, Money.costMicroUsd(job.tokens(), job.listPerMtok()), listFinish,
          listFinish <= job.deadlineMillis(), 0, job.tokens(), false, false, 0);
      list.add(atList);
      batch.add(batchFits(job) ? new JobOutcome(job, Money.costMicroUsd(job.tokens(), batchPrice(job)), job.arrivalMillis() + BATCH_WINDOW_MILLIS,
          true, job.tokens(), 0, false, false, batchPrice(job)) : atList);
    }
    RouterWorld routerWorld = new RouterWorld(settings, rules, market);
    List<JobOutcome> router = routerWorld.run();
    KeldWorld keldWorld = new KeldWorld(settings, rules, market);
    List<JobOutcome> keld = keldWorld.run();

    double[] background = new double[WorldLedger.HOURS];
    double[] capacity = new double[WorldLedger.HOURS];
    long tickMs = settings.tick().toMillis();
    long dayStart = settings.dayStart().toEpochMilli();
    for (int tick = 0; tick * tickMs < WorldLedger.HOURS * 3_600_000L; tick++) {
      long at = dayStart + tick * tickMs;
      int hour = WorldLedger.hour(at, dayStart);
      double hourOfDay = ((at - dayStart) % 86_400_000L) / 3_600_000.0;
      for (ProviderSpec p : market.providers()) {
        background[hour] += p.capacityTps() * p.background(hourOfDay, tick) * tickMs / 1000.0;
        capacity[hour] += p.capacityTps() * tickMs / 1000.0;
      }
    }
    return new Result(settings, market, list, batch, router, keld, routerWorld.ledger(), keldWorld.ledger(), keldWorld.bestAskByTick(),
        background, capacity);
  }

  public static boolean batchFits(SimJob job) {
    return job.leadMillis() >= BATCH_WINDOW_MILLIS;
  }

  public static long batchPrice(SimJob job) {
    return Math.round(job.listPerMtok() * BATCH_DISCOUNT);
  }

  /**
   * What a pricing cost the buyer for a job, tokens it did not serve bought at list price (a job
   * Keld or the router could not serve still has to be done somewhere).
   */
  public static long effectiveCost(JobOutcome o) {
    long unserved = o.job().tokens() - o.marketTokens() - o.listTokens();
    return o.costMicroUsd() + (unserved > 0 ? Money.costMicroUsd(unserved, o.job().listPerMtok()) : 0);
  }

  /** One pricing's totals over some jobs. */
  public record Totals(int jobs, long tokens, long costMicroUsd, int onTime, int escalated, int rerouted, long listTokens) {
    public double hitRate() {
      return jobs == 0 ? Double.NaN : (double) onTime / jobs;
    }
  }

  public static Totals totals(List<JobOutcome> outcomes, java.util.function.Predicate<SimJob> which) {
    int jobs = 0;
    int onTime = 0;
    int escalated = 0;
    int rerouted = 0;
    long tokens = 0;
    long cost = 0;
    long listTokens = 0;
    for (JobOutcome o : outcomes) {
      if (!which.test(o.job())) continue;
      jobs++;
      tokens += o.job().tokens();
      cost += effectiveCost(o);
      if (o.onTime()) onTime++;
      if (o.escalated()) escalated++;
      if (o.rerouted()) rerouted++;
      listTokens += o.listTokens();
    }
    return new Totals(jobs, tokens, cost, onTime, escalated, rerouted, listTokens);
  }

  /** Revenue of market work by the providers' strategy ({@code first-party} for the list-priced models' makers). */
  public static Map<String, Long> revenueByStrategy(MarketSetup.Market market, WorldLedger ledger) {
    Map<String, Long> out = new TreeMap<>();
    for (ProviderSpec p : market.providers()) {
      String kind = p.firstParty() ? "first-party (" + p.strategy().kind() + ")" : p.strategy().kind();
      out.merge(kind, ledger.revenueMicroUsd().get(p.providerId()), Long::sum);
    }
    return out;
  }

  /** Per provider strategy, capacity-weighted utilisation over the day's 24 hours: its own customers alone, and with the market's work. */
  public static Map<String, double[]> utilisationByStrategy(Result r, WorldLedger ledger) {
    Map<String, double[]> sums = new LinkedHashMap<>(); // strategy -> background tokens, sold tokens, capacity tokens
    long tickMs = r.settings().tick().toMillis();
    long dayStart = r.settings().dayStart().toEpochMilli();
    for (ProviderSpec p : r.market().providers()) {
      String kind = p.firstParty() ? "first-party" : p.strategy().kind();
      double[] s = sums.computeIfAbsent(kind, k -> new double[3]);
      for (int tick = 0; tick * tickMs < 86_400_000L; tick++) {
        s[0] += p.capacityTps() * p.background(((tick * tickMs) % 86_400_000L) / 3_600_000.0, tick) * tickMs / 1000.0;
      }
      long[] sold = ledger.soldTokensByHour().get(p.providerId());
      for (int h = 0; h < 24; h++) s[1] += sold[h];
      s[2] += p.capacityTps() * 86_400.0;
    }
    Map<String, double[]> out = new TreeMap<>();
    double[] all = new double[3];
    sums.forEach((k, s) -> {
      out.put(k, new double[] {s[0] / s[2], (s[0] + s[1]) / s[2]});
      for (int i = 0; i < 3; i++) all[i] += s[i];
    });
    out.put("all providers", new double[] {all[0] / all[2], (all[0] + all[1]) / all[2]});
    return out;
  }

  /** Fleet-wide utilisation by hour of the run: own customers alone, then with the market's work. */
  public static double[][] utilisationByHour(Result r, WorldLedger ledger) {
    double[][] out = new double[2][WorldLedger.HOURS];
    for (int h = 0; h < WorldLedger.HOURS; h++) {
      long sold = 0;
      for (long[] byHour : ledger.soldTokensByHour().values()) sold += byHour[h];
      out[0][h] = r.backgroundTokensByHour()[h] / r.capacityTokensByHour()[h];
      out[1][h] = (r.backgroundTokensByHour()[h] + sold) / r.capacityTokensByHour()[h];
    }
    return out;
  }
}
