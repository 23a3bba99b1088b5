package io.keld.exchange.jobs;

import io.keld.ixp.CborSerializable;

/**
 * A guaranteed backup: a direct provider at its list price, used when no ask can take a job in time
 * or the chosen provider cannot deliver.
 *
 * @param throughputTps what the backup sustains for one job; with {@code tokens / throughputTps} plus a margin it
 *                      sets how long before the deadline a job must escalate
 * @param source        {@code project} (the project's policy), {@code request} (the job's override) or {@code operator}
 *                      (the node's default fleet)
 */
public record Backup(String providerId, String model, long pricePerMtok, long throughputTps, String source) implements CborSerializable {

  public Backup {
    if (providerId == null || providerId.isBlank()) throw new IllegalArgumentException("a backup needs a provider");
    if (model == null || model.isBlank()) throw new IllegalArgumentException("a backup needs a model");
    if (pricePerMtok < 0) throw new IllegalArgumentException("a backup's price must not be negative");
    if (throughputTps <= 0) throw new IllegalArgumentException("a backup's throughput must be positive");
  }

  /** How long the backup needs for {@code tokens}, in milliseconds (rounded up). */
  public long leadMillis(long tokens) {
    return (tokens * 1000 + throughputTps - 1) / throughputTps;
  }
}
