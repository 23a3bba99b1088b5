package io.keld.sim.agent;

import java.time.Clock;

/**
 * The hour of the market's day for live agents: real time, sped up {@code speed} times from
 * {@code startHour}, so a demo walks through a day's peak and its off-peak trough in minutes
 * (speed 360: a day in four minutes).
 */
public final class MarketClock {

  private final Clock clock;
  private final long startMillis;
  private final double startHour;
  private final double speed;

  public MarketClock(Clock clock, double startHour, double speed) {
    if (startHour < 0 || startHour >= 24) throw new IllegalArgumentException("startHour is in [0, 24)");
    if (speed <= 0) throw new IllegalArgumentException("speed must be positive");
    this.clock = clock;
    this.startMillis = clock.millis();
    this.startHour = startHour;
    this.speed = speed;
  }

  /** The market's hour now, in [0, 24). */
  public double hourOfDay() {
    double hours = startHour + (clock.millis() - startMillis) * speed / 3_600_000.0;
    double h = hours % 24;
    return h >= 24 ? 0 : h;
  }
}
