package io.keld.exchange.jobs;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;

/**
 * How deadline jobs behave ({@code keld.jobs} in the configuration).
 *
 * @param tick              how often a running job checks its projected finish
 * @param stallAfter        items waiting this long with no answer on the current provider: the provider has stalled
 * @param failuresToReroute this many failed requests in a row on the current provider re-route the remaining work
 * @param projectionWarmup  a provider's observed rate is trusted only after it has had this long
 * @param deadlineMargin    work projected to finish later than the deadline less this moves
 * @param backupMargin      added to the backup's own time for the job's tokens to set the escalation point
 * @param minLead           the least time between submission and deadline a job may ask for
 * @param maxLead           the most (a deadline further out is refused as absurd)
 * @param reportInterval    how often a node's data plane tells a job its progress
 * @param retryDelay        how long a job waits before retrying a call that failed (budget, book)
 * @param operatorBackup    the operator's default backup fleet, if one is configured
 */
public record JobSettings(
    Duration tick,
    Duration stallAfter,
    int failuresToReroute,
    Duration projectionWarmup,
    Duration deadlineMargin,
    Duration backupMargin,
    Duration minLead,
    Duration maxLead,
    Duration reportInterval,
    Duration retryDelay,
    Optional<Backup> operatorBackup) {

  /** Reads the {@code keld.jobs} section. */
  public static JobSettings fromConfig(Config c) {
    Config b = c.getConfig("operator-backup");
    Optional<Backup> backup = b.getString("provider-id").isBlank() ? Optional.empty()
        : Optional.of(new Backup(b.getString("provider-id"), b.getString("model"), b.getLong("price-per-mtok"),
            b.getLong("throughput-tps"), "operator"));
    return new JobSettings(c.getDuration("tick"), c.getDuration("stall-after"), c.getInt("failures-to-reroute"),
        c.getDuration("projection-warmup"), c.getDuration("deadline-margin"), c.getDuration("backup-margin"), c.getDuration("min-lead"),
        c.getDuration("max-lead"), c.getDuration("report-interval"), c.getDuration("retry-delay"), backup);
  }

  /**
   * The escalation point: the deadline less the backup's time for the job's tokens and
   * {@code backupMargin}. An unmatched job gives up on the book here, early enough for the backup to
   * finish. Without a backup ({@code null}) the bid may rest until the deadline less {@code deadlineMargin}.
   * Plain arithmetic, so the market simulator ({@code keld market simulate}) runs the same rule.
   */
  public long escalationPoint(long deadlineMillis, long estimatedTokens, Backup backup) {
    if (backup == null) return deadlineMillis - deadlineMargin.toMillis();
    return deadlineMillis - backup.leadMillis(estimatedTokens) - backupMargin.toMillis();
  }

  public JobSettings withOperatorBackup(Backup backup) {
    return new JobSettings(tick, stallAfter, failuresToReroute, projectionWarmup, deadlineMargin, backupMargin, minLead, maxLead,
        reportInterval, retryDelay, Optional.ofNullable(backup));
  }
}
