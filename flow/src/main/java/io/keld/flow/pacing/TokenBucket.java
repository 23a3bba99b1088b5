package io.keld.flow.pacing;

/**
 * A token-per-second limit whose rate changes at run time. A request may take more than is left
 * (the level goes below zero, by at most one burst) as long as something is left, so an item larger
 * than the burst still goes; the next waits until the debt is paid. Plain Java, time passed in as
 * nanoseconds.
 */
final class TokenBucket {

  /** A second's half of the rate may go at once. */
  private static final double BURST_SECONDS = 0.5;

  private long rate;
  private double level;
  private long refilledAt;

  TokenBucket(long tokensPerSecond, long now) {
    this.rate = tokensPerSecond;
    this.level = burst();
    this.refilledAt = now;
  }

  void rate(long tokensPerSecond, long now) {
    refill(now);
    rate = tokensPerSecond;
    level = Math.min(level, burst());
  }

  long rate() {
    return rate;
  }

  boolean tryTake(long tokens, long now) {
    if (rate == 0) return true;
    refill(now);
    if (level <= 0) return false;
    // At most a burst of debt: an item whose estimate dwarfs the rate (a huge max_tokens) must not
    // hold the endpoint for hours.
    level -= Math.min(tokens, burst());
    return true;
  }

  /** When a take can next succeed. */
  long readyAt(long now) {
    if (rate == 0) return now;
    refill(now);
    if (level > 0) return now;
    return now + (long) Math.ceil((-level + 1) * 1e9 / rate);
  }

  private double burst() {
    return Math.max(1, rate * BURST_SECONDS);
  }

  private void refill(long now) {
    if (now > refilledAt && rate > 0) level = Math.min(burst(), level + (now - refilledAt) * (double) rate / 1e9);
    refilledAt = Math.max(refilledAt, now);
  }
}
