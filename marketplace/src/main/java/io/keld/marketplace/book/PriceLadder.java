package io.keld.marketplace.book;

import java.util.Arrays;

/**
 * One model's asks in priority order (rule 2), in a plain array, with their prices beside them in a
 * {@code long[]}. Finding a place searches the prices without reading any ask; only among asks of
 * equal price are quality, ask time and id compared. A price move shifts only the asks between the
 * old place and the new one (a tick or two apart), not the rest of the ladder.
 *
 * <p>An amend finds its ask and the ask's new place by stepping from where the ask was (its
 * {@link AskState#ladderIndexHint}), not by halving the whole ladder: a price moves a tick or two, and
 * the places between are read one after another, where halving reads far-apart ones each depending
 * on the last (book-core-peers: the amends' searches were about a quarter of the shared stream's time).
 */
final class PriceLadder {

  /** How far a search steps before it halves the rest instead. */
  private static final int NEAR = 32;

  private AskState[] asks = new AskState[16];
  private long[] prices = new long[16];
  private int size;

  /** How many asks stand on the ladder. */
  int size() {
    return size;
  }

  /** The {@code i}-th ask in priority order. */
  AskState ask(int i) {
    return asks[i];
  }

  /** The price of the {@code i}-th ask, read without reading the ask. */
  long price(int i) {
    return prices[i];
  }

  /** Puts {@code a} in its place by its current price, quality, ask time and id. */
  void add(AskState a) {
    int at = search(a, 0, size);
    at = at < 0 ? -at - 1 : at;
    if (size == asks.length) {
      asks = Arrays.copyOf(asks, size * 2);
      prices = Arrays.copyOf(prices, size * 2);
    }
    System.arraycopy(asks, at, asks, at + 1, size - at);
    System.arraycopy(prices, at, prices, at + 1, size - at);
    asks[at] = a;
    prices[at] = a.price;
    a.ladderIndexHint = at;
    size++;
  }

  /** Where {@code a} is, by the terms it was placed with; it must be on this ladder. */
  int indexOf(AskState a) {
    int hint = a.ladderIndexHint;
    if (hint < size && asks[hint] == a) return hint;
    // First among the asks of its price, by the prices alone; it is usually one of the next few.
    int first = firstAtOrAboveNear(a.price, Math.min(hint, size));
    for (int i = first, end = Math.min(size, first + 8); i < end && prices[i] == a.price; i++) {
      if (asks[i] == a) return a.ladderIndexHint = i;
    }
    int at = search(a, first, size);
    if (at < 0 || asks[at] != a) throw new IllegalStateException("ask " + a.askId + " is not in its place on its ladder");
    return a.ladderIndexHint = at;
  }

  void remove(int at) {
    System.arraycopy(asks, at + 1, asks, at, size - at - 1);
    System.arraycopy(prices, at + 1, prices, at, size - at - 1);
    asks[--size] = null;
  }

  /** The ask at {@code at} has new terms: moves it to its new place among the others. */
  void moved(int at) {
    AskState a = asks[at];
    long price = a.price;
    prices[at] = price;
    int to = at;
    if (at > 0 && compare(a, price, at - 1) < 0) {
      to = placeBefore(a, price, at - 1);
      System.arraycopy(asks, to, asks, to + 1, at - to);
      System.arraycopy(prices, to, prices, to + 1, at - to);
      asks[to] = a;
      prices[to] = price;
    } else if (at < size - 1 && compare(a, price, at + 1) > 0) {
      to = placeAfter(a, price, at + 1);
      System.arraycopy(asks, at + 1, asks, at, to - at);
      System.arraycopy(prices, at + 1, prices, at, to - at);
      asks[to] = a;
      prices[to] = price;
    }
    a.ladderIndexHint = to;
  }

  /** Where {@code a}, which ranks before the ask at {@code i}, goes: {@code i} or before, stepping down from it. */
  private int placeBefore(AskState a, long price, int i) {
    for (int stop = Math.max(0, i - NEAR); i > 0 && compare(a, price, i - 1) < 0; i--) {
      if (i == stop) {
        int to = search(a, 0, i);
        return to < 0 ? -to - 1 : to;
      }
    }
    return i;
  }

  /** Where {@code a}, which ranks after the ask at {@code i}, goes once it is off its old place: {@code i} or after. */
  private int placeAfter(AskState a, long price, int i) {
    for (int stop = Math.min(size - 1, i + NEAR); i < size - 1 && compare(a, price, i + 1) > 0; i++) {
      if (i == stop) {
        int to = search(a, i + 1, size);
        return (to < 0 ? -to - 1 : to) - 1;
      }
    }
    return i;
  }

  /** Rule 2 between {@code a} (priced {@code price}) and the ask at {@code i}; the ask is read only at equal prices. */
  private int compare(AskState a, long price, int i) {
    long p = prices[i];
    if (price != p) return price < p ? -1 : 1;
    return AskState.compareAtEqualPrice(a, asks[i]);
  }

  /** {@link #firstAtOrAbove}, stepping from {@code from} (0 to size), which is usually near it. */
  private int firstAtOrAboveNear(long price, int from) {
    long[] p = prices;
    int i = from;
    if (i < size && p[i] < price) {
      for (int stop = i + NEAR; ++i < size && p[i] < price; ) if (i == stop) return firstAtOrAbove(price);
      return i;
    }
    for (int stop = i - NEAR; i > 0 && p[i - 1] >= price; i--) if (i == stop) return firstAtOrAbove(price);
    return i;
  }

  /** The index of the first ask priced {@code price} or more. */
  private int firstAtOrAbove(long price) {
    long[] p = prices;
    int len = size;
    if (len == 0) return 0;
    int base = 0;
    // Halving without a branch (the select compiles to a conditional move): where a moved ask sits
    // is unpredictable, and a mispredicted branch at every step cost more than the step itself
    // (book-core-peers: about 8% of the shared stream's time).
    while (len > 1) {
      int half = len >>> 1;
      base = p[base + half] < price ? base + half : base;
      len -= half;
    }
    return p[base] < price ? base + 1 : base;
  }

  /** Binary search of {@code [from, to)}: the index of {@code a}'s equal, or -(insertion point) - 1. */
  private int search(AskState a, int from, int to) {
    long price = a.price;
    int lo = from;
    int hi = to - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = -compare(a, price, mid);
      if (c < 0) lo = mid + 1;
      else if (c > 0) hi = mid - 1;
      else return mid;
    }
    return -(lo + 1);
  }
}
