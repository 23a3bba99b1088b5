package io.keld.flow.pacing;

/**
 * A fleet's live limits, as its provider states them.
 *
 * @param maxConcurrency  requests the endpoint serves at once; 0 when the provider has not said
 * @param tokensPerSecond tokens (input and output) the endpoint takes per second; 0 for no stated limit
 */
public record Capacity(int maxConcurrency, long tokensPerSecond) {

  public static final Capacity UNKNOWN = new Capacity(0, 0);

  public Capacity {
    if (maxConcurrency < 0) throw new IllegalArgumentException("max_concurrency must not be negative");
    if (tokensPerSecond < 0) throw new IllegalArgumentException("tokens_per_second must not be negative");
  }
}
