package io.keld.exchange.ixp;

import io.keld.exchange.jobs.Backup;
import io.keld.exchange.jobs.JobRequest;
import io.keld.kit.ProblemException;
import io.keld.ixp.jobs.Deadlines;
import io.keld.ixp.jobs.JobSubmission;
import io.keld.ixp.jobs.WireMoney;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Map;
import java.util.Set;

/** A submission as the protocol has it ({@link JobSubmission}) becomes the job request admission checks. */
final class Submissions {

  private Submissions() {}

  /** Turns the wire's forms (deadline text, USD decimals) into Keld's; 422 naming the field when one cannot be read. */
  static JobRequest toRequest(JobSubmission s, Instant now) {
    if (s.deadline() == null) throw ProblemException.invalid("deadline", "a job needs a deadline: an RFC 3339 time or an ISO-8601 duration such as PT10M");
    Instant deadline;
    try {
      deadline = Deadlines.parse(s.deadline(), now);
    } catch (IllegalArgumentException e) {
      throw ProblemException.invalid("deadline", e.getMessage());
    }
    if (s.ceilingUsdPerMtok() == null) throw ProblemException.invalid("ceiling_usd_per_mtok", "a job needs a ceiling: the most it pays, in USD per million tokens");
    long ceiling = micro("ceiling_usd_per_mtok", s.ceilingUsdPerMtok());
    if (s.estimatedTokens() == null) throw ProblemException.invalid("estimated_tokens", "a job needs an estimate of its input plus output tokens");
    Backup backup = null;
    if (s.backup() != null) {
      JobSubmission.BackupSpec b = s.backup();
      if (b.providerId() == null || b.providerId().isBlank()) throw ProblemException.invalid("backup.provider_id", "a backup names its provider");
      if (b.model() == null || b.model().isBlank()) throw ProblemException.invalid("backup.model", "a backup names its model");
      if (b.priceUsdPerMtok() == null) throw ProblemException.invalid("backup.price_usd_per_mtok", "a backup has a list price");
      if (b.throughputTps() == null || b.throughputTps() <= 0) {
        throw ProblemException.invalid("backup.throughput_tps", "a backup states its throughput in tokens per second, above 0");
      }
      backup = new Backup(b.providerId(), b.model(), micro("backup.price_usd_per_mtok", b.priceUsdPerMtok()), b.throughputTps(), "request");
    }
    JobSubmission.Constraints c = s.constraints() != null ? s.constraints() : new JobSubmission.Constraints(null, null, null, null);
    return new JobRequest(s.useCase(), orEmpty(s.models()), s.minQuality(), ceiling, s.estimatedTokens(), deadline, orEmpty(c.regions()),
        orEmpty(c.requiredTags()), orEmpty(c.providersAllowed()), orEmpty(c.providersDenied()), s.projectId(), s.jobCategory(),
        s.spendClass(), s.tags() == null ? Map.of() : s.tags(), backup);
  }

  /** USD with at most six decimals, above zero, in range. */
  static long micro(String field, BigDecimal usd) {
    if (usd.signum() <= 0) throw ProblemException.invalid(field, "a price must be above 0 USD per million tokens");
    try {
      return WireMoney.microUsd(usd);
    } catch (ArithmeticException e) {
      // The value is not echoed: "1e100000000" would be a hundred million digits.
      throw ProblemException.invalid(field, "a price has at most 6 decimals (micro-USD) and is at most 1,000,000 USD per million tokens");
    }
  }

  private static Set<String> orEmpty(Set<String> s) {
    return s == null ? Set.of() : s;
  }
}
