package io.keld.marketplace.book;

import io.keld.marketplace.book.BookEvent.AskAmended;
import io.keld.marketplace.book.BookEvent.AskPosted;
import io.keld.marketplace.book.BookEvent.AskWithdrawn;
import io.keld.marketplace.book.BookEvent.BidCancelled;
import io.keld.marketplace.book.BookEvent.BidExpired;
import io.keld.marketplace.book.BookEvent.BidRested;
import io.keld.marketplace.book.BookEvent.CapacityUpdated;
import io.keld.marketplace.book.BookEvent.FillReleased;
import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.book.BookResult.Accepted;
import io.keld.marketplace.book.BookResult.Reason;
import io.keld.marketplace.book.BookResult.Rejected;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.Arrays;

/**
 * One use case's order book: the matching engine of {@code marketplace/MATCHING.md}.
 *
 * <p>Plain, deterministic Java: no actors, no I/O, no clock. Time comes in with each call (UTC epoch
 * milliseconds). {@link #execute} decides an operation and returns the events it causes; every
 * change of state goes through {@link #apply}, so replaying the events on an empty book rebuilds
 * this one exactly. Not thread-safe: one book, one thread (the entity).
 *
 * <p>Asks are kept per model in ladders sorted by priority, so a bid with a model allow-list looks
 * only at those models, and every scan stops at the bid's ceiling.
 */
public final class OrderBookCore {

  public static final long MAX_PRICE = 1_000_000_000_000L;
  static final long MAX_TOKENS = 1_000_000_000_000L;
  static final long MAX_THROUGHPUT = 1_000_000_000L;
  static final int MAX_CONCURRENCY = 1_000_000;
  static final int MAX_ID_LENGTH = 128;

  private final String useCase;
  private final MatchingRules rules;
  /** {@code fil_<useCase>_}: a fill's id is this and its number. */
  private final String fillIdPrefix;

  private final Map<String, AskState> asks = new HashMap<>();
  /** model -> its asks in priority order (rule 2). The order of the models does not matter: a scan ranks what it finds. */
  private final Map<String, Ladder> ladders = new HashMap<>();

  private final Map<String, RestingBid> resting = new HashMap<>();
  private final TreeSet<RestingBid> restingByPriority = new TreeSet<>(RestingBid.PRIORITY);
  private final TreeSet<RestingBid> restingByEscalation = new TreeSet<>(RestingBid.ESCALATION);

  private final Map<String, Fill> activeFills = new HashMap<>();
  private final Map<String, String> fillIdByBidId = new HashMap<>();
  /**
   * Withdrawn asks whose fills are not all released, and how many are left. (A live ask's unreleased
   * fills are its slots.) Its id stays taken until they are.
   */
  private final Map<String, Integer> unreleasedFillsOfWithdrawnAsks = new HashMap<>();

  private long nextFillSeq = 1;
  private long nextArrivalSeq = 1;

  public OrderBookCore(String useCase, MatchingRules rules) {
    this.useCase = requireId(useCase, "useCase");
    this.rules = rules;
    this.fillIdPrefix = "fil_" + useCase + "_";
  }

  public String useCase() {
    return useCase;
  }

  public MatchingRules rules() {
    return rules;
  }

  // ---------------------------------------------------------------------------------------------
  // Deciding

  /** Decides one operation at time {@code now}. An accepted operation has already been applied. */
  public BookResult execute(BookOp op, long now) {
    if (op instanceof BookOp.PlaceBid p) return placeBid(p.bid(), now);
    if (op instanceof BookOp.AmendAsk a) return amendAsk(a, now);
    if (op instanceof BookOp.PostAsk p) return postAsk(p.ask(), now);
    if (op instanceof BookOp.UpdateCapacity c) return updateCapacity(c, now);
    if (op instanceof BookOp.WithdrawAsk w) return withdrawAsk(w, now);
    if (op instanceof BookOp.CancelBid c) return cancelBid(c.bidId(), now);
    if (op instanceof BookOp.ReleaseFill r) return releaseFill(r, now);
    if (op instanceof BookOp.ExpireDue) return new Accepted(expireDue(now));
    throw new IllegalArgumentException("unknown operation " + op);
  }

  /** Expires every resting bid whose escalation point is at or before {@code now} (rule 4). */
  public List<BookEvent> expireDue(long now) {
    if (restingByEscalation.isEmpty() || restingByEscalation.first().bid.escalateAtMillis() > now) return List.of();
    List<BookEvent> events = new ArrayList<>();
    while (!restingByEscalation.isEmpty() && restingByEscalation.first().bid.escalateAtMillis() <= now) {
      Bid bid = restingByEscalation.first().bid;
      emit(events, new BidExpired(bid.bidId(), bid.escalateAtMillis(), now));
    }
    return events;
  }

  /** The earliest escalation point among resting bids, or {@link Long#MAX_VALUE} if none rests. */
  public long nextEscalationMillis() {
    return restingByEscalation.isEmpty() ? Long.MAX_VALUE : restingByEscalation.first().bid.escalateAtMillis();
  }

  private BookResult postAsk(Ask ask, long now) {
    Rejected invalid = validate(ask);
    if (invalid != null) return invalid;
    if (asks.containsKey(ask.askId())) return BookResult.rejected(Reason.DUPLICATE_ID, "ask " + ask.askId() + " is already on the book");
    // A withdrawn ask's id stays taken until its fills are released: a schedule is keyed by ask id.
    if (unreleasedFillsOfWithdrawnAsks.containsKey(ask.askId())) {
      return BookResult.rejected(Reason.DUPLICATE_ID, "ask " + ask.askId() + " was withdrawn and still has fills in progress");
    }
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new AskPosted(ask, now));
    offer(ask.askId(), now, events);
    return new Accepted(events);
  }

  private BookResult amendAsk(BookOp.AmendAsk amend, long now) {
    AskState a = asks.get(amend.askId());
    Rejected refused = ownedAsk(a, amend.askId(), amend.providerId());
    if (refused != null) return refused;
    Ask old = a.ask;
    long price = amend.pricePerMtok() != null ? amend.pricePerMtok() : old.pricePerMtok();
    int quality = amend.quality() != null ? amend.quality() : old.quality();
    long throughput = amend.throughputTps() != null ? amend.throughputTps() : old.throughputTps();
    long from = amend.windowFromMillis() != null ? amend.windowFromMillis() : old.windowFromMillis();
    long until = amend.windowUntilMillis() != null ? amend.windowUntilMillis() : old.windowUntilMillis();
    // The ids and use case stand; only the new terms need checking.
    Rejected invalid = validateTerms(price, quality, throughput, old.maxConcurrency(), from, until);
    if (invalid != null) return invalid;
    // Moving the price or the quality re-queues the ask behind others of equal terms (rule 2).
    long askTime = price != old.pricePerMtok() || quality != old.quality() ? now : a.askTimeMillis;
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new AskAmended(old.askId(), price, quality, throughput, from, until, askTime, now));
    offer(old.askId(), now, events);
    return new Accepted(events);
  }

  private BookResult updateCapacity(BookOp.UpdateCapacity update, long now) {
    AskState a = asks.get(update.askId());
    Rejected refused = ownedAsk(a, update.askId(), update.providerId());
    if (refused != null) return refused;
    if (update.throughputTps() < 1 || update.throughputTps() > MAX_THROUGHPUT) {
      return invalid("throughputTps must be between 1 and " + MAX_THROUGHPUT);
    }
    if (update.maxConcurrency() < 1 || update.maxConcurrency() > MAX_CONCURRENCY) {
      return invalid("maxConcurrency must be between 1 and " + MAX_CONCURRENCY);
    }
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new CapacityUpdated(update.askId(), update.throughputTps(), update.maxConcurrency(), now));
    offer(update.askId(), now, events);
    return new Accepted(events);
  }

  private BookResult withdrawAsk(BookOp.WithdrawAsk withdraw, long now) {
    AskState a = asks.get(withdraw.askId());
    Rejected refused = ownedAsk(a, withdraw.askId(), withdraw.providerId());
    if (refused != null) return refused;
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new AskWithdrawn(withdraw.askId(), now));
    return new Accepted(events);
  }

  private BookResult placeBid(Bid bid, long now) {
    Rejected invalid = validate(bid, now);
    if (invalid != null) return invalid;
    if (resting.containsKey(bid.bidId()) || fillIdByBidId.containsKey(bid.bidId())) {
      return BookResult.rejected(Reason.DUPLICATE_ID, "bid " + bid.bidId() + " is already on the book");
    }
    List<BookEvent> events = new ArrayList<>(1);
    Filled fill = match(bid, now);
    if (fill != null) {
      emit(events, fill);
    } else {
      // A bid placed at or after its escalation point that cannot fill expires at once.
      emit(events, new BidRested(bid, now));
      if (bid.escalateAtMillis() <= now) emit(events, new BidExpired(bid.bidId(), bid.escalateAtMillis(), now));
    }
    return new Accepted(events);
  }

  private BookResult cancelBid(String bidId, long now) {
    if (!resting.containsKey(bidId)) {
      if (fillIdByBidId.containsKey(bidId)) {
        return BookResult.rejected(Reason.BID_NOT_RESTING, "bid " + bidId + " has filled; release the fill instead");
      }
      return BookResult.rejected(Reason.UNKNOWN_BID, "no bid " + bidId + " rests on the book");
    }
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new BidCancelled(bidId, now));
    return new Accepted(events);
  }

  private BookResult releaseFill(BookOp.ReleaseFill release, long now) {
    Fill fill = activeFills.get(release.fillId());
    if (fill == null) return BookResult.rejected(Reason.UNKNOWN_FILL, "no active fill " + release.fillId());
    if (release.actualTokens() < 0) return invalid("actualTokens must be >= 0");
    List<BookEvent> events = new ArrayList<>(1);
    emit(events, new FillReleased(fill.fillId(), fill.askId(), fill.bidId(), release.actualTokens(), release.failed(), now));
    // The freed capacity is offered to resting bids (rule 4).
    if (asks.containsKey(fill.askId())) offer(fill.askId(), now, events);
    return new Accepted(events);
  }

  /**
   * Rule 4: a changed ask is offered to the resting bids in priority order; each one it is
   * feasible for is matched against the whole book (rules 1-3). Bids at or past their escalation
   * point are not offered anything: they are due to expire.
   */
  private void offer(String askId, long now, List<BookEvent> events) {
    if (restingByPriority.isEmpty()) return;
    AskState a = asks.get(askId);
    if (a == null) return;
    // Walks the resting bids in place: matching removes only the bid it fills, and higher() finds
    // the next one whether or not the current one is still there.
    for (RestingBid candidate = restingByPriority.first(); candidate != null; candidate = restingByPriority.higher(candidate)) {
      if (a.slots.size() >= a.ask.maxConcurrency()) return;
      Bid bid = candidate.bid;
      // Bids come highest ceiling first: once one cannot afford the ask, none after it can.
      if (bid.ceilingPerMtok() < a.ask.pricePerMtok()) return;
      if (bid.escalateAtMillis() <= now) continue;
      if (finishIfFeasible(a, bid, now) < 0) continue;
      Filled fill = match(bid, now);
      if (fill != null) emit(events, fill);
    }
  }

  /** Rules 1-3: the best feasible ask for the bid, as a fill, or null when none is feasible. */
  private Filled match(Bid bid, long now) {
    Scan scan = scanBest(bid, now, rules.safetyMarginMillis());
    if (scan.size == 0) return null;
    Ask ask = scan.top[0].ask;
    long finish = scan.finish[0];
    long start = finish - durationMillis(bid.tokens(), ask.throughputTps());
    // Priority is price first, so the runner-up has the lowest price among the other feasible asks.
    Long competing = scan.size > 1 ? scan.top[1].ask.pricePerMtok() : null;
    Fill fill = new Fill(fillIdPrefix + nextFillSeq, bid.bidId(), ask.askId(), ask.providerId(), ask.model(),
        ask.pricePerMtok(), bid.tokens(), start, finish, bid.deadlineMillis(), now, competing, scan.size, rules.version());
    return new Filled(fill, bid, now);
  }

  /** Fills the reused scan with the best feasible asks for the bid (rules 1-2), under the given safety margin. */
  private Scan scanBest(Bid bid, long now, long safetyMarginMillis) {
    Scan scan = this.scan;
    scan.reset();
    if (bid.models().isEmpty()) {
      for (Ladder ladder : ladders.values()) scan(ladder, bid, now, safetyMarginMillis, scan);
    } else {
      for (String model : bid.models()) {
        Ladder ladder = ladders.get(model);
        if (ladder != null) scan(ladder, bid, now, safetyMarginMillis, scan);
      }
    }
    return scan;
  }

  /**
   * The best {@link MatchingRules#FEASIBLE_COUNT_CAP} feasible asks seen so far, in priority order
   * (rule 5 counts feasible asks up to that cap). Reused across matches: the book is single-threaded.
   */
  private static final class Scan {
    final AskState[] top = new AskState[MatchingRules.FEASIBLE_COUNT_CAP];
    final long[] finish = new long[MatchingRules.FEASIBLE_COUNT_CAP];
    int size;

    void reset() {
      Arrays.fill(top, 0, size, null);
      size = 0;
    }

    boolean full() {
      return size == top.length;
    }

    void add(AskState a, long finishMillis) {
      int i = size < top.length ? size++ : top.length - 1;
      while (i > 0 && AskState.PRIORITY.compare(a, top[i - 1]) < 0) {
        top[i] = top[i - 1];
        finish[i] = finish[i - 1];
        i--;
      }
      top[i] = a;
      finish[i] = finishMillis;
    }
  }

  private final Scan scan = new Scan();

  /**
   * Walks one model's ladder in priority order up to the bid's ceiling, and stops as soon as the
   * rest of the ladder cannot enter the best {@code FEASIBLE_COUNT_CAP}.
   */
  private void scan(Ladder ladder, Bid bid, long now, long safetyMarginMillis, Scan scan) {
    AskState[] rungs = ladder.rungs;
    for (int i = 0, n = ladder.size; i < n; i++) {
      AskState a = rungs[i];
      if (a.ask.pricePerMtok() > bid.ceilingPerMtok()) return;
      if (scan.full() && AskState.PRIORITY.compare(a, scan.top[scan.size - 1]) > 0) return;
      long finish = finishIfFeasible(a, bid, now, safetyMarginMillis);
      if (finish >= 0) scan.add(a, finish);
    }
  }

  /** Rule 1: when the ask could finish the bid's tokens, or -1 when it is not feasible. */
  private long finishIfFeasible(AskState a, Bid bid, long now) {
    return finishIfFeasible(a, bid, now, rules.safetyMarginMillis());
  }

  private static long finishIfFeasible(AskState a, Bid bid, long now, long safetyMarginMillis) {
    Ask ask = a.ask;
    if (ask.pricePerMtok() > bid.ceilingPerMtok()) return -1;
    if (ask.quality() < bid.minQuality()) return -1;
    if (!bid.models().isEmpty() && !bid.models().contains(ask.model())) return -1;
    // An ask that names no region is in none of the bid's regions (Set.of(..).contains(null) would throw).
    if (!bid.regions().isEmpty() && (ask.region() == null || !bid.regions().contains(ask.region()))) return -1;
    if (!bid.requiredTags().isEmpty() && !ask.complianceTags().containsAll(bid.requiredTags())) return -1;
    if (!bid.providersAllowed().isEmpty() && !bid.providersAllowed().contains(ask.providerId())) return -1;
    if (!bid.providersDenied().isEmpty() && bid.providersDenied().contains(ask.providerId())) return -1;
    if (a.slots.size() >= ask.maxConcurrency()) return -1;
    long start = Math.max(Math.max(now, a.busyUntil), ask.windowFromMillis());
    long finish = start + durationMillis(bid.tokens(), ask.throughputTps());
    if (finish > bid.deadlineMillis() - safetyMarginMillis) return -1;
    if (finish > ask.windowUntilMillis()) return -1;
    return finish;
  }

  /** How long {@code tokens} take at {@code throughputTps}, rounded up to the millisecond. */
  static long durationMillis(long tokens, long throughputTps) {
    return (tokens * 1000 + throughputTps - 1) / throughputTps;
  }

  // ---------------------------------------------------------------------------------------------
  // Applying: the only code that changes the book

  private void emit(List<BookEvent> events, BookEvent event) {
    apply(event);
    events.add(event);
  }

  /** Applies one event. Used while deciding and, on an empty book, to replay a journal. */
  public void apply(BookEvent event) {
    if (event instanceof Filled f) {
      Fill fill = f.fill();
      removeResting(fill.bidId());
      asks.get(fill.askId()).reserve(fill);
      activeFills.put(fill.fillId(), fill);
      fillIdByBidId.put(fill.bidId(), fill.fillId());
      nextFillSeq++;
    } else if (event instanceof AskAmended am) {
      AskState a = asks.get(am.askId());
      Ask old = a.ask;
      // Only price, quality and ask time place an ask on its ladder; a throughput or window change keeps its place.
      boolean moves = am.pricePerMtok() != old.pricePerMtok() || am.quality() != old.quality() || am.askTimeMillis() != a.askTimeMillis;
      Ladder ladder = ladders.get(old.model());
      int at = moves ? ladder.indexOf(a) : -1;
      a.terms(new Ask(old.askId(), old.providerId(), old.model(), old.useCase(), am.pricePerMtok(), am.quality(),
          am.throughputTps(), old.maxConcurrency(), am.windowFromMillis(), am.windowUntilMillis(), old.region(),
          old.complianceTags()));
      a.askTimeMillis = am.askTimeMillis();
      if (moves) ladder.moved(at);
    } else if (event instanceof BidRested r) {
      RestingBid rb = new RestingBid(r.bid(), nextArrivalSeq++, r.atMillis());
      resting.put(r.bid().bidId(), rb);
      restingByPriority.add(rb);
      restingByEscalation.add(rb);
    } else if (event instanceof FillReleased r) {
      Fill fill = activeFills.remove(r.fillId());
      fillIdByBidId.remove(fill.bidId());
      AskState a = asks.get(fill.askId());
      if (a != null) a.release(fill);
      else unreleasedFillsOfWithdrawnAsks.computeIfPresent(fill.askId(), (id, n) -> n == 1 ? null : n - 1);
    } else if (event instanceof AskPosted p) {
      AskState a = new AskState(p.ask(), p.atMillis());
      asks.put(p.ask().askId(), a);
      ladder(a);
    } else if (event instanceof CapacityUpdated c) {
      AskState a = asks.get(c.askId());
      Ask old = a.ask;
      a.terms(new Ask(old.askId(), old.providerId(), old.model(), old.useCase(), old.pricePerMtok(), old.quality(),
          c.throughputTps(), c.maxConcurrency(), old.windowFromMillis(), old.windowUntilMillis(), old.region(),
          old.complianceTags()));
    } else if (event instanceof AskWithdrawn w) {
      AskState a = asks.remove(w.askId());
      unladder(a);
      if (a.slots.size() > 0) unreleasedFillsOfWithdrawnAsks.put(w.askId(), a.slots.size());
      // Its active fills stay until released: withdrawing stops new work, not work accepted.
    } else if (event instanceof BidExpired e) {
      removeResting(e.bidId());
    } else if (event instanceof BidCancelled c) {
      removeResting(c.bidId());
    } else {
      throw new IllegalArgumentException("unknown event " + event);
    }
  }

  private void removeResting(String bidId) {
    RestingBid rb = resting.remove(bidId);
    if (rb != null) {
      restingByPriority.remove(rb);
      restingByEscalation.remove(rb);
    }
  }

  private void ladder(AskState a) {
    ladders.computeIfAbsent(a.ask.model(), m -> new Ladder()).add(a);
  }

  private void unladder(AskState a) {
    Ladder ladder = ladders.get(a.ask.model());
    ladder.remove(ladder.indexOf(a));
    if (ladder.size == 0) ladders.remove(a.ask.model());
  }

  /**
   * One model's asks in priority order, in a plain array. A price move shifts only the asks between
   * the old place and the new one (a tick or two apart), not the rest of the ladder.
   */
  static final class Ladder {
    AskState[] rungs = new AskState[16];
    int size;

    /** Where {@code a} is; it must be on this ladder, in its place. */
    int indexOf(AskState a) {
      int at = search(a, 0, size);
      if (at < 0 || rungs[at] != a) throw new IllegalStateException("ask " + a.ask.askId() + " is not in its place on its ladder");
      return at;
    }

    void add(AskState a) {
      int at = search(a, 0, size);
      at = at < 0 ? -at - 1 : at;
      if (size == rungs.length) rungs = Arrays.copyOf(rungs, size * 2);
      System.arraycopy(rungs, at, rungs, at + 1, size - at);
      rungs[at] = a;
      size++;
    }

    void remove(int at) {
      System.arraycopy(rungs, at + 1, rungs, at, size - at - 1);
      rungs[--size] = null;
    }

    /** The ask at {@code at} has new terms: moves it to its new place among the others. */
    void moved(int at) {
      AskState a = rungs[at];
      if (at > 0 && AskState.PRIORITY.compare(a, rungs[at - 1]) < 0) {
        int to = search(a, 0, at);
        to = to < 0 ? -to - 1 : to;
        System.arraycopy(rungs, to, rungs, to + 1, at - to);
        rungs[to] = a;
      } else if (at < size - 1 && AskState.PRIORITY.compare(a, rungs[at + 1]) > 0) {
        int to = search(a, at + 1, size);
        to = (to < 0 ? -to - 1 : to) - 1;
        System.arraycopy(rungs, at + 1, rungs, at, to - at);
        rungs[to] = a;
      }
    }

    /** Binary search of {@code [from, to)}: the index of {@code a}'s equal, or -(insertion point) - 1. */
    private int search(AskState a, int from, int to) {
      int lo = from;
      int hi = to - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        int c = AskState.PRIORITY.compare(rungs[mid], a);
        if (c < 0) lo = mid + 1;
        else if (c > 0) hi = mid - 1;
        else return mid;
      }
      return -(lo + 1);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** What {@code bid} would clear at now, and the fallbacks after it, committing nothing. */
  public Quote quote(Bid bid, long now, int maxOptions) {
    List<AskState> feasible = new ArrayList<>();
    for (AskState a : asks.values()) if (finishIfFeasible(a, bid, now) >= 0) feasible.add(a);
    feasible.sort(AskState.PRIORITY);
    List<Quote.Option> options = new ArrayList<>();
    for (AskState a : feasible.subList(0, Math.min(maxOptions, feasible.size()))) {
      long finish = finishIfFeasible(a, bid, now);
      options.add(new Quote.Option(a.ask.askId(), a.ask.providerId(), a.ask.model(), a.ask.pricePerMtok(), a.ask.quality(),
          finish - durationMillis(bid.tokens(), a.ask.throughputTps()), finish));
    }
    return new Quote(now, feasible.size(), List.copyOf(options));
  }

  /**
   * How rules 1-3 clear {@code bid} at {@code now} under {@code rules}, committing nothing: what a
   * verifier replaying the book's log compares a recorded fill with. The candidates are the best
   * feasible asks in priority order, up to {@link MatchingRules#FEASIBLE_COUNT_CAP}.
   */
  public Clearing clearing(Bid bid, long now, MatchingRules rules) {
    Scan scan = scanBest(bid, now, rules.safetyMarginMillis());
    List<Clearing.Candidate> best = new ArrayList<>(scan.size);
    for (int i = 0; i < scan.size; i++) best.add(candidateOf(scan.top[i], bid, scan.finish[i]));
    scan.reset();
    return new Clearing(best);
  }

  /** The ask as a candidate for {@code bid} at {@code now} (its slot if it filled), or null when it is not on the book or not feasible. */
  public Clearing.Candidate candidate(String askId, Bid bid, long now, MatchingRules rules) {
    AskState a = asks.get(askId);
    if (a == null) return null;
    long finish = finishIfFeasible(a, bid, now, rules.safetyMarginMillis());
    return finish < 0 ? null : candidateOf(a, bid, finish);
  }

  private static Clearing.Candidate candidateOf(AskState a, Bid bid, long finish) {
    return new Clearing.Candidate(a.ask.askId(), a.ask.providerId(), a.ask.model(), a.ask.pricePerMtok(), a.ask.quality(), a.askTimeMillis,
        finish - durationMillis(bid.tokens(), a.ask.throughputTps()), finish);
  }

  /** The ask as it stands on the book (withdrawn: null), its fills in progress and when its schedule is busy until. */
  public Ask ask(String askId) {
    AskState a = asks.get(askId);
    return a == null ? null : a.ask;
  }

  /** How many of the ask's fills are in progress (0 for an ask not on the book). */
  public int fillsInProgress(String askId) {
    AskState a = asks.get(askId);
    return a == null ? 0 : a.slots.size();
  }

  /** The end of the ask's last reserved slot, or {@link Long#MIN_VALUE} when none is reserved. */
  public long busyUntil(String askId) {
    AskState a = asks.get(askId);
    return a == null ? Long.MIN_VALUE : a.busyUntil;
  }

  /** The resting bid with this id, or null. */
  public Bid restingBid(String bidId) {
    RestingBid rb = resting.get(bidId);
    return rb == null ? null : rb.bid;
  }

  /** The number the next fill's id will carry ({@code fil_<useCase>_<n>}). */
  public long nextFillSeq() {
    return nextFillSeq;
  }

  /** Price levels and aggregated resting demand. */
  public BookView view(long now) {
    TreeMap<Long, long[]> levels = new TreeMap<>();
    for (AskState a : asks.values()) {
      long[] l = levels.computeIfAbsent(a.ask.pricePerMtok(), p -> new long[3]);
      l[0]++;
      l[1] += a.ask.throughputTps();
      if (a.busyUntil <= now && a.slots.size() < a.ask.maxConcurrency()) l[2] += a.ask.throughputTps();
    }
    List<BookView.PriceLevel> askLevels = new ArrayList<>();
    levels.forEach((price, l) -> askLevels.add(new BookView.PriceLevel(price, (int) l[0], l[1], l[2])));
    TreeMap<Long, long[]> demand = new TreeMap<>(Comparator.reverseOrder());
    for (RestingBid rb : resting.values()) {
      long[] d = demand.computeIfAbsent(rb.bid.ceilingPerMtok(), c -> new long[] {0, 0, Long.MAX_VALUE});
      d[0]++;
      d[1] += rb.bid.tokens();
      d[2] = Math.min(d[2], rb.bid.deadlineMillis());
    }
    List<BookView.DemandLevel> demandLevels = new ArrayList<>();
    demand.forEach((ceiling, d) -> demandLevels.add(new BookView.DemandLevel(ceiling, (int) d[0], d[1], d[2])));
    return new BookView(useCase, now, List.copyOf(askLevels), List.copyOf(demandLevels));
  }

  public int askCount() {
    return asks.size();
  }

  public int restingBidCount() {
    return resting.size();
  }

  public int activeFillCount() {
    return activeFills.size();
  }

  public boolean isResting(String bidId) {
    return resting.containsKey(bidId);
  }

  public Fill activeFill(String fillId) {
    return activeFills.get(fillId);
  }

  /** The fill a bid cleared with, while it is active. */
  public Fill activeFillOfBid(String bidId) {
    String fillId = fillIdByBidId.get(bidId);
    return fillId == null ? null : activeFills.get(fillId);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

  public BookSnapshot snapshot() {
    List<BookSnapshot.AskEntry> askEntries = new ArrayList<>();
    for (AskState a : asks.values()) askEntries.add(new BookSnapshot.AskEntry(a.ask, a.askTimeMillis));
    askEntries.sort(Comparator.comparing(e -> e.ask().askId()));
    List<BookSnapshot.RestingEntry> restingEntries = new ArrayList<>();
    for (RestingBid rb : resting.values()) restingEntries.add(new BookSnapshot.RestingEntry(rb.bid, rb.arrivalSeq, rb.restedAtMillis));
    restingEntries.sort(Comparator.comparingLong(BookSnapshot.RestingEntry::arrivalSeq));
    List<Fill> fills = new ArrayList<>(activeFills.values());
    fills.sort(Comparator.comparing(Fill::fillId));
    return new BookSnapshot(useCase, rules, nextFillSeq, nextArrivalSeq, List.copyOf(askEntries), List.copyOf(restingEntries), List.copyOf(fills));
  }

  public static OrderBookCore fromSnapshot(BookSnapshot s) {
    OrderBookCore book = new OrderBookCore(s.useCase(), s.rules());
    for (BookSnapshot.AskEntry e : s.asks()) {
      AskState a = new AskState(e.ask(), e.askTimeMillis());
      book.asks.put(e.ask().askId(), a);
      book.ladder(a);
    }
    for (BookSnapshot.RestingEntry e : s.restingBids()) {
      RestingBid rb = new RestingBid(e.bid(), e.arrivalSeq(), e.restedAtMillis());
      book.resting.put(e.bid().bidId(), rb);
      book.restingByPriority.add(rb);
      book.restingByEscalation.add(rb);
    }
    for (Fill f : s.activeFills()) {
      book.activeFills.put(f.fillId(), f);
      book.fillIdByBidId.put(f.bidId(), f.fillId());
      AskState a = book.asks.get(f.askId());
      if (a != null) a.reserve(f);
      else book.unreleasedFillsOfWithdrawnAsks.merge(f.askId(), 1, Integer::sum);
    }
    book.nextFillSeq = s.nextFillSeq();
    book.nextArrivalSeq = s.nextArrivalSeq();
    return book;
  }

  // ---------------------------------------------------------------------------------------------
  // Validation

  private Rejected validate(Ask ask) {
    if (ask == null) return invalid("an ask is required");
    String bad = firstBadId(ask.askId(), "askId", ask.providerId(), "providerId", ask.model(), "model");
    if (bad != null) return invalid(bad);
    if (!useCase.equals(ask.useCase())) {
      return BookResult.rejected(Reason.WRONG_USE_CASE, "ask is for use case '" + ask.useCase() + "', this book is '" + useCase + "'");
    }
    return validateTerms(ask.pricePerMtok(), ask.quality(), ask.throughputTps(), ask.maxConcurrency(), ask.windowFromMillis(),
        ask.windowUntilMillis());
  }

  private static Rejected validateTerms(long price, int quality, long throughput, int maxConcurrency, long from, long until) {
    if (price < 1 || price > MAX_PRICE) return invalid("pricePerMtok must be between 1 and " + MAX_PRICE);
    if (quality < 0 || quality > 100) return invalid("quality must be between 0 and 100");
    if (throughput < 1 || throughput > MAX_THROUGHPUT) return invalid("throughputTps must be between 1 and " + MAX_THROUGHPUT);
    if (maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY) return invalid("maxConcurrency must be between 1 and " + MAX_CONCURRENCY);
    if (from < 0 || from >= until) return invalid("the window must have from < until");
    return null;
  }

  private Rejected validate(Bid bid, long now) {
    if (bid == null) return invalid("a bid is required");
    String bad = firstBadId(bid.bidId(), "bidId");
    if (bad != null) return invalid(bad);
    if (!useCase.equals(bid.useCase())) {
      return BookResult.rejected(Reason.WRONG_USE_CASE, "bid is for use case '" + bid.useCase() + "', this book is '" + useCase + "'");
    }
    if (bid.ceilingPerMtok() < 1 || bid.ceilingPerMtok() > MAX_PRICE) return invalid("ceilingPerMtok must be between 1 and " + MAX_PRICE);
    if (bid.tokens() < 1 || bid.tokens() > MAX_TOKENS) return invalid("tokens must be between 1 and " + MAX_TOKENS);
    if (bid.minQuality() < 0 || bid.minQuality() > 100) return invalid("minQuality must be between 0 and 100");
    if (bid.deadlineMillis() <= now) return invalid("the deadline has passed");
    if (bid.escalateAtMillis() > bid.deadlineMillis()) return invalid("the escalation point must not be after the deadline");
    return null;
  }

  private static String firstBadId(String... valuesAndNames) {
    for (int i = 0; i < valuesAndNames.length; i += 2) {
      String v = valuesAndNames[i];
      if (v == null || v.isBlank() || v.length() > MAX_ID_LENGTH) return valuesAndNames[i + 1] + " must be 1 to " + MAX_ID_LENGTH + " characters";
    }
    return null;
  }

  private static Rejected ownedAsk(AskState a, String askId, String providerId) {
    if (a == null) return BookResult.rejected(Reason.UNKNOWN_ASK, "no ask " + askId + " on the book");
    if (!a.ask.providerId().equals(providerId)) return BookResult.rejected(Reason.NOT_YOUR_ASK, "ask " + askId + " belongs to another provider");
    return null;
  }

  private static Rejected invalid(String detail) {
    return BookResult.rejected(Reason.INVALID, detail);
  }

  private static String requireId(String id, String name) {
    if (id == null || id.isBlank()) throw new IllegalArgumentException(name + " is required");
    return id;
  }

  // ---------------------------------------------------------------------------------------------
  // Internal state

  /** An ask on the book, with its schedule: the fills it has accepted and not yet released. */
  private static final class AskState {
    static final Comparator<AskState> PRIORITY = (x, y) -> {
      int c = Long.compare(x.price, y.price);
      if (c != 0) return c;
      c = Integer.compare(y.quality, x.quality);
      if (c != 0) return c;
      c = Long.compare(x.askTimeMillis, y.askTimeMillis);
      if (c != 0) return c;
      return x.ask.askId().compareTo(y.ask.askId());
    };

    Ask ask;
    long askTimeMillis;
    /** The ask's price and quality, kept beside it so that ranking asks reads no other object. */
    long price;
    int quality;
    /**
     * The fills in progress, by the end of their slot. Each new slot starts at or after busyUntil,
     * so finishes are distinct and the last one is busyUntil.
     */
    final SlotIndex slots = new SlotIndex();
    long busyUntil = Long.MIN_VALUE;

    void reserve(Fill fill) {
      if (!slots.add(fill.finishMillis())) {
        throw new IllegalStateException("two slots of ask " + ask.askId() + " end at " + fill.finishMillis());
      }
      busyUntil = Math.max(busyUntil, fill.finishMillis());
    }

    /** Busy until the latest slot still reserved; a gap a release leaves stays unused (conservative). */
    void release(Fill fill) {
      slots.remove(fill.finishMillis());
      busyUntil = slots.size() == 0 ? Long.MIN_VALUE : slots.last();
    }

    AskState(Ask ask, long askTimeMillis) {
      terms(ask);
      this.askTimeMillis = askTimeMillis;
    }

    /** The ask's current terms; every change of them comes through here. */
    void terms(Ask ask) {
      this.ask = ask;
      this.price = ask.pricePerMtok();
      this.quality = ask.quality();
    }
  }

  /**
   * An ask's slot finishes in ascending order, in a plain array: an ask has a handful of slots (its
   * concurrency), a new slot almost always ends after the others, and a release usually takes the
   * first; no boxing and no tree node per fill.
   */
  static final class SlotIndex {
    private long[] finishes = new long[4];
    private int size;

    int size() {
      return size;
    }

    long last() {
      return finishes[size - 1];
    }

    /** False, changing nothing, when a slot already ends at {@code finish}. */
    boolean add(long finish) {
      int at = size;
      while (at > 0 && finishes[at - 1] > finish) at--;
      if (at > 0 && finishes[at - 1] == finish) return false;
      if (size == finishes.length) finishes = Arrays.copyOf(finishes, size * 2);
      System.arraycopy(finishes, at, finishes, at + 1, size - at);
      finishes[at] = finish;
      size++;
      return true;
    }

    void remove(long finish) {
      for (int i = 0; i < size; i++) {
        if (finishes[i] == finish) {
          System.arraycopy(finishes, i + 1, finishes, i, size - i - 1);
          size--;
          return;
        }
      }
    }
  }

  /** A bid waiting for an ask; {@code arrivalSeq} breaks ties in its priority. */
  private static final class RestingBid {
    static final Comparator<RestingBid> PRIORITY = (x, y) -> {
      int c = Long.compare(y.bid.ceilingPerMtok(), x.bid.ceilingPerMtok());
      if (c != 0) return c;
      c = Long.compare(x.bid.deadlineMillis(), y.bid.deadlineMillis());
      if (c != 0) return c;
      return Long.compare(x.arrivalSeq, y.arrivalSeq);
    };
    static final Comparator<RestingBid> ESCALATION = (x, y) -> {
      int c = Long.compare(x.bid.escalateAtMillis(), y.bid.escalateAtMillis());
      return c != 0 ? c : Long.compare(x.arrivalSeq, y.arrivalSeq);
    };

    final Bid bid;
    final long arrivalSeq;
    final long restedAtMillis;

    RestingBid(Bid bid, long arrivalSeq, long restedAtMillis) {
      this.bid = bid;
      this.arrivalSeq = arrivalSeq;
      this.restedAtMillis = restedAtMillis;
    }
  }
}
