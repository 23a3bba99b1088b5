package io.keld.sim.market;

import io.keld.sim.strategy.LoadCurve;
import io.keld.sim.strategy.PricingStrategy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Draws the day's providers and workload from the seed. Separate random streams for each, so adding a
 * provider does not change the jobs.
 */
public final class MarketSetup {

  /** The use cases the workload runs on; every provider serves some of them. */
  static final List<String> USE_CASES = List.of("chat", "classify", "extract", "summarize");

  /** The reference models jobs are priced against, with how often buyers use each (those present in the price book). */
  static final Map<String, Integer> REFERENCE_WEIGHTS = Map.of(
      "gpt-5-mini", 25, "gpt-4o-mini", 20, "gpt-4.1-mini", 15, "claude-haiku-4-5", 15, "claude-sonnet-4-5", 15, "gpt-5", 10);

  /**
   * Open-weight model families hosted by independent providers: quality range, a fair blended price
   * range (micro-USD per Mtok) and a fleet size range (tokens/s). Assumptions, printed in the report.
   */
  record OpenFamily(String model, int minQuality, int maxQuality, long minPrice, long maxPrice, long minTps, long maxTps) {}

  static final List<OpenFamily> OPEN_FAMILIES = List.of(
      new OpenFamily("open-8b", 64, 70, 40_000, 110_000, 60_000, 200_000),
      new OpenFamily("open-32b", 75, 80, 120_000, 320_000, 20_000, 80_000),
      new OpenFamily("open-70b", 80, 86, 300_000, 850_000, 10_000, 40_000),
      new OpenFamily("open-moe", 85, 90, 500_000, 1_400_000, 8_000, 30_000));

  public record Market(List<ListedModel> references, List<ProviderSpec> providers, List<SimJob> jobs) {}

  private MarketSetup() {}

  public static Market draw(MarketSettings settings, List<ListedModel> priceBook) {
    List<ListedModel> references = priceBook.stream().filter(m -> REFERENCE_WEIGHTS.containsKey(m.model()))
        .sorted(Comparator.comparing(ListedModel::model)).toList();
    if (references.isEmpty()) throw new IllegalArgumentException("the price book names none of the reference models " + REFERENCE_WEIGHTS.keySet());
    SplittableRandom root = new SplittableRandom(settings.seed());
    SplittableRandom providerRandom = root.split();
    SplittableRandom jobRandom = root.split();
    int ticks = (int) (MarketSettings.HORIZON_HOURS * 3600L / settings.tick().toSeconds() + 1);
    List<ProviderSpec> providers = providers(settings.providers(), references, providerRandom, ticks);
    List<SimJob> jobs = jobs(settings, references, jobRandom);
    return new Market(references, providers, jobs);
  }

  /**
   * The makers of the reference models post their spare capacity priced by utilisation, from half
   * their list price (idle; the batch tier's price) to the list price (busy); open-weight hosts make
   * up the rest, with a mix of the four strategies.
   */
  static List<ProviderSpec> providers(int count, List<ListedModel> references, SplittableRandom r, int ticks) {
    List<ProviderSpec> out = new ArrayList<>();
    for (ListedModel m : references) {
      long list = m.blendedPerMtok(0.25);
      long capacity = 100_000 + r.nextLong(200_000);
      out.add(new ProviderSpec("prv_" + m.provider() + "_" + m.model().replace('.', '_'), m.model(), m.quality(), USE_CASES, capacity,
          curve(r), new PricingStrategy.UtilisationPrice(list / 2, list, 0.02), true, noise(r, ticks)));
    }
    String[] kinds = {"utilisation", "undercutter", "off-peak", "fixed", "utilisation", "undercutter", "off-peak"};
    for (int i = out.size(), n = 1; i < count; i++, n++) {
      OpenFamily f = OPEN_FAMILIES.get(r.nextInt(OPEN_FAMILIES.size()));
      int quality = f.minQuality() + r.nextInt(f.maxQuality() - f.minQuality() + 1);
      long fair = f.minPrice() + r.nextLong(f.maxPrice() - f.minPrice() + 1);
      long capacity = f.minTps() + r.nextLong(f.maxTps() - f.minTps() + 1);
      String kind = kinds[r.nextInt(kinds.length)];
      PricingStrategy strategy = switch (kind) {
        case "utilisation" -> new PricingStrategy.UtilisationPrice(fair * 6 / 10, fair * 14 / 10, 0.03);
        case "undercutter" -> new PricingStrategy.Undercutter(fair * 6 / 10, fair * 13 / 10, 100 + r.nextInt(400));
        case "off-peak" -> {
          int from = 19 + r.nextInt(5);
          yield new PricingStrategy.OffPeak(fair * (45 + r.nextInt(20)) / 100, from % 24, 5 + r.nextInt(4));
        }
        default -> new PricingStrategy.FixedPrice(fair);
      };
      List<String> useCases = new ArrayList<>(USE_CASES);
      int serve = 1 + r.nextInt(3);
      while (useCases.size() > serve) useCases.remove(r.nextInt(useCases.size()));
      out.add(new ProviderSpec(String.format("prv_%s_%02d", f.model().replace("-", ""), n), f.model(), quality, List.copyOf(useCases),
          capacity, curve(r), strategy, false, noise(r, ticks)));
    }
    return List.copyOf(out);
  }

  private static LoadCurve curve(SplittableRandom r) {
    double trough = 0.05 + r.nextDouble() * 0.15;
    double peak = 0.6 + r.nextDouble() * 0.3;
    return new LoadCurve(trough, peak, 12 + r.nextDouble() * 8);
  }

  private static double[] noise(SplittableRandom r, int ticks) {
    double[] n = new double[ticks];
    for (int i = 0; i < ticks; i++) n[i] = (r.nextDouble() - 0.5) * 0.08;
    return n;
  }

  static List<SimJob> jobs(MarketSettings settings, List<ListedModel> references, SplittableRandom r) {
    int totalWeight = references.stream().mapToInt(m -> REFERENCE_WEIGHTS.get(m.model())).sum();
    long day = settings.dayStart().toEpochMilli();
    List<SimJob> jobs = new ArrayList<>();
    int seq = 0;
    for (JobClass c : JobClass.DEFAULTS) {
      int count = (int) Math.round(c.jobsPerDay() * settings.jobScale());
      double weightSum = 0;
      for (double w : c.hourlyWeights()) weightSum += w;
      for (int i = 0; i < count; i++) {
        ListedModel ref = pick(references, r.nextInt(totalWeight));
        long list = ref.blendedPerMtok(c.outputShare());
        // Most buyers cap at the list price, and so keep a backup at list; some cap lower and go without one.
        long ceiling = r.nextDouble() < 0.8 ? list : Math.max(1, Math.round(list * (0.6 + r.nextDouble() * 0.35)));
        Set<String> models = r.nextDouble() < 0.15 ? Set.of(ref.model()) : Set.of();
        long tokens = logUniform(r, c.minTokens(), c.maxTokens());
        long arrival = day + arrivalOffset(r, c.hourlyWeights(), weightSum);
        long lead = logUniform(r, c.minLead().toMillis(), c.maxLead().toMillis());
        double faultDraw = r.nextDouble();
        double faultPoint = 0.05 + r.nextDouble() * 0.9;
        jobs.add(new SimJob(String.format("job_%05d", ++seq), c, ref, list, ceiling, ref.quality() - c.qualityTolerance(), models, tokens,
            arrival, arrival + lead, faultDraw, faultPoint));
      }
    }
    jobs.sort(Comparator.comparingLong(SimJob::arrivalMillis).thenComparing(SimJob::jobId));
    return List.copyOf(jobs);
  }

  private static ListedModel pick(List<ListedModel> references, int draw) {
    for (ListedModel m : references) {
      draw -= REFERENCE_WEIGHTS.get(m.model());
      if (draw < 0) return m;
    }
    return references.get(references.size() - 1);
  }

  private static long arrivalOffset(SplittableRandom r, double[] weights, double sum) {
    double x = r.nextDouble() * sum;
    int hour = 0;
    while (hour < 23 && x >= weights[hour]) x -= weights[hour++];
    return hour * 3_600_000L + r.nextLong(3_600_000L);
  }

  static long logUniform(SplittableRandom r, long min, long max) {
    if (max <= min) return min;
    double v = Math.exp(Math.log(min) + r.nextDouble() * (Math.log(max) - Math.log(min)));
    return Math.max(min, Math.min(max, Math.round(v)));
  }

  /** Every distinct use case of the providers, sorted. */
  static Set<String> useCases(List<ProviderSpec> providers) {
    Set<String> all = new HashSet<>();
    for (ProviderSpec p : providers) all.addAll(p.useCases());
    return all;
  }
}
