package io.keld.sim;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * What a simulated fleet can do, changeable at run time (admin endpoint).
 *
 * @param slots               requests served at once; one more is answered 429
 * @param tokensPerSecond     output tokens per second of one slot
 * @param timeToFirstTokenMs  before the first output token
 * @param errorRate           share of requests answered 500 (0..1)
 * @param stallRate           share of requests that hang for {@code stallMs} before answering
 * @param stallMs             how long a stall lasts
 * @param dropRate            share of requests whose connection is dropped without an answer
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FleetSettings(int slots, long tokensPerSecond, long timeToFirstTokenMs, double errorRate, double stallRate,
    long stallMs, double dropRate) {

  public FleetSettings {
    if (slots < 0) throw new IllegalArgumentException("slots must not be negative");
    if (tokensPerSecond <= 0) throw new IllegalArgumentException("tokens_per_second must be positive");
    if (timeToFirstTokenMs < 0) throw new IllegalArgumentException("time_to_first_token_ms must not be negative");
    for (double rate : new double[] {errorRate, stallRate, dropRate}) {
      if (rate < 0 || rate > 1) throw new IllegalArgumentException("rates are between 0 and 1");
    }
    if (stallMs < 0) throw new IllegalArgumentException("stall_ms must not be negative");
  }

  /** A healthy fleet: no faults. */
  public static FleetSettings healthy(int slots, long tokensPerSecond, long timeToFirstTokenMs) {
    return new FleetSettings(slots, tokensPerSecond, timeToFirstTokenMs, 0, 0, 0, 0);
  }

  /** How long a slot is busy producing {@code outputTokens}. */
  public long serviceMillis(long outputTokens) {
    return timeToFirstTokenMs + (outputTokens * 1000 + tokensPerSecond - 1) / tokensPerSecond;
  }
}
