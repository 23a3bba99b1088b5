package io.keld.exchange.jobs;

import java.util.Locale;

/**
 * Where a deadline job stands. {@code ADMITTED → OPEN → MATCHED → RUNNING → COMPLETED} is the happy
 * path; {@code ESCALATED} means the work runs on the backup; the last four are the other ends.
 */
public enum JobPhase {
  ADMITTED,
  OPEN,
  MATCHED,
  RUNNING,
  ESCALATED,
  COMPLETED,
  CANCELLED,
  FAILED,
  DEADLINE_MISSED;

  public boolean terminal() {
    return this == COMPLETED || this == CANCELLED || this == FAILED || this == DEADLINE_MISSED;
  }

  /** The lower-case name used on the wire and in metrics. */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }
}
