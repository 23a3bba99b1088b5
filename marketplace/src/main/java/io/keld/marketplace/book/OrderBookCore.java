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

/**
 * One use case's order book: the matching engine of {@code marketplace/MATCHING.md}.
 *
 * <p>Plain, deterministic Java: no actors, no I/O, no clock. Time comes in with each call (UTC epoch
 * milliseconds). {@link #execute} decides an operation and returns the events it causes; every
 * change of state is an event applied by the same code {@link #apply} replays with, so replaying the
 * events on an empty book rebuilds this one exactly. Not thread-safe: one book, one thread (the entity).
 *
 * <p>Asks are kept per model in {@link PriceLadder}s, so a bid with a model allow-list looks only
 * at those models, and every scan ({@link BidScan}) stops at the bid's ceiling. Bids waiting for an
 * ask are in {@link RestingBids}; {@link OperationChecks} holds what an operation must satisfy.
 */
public final class OrderBookCore {

  public static final long MAX_PRICE = 1_000_000_000_000L;

  private final String useCase;
  private final MatchingRules rules;
  /** {@code fil_<useCase>_}: a fill's id is this and its number. */
  private final String fillIdPrefix;

  private final Map<String, AskState> asks = new HashMap<>();
  /** model -> its asks in priority order (rule 2). The order of the models does not matter: a scan ranks what it finds. */
  private final Map<String, PriceLadder> ladders = new HashMap<>();
  /** The same ladders in a list, for a scan of every model without an iterator. */
  private final List<PriceLadder> allLadders = new ArrayList<>();

  private final RestingBids resting = new RestingBids();
  /** Reused by every match and clearing: the book is single-threaded. */
  private final BidScan scan = new BidScan();

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
    this.useCase = OperationChecks.requireId(useCase, "useCase");
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
  // Deciding. Each decision applies its events as it makes them, through the same apply* methods
  // that {@link #apply} replays with (given the state it already found, so it is not looked up again).

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
    RestingBids.Entry due = resting.earliest();
    if (due == null || due.escalateAt > now) return List.of();
    List<BookEvent> events = new ArrayList<>();
    while (due != null && due.escalateAt <= now) {
      BidExpired expired = new BidExpired(due.bid.bidId(), due.escalateAt, now);
      resting.remove(due);
      events.add(expired);
      due = resting.earliest();
    }
    return events;
  }

  /** The earliest escalation point among resting bids, or {@link Long#MAX_VALUE} if none rests. */
  public long nextEscalationMillis() {
    RestingBids.Entry first = resting.earliest();
    return first == null ? Long.MAX_VALUE : first.escalateAt;
  }

  private BookResult postAsk(Ask ask, long now) {
    Rejected invalid = OperationChecks.ask(ask, useCase);
    if (invalid != null) return invalid;
    if (asks.containsKey(ask.askId())) return BookResult.rejected(Reason.DUPLICATE_ID, "ask " + ask.askId() + " is already on the book");
    // A withdrawn ask's id stays taken until its fills are released: a schedule is keyed by ask id.
    if (unreleasedFillsOfWithdrawnAsks.containsKey(ask.askId())) {
      return BookResult.rejected(Reason.DUPLICATE_ID, "ask " + ask.askId() + " was withdrawn and still has fills in progress");
    }
    AskPosted posted = new AskPosted(ask, now);
    AskState a = applyPosted(posted);
    return new Accepted(offer(posted, a, now));
  }

  private BookResult amendAsk(BookOp.AmendAsk amend, long now) {
    AskState a = asks.get(amend.askId());
    Rejected refused = OperationChecks.ownedAsk(a, amend.askId(), amend.providerId());
    if (refused != null) return refused;
    long price = amend.pricePerMtok() != null ? amend.pricePerMtok() : a.price;
    int quality = amend.quality() != null ? amend.quality() : a.quality;
    long throughput = amend.throughputTps() != null ? amend.throughputTps() : a.throughputTps;
    long from = amend.windowFromMillis() != null ? amend.windowFromMillis() : a.windowFromMillis;
    long until = amend.windowUntilMillis() != null ? amend.windowUntilMillis() : a.windowUntilMillis;
    // The ids and use case stand; only the new terms need checking.
    Rejected invalid = OperationChecks.terms(price, quality, throughput, a.maxConcurrency, from, until);
    if (invalid != null) return invalid;
    // Moving the price or the quality re-queues the ask behind others of equal terms (rule 2).
    long askTime = price != a.price || quality != a.quality ? now : a.askTimeMillis;
    AskAmended amended = new AskAmended(a.askId, price, quality, throughput, from, until, askTime, now);
    applyAmended(amended, a);
    return new Accepted(offer(amended, a, now));
  }

  private BookResult updateCapacity(BookOp.UpdateCapacity update, long now) {
    AskState a = asks.get(update.askId());
    Rejected refused = OperationChecks.ownedAsk(a, update.askId(), update.providerId());
    if (refused != null) return refused;
    Rejected invalid = OperationChecks.capacity(update.throughputTps(), update.maxConcurrency());
    if (invalid != null) return invalid;
    CapacityUpdated updated = new CapacityUpdated(update.askId(), update.throughputTps(), update.maxConcurrency(), now);
    a.capacity(updated.throughputTps(), updated.maxConcurrency());
    return new Accepted(offer(updated, a, now));
  }

  private BookResult withdrawAsk(BookOp.WithdrawAsk withdraw, long now) {
    AskState a = asks.get(withdraw.askId());
    Rejected refused = OperationChecks.ownedAsk(a, withdraw.askId(), withdraw.providerId());
    if (refused != null) return refused;
    AskWithdrawn withdrawn = new AskWithdrawn(withdraw.askId(), now);
    applyWithdrawn(withdrawn);
    return new Accepted(List.of(withdrawn));
  }

  private BookResult placeBid(Bid bid, long now) {
    Rejected invalid = OperationChecks.bid(bid, now, useCase);
    if (invalid != null) return invalid;
    if (resting.contains(bid.bidId()) || fillIdByBidId.containsKey(bid.bidId())) {
      return BookResult.rejected(Reason.DUPLICATE_ID, "bid " + bid.bidId() + " is already on the book");
    }
    Filled fill = match(bid, now, null);
    if (fill != null) return new Accepted(List.of(fill));
    // A bid placed at or after its escalation point that cannot fill expires at once.
    BidRested rested = new BidRested(bid, now);
    RestingBids.Entry entry = applyRested(rested);
    if (bid.escalateAtMillis() > now) return new Accepted(List.of(rested));
    BidExpired expired = new BidExpired(bid.bidId(), bid.escalateAtMillis(), now);
    resting.remove(entry);
    return new Accepted(List.of(rested, expired));
  }

  private BookResult cancelBid(String bidId, long now) {
    RestingBids.Entry entry = resting.remove(bidId);
    if (entry == null) {
      if (fillIdByBidId.containsKey(bidId)) {
        return BookResult.rejected(Reason.BID_NOT_RESTING, "bid " + bidId + " has filled; release the fill instead");
      }
      return BookResult.rejected(Reason.UNKNOWN_BID, "no bid " + bidId + " rests on the book");
    }
    return new Accepted(List.of(new BidCancelled(bidId, now)));
  }

  private BookResult releaseFill(BookOp.ReleaseFill release, long now) {
    Fill fill = release.actualTokens() < 0 ? activeFills.get(release.fillId()) : activeFills.remove(release.fillId());
    if (fill == null) return BookResult.rejected(Reason.UNKNOWN_FILL, "no active fill " + release.fillId());
    if (release.actualTokens() < 0) return OperationChecks.invalid("actualTokens must be >= 0");
    FillReleased released = new FillReleased(fill.fillId(), fill.askId(), fill.bidId(), release.actualTokens(), release.failed(), now);
    AskState a = applyReleased(fill);
    // The freed capacity is offered to resting bids (rule 4).
    return new Accepted(a == null ? List.of(released) : offer(released, a, now));
  }

  /**
   * Rule 4: a changed ask is offered to the resting bids in priority order; each one it is
   * feasible for is matched against the whole book (rules 1-3). Bids at or past their escalation
   * point are not offered anything: they are due to expire. Returns {@code first} (already
   * applied) and the fills that follow it.
   */
  private List<BookEvent> offer(BookEvent first, AskState a, long now) {
    List<BookEvent> events = null;
    // Walks the resting bids in place: matching removes only the bid it fills, and next() finds
    // the next one whether or not the current one is still there.
    for (RestingBids.Entry candidate = resting.first(); candidate != null; candidate = resting.next(candidate)) {
      if (a.slotCount >= a.maxConcurrency) break;
      // Bids come highest ceiling first: once one cannot afford the ask, none after it can.
      if (candidate.ceiling < a.price) break;
      if (candidate.escalateAt <= now) continue;
      Bid bid = candidate.bid;
      if (scan.finishIfFeasible(a, bid, now, rules.safetyMarginMillis()) < 0) continue;
      Filled fill = match(bid, now, candidate);
      if (fill != null) {
        if (events == null) {
          events = new ArrayList<>(4);
          events.add(first);
        }
        events.add(fill);
      }
    }
    return events == null ? List.of(first) : events;
  }

  /**
   * Rules 1-3: clears the bid against its best feasible ask and applies the fill; null, changing
   * nothing, when no ask is feasible. {@code resting} is the bid's entry if it rests.
   */
  private Filled match(Bid bid, long now, RestingBids.Entry restingEntry) {
    BidScan scan = this.scan.best(bid, now, rules.safetyMarginMillis(), ladders, allLadders);
    if (scan.size() == 0) return null;
    AskState a = scan.ask(0);
    long finish = scan.finish(0);
    long start = finish - scan.memoDurationMillis(bid.tokens(), a.throughputTps);
    // Priority is price first, so the runner-up has the lowest price among the other feasible asks.
    Long competing = scan.size() > 1 ? scan.ask(1).price : null;
    int feasible = scan.size();
    scan.reset();
    Fill fill = new Fill(fillIdPrefix + nextFillSeq, bid.bidId(), a.askId, a.providerId, a.model,
        a.price, bid.tokens(), start, finish, bid.deadlineMillis(), now, competing, feasible, rules.version());
    if (restingEntry != null) resting.remove(restingEntry);
    applyFill(fill, a);
    return new Filled(fill, bid, now);
  }

  // ---------------------------------------------------------------------------------------------
  // Applying: the only code that changes the book

  /** Applies one event. Used while deciding and, on an empty book, to replay a journal. */
  public void apply(BookEvent event) {
    if (event instanceof Filled f) {
      Fill fill = f.fill();
      resting.remove(fill.bidId());
      applyFill(fill, asks.get(fill.askId()));
    } else if (event instanceof AskAmended am) {
      applyAmended(am, asks.get(am.askId()));
    } else if (event instanceof BidRested r) {
      applyRested(r);
    } else if (event instanceof FillReleased r) {
      applyReleased(activeFills.remove(r.fillId()));
    } else if (event instanceof AskPosted p) {
      applyPosted(p);
    } else if (event instanceof CapacityUpdated c) {
      asks.get(c.askId()).capacity(c.throughputTps(), c.maxConcurrency());
    } else if (event instanceof AskWithdrawn w) {
      applyWithdrawn(w);
    } else if (event instanceof BidExpired e) {
      resting.remove(e.bidId());
    } else if (event instanceof BidCancelled c) {
      resting.remove(c.bidId());
    } else {
      throw new IllegalArgumentException("unknown event " + event);
    }
  }

  /** A fill of ask {@code a}; the bid is off the resting bids already. */
  private void applyFill(Fill fill, AskState a) {
    a.reserve(fill);
    activeFills.put(fill.fillId(), fill);
    fillIdByBidId.put(fill.bidId(), fill.fillId());
    nextFillSeq++;
  }

  private void applyAmended(AskAmended am, AskState a) {
    // Only price, quality and ask time place an ask on its ladder; a throughput or window change keeps its place.
    boolean moves = am.pricePerMtok() != a.price || am.quality() != a.quality || am.askTimeMillis() != a.askTimeMillis;
    a.amend(am.pricePerMtok(), am.quality(), am.throughputTps(), am.windowFromMillis(), am.windowUntilMillis());
    a.askTimeMillis = am.askTimeMillis();
    if (moves) a.ladder.moved(a);
  }

  private RestingBids.Entry applyRested(BidRested r) {
    RestingBids.Entry entry = new RestingBids.Entry(r.bid(), nextArrivalSeq++, r.atMillis());
    resting.add(entry);
    return entry;
  }

  /** A fill already taken off the active fills is released; its ask if that is still on the book. */
  private AskState applyReleased(Fill fill) {
    fillIdByBidId.remove(fill.bidId());
    AskState a = asks.get(fill.askId());
    if (a != null) a.release(fill);
    else unreleasedFillsOfWithdrawnAsks.computeIfPresent(fill.askId(), (id, n) -> n == 1 ? null : n - 1);
    return a;
  }

  private AskState applyPosted(AskPosted p) {
    AskState a = new AskState(p.ask(), p.atMillis());
    asks.put(a.askId, a);
    PriceLadder ladder = ladders.get(a.model);
    if (ladder == null) {
      ladder = new PriceLadder();
      ladders.put(a.model, ladder);
      allLadders.add(ladder);
    }
    a.ladder = ladder;
    ladder.add(a);
    return a;
  }

  private void applyWithdrawn(AskWithdrawn w) {
    AskState a = asks.remove(w.askId());
    PriceLadder ladder = a.ladder;
    ladder.remove(a);
    if (ladder.size() == 0) {
      ladders.remove(a.model);
      allLadders.remove(ladder);
    }
    if (a.slotCount > 0) unreleasedFillsOfWithdrawnAsks.put(w.askId(), a.slotCount);
    // Its active fills stay until released: withdrawing stops new work, not work accepted.
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** What {@code bid} would clear at now, and the fallbacks after it, committing nothing. */
  public Quote quote(Bid bid, long now, int maxOptions) {
    return BidScan.quote(asks.values(), bid, now, maxOptions, rules.safetyMarginMillis());
  }

  /**
   * How rules 1-3 clear {@code bid} at {@code now} under {@code rules}, committing nothing: what a
   * verifier replaying the book's log compares a recorded fill with. The candidates are the best
   * feasible asks in priority order, up to {@link MatchingRules#FEASIBLE_COUNT_CAP}.
   */
  public Clearing clearing(Bid bid, long now, MatchingRules rules) {
    BidScan scan = this.scan.best(bid, now, rules.safetyMarginMillis(), ladders, allLadders);
    List<Clearing.Candidate> best = new ArrayList<>(scan.size());
    for (int i = 0; i < scan.size(); i++) best.add(candidateOf(scan.ask(i), bid, scan.finish(i)));
    scan.reset();
    return new Clearing(best);
  }

  /** The ask as a candidate for {@code bid} at {@code now} (its slot if it filled), or null when it is not on the book or not feasible. */
  public Clearing.Candidate candidate(String askId, Bid bid, long now, MatchingRules rules) {
    AskState a = asks.get(askId);
    if (a == null) return null;
    long finish = BidScan.finishIfFeasibleFor(a, bid, now, rules.safetyMarginMillis());
    return finish < 0 ? null : candidateOf(a, bid, finish);
  }

  private static Clearing.Candidate candidateOf(AskState a, Bid bid, long finish) {
    return new Clearing.Candidate(a.askId, a.providerId, a.model, a.price, a.quality, a.askTimeMillis,
        finish - BidScan.durationMillis(bid.tokens(), a.throughputTps), finish);
  }

  /** The ask as it stands on the book (withdrawn: null), its fills in progress and when its schedule is busy until. */
  public Ask ask(String askId) {
    AskState a = asks.get(askId);
    return a == null ? null : a.ask();
  }

  /** How many of the ask's fills are in progress (0 for an ask not on the book). */
  public int fillsInProgress(String askId) {
    AskState a = asks.get(askId);
    return a == null ? 0 : a.slotCount;
  }

  /** The end of the ask's last reserved slot, or {@link Long#MIN_VALUE} when none is reserved. */
  public long busyUntil(String askId) {
    AskState a = asks.get(askId);
    return a == null ? Long.MIN_VALUE : a.busyUntil;
  }

  /** The resting bid with this id, or null. */
  public Bid restingBid(String bidId) {
    RestingBids.Entry rb = resting.get(bidId);
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
      long[] l = levels.computeIfAbsent(a.price, p -> new long[3]);
      l[0]++;
      l[1] += a.throughputTps;
      if (a.busyUntil <= now && a.slotCount < a.maxConcurrency) l[2] += a.throughputTps;
    }
    List<BookView.PriceLevel> askLevels = new ArrayList<>();
    levels.forEach((price, l) -> askLevels.add(new BookView.PriceLevel(price, (int) l[0], l[1], l[2])));
    TreeMap<Long, long[]> demand = new TreeMap<>(Comparator.reverseOrder());
    for (RestingBids.Entry rb : resting.entries()) {
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
    return resting.contains(bidId);
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
    for (AskState a : asks.values()) askEntries.add(new BookSnapshot.AskEntry(a.ask(), a.askTimeMillis));
    askEntries.sort(Comparator.comparing(e -> e.ask().askId()));
    List<BookSnapshot.RestingEntry> restingEntries = new ArrayList<>();
    for (RestingBids.Entry rb : resting.entries()) restingEntries.add(new BookSnapshot.RestingEntry(rb.bid, rb.arrivalSeq, rb.restedAtMillis));
    restingEntries.sort(Comparator.comparingLong(BookSnapshot.RestingEntry::arrivalSeq));
    List<Fill> fills = new ArrayList<>(activeFills.values());
    fills.sort(Comparator.comparing(Fill::fillId));
    return new BookSnapshot(useCase, rules, nextFillSeq, nextArrivalSeq, List.copyOf(askEntries), List.copyOf(restingEntries), List.copyOf(fills));
  }

  public static OrderBookCore fromSnapshot(BookSnapshot s) {
    OrderBookCore book = new OrderBookCore(s.useCase(), s.rules());
    for (BookSnapshot.AskEntry e : s.asks()) {
      book.applyPosted(new AskPosted(e.ask(), e.askTimeMillis()));
    }
    for (BookSnapshot.RestingEntry e : s.restingBids()) {
      book.resting.add(new RestingBids.Entry(e.bid(), e.arrivalSeq(), e.restedAtMillis()));
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
}
