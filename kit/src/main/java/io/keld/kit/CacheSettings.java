package io.keld.kit;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.typesafe.config.Config;
import java.time.Duration;

/**
 * One in-memory cache's bounds: how many entries it holds and how long an entry is trusted after it
 * was read. Each cached fact has its own pair in the owning module's config,
 * {@code <name>-cache-size} and {@code <name>-cache-for}.
 *
 * @param maxEntries the most entries kept; past it, the least useful are dropped
 * @param expireAfterWrite how long an entry is answered from memory; a change to the fact shows within it
 */
public record CacheSettings(long maxEntries, Duration expireAfterWrite) {

  public CacheSettings {
    if (maxEntries < 0) throw new IllegalArgumentException("a cache's size must not be negative");
    if (expireAfterWrite == null || expireAfterWrite.isNegative()) throw new IllegalArgumentException("a cache's time must not be negative");
  }

  /** {@code <name>-cache-size} and {@code <name>-cache-for} of {@code config}. */
  public static CacheSettings of(Config config, String name) {
    return new CacheSettings(config.getLong(name + "-cache-size"), config.getDuration(name + "-cache-for"));
  }

  /** A Caffeine builder with these bounds, to add a loader (or not) and build. */
  public Caffeine<Object, Object> caffeine() {
    return caffeine(Ticker.systemTicker());
  }

  /** As {@link #caffeine()}, timed by {@code ticker} (a test's hand-moved clock). */
  public Caffeine<Object, Object> caffeine(Ticker ticker) {
    // Upkeep (evictions, expiry) runs on the reading thread in small steps: handing it to the common
    // pool woke a thread on the edge's hot path, which costs more on 2 cores than the upkeep itself.
    // Loads still run where their loader puts them (a database read on the blocking dispatcher).
    return Caffeine.newBuilder().maximumSize(maxEntries).expireAfterWrite(expireAfterWrite).ticker(ticker).executor(Runnable::run);
  }
}
