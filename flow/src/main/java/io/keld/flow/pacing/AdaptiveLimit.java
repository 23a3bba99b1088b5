package io.keld.flow.pacing;

/**
 * How many requests an endpoint gets at once: the provider's stated concurrency, tightened when the
 * fleet shows it has less, and recovered after.
 *
 * <p>Additive increase, multiplicative decrease, in the way TCP paces a link:
 * <ul>
 *   <li>An overload signal (429, 503, a timeout, or latency per token far above its running
 *       baseline) cuts the limit to {@value #DECREASE} of itself. Only requests sent after the last
 *       cut can cut again: a wave of 429s answering one over-full window is one signal, not fifty.
 *   <li>After a cut the limit holds for {@link #holdNanos}, then grows by one per window of
 *       answered requests (1/limit per answer), and only while the endpoint is busy enough to prove
 *       the larger limit (at least half of it in flight).
 *   <li>The stated concurrency is the ceiling. When the provider states more, the limit takes it at
 *       once: the provider is telling us, not asking us to probe.
 * </ul>
 * Netflix's concurrency-limits {@code AIMDLimit} was considered: it adds one per answered request,
 * which re-probes an over-full small fleet every few requests (a 429 every few answers), and it cuts
 * once per 429 of a wave. This keeps its rule with a per-window increase, one cut per window and a
 * hold after a cut. Plain Java, time passed in.
 */
public final class AdaptiveLimit {

  /** The ceiling while a provider has stated no concurrency. */
  public static final int UNSTATED_CEILING = 256;
  /** Where the limit starts while a provider has stated no concurrency. */
  public static final int UNSTATED_START = 8;
  static final double DECREASE = 0.7;
  /** A request this many times slower per token than the baseline counts as an overload signal. */
  static final double LATENCY_FACTOR = 4.0;
  static final int BASELINE_SAMPLES = 20;

  private final long holdNanos;
  private double limit;
  private int ceiling;
  private boolean stated;
  private long lastDecreaseAt = Long.MIN_VALUE;
  private long holdUntil = Long.MIN_VALUE;
  private double nanosPerToken;
  private long samples;
  private long decreases;

  public AdaptiveLimit(int statedConcurrency, long holdNanos) {
    this.holdNanos = holdNanos;
    this.stated = statedConcurrency > 0;
    this.ceiling = stated ? statedConcurrency : UNSTATED_CEILING;
    this.limit = stated ? statedConcurrency : UNSTATED_START;
  }

  public int limit() {
    return Math.max(1, (int) Math.floor(limit));
  }

  /** How many times the limit has been cut. */
  public long decreases() {
    return decreases;
  }

  /** The provider stated a new concurrency (0: it no longer states one). */
  public void stated(int concurrency) {
    if (concurrency <= 0) {
      stated = false;
      ceiling = UNSTATED_CEILING;
      return;
    }
    if (concurrency > ceiling || !stated) limit = concurrency;
    stated = true;
    ceiling = concurrency;
    limit = Math.min(limit, ceiling);
  }

  /**
   * A request answered.
   *
   * @param sentAt      when it was sent
   * @param now         when its answer was read
   * @param tokens      its estimated tokens, to compare latency across request sizes
   * @param inFlightThen requests in flight when it was sent, itself included
   */
  public void answered(long sentAt, long now, long tokens, int inFlightThen) {
    double perToken = (double) (now - sentAt) / Math.max(1, tokens);
    if (samples >= BASELINE_SAMPLES && perToken > LATENCY_FACTOR * nanosPerToken) {
      overloaded(sentAt, now);
      return;
    }
    nanosPerToken = samples == 0 ? perToken : nanosPerToken * 0.95 + perToken * 0.05;
    samples++;
    if (now >= holdUntil && inFlightThen * 2 >= limit()) limit = Math.min(ceiling, limit + 1.0 / limit);
  }

  /** The fleet signalled overload (429, 503, a timeout) for a request sent at {@code sentAt}. */
  public void overloaded(long sentAt, long now) {
    if (sentAt < lastDecreaseAt) return;
    limit = Math.max(1, Math.floor(limit * DECREASE));
    lastDecreaseAt = now;
    holdUntil = now + holdNanos;
    decreases++;
  }
}
