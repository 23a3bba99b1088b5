package io.keld.exchange.jobs;

/**
 * Told every change of a job after it is persisted, on the entity's thread: must not block. The
 * job index uses it to keep {@code GET /ixp/v1/jobs} current without the entity waiting on a write.
 */
@FunctionalInterface
public interface JobObserver {

  /** @param version the entity's sequence number after the change; a higher one is newer */
  void changed(JobView view, long version);

  JobObserver NONE = (view, version) -> {};
}
