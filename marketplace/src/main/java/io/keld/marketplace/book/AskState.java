package io.keld.marketplace.book;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Set;

/**
 * An ask on the book: its current terms, where it ranks (rule 2), and its schedule (the fills it has
 * accepted and not yet released). The terms are kept as fields, so ranking and feasibility read this
 * one object; the {@link Ask} record is built again only when someone asks for it after a change.
 */
final class AskState {

  /** Rule 2: lowest price, then higher quality, then earlier ask time, then ask id. */
  static final Comparator<AskState> PRIORITY = (x, y) -> {
    int c = Long.compare(x.price, y.price);
    return c != 0 ? c : compareAtEqualPrice(x, y);
  };

  /** Rule 2 between asks of the same price: higher quality, then earlier ask time, then ask id. */
  static int compareAtEqualPrice(AskState x, AskState y) {
    int c = Integer.compare(y.quality, x.quality);
    if (c != 0) return c;
    c = Long.compare(x.askTimeMillis, y.askTimeMillis);
    if (c != 0) return c;
    return x.askId.compareTo(y.askId);
  }

  final String askId;
  final String providerId;
  final String model;
  final String useCase;
  final String region;
  final Set<String> complianceTags;

  long price;
  int quality;
  long throughputTps;
  int maxConcurrency;
  long windowFromMillis;
  long windowUntilMillis;
  long askTimeMillis;

  /** The ladder of its model, which it stands on while it is on the book. */
  PriceLadder ladder;
  /** The block of the ladder it stands in, while it is on the book. */
  PriceLadder.Block ladderBlock;
  /** Where it stood in that block when last placed or found there: a hint, as asks before it come and go. */
  int ladderSlotHint;

  /** The terms as a record; null after a change until {@link #ask()} builds it again. */
  private Ask ask;

  /**
   * The fills in progress, by the end of their slot, ascending, in the first {@code slotCount} places
   * of a plain array: an ask has a handful of slots (its concurrency), a new slot almost always ends
   * after the others, and a release usually takes the first; no boxing and no tree node per fill. Each
   * new slot starts at or after busyUntil, so finishes are distinct and the last one is busyUntil. The
   * count is a field of the ask itself: every scan reads it, beside the terms.
   */
  private long[] slotFinishes = new long[4];
  int slotCount;
  long busyUntil = Long.MIN_VALUE;

  AskState(Ask ask, long askTimeMillis) {
    this.askId = ask.askId();
    this.providerId = ask.providerId();
    this.model = ask.model();
    this.useCase = ask.useCase();
    this.region = ask.region();
    this.complianceTags = ask.complianceTags();
    this.price = ask.pricePerMtok();
    this.quality = ask.quality();
    this.throughputTps = ask.throughputTps();
    this.maxConcurrency = ask.maxConcurrency();
    this.windowFromMillis = ask.windowFromMillis();
    this.windowUntilMillis = ask.windowUntilMillis();
    this.askTimeMillis = askTimeMillis;
    this.ask = ask;
  }

  /** The ask's terms as they stand. */
  Ask ask() {
    Ask a = ask;
    if (a == null) {
      a = new Ask(askId, providerId, model, useCase, price, quality, throughputTps, maxConcurrency, windowFromMillis, windowUntilMillis,
          region, complianceTags);
      ask = a;
    }
    return a;
  }

  /** New terms from an amend: price, quality, throughput and window (the ask time is the caller's). */
  void amend(long price, int quality, long throughputTps, long windowFromMillis, long windowUntilMillis) {
    this.price = price;
    this.quality = quality;
    this.throughputTps = throughputTps;
    this.windowFromMillis = windowFromMillis;
    this.windowUntilMillis = windowUntilMillis;
    this.ask = null;
  }

  /** New live fleet limits. */
  void capacity(long throughputTps, int maxConcurrency) {
    this.throughputTps = throughputTps;
    this.maxConcurrency = maxConcurrency;
    this.ask = null;
  }

  void reserve(Fill fill) {
    long finish = fill.finishMillis();
    int at = slotCount;
    while (at > 0 && slotFinishes[at - 1] > finish) at--;
    if (at > 0 && slotFinishes[at - 1] == finish) throw new IllegalStateException("two slots of ask " + askId + " end at " + finish);
    if (slotCount == slotFinishes.length) slotFinishes = Arrays.copyOf(slotFinishes, slotCount * 2);
    System.arraycopy(slotFinishes, at, slotFinishes, at + 1, slotCount - at);
    slotFinishes[at] = finish;
    slotCount++;
    busyUntil = Math.max(busyUntil, finish);
  }

  /** Busy until the latest slot still reserved; a gap a release leaves stays unused (conservative). */
  void release(Fill fill) {
    long finish = fill.finishMillis();
    for (int i = 0; i < slotCount; i++) {
      if (slotFinishes[i] == finish) {
        System.arraycopy(slotFinishes, i + 1, slotFinishes, i, slotCount - i - 1);
        slotCount--;
        break;
      }
    }
    busyUntil = slotCount == 0 ? Long.MIN_VALUE : slotFinishes[slotCount - 1];
  }
}
