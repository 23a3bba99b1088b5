package io.keld.ixp;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class MoneyTest {

  @Test
  void costsRoundHalfUpToTheMicroDollar() {
    assertEquals(5_850, Money.costMicroUsd(15_000, 390_000));
    assertEquals(0, Money.costMicroUsd(1, 499_999), "0.499999 micro-USD rounds down");
    assertEquals(1, Money.costMicroUsd(1, 500_000), "half rounds up");
    assertEquals(0, Money.costMicroUsd(0, 1_000_000));
    assertEquals(9_000_000_000_000L, Money.costMicroUsd(9_000_000_000_000L, 1_000_000), "large figures stay exact");
  }

  @Test
  void theLongArithmeticAgreesWithExactArithmeticUpToTheOverflow() {
    java.util.Random random = new java.util.Random(42);
    for (int i = 0; i < 200_000; i++) {
      long tokens = random.nextInt(4) == 0 ? random.nextLong() >>> (1 + random.nextInt(63)) : random.nextInt(10_000_000);
      long price = random.nextInt(4) == 0 ? random.nextLong() >>> (1 + random.nextInt(63)) : random.nextInt(100_000_000);
      java.math.BigInteger exact = java.math.BigInteger.valueOf(tokens).multiply(java.math.BigInteger.valueOf(price))
          .add(java.math.BigInteger.valueOf(500_000)).divide(java.math.BigInteger.valueOf(1_000_000));
      if (exact.bitLength() < 64) {
        assertEquals(exact.longValueExact(), Money.costMicroUsd(tokens, price), tokens + " × " + price);
      } else {
        assertThrows(ArithmeticException.class, () -> Money.costMicroUsd(tokens, price), tokens + " × " + price);
      }
    }
    long edge = Long.MAX_VALUE - 499_999; // the largest product whose rounding still fits the fast path's sum
    assertEquals(java.math.BigInteger.valueOf(edge).add(java.math.BigInteger.valueOf(500_000)).divide(java.math.BigInteger.valueOf(1_000_000))
        .longValueExact(), Money.costMicroUsd(edge, 1));
  }

  @Test
  void negativeOrOverflowingFiguresAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Money.costMicroUsd(-1, 1));
    assertThrows(ArithmeticException.class, () -> Money.costMicroUsd(Long.MAX_VALUE, Long.MAX_VALUE));
  }
}
