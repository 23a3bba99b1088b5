package io.keld.sim.market;

import io.keld.sim.strategy.LoadCurve;
import io.keld.sim.strategy.PricingStrategy;
import java.util.List;

/**
 * One provider of the simulated day: a model it serves on some use cases, its fleet, how busy its own
 * customers keep that fleet, and how it prices what is left.
 *
 * @param capacityTps   the whole fleet's throughput, tokens per second
 * @param firstParty    the model's own maker (its list price is the rate card), else a host of an open-weight model
 * @param noise         per tick of the day, a small deviation of its own load from the curve (seeded)
 */
public record ProviderSpec(String providerId, String model, int quality, List<String> useCases, long capacityTps, LoadCurve load,
    PricingStrategy strategy, boolean firstParty, double[] noise) {

  /** The share of the fleet its own customers use at {@code hour}, on tick {@code tick} of the run. */
  public double background(double hour, int tick) {
    double b = load.at(hour) + noise[Math.floorMod(tick, noise.length)];
    return Math.max(0, Math.min(0.98, b));
  }
}
