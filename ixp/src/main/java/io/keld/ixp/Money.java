package io.keld.ixp;

import java.math.BigInteger;

/**
 * Keld's one rounding rule for money. Prices are micro-USD per million tokens, costs micro-USD,
 * both {@code long}; a cost is {@code tokens × price / 1,000,000}, rounded half up to the micro-dollar.
 */
public final class Money {

  private static final BigInteger MILLION = BigInteger.valueOf(1_000_000);
  private static final BigInteger HALF = BigInteger.valueOf(500_000);

  private Money() {}

  /** The cost of {@code tokens} at {@code pricePerMtok}; exact for any inputs, refused when the result overflows a long. */
  public static long costMicroUsd(long tokens, long pricePerMtok) {
    if (tokens < 0 || pricePerMtok < 0) throw new IllegalArgumentException("tokens and prices are not negative");
    // The usual case fits a long: the same rounding without a BigInteger (the edge computes costs per request).
    if (Math.multiplyHigh(tokens, pricePerMtok) == 0) {
      long product = tokens * pricePerMtok;
      if (product >= 0 && product <= Long.MAX_VALUE - 500_000) return (product + 500_000) / 1_000_000;
    }
    return BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(pricePerMtok)).add(HALF).divide(MILLION).longValueExact();
  }
}
