package io.keld.bench;

import java.util.TreeMap;

/** Latencies in whole microseconds, counted per value: merged across rounds, percentiles read exactly. */
final class Histogram {

  private final TreeMap<Long, Long> counts = new TreeMap<>();
  private long total;

  void record(long micros, long count) {
    if (count <= 0) return;
    counts.merge(micros, count, Long::sum);
    total += count;
  }

  void add(Histogram other) {
    other.counts.forEach(this::record);
  }

  long count() {
    return total;
  }

  /** The smallest value at or below which {@code p} percent of the values lie (0 when empty). */
  long percentile(double p) {
    if (total == 0) return 0;
    long rank = Math.max(1, (long) Math.ceil(p / 100.0 * total));
    long seen = 0;
    for (var e : counts.entrySet()) {
      seen += e.getValue();
      if (seen >= rank) return e.getKey();
    }
    return counts.lastKey();
  }
}
