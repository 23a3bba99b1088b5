package io.keld.sim.strategy;

/**
 * The share of a provider's fleet its own direct customers keep busy through the day: a smooth curve
 * from {@code trough} in the quiet hours to {@code peak} at {@code peakHour}. What is left is the
 * spare capacity the provider can sell on Keld; the idle troughs are the point of the market.
 * (For scale: average GPU utilisation in production clusters is about 5% (Cast AI, 2026); the
 * curves here are busier than that, so the capacity they leave is a conservative estimate.)
 */
public record LoadCurve(double trough, double peak, double peakHour) {

  public LoadCurve {
    if (trough < 0 || peak > 1 || trough > peak) throw new IllegalArgumentException("0 <= trough <= peak <= 1");
    if (peakHour < 0 || peakHour >= 24) throw new IllegalArgumentException("peakHour is in [0, 24)");
  }

  /** The busy share at {@code hourOfDay}: a raised cosine around the peak, narrowed so nights are quiet. */
  public double at(double hourOfDay) {
    double phase = 2 * Math.PI * (hourOfDay - peakHour) / 24.0;
    double shape = Math.pow((1 + Math.cos(phase)) / 2, 2);
    return trough + (peak - trough) * shape;
  }
}
