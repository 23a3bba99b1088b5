package io.keld.marketplace.book;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Rules 1-2 over the price ladders: which asks are feasible for a bid (its ceiling, quality,
 * constraints and a slot that finishes in time) and the best {@link MatchingRules#FEASIBLE_COUNT_CAP}
 * of them in priority order (rule 5 counts feasible asks up to that cap).
 *
 * <p>One instance per book, reused by every match: the book is single-threaded. {@link #best} reads
 * the bid's terms once and walks the ladders it may fill on; the result is read out of
 * {@link #size}, {@link #ask} and {@link #finish} before the next {@link #reset}.
 */
final class BidScan {

  private final AskState[] top = new AskState[MatchingRules.FEASIBLE_COUNT_CAP];
  private final long[] finish = new long[MatchingRules.FEASIBLE_COUNT_CAP];
  private int size;

  /** The last duration worked out, and for what: the asks of a ladder often sell the same throughput. */
  private long memoTokens = -1;
  private long memoThroughput;
  private long memoDuration;

  /** The bid being scanned for, and its terms, read out of it once rather than once per ask. */
  private Bid bid;
  private long now;
  private long ceiling;
  private int minQuality;
  private long tokens;
  private long latestFinish;
  private boolean constrained;

  /** How many feasible asks the scan kept. */
  int size() {
    return size;
  }

  /** The {@code i}-th best feasible ask. */
  AskState ask(int i) {
    return top[i];
  }

  /** When the {@code i}-th best feasible ask would finish the bid. */
  long finish(int i) {
    return finish[i];
  }

  void reset() {
    Arrays.fill(top, 0, size, null);
    size = 0;
    bid = null;
  }

  /** Starts a scan for {@code bid} at {@code now}: a fill must finish {@code safetyMarginMillis} before its deadline. */
  private void prepare(Bid bid, long now, long safetyMarginMillis) {
    reset();
    this.bid = bid;
    this.now = now;
    ceiling = bid.ceilingPerMtok();
    minQuality = bid.minQuality();
    tokens = bid.tokens();
    latestFinish = bid.deadlineMillis() - safetyMarginMillis;
    constrained = !bid.models().isEmpty() || !bid.regions().isEmpty() || !bid.requiredTags().isEmpty()
        || !bid.providersAllowed().isEmpty() || !bid.providersDenied().isEmpty();
  }

  /**
   * Scans for the best feasible asks for {@code bid} (rules 1-2): on the ladders of its models, or on
   * all of them when it names none. Returns this scan, to be read and then {@link #reset}.
   */
  BidScan best(Bid bid, long now, long safetyMarginMillis, Map<String, PriceLadder> byModel, List<PriceLadder> all) {
    prepare(bid, now, safetyMarginMillis);
    if (bid.models().isEmpty()) {
      for (int i = 0, n = all.size(); i < n; i++) scanLadder(all.get(i));
    } else {
      for (String model : bid.models()) {
        PriceLadder ladder = byModel.get(model);
        if (ladder != null) scanLadder(ladder);
      }
    }
    return this;
  }

  private void scanLadder(PriceLadder ladder) {
    if (size == 0) firstLadder(ladder);
    else ladder(ladder);
  }

  /**
   * The first ladder a scan walks (the only one for a bid that names one model, or in a book of one
   * model): its asks come in priority order, so each feasible one goes at the end of the best so
   * far, and the scan is over once it holds {@code FEASIBLE_COUNT_CAP}, without comparing two asks.
   */
  private void firstLadder(PriceLadder ladder) {
    long ceiling = this.ceiling;
    AskState[] top = this.top;
    for (int k = 0, blocks = ladder.blockCount(); k < blocks; k++) {
      PriceLadder.Block b = ladder.block(k);
      long[] prices = b.prices;
      AskState[] asks = b.asks;
      for (int i = 0, n = b.size; i < n; i++) {
        if (prices[i] > ceiling) return;
        AskState a = asks[i];
        long f = finishIfFeasible(a);
        if (f >= 0) {
          top[size] = a;
          finish[size] = f;
          if (++size == top.length) return;
        }
      }
    }
  }

  /**
   * Walks one model's ladder in priority order up to the bid's ceiling, and stops as soon as the
   * rest of the ladder cannot enter the best {@code FEASIBLE_COUNT_CAP}.
   */
  private void ladder(PriceLadder ladder) {
    long ceiling = this.ceiling;
    for (int k = 0, blocks = ladder.blockCount(); k < blocks; k++) {
      PriceLadder.Block b = ladder.block(k);
      for (int i = 0, n = b.size; i < n; i++) {
        if (b.prices[i] > ceiling) return;
        AskState a = b.asks[i];
        if (size == top.length && AskState.PRIORITY.compare(a, top[size - 1]) > 0) return;
        long f = finishIfFeasible(a);
        if (f >= 0) add(a, f);
      }
    }
  }

  /** {@link #finishIfFeasible(AskState, Bid, long, long)} for the prepared bid. */
  private long finishIfFeasible(AskState a) {
    if (a.price > ceiling || a.quality < minQuality) return -1;
    if (constrained && !meetsConstraints(a, bid)) return -1;
    return finishOnSchedule(a, now, tokens, latestFinish, this);
  }

  private void add(AskState a, long finishMillis) {
    int i = size < top.length ? size++ : top.length - 1;
    while (i > 0 && AskState.PRIORITY.compare(a, top[i - 1]) < 0) {
      top[i] = top[i - 1];
      finish[i] = finish[i - 1];
      i--;
    }
    top[i] = a;
    finish[i] = finishMillis;
  }

  /** {@link #durationMillis(long, long)}, remembering the last answer. */
  long memoDurationMillis(long tokens, long throughputTps) {
    if (tokens != memoTokens || throughputTps != memoThroughput) {
      memoDuration = BidScan.durationMillis(tokens, throughputTps);
      memoTokens = tokens;
      memoThroughput = throughputTps;
    }
    return memoDuration;
  }

  /** The same as the static form, working out the duration through this scan's memo (the book's own scan only). */
  long finishIfFeasible(AskState a, Bid bid, long now, long safetyMarginMillis) {
    return finishIfFeasible(a, bid, now, safetyMarginMillis, this);
  }

  /** Every feasible ask among {@code asks}, the best {@code maxOptions} of them as options, committing nothing. */
  static Quote quote(Collection<AskState> asks, Bid bid, long now, int maxOptions, long margin) {
    List<AskState> feasible = new ArrayList<>();
    for (AskState a : asks) if (finishIfFeasibleFor(a, bid, now, margin) >= 0) feasible.add(a);
    feasible.sort(AskState.PRIORITY);
    List<Quote.Option> options = new ArrayList<>();
    for (AskState a : feasible.subList(0, Math.min(maxOptions, feasible.size()))) {
      long finish = finishIfFeasibleFor(a, bid, now, margin);
      options.add(new Quote.Option(a.askId, a.providerId, a.model, a.price, a.quality, finish - durationMillis(bid.tokens(), a.throughputTps),
          finish));
    }
    return new Quote(now, feasible.size(), List.copyOf(options));
  }

  /** Rule 1: when the ask could finish the bid's tokens, or -1 when it is not feasible. */
  static long finishIfFeasibleFor(AskState a, Bid bid, long now, long safetyMarginMillis) {
    return finishIfFeasible(a, bid, now, safetyMarginMillis, null);
  }

  private static long finishIfFeasible(AskState a, Bid bid, long now, long safetyMarginMillis, BidScan memo) {
    if (a.price > bid.ceilingPerMtok()) return -1;
    if (a.quality < bid.minQuality()) return -1;
    if (!meetsConstraints(a, bid)) return -1;
    return finishOnSchedule(a, now, bid.tokens(), bid.deadlineMillis() - safetyMarginMillis, memo);
  }

  /** Rule 1's constraints: the bid's models, regions, compliance tags and providers. */
  private static boolean meetsConstraints(AskState a, Bid bid) {
    if (!bid.models().isEmpty() && !bid.models().contains(a.model)) return false;
    // An ask that names no region is in none of the bid's regions (Set.of(..).contains(null) would throw).
    if (!bid.regions().isEmpty() && (a.region == null || !bid.regions().contains(a.region))) return false;
    if (!bid.requiredTags().isEmpty() && !a.complianceTags.containsAll(bid.requiredTags())) return false;
    if (!bid.providersAllowed().isEmpty() && !bid.providersAllowed().contains(a.providerId)) return false;
    if (!bid.providersDenied().isEmpty() && bid.providersDenied().contains(a.providerId)) return false;
    return true;
  }

  /** Rule 1's schedule: when the ask could finish {@code tokens} (a free slot, by {@code latestFinish}, in its window), or -1. */
  private static long finishOnSchedule(AskState a, long now, long tokens, long latestFinish, BidScan memo) {
    if (a.slotCount >= a.maxConcurrency) return -1;
    long start = Math.max(Math.max(now, a.busyUntil), a.windowFromMillis);
    long duration = memo == null ? durationMillis(tokens, a.throughputTps) : memo.memoDurationMillis(tokens, a.throughputTps);
    long finish = start + duration;
    if (finish > latestFinish) return -1;
    if (finish > a.windowUntilMillis) return -1;
    return finish;
  }

  /** How long {@code tokens} take at {@code throughputTps}, rounded up to the millisecond. */
  static long durationMillis(long tokens, long throughputTps) {
    return (tokens * 1000 + throughputTps - 1) / throughputTps;
  }
}
