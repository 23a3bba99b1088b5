package io.keld.exchange.jobs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Job metrics: live jobs by state on this node ({@code keld_jobs_live}), transitions into each state
 * ({@code keld_jobs_transitions_total}), escalations and re-routes by reason, deadline misses and the
 * time from submission to match. Only live transitions count, never a replay.
 */
public final class JobMetrics {

  // The entity's logger: a job's story reads in one place.
  private static final Logger log = LoggerFactory.getLogger(DeadlineJob.class);

  private final MeterRegistry registry;
  private final Map<String, JobPhase> live = new ConcurrentHashMap<>();
  private final Counter deadlineMisses;
  private final Timer timeToMatch;

  public JobMetrics(MeterRegistry registry) {
    this.registry = registry;
    for (JobPhase phase : JobPhase.values()) {
      if (phase.terminal()) continue;
      Gauge.builder("keld.jobs.live", live, m -> m.values().stream().filter(p -> p == phase).count())
          .description("Jobs whose entity runs on this node, by state").tag("state", phase.wire()).register(registry);
    }
    deadlineMisses = Counter.builder("keld.jobs.deadline.misses").description("Jobs that ended unfinished at their deadline")
        .register(registry);
    timeToMatch = Timer.builder("keld.jobs.time.to.match").description("From submission to the book's fill")
        .publishPercentiles(0.5, 0.99).register(registry);
  }

  /** After a write of {@code events} that took job {@code s} from phase {@code from} (null: no job before): counted, and moves logged. */
  void recorded(String jobId, JobPhase from, JobState s, List<JobEvent> events) {
    for (JobEvent e : events) {
      if (e instanceof JobEvent.Matched m) matched(Duration.ofMillis(Math.max(0, m.atMillis() - s.spec().submittedAtMillis())));
      if (e instanceof JobEvent.Escalated x) {
        moved("escalation", x.reason());
        log.info("Job {} escalated to backup {} ({})", jobId, x.leg().providerId(), x.reason());
      }
      if (e instanceof JobEvent.Rerouted x) moved("reroute", x.reason());
      if (e instanceof JobEvent.DeadlineMissed) log.warn("Job {} missed its deadline ({} of its items answered)", jobId, s.itemsAnswered());
    }
    if (from != s.phase()) transition(s.phase());
    live(jobId, s.phase());
  }

  void live(String jobId, JobPhase phase) {
    if (phase == null || phase.terminal()) live.remove(jobId);
    else live.put(jobId, phase);
  }

  void stopped(String jobId) {
    live.remove(jobId);
  }

  void transition(JobPhase to) {
    Counter.builder("keld.jobs.transitions").description("Jobs entering each state").tag("state", to.wire()).register(registry)
        .increment();
    if (to == JobPhase.DEADLINE_MISSED) deadlineMisses.increment();
  }

  void moved(String kind, String reason) {
    Counter.builder("keld.jobs.moves").description("Work moved off a provider: escalations to the backup and re-routes to another ask")
        .tag("kind", kind).tag("reason", reason).register(registry).increment();
  }

  void matched(Duration afterSubmission) {
    timeToMatch.record(afterSubmission);
  }
}
