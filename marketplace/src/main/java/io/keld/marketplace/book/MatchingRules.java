package io.keld.marketplace.book;

/**
 * The parameters of the published matching rules ({@code marketplace/MATCHING.md}). Every fill
 * records {@link #version()} so a participant can tell which rules cleared it.
 *
 * @param version             the rule version this code implements
 * @param safetyMarginMillis  a fill must finish this long before the bid's deadline
 */
public record MatchingRules(String version, long safetyMarginMillis) {

  /** The version of MATCHING.md this code follows. */
  public static final String VERSION = "1.0";

  /** A fill counts feasible asks up to this many: {@code feasibleAsks == 8} means eight or more. */
  public static final int FEASIBLE_COUNT_CAP = 8;

  public static final MatchingRules DEFAULT = new MatchingRules(VERSION, 2_000);

  public MatchingRules {
    if (safetyMarginMillis < 0) throw new IllegalArgumentException("safety margin must be >= 0");
  }
}
