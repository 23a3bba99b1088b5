package io.keld.sim.strategy;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class PricingStrategyTest {

  private static MarketSignal at(double hour, double utilisation, Long bestOther, int fills) {
    return new MarketSignal(hour, utilisation, bestOther, fills);
  }

  @Test
  void aUtilisationPricedProviderIsCheapWhenIdleDearWhenBusyAndLeansUpOnFills() {
    var s = new PricingStrategy.UtilisationPrice(200_000, 600_000, 0.05);
    assertEquals(200_000L, s.price(at(3, 0, null, 0)));
    assertEquals(600_000L, s.price(at(3, 1, null, 0)));
    assertTrue(s.price(at(3, 0.5, null, 0)) > s.price(at(3, 0.2, null, 0)));
    assertTrue(s.price(at(3, 0.5, null, 2)) > s.price(at(3, 0.5, null, 0)), "fills since the last decision raise the price");
    assertEquals(600_000L, s.price(at(3, 0.9, null, 10)), "never above the busy price");
  }

  @Test
  void anUndercutterPostsUnderTheBestOtherAskBetweenItsFloorAndItsCap() {
    var s = new PricingStrategy.Undercutter(150_000, 400_000, 200);
    assertEquals(400_000L, s.price(at(9, 0.3, null, 0)), "an empty book: its cap");
    assertEquals(294_000L, s.price(at(9, 0.3, 300_000L, 0)), "2% under the best other ask");
    assertEquals(150_000L, s.price(at(9, 0.3, 100_000L, 0)), "never under its floor");
    assertEquals(400_000L, s.price(at(9, 0.3, 900_000L, 0)), "never over its cap");
  }

  @Test
  void anOffPeakProviderPostsOnlyInsideItsWindowWhichMayWrapMidnight() {
    var night = new PricingStrategy.OffPeak(120_000, 22, 6);
    assertEquals(120_000L, night.price(at(23.5, 0, null, 0)));
    assertEquals(120_000L, night.price(at(2, 0, null, 0)));
    assertNull(night.price(at(6, 0, null, 0)));
    assertNull(night.price(at(14, 0, null, 0)));
    assertEquals(2.5, night.hoursLeft(3.5), 1e-9);
    assertEquals(7.0, night.hoursLeft(23), 1e-9);
    var day = new PricingStrategy.OffPeak(120_000, 1, 5);
    assertTrue(day.inWindow(1) && day.inWindow(4.99) && !day.inWindow(5) && !day.inWindow(0.5));
  }

  @Test
  void aLoadCurvePeaksAtItsPeakHourAndIsQuietAtNight() {
    var curve = new LoadCurve(0.1, 0.8, 15);
    assertEquals(0.8, curve.at(15), 1e-9);
    assertEquals(0.1, curve.at(3), 1e-9);
    assertTrue(curve.at(12) > curve.at(8));
  }
}
