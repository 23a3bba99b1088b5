package io.keld.flow.client;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.flow.ItemError;
import io.keld.flow.Usage;
import java.time.Duration;

/** What one request to a provider came to. */
public sealed interface Attempt {

  /** How long the request took, from sending to the whole answer read. */
  Duration latency();

  /** A 2xx answer with a JSON body. */
  record Answered(JsonNode body, Usage usage, Duration latency) implements Attempt {
    @Override
    public String toString() {
      return "Answered[usage=" + usage + ", latency=" + latency + ", body=<redacted>]";
    }
  }

  /**
   * No answer to hand back.
   *
   * @param retryAfter the provider's {@code Retry-After}, or null
   */
  record Failed(Failure kind, ItemError error, Duration retryAfter, Duration latency) implements Attempt {}

  /** Why a request failed, and what that means for pacing and retries. */
  enum Failure {
    /** 429: the fleet is over its capacity. */
    RATE_LIMITED(true, true),
    /** 503 or 529: the fleet is overloaded. */
    OVERLOADED(true, true),
    /** Another 5xx, or a 2xx that is not JSON. */
    SERVER_ERROR(true, false),
    /** No answer within the time allowed. */
    TIMEOUT(true, true),
    /** The connection failed or was dropped mid-answer. */
    CONNECTION(true, false),
    /** A 4xx other than 429: the request itself is refused; sending it again cannot help. */
    REJECTED(false, false);

    private final boolean retryable;
    private final boolean overload;

    Failure(boolean retryable, boolean overload) {
      this.retryable = retryable;
      this.overload = overload;
    }

    public boolean retryable() {
      return retryable;
    }

    /** The fleet signals it has too much work: the pacing limit is tightened. */
    public boolean overload() {
      return overload;
    }
  }
}
