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
  void negativeOrOverflowingFiguresAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Money.costMicroUsd(-1, 1));
    assertThrows(ArithmeticException.class, () -> Money.costMicroUsd(Long.MAX_VALUE, Long.MAX_VALUE));
  }
}
