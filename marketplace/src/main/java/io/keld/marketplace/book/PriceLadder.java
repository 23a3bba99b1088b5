package io.keld.marketplace.book;

import java.util.Arrays;

/**
 * One model's asks in priority order (rule 2), as price levels: the prices in ascending order in a
 * plain {@code long[]}, and at each price its asks ranked by quality, ask time and id. Finding a
 * level reads only the price array; an ask knows its level, so moving it reads no other ask's terms
 * but those of its level, and a post or withdrawal shifts a level's few asks rather than the ladder.
 */
final class PriceLadder {

  /** The asks at one price, best first. */
  static final class Level {
    final long price;
    AskState[] asks = new AskState[4];
    int size;

    Level(long price) {
      this.price = price;
    }

    /** Binary search by rule 2 at this price: the index of {@code a}'s equal, or -(insertion point) - 1. */
    private int search(AskState a) {
      int lo = 0;
      int hi = size - 1;
      // Asks mostly join a level last (their ask time is the latest): check there first.
      if (hi >= 0 && AskState.compareAtEqualPrice(asks[hi], a) < 0) return -(size + 1);
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        int c = AskState.compareAtEqualPrice(asks[mid], a);
        if (c < 0) lo = mid + 1;
        else if (c > 0) hi = mid - 1;
        else return mid;
      }
      return -(lo + 1);
    }

    private void insert(AskState a) {
      int at = search(a);
      at = at < 0 ? -at - 1 : at;
      if (size == asks.length) asks = Arrays.copyOf(asks, size * 2);
      System.arraycopy(asks, at, asks, at + 1, size - at);
      asks[at] = a;
      size++;
    }

    private void delete(AskState a) {
      int at = search(a);
      if (at < 0 || asks[at] != a) throw new IllegalStateException("ask " + a.askId + " is not in its place on its ladder");
      System.arraycopy(asks, at + 1, asks, at, size - at - 1);
      asks[--size] = null;
    }
  }

  private long[] prices = new long[16];
  private Level[] levels = new Level[16];
  private int levelCount;
  private int size;

  /** How many asks stand on the ladder. */
  int size() {
    return size;
  }

  /** How many prices the ladder has asks at. */
  int levelCount() {
    return levelCount;
  }

  /** The {@code i}-th price level, lowest price first. */
  Level level(int i) {
    return levels[i];
  }

  /** Puts {@code a} in its place by its current price, quality, ask time and id. */
  void add(AskState a) {
    int at = searchPrice(a.price);
    Level level;
    if (at >= 0) {
      level = levels[at];
    } else {
      at = -at - 1;
      level = new Level(a.price);
      if (levelCount == prices.length) {
        prices = Arrays.copyOf(prices, levelCount * 2);
        levels = Arrays.copyOf(levels, levelCount * 2);
      }
      System.arraycopy(prices, at, prices, at + 1, levelCount - at);
      System.arraycopy(levels, at, levels, at + 1, levelCount - at);
      prices[at] = a.price;
      levels[at] = level;
      levelCount++;
    }
    level.insert(a);
    a.level = level;
    size++;
  }

  /** Takes {@code a} off; its terms must be those it was placed with. */
  void remove(AskState a) {
    Level level = a.level;
    if (level == null || level.price != a.price) throw new IllegalStateException("ask " + a.askId + " is not in its place on its ladder");
    level.delete(a);
    a.level = null;
    size--;
    if (level.size == 0) {
      int at = searchPrice(level.price);
      System.arraycopy(prices, at + 1, prices, at, levelCount - at - 1);
      System.arraycopy(levels, at + 1, levels, at, levelCount - at - 1);
      levels[--levelCount] = null;
    }
  }

  /** Binary search of the prices: the index of {@code price}'s level, or -(insertion point) - 1. */
  private int searchPrice(long price) {
    int lo = 0;
    int hi = levelCount - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long p = prices[mid];
      if (p < price) lo = mid + 1;
      else if (p > price) hi = mid - 1;
      else return mid;
    }
    return -(lo + 1);
  }
}
