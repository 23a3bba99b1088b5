package io.keld.ixp.jobs;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * Prices cross the wire in USD per million tokens (a decimal, as people quote them); inside Keld
 * they are micro-USD per million tokens (an integer). Six decimals are exact; more are refused
 * rather than rounded, so a client never pays other than it wrote.
 */
public final class WireMoney {

  private static final BigDecimal MICROS = BigDecimal.valueOf(1_000_000);
  private static final BigDecimal LARGEST = BigDecimal.valueOf(1_000_000_000_000L);

  private WireMoney() {}

  /** USD → micro-USD, or throws {@link ArithmeticException} for more than six decimals or a value too large for a long. */
  public static long microUsd(BigDecimal usd) {
    // Checked before scaling: "1e100000000" must not become a number of a hundred million digits.
    if (usd.abs().compareTo(LARGEST) > 0) throw new ArithmeticException("more than " + LARGEST.toPlainString() + " USD");
    if (usd.stripTrailingZeros().scale() > 6) throw new ArithmeticException("more than six decimals");
    return usd.multiply(MICROS).setScale(0, RoundingMode.UNNECESSARY).longValueExact();
  }

  /** micro-USD → USD with no trailing zeros (2500000 → 2.5). */
  public static BigDecimal usd(long microUsd) {
    BigDecimal v = BigDecimal.valueOf(microUsd, 6).stripTrailingZeros();
    return v.scale() < 0 ? v.setScale(0) : v;
  }
}
