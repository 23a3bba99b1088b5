package io.keld.sim.strategy;

/**
 * How a simulated provider prices its spare capacity. The same strategies drive the live agents of
 * {@code keld start --demo} (over the real WebSocket feed) and the providers of the simulated market
 * day ({@code keld market simulate}), so what the report measures is what the demo shows.
 *
 * <p>Pure functions of the signal: no clock, no randomness, so a seeded simulation is reproducible.
 */
public sealed interface PricingStrategy
    permits PricingStrategy.FixedPrice, PricingStrategy.UtilisationPrice, PricingStrategy.Undercutter, PricingStrategy.OffPeak {

  /** The price to post now, micro-USD per Mtok, or null to have no ask on the book. */
  Long price(MarketSignal signal);

  /** The strategy's name in reports: {@code fixed}, {@code utilisation}, {@code undercutter}, {@code off-peak}. */
  String kind();

  /** A rate card: the same price whatever happens. */
  record FixedPrice(long pricePerMtok) implements PricingStrategy {
    public FixedPrice {
      requirePositive(pricePerMtok, "pricePerMtok");
    }

    public Long price(MarketSignal s) {
      return pricePerMtok;
    }

    public String kind() {
      return "fixed";
    }
  }

  /**
   * Cheaper when idle, dearer when busy: the price moves from {@code idlePrice} at an empty fleet to
   * {@code busyPrice} at a full one, and each fill since the last decision counts as
   * {@code fillBump} more utilisation (demand is arriving: the provider leans up before its fleet fills).
   */
  record UtilisationPrice(long idlePrice, long busyPrice, double fillBump) implements PricingStrategy {
    public UtilisationPrice {
      requirePositive(idlePrice, "idlePrice");
      if (busyPrice < idlePrice) throw new IllegalArgumentException("busyPrice must be at least idlePrice");
      if (fillBump < 0) throw new IllegalArgumentException("fillBump is not negative");
    }

    public Long price(MarketSignal s) {
      double load = Math.min(1.0, s.utilisation() + fillBump * s.newFills());
      return idlePrice + Math.round((busyPrice - idlePrice) * load);
    }

    public String kind() {
      return "utilisation";
    }
  }

  /**
   * Watches the book's deltas and posts just under the best other ask, by {@code undercutBasisPoints}
   * (100 = 1%), never under {@code floorPrice} (its cost) nor over {@code capPrice} (its list price,
   * also what it posts on an empty book).
   */
  record Undercutter(long floorPrice, long capPrice, int undercutBasisPoints) implements PricingStrategy {
    public Undercutter {
      requirePositive(floorPrice, "floorPrice");
      if (capPrice < floorPrice) throw new IllegalArgumentException("capPrice must be at least floorPrice");
      if (undercutBasisPoints < 1 || undercutBasisPoints > 5_000) throw new IllegalArgumentException("undercutBasisPoints is 1 to 5000");
    }

    public Long price(MarketSignal s) {
      if (s.bestOtherPrice() == null) return capPrice;
      long under = s.bestOtherPrice() - Math.max(1, s.bestOtherPrice() * undercutBasisPoints / 10_000);
      return Math.max(floorPrice, Math.min(capPrice, under));
    }

    public String kind() {
      return "undercutter";
    }
  }

  /**
   * Sells spare capacity only in its off-peak hours, {@code fromHour} to {@code untilHour} (the window
   * may wrap midnight: 22 to 6), at one low price; outside them it has no ask on the book.
   */
  record OffPeak(long pricePerMtok, int fromHour, int untilHour) implements PricingStrategy {
    public OffPeak {
      requirePositive(pricePerMtok, "pricePerMtok");
      if (fromHour < 0 || fromHour > 23 || untilHour < 0 || untilHour > 23 || fromHour == untilHour) {
        throw new IllegalArgumentException("the off-peak window is two different hours of 0..23");
      }
    }

    public Long price(MarketSignal s) {
      return inWindow(s.hourOfDay()) ? pricePerMtok : null;
    }

    public boolean inWindow(double hour) {
      return fromHour < untilHour ? hour >= fromHour && hour < untilHour : hour >= fromHour || hour < untilHour;
    }

    /** Hours from {@code hour} (inside the window) to the window's end. */
    public double hoursLeft(double hour) {
      double left = untilHour - hour;
      return left <= 0 ? left + 24 : left;
    }

    public String kind() {
      return "off-peak";
    }
  }

  private static void requirePositive(long v, String name) {
    if (v < 1) throw new IllegalArgumentException(name + " must be positive");
  }
}
