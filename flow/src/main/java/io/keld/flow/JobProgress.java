package io.keld.flow;

/**
 * What Flow tells a job as its items move: counts and usage only, never content. Called from
 * stream threads; implementations hand it on (to an actor, a counter) and return at once.
 */
public interface JobProgress {

  JobProgress IGNORE = new JobProgress() {};

  /** An item has its response. */
  default void itemAnswered(String customId, Usage usage, String endpointId) {}

  /** An item ended without a response. */
  default void itemFailed(String customId, ItemError error, String endpointId) {}

  /** One request failed; the item may still be retried. A stream of these is how a job sees a provider fail. */
  default void attemptFailed(String endpointId, ItemError error) {}
}
