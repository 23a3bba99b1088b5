package io.keld.flow;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;

/**
 * How Flow batches, paces and retries.
 *
 * @param batchTokens           the most estimated tokens in one micro-batch
 * @param batchItems            the most items in one micro-batch
 * @param batchLinger           how long a micro-batch waits to fill before it goes anyway
 * @param requestTimeout        the longest one request to a provider may take (a job's deadline may cut it shorter)
 * @param maxAttempts           requests per item, first try included
 * @param retryBase             the first retry's backoff; it doubles per attempt, with jitter
 * @param retryCap              the longest backoff (also caps a provider's Retry-After)
 * @param limitHold             how long the concurrency limit holds after an overload cut before it grows again
 * @param maxConnectionsPerHost the HTTP pool's connections per provider host
 */
public record FlowSettings(long batchTokens, int batchItems, Duration batchLinger, Duration requestTimeout, int maxAttempts,
    Duration retryBase, Duration retryCap, Duration limitHold, int maxConnectionsPerHost) {

  /** The defaults, as this module's reference.conf states them. */
  public static final FlowSettings DEFAULTS = fromConfig(ConfigFactory.defaultReference().getConfig("keld.flow"));

  public FlowSettings {
    if (batchTokens < 1 || batchItems < 1) throw new IllegalArgumentException("a micro-batch holds at least one token and one item");
    if (maxAttempts < 1) throw new IllegalArgumentException("max-attempts is at least 1");
    if (maxConnectionsPerHost < 1) throw new IllegalArgumentException("max-connections-per-host is at least 1");
  }

  /** Reads the {@code keld.flow} section. */
  public static FlowSettings fromConfig(Config c) {
    return new FlowSettings(c.getLong("batch-tokens"), c.getInt("batch-items"), c.getDuration("batch-linger"),
        c.getDuration("request-timeout"), c.getInt("max-attempts"), c.getDuration("retry-base"), c.getDuration("retry-cap"),
        c.getDuration("limit-hold"), c.getInt("max-connections-per-host"));
  }
}
