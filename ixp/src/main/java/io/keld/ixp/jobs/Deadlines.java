package io.keld.ixp.jobs;

import static io.keld.ixp.Texts.clip;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;

/** A deadline as the protocol takes it: an RFC 3339 time ("2026-11-21T18:00:00Z") or an ISO-8601 duration from now ("PT10M"). */
public final class Deadlines {

  private Deadlines() {}

  /** Farther than this from now is no deadline: refused before any arithmetic can overflow. */
  private static final Duration HORIZON = Duration.ofDays(36_500);

  /**
   * @throws IllegalArgumentException with a message a person can act on
   */
  public static Instant parse(String text, Instant now) {
    Instant at = parseUnchecked(text, now);
    if (at.isBefore(now.minus(HORIZON)) || at.isAfter(now.plus(HORIZON))) {
      throw new IllegalArgumentException("the deadline '" + clip(text.trim()) + "' is out of range");
    }
    return at;
  }

  private static Instant parseUnchecked(String text, Instant now) {
    if (text == null || text.isBlank()) throw new IllegalArgumentException("a deadline is needed: an RFC 3339 time or an ISO-8601 duration such as PT10M");
    String t = text.trim();
    if (t.startsWith("P") || t.startsWith("p")) {
      try {
        Duration d = Duration.parse(t);
        if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("the deadline's duration must be positive, got '" + clip(t) + "'");
        if (d.compareTo(HORIZON) > 0) throw new IllegalArgumentException("the deadline '" + clip(t) + "' is out of range");
        return now.plus(d);
      } catch (DateTimeException | ArithmeticException e) {
        throw new IllegalArgumentException("'" + clip(t) + "' is not an ISO-8601 duration (e.g. PT90S, PT10M, P1D)");
      }
    }
    try {
      return OffsetDateTime.parse(t, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeException e) {
      throw new IllegalArgumentException("'" + clip(t) + "' is neither an RFC 3339 time with an offset (e.g. 2026-11-21T18:00:00Z) nor an ISO-8601 duration (e.g. PT10M)");
    }
  }

}
