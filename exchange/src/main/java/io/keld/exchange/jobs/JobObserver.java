package io.keld.exchange.jobs;

/**
 * Told every change of a job after it is persisted, on the entity's thread: must not block. No read
 * side hangs on it (the job index and usage rows are a projection of the journal,
 * {@code projection/JobProjection}, so nothing is lost when a node dies right after a write); the
 * node passes {@link #NONE}, and the entity's tests use it to make the entity fail mid-step.
 */
@FunctionalInterface
public interface JobObserver {

  /** @param version the entity's sequence number after the change; a higher one is newer */
  void changed(JobView view, long version);

  JobObserver NONE = (view, version) -> {};
}
