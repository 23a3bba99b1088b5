package io.keld.exchange.jobs;

import io.keld.atlas.budget.Outcome;
import io.keld.atlas.budget.TeamBudgets;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settlement, once a job has ended: every fill released in the book, and the budget settled to the
 * actual cost (or released, if the job never reserved). Each part is idempotent, so a settlement cut
 * short is simply run again; {@code Settled} is recorded last, by {@link DeadlineJob}, when the stage
 * this returns has completed. The job's usage records (and their spend-ledger entries) are not
 * written here: they are a projection of the journal, written from {@code Settled}
 * ({@code exchange/.../projection/JobProjection}), so a node that dies after it cannot lose them.
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
  private final JobPorts.Budgets budgets;

  Settlement(String jobId, JobBookSteps book, JobPorts.Budgets budgets) {
    this.jobId = jobId;
    this.book = book;
    this.budgets = budgets;
  }

  /** Runs the settlement for {@code charge}; what it needs of the state is read now, before anything is sent. */
  CompletionStage<TeamBudgets.Reply> run(JobState s, Charge charge) {
    JobSpec spec = s.spec();
    boolean reserved = s.reserved();
    return book.releaseEveryFill(s)
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
