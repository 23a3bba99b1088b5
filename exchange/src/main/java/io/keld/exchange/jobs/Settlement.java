package io.keld.exchange.jobs;

import io.keld.atlas.budget.Outcome;
import io.keld.atlas.budget.TeamBudgets;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settlement, once a job has ended: every fill released in the book, the usage records written,
 * and the budget settled to the actual cost (or released, if the job never reserved). Each part is
 * idempotent, so a settlement cut short is simply run again; {@code Settled} is recorded last, by
 * {@link DeadlineJob}, when the stage this returns has completed.
 */
final class Settlement {

  // The entity's logger: a job's story reads in one place.
  private static final Logger log = LoggerFactory.getLogger(DeadlineJob.class);

  /** What the job is charged: each leg's tokens at that leg's price, recorded as {@code Settled}. */
  record Charge(long costMicroUsd, long tokens) {
    static Charge of(JobState s) {
      return new Charge(s.costMicroUsd(), s.tokens());
    }
  }

  private final String jobId;
  private final JobBookSteps book;
  private final JobPorts.Usage usage;
  private final JobPorts.Budgets budgets;

  Settlement(String jobId, JobBookSteps book, JobPorts.Usage usage, JobPorts.Budgets budgets) {
    this.jobId = jobId;
    this.book = book;
    this.usage = usage;
    this.budgets = budgets;
  }

  /** Runs the settlement for {@code charge}; what it needs of the state is read now, before anything is sent. */
  CompletionStage<TeamBudgets.Reply> run(JobState s, Charge charge) {
    JobSpec spec = s.spec();
    List<JobUsageStore.UsageRecord> records = JobUsageStore.recordsOf(s);
    boolean reserved = s.reserved();
    return book.releaseEveryFill(s)
        .thenCompose(x -> usage.write(records))
        .thenCompose(x -> reserved ? budgets.settle(spec.teamId(), jobId, charge.costMicroUsd(), charge.tokens())
            : budgets.release(spec.teamId(), jobId))
        .thenApply(reply -> {
          if (reply instanceof TeamBudgets.Rejected r && (reserved || r.reason() != Outcome.Reason.NOT_FOUND)) {
            // Not retried: the budget holds another settlement of this job, which only a bug can cause.
            log.error("Job {}: the budget refused its settlement of {} micro-USD: {}", jobId, charge.costMicroUsd(), r.detail());
          }
          return reply;
        });
  }
}
