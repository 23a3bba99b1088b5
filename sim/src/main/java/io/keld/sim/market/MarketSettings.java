package io.keld.sim.market;

import java.time.Duration;
import java.time.Instant;

/**
 * What a simulated day is run with. Everything random is drawn from {@code seed}: the same settings
 * give the same day, to the token and the micro-dollar.
 *
 * @param providers   providers on the market, 20 to 100 (a few of them the makers of the list-priced models)
 * @param jobScale    multiplies every class's jobs per day (1 = the default workload)
 * @param faultRate   share of jobs whose first provider fails part-way through their work
 * @param backupTps   what a job's backup (the reference model's own API, at list price) sustains for one job
 * @param tick        how often providers look at their fleets and the book and re-price
 */
public record MarketSettings(long seed, int providers, double jobScale, double faultRate, long backupTps, Duration tick, Instant dayStart) {

  public static final Instant DEFAULT_DAY = Instant.parse("2026-01-05T00:00:00Z");
  /** The run goes on past the day until the last job's deadline: deadlines reach up to 36 h past an arrival. */
  public static final int HORIZON_HOURS = 72;

  public MarketSettings {
    if (providers < 20 || providers > 100) throw new IllegalArgumentException("providers is 20 to 100");
    if (jobScale <= 0 || jobScale > 20) throw new IllegalArgumentException("jobScale is above 0 and at most 20");
    if (faultRate < 0 || faultRate > 0.5) throw new IllegalArgumentException("faultRate is 0 to 0.5");
    if (backupTps < 1) throw new IllegalArgumentException("backupTps must be positive");
    if (tick.toSeconds() < 60) throw new IllegalArgumentException("tick is at least a minute of simulated time");
  }

  public static MarketSettings of(long seed, int providers) {
    return new MarketSettings(seed, providers, 1.0, 0.01, 20_000, Duration.ofMinutes(15), DEFAULT_DAY);
  }

  public MarketSettings withJobScale(double scale) {
    return new MarketSettings(seed, providers, scale, faultRate, backupTps, tick, dayStart);
  }

  public MarketSettings withFaultRate(double rate) {
    return new MarketSettings(seed, providers, jobScale, rate, backupTps, tick, dayStart);
  }
}
