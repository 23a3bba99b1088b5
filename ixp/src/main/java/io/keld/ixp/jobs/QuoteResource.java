package io.keld.ixp.jobs;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * {@code POST /ixp/v1/quotes}: what a job would clear at now, committing nothing.
 *
 * @param object       always "quote"
 * @param feasibleAsks how many asks on the book could finish the job inside its deadline
 * @param clearsAt     the ask the job would fill at now (the best feasible one), or absent
 * @param fallbacks    the next feasible asks in the book's priority order
 * @param backup       the backup the job would escalate to, if it has one under its ceiling
 * @param escalateAt   when an unmatched job would give up on the book for its backup
 */
public record QuoteResource(String object, String useCase, Instant at, Instant deadline, long estimatedTokens, int feasibleAsks,
    Option clearsAt, List<Option> fallbacks, JobResource.Backup backup, Instant escalateAt) {

  /** A feasible ask: who, at what price, and when it could start and finish the job's tokens. */
  public record Option(String providerId, String model, BigDecimal priceUsdPerMtok, int quality, Instant startBy, Instant finishBy,
      long estimatedCostMicroUsd) {}
}
