package io.keld.sim.market;

import io.keld.ixp.Money;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one pricing of the day recorded besides each job's outcome: each provider's sales, hour by
 * hour (hour 0 is the day's first; work past the day's end lands in hours 24 to 47).
 */
public final class WorldLedger {

  public static final int HOURS = MarketSettings.HORIZON_HOURS;

  /** Tokens sold by each provider, by hour of the run. */
  final Map<String, long[]> soldTokensByHour = new LinkedHashMap<>();
  final Map<String, Long> revenueMicroUsd = new LinkedHashMap<>();
  /** Per use case and hour: the cost of the work filled in that hour, and its cost at the list price. */
  final Map<String, long[][]> clearingByHour = new TreeMap<>();

  WorldLedger(List<ProviderSpec> providers) {
    for (ProviderSpec p : providers) {
      soldTokensByHour.put(p.providerId(), new long[HOURS]);
      revenueMicroUsd.put(p.providerId(), 0L);
    }
  }

  /** {@code tokens} served by a provider from {@code start} to {@code end}, spread over the hours they ran in. */
  void sold(String providerId, long tokens, long pricePerMtok, long start, long end, long dayStart) {
    revenueMicroUsd.merge(providerId, Money.costMicroUsd(tokens, pricePerMtok), Long::sum);
    spread(soldTokensByHour.get(providerId), tokens, start, end, dayStart);
  }

  void cleared(String useCase, long atMillis, long dayStart, long tokens, long pricePerMtok, long listPerMtok) {
    long[][] byHour = clearingByHour.computeIfAbsent(useCase, u -> new long[HOURS][2]);
    int h = hour(atMillis, dayStart);
    byHour[h][0] += Money.costMicroUsd(tokens, pricePerMtok);
    byHour[h][1] += Money.costMicroUsd(tokens, listPerMtok);
  }

  public Map<String, Long> revenueMicroUsd() {
    return revenueMicroUsd;
  }

  public Map<String, long[]> soldTokensByHour() {
    return soldTokensByHour;
  }

  /** Per use case and hour: cleared cost, and that work's cost at list. */
  public Map<String, long[][]> clearingByHour() {
    return clearingByHour;
  }

  static int hour(long atMillis, long dayStart) {
    return (int) Math.max(0, Math.min(HOURS - 1, (atMillis - dayStart) / 3_600_000L));
  }

  /** Splits {@code tokens} over the hours of [start, end) in proportion to the time in each; the parts add up to {@code tokens}. */
  static void spread(long[] hourly, long tokens, long start, long end, long dayStart) {
    if (end <= start) {
      hourly[hour(start, dayStart)] += tokens;
      return;
    }
    long given = 0;
    long t = start;
    while (t < end) {
      int h = hour(t, dayStart);
      long hourEnd = h == HOURS - 1 ? end : Math.min(end, dayStart + (h + 1) * 3_600_000L);
      long part = hourEnd >= end ? tokens - given : (long) ((double) tokens * (hourEnd - start) / (end - start)) - given;
      hourly[h] += part;
      given += part;
      t = hourEnd;
    }
  }
}
