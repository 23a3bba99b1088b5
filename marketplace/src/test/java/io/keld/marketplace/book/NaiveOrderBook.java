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
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A reference implementation of {@code marketplace/MATCHING.md} 1.0, written from the document and
 * kept deliberately simple: plain lists, a full scan for everything, no indexes, no early exits. It
 * exists only to be compared with {@link OrderBookCore} in tests.
 *
 * <p>An ask's schedule is not stored anywhere: it is, literally as the document says, "the fills it
 * has accepted and not yet released", found by scanning the active fills for its id.
 *
 * <p>Like the real book, every change goes through {@link #apply}, so the same class doubles as an
 * independent verifier: feed it another book's events one by one and ask it, before each fill, what
 * rules 1-3 say ({@link #ranked}).
 *
 * <p>Where the document leaves a detail open this follows {@link OrderBookCore}: ids must not be
 * blank; checks are made in the same order, so the same {@link Reason} comes back (the detail texts
 * are its own); a bid id may be used again once the bid has left the book (cancelled, expired, or
 * its fill released), and so may an ask id once the ask is withdrawn and its fills are released.
 */
final class NaiveOrderBook {

  static final long MAX_PRICE = 1_000_000_000_000L; // 10^12
  static final long MAX_TOKENS = 1_000_000_000_000L; // 10^12
  static final long MAX_THROUGHPUT = 1_000_000_000L; // 10^9
  static final int MAX_CONCURRENCY = 1_000_000; // 10^6
  static final int MAX_ID = 128;

  /** An ask on the book: its current terms and its ask time. */
  static final class AskOnBook {
    Ask ask;
    long askTime;

    AskOnBook(Ask ask, long askTime) {
      this.ask = ask;
      this.askTime = askTime;
    }
  }

  /** A resting bid. */
  record Resting(Bid bid, long arrivalSeq, long restedAt) {}

  /** A feasible ask for a bid at some time, with the slot it would reserve (rule 1). */
  record Candidate(Ask ask, long askTime, long start, long finish) {}

  private final String useCase;
  private final MatchingRules rules;
  private final List<AskOnBook> asks = new ArrayList<>();
  private final List<Resting> resting = new ArrayList<>();
  private final List<Fill> fills = new ArrayList<>();
  private long nextFillSeq = 1;
  private long nextArrivalSeq = 1;

  NaiveOrderBook(String useCase, MatchingRules rules) {
    this.useCase = useCase;
    this.rules = rules;
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  BookResult execute(BookOp op, long now) {
    List<BookEvent> events = new ArrayList<>();
    Rejected refused;
    if (op instanceof BookOp.PostAsk p) refused = postAsk(p.ask(), now, events);
    else if (op instanceof BookOp.AmendAsk a) refused = amendAsk(a, now, events);
    else if (op instanceof BookOp.UpdateCapacity c) refused = updateCapacity(c, now, events);
    else if (op instanceof BookOp.WithdrawAsk w) refused = withdrawAsk(w, now, events);
    else if (op instanceof BookOp.PlaceBid p) refused = placeBid(p.bid(), now, events);
    else if (op instanceof BookOp.CancelBid c) refused = cancelBid(c.bidId(), now, events);
    else if (op instanceof BookOp.ReleaseFill r) refused = releaseFill(r, now, events);
    else if (op instanceof BookOp.ExpireDue) refused = expireDue(now, events);
    else throw new IllegalArgumentException("unknown operation " + op);
    if (refused != null) {
      if (!events.isEmpty()) throw new IllegalStateException("refused after emitting " + events);
      return refused;
    }
    return new Accepted(events);
  }

  private Rejected postAsk(Ask ask, long now, List<BookEvent> events) {
    Rejected bad = checkAsk(ask);
    if (bad != null) return bad;
    if (findAsk(ask.askId()) != null) return reject(Reason.DUPLICATE_ID, "duplicate ask");
    // A withdrawn ask's id cannot be posted again until its fills are released.
    if (!scheduleOf(ask.askId()).isEmpty()) return reject(Reason.DUPLICATE_ID, "the withdrawn ask has fills");
    emit(events, new AskPosted(ask, now));
    offer(ask.askId(), now, events);
    return null;
  }

  private Rejected amendAsk(BookOp.AmendAsk amend, long now, List<BookEvent> events) {
    AskOnBook on = findAsk(amend.askId());
    if (on == null) return reject(Reason.UNKNOWN_ASK, "unknown ask");
    if (!Objects.equals(on.ask.providerId(), amend.providerId())) return reject(Reason.NOT_YOUR_ASK, "not yours");
    Ask old = on.ask;
    long price = amend.pricePerMtok() == null ? old.pricePerMtok() : amend.pricePerMtok();
    int quality = amend.quality() == null ? old.quality() : amend.quality();
    long throughput = amend.throughputTps() == null ? old.throughputTps() : amend.throughputTps();
    long from = amend.windowFromMillis() == null ? old.windowFromMillis() : amend.windowFromMillis();
    long until = amend.windowUntilMillis() == null ? old.windowUntilMillis() : amend.windowUntilMillis();
    Ask amended = new Ask(old.askId(), old.providerId(), old.model(), old.useCase(), price, quality, throughput,
        old.maxConcurrency(), from, until, old.region(), old.complianceTags());
    Rejected bad = checkAsk(amended);
    if (bad != null) return bad;
    // The ask time moves only when the price or the quality changes.
    boolean moves = price != old.pricePerMtok() || quality != old.quality();
    long askTime = moves ? now : on.askTime;
    emit(events, new AskAmended(old.askId(), price, quality, throughput, from, until, askTime, now));
    offer(old.askId(), now, events);
    return null;
  }

  private Rejected updateCapacity(BookOp.UpdateCapacity update, long now, List<BookEvent> events) {
    AskOnBook on = findAsk(update.askId());
    if (on == null) return reject(Reason.UNKNOWN_ASK, "unknown ask");
    if (!Objects.equals(on.ask.providerId(), update.providerId())) return reject(Reason.NOT_YOUR_ASK, "not yours");
    if (update.throughputTps() < 1 || update.throughputTps() > MAX_THROUGHPUT) return reject(Reason.INVALID, "throughput");
    if (update.maxConcurrency() < 1 || update.maxConcurrency() > MAX_CONCURRENCY) return reject(Reason.INVALID, "concurrency");
    emit(events, new CapacityUpdated(update.askId(), update.throughputTps(), update.maxConcurrency(), now));
    offer(update.askId(), now, events);
    return null;
  }

  private Rejected withdrawAsk(BookOp.WithdrawAsk withdraw, long now, List<BookEvent> events) {
    AskOnBook on = findAsk(withdraw.askId());
    if (on == null) return reject(Reason.UNKNOWN_ASK, "unknown ask");
    if (!Objects.equals(on.ask.providerId(), withdraw.providerId())) return reject(Reason.NOT_YOUR_ASK, "not yours");
    emit(events, new AskWithdrawn(withdraw.askId(), now));
    return null;
  }

  private Rejected placeBid(Bid bid, long now, List<BookEvent> events) {
    Rejected bad = checkBid(bid, now);
    if (bad != null) return bad;
    if (findResting(bid.bidId()) != null || fillOfBid(bid.bidId()) != null) {
      return reject(Reason.DUPLICATE_ID, "duplicate bid");
    }
    Fill fill = match(bid, now);
    if (fill != null) {
      emit(events, new Filled(fill, bid, now));
      return null;
    }
    emit(events, new BidRested(bid, now));
    if (bid.escalateAtMillis() <= now) emit(events, new BidExpired(bid.bidId(), bid.escalateAtMillis(), now));
    return null;
  }

  private Rejected cancelBid(String bidId, long now, List<BookEvent> events) {
    if (findResting(bidId) != null) {
      emit(events, new BidCancelled(bidId, now));
      return null;
    }
    if (fillOfBid(bidId) != null) return reject(Reason.BID_NOT_RESTING, "filled");
    return reject(Reason.UNKNOWN_BID, "unknown bid");
  }

  private Rejected releaseFill(BookOp.ReleaseFill release, long now, List<BookEvent> events) {
    Fill fill = findFill(release.fillId());
    if (fill == null) return reject(Reason.UNKNOWN_FILL, "unknown fill");
    if (release.actualTokens() < 0) return reject(Reason.INVALID, "actual tokens");
    emit(events, new FillReleased(fill.fillId(), fill.askId(), fill.bidId(), release.actualTokens(), release.failed(), now));
    if (findAsk(fill.askId()) != null) offer(fill.askId(), now, events);
    return null;
  }

  private Rejected expireDue(long now, List<BookEvent> events) {
    List<Resting> due = new ArrayList<>();
    for (Resting r : resting) if (r.bid().escalateAtMillis() <= now) due.add(r);
    due.sort(Comparator.comparingLong((Resting r) -> r.bid().escalateAtMillis()).thenComparingLong(Resting::arrivalSeq));
    for (Resting r : due) emit(events, new BidExpired(r.bid().bidId(), r.bid().escalateAtMillis(), now));
    return null;
  }

  /** Rule 4: offer an ask to the resting bids, in their order; match each it is feasible for. */
  private void offer(String askId, long now, List<BookEvent> events) {
    List<Resting> inOrder = new ArrayList<>(resting);
    inOrder.sort(Comparator.comparingLong((Resting r) -> -r.bid().ceilingPerMtok())
        .thenComparingLong(r -> r.bid().deadlineMillis())
        .thenComparingLong(Resting::arrivalSeq));
    for (Resting r : inOrder) {
      if (!resting.contains(r)) continue;
      if (r.bid().escalateAtMillis() <= now) continue; // due to expire
      AskOnBook offered = findAsk(askId);
      if (offered == null || candidate(offered, r.bid(), now) == null) continue;
      Fill fill = match(r.bid(), now);
      if (fill == null) throw new IllegalStateException("the offered ask was feasible");
      emit(events, new Filled(fill, r.bid(), now));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rules 1-3

  /** Rule 1, literally: the slot the ask would give the bid at {@code now}, or null if infeasible. */
  private Candidate candidate(AskOnBook on, Bid bid, long now) {
    Ask ask = on.ask;
    if (!(ask.pricePerMtok() <= bid.ceilingPerMtok())) return null;
    if (!(ask.quality() >= bid.minQuality())) return null;
    if (!bid.models().isEmpty() && !in(bid.models(), ask.model())) return null;
    if (!bid.regions().isEmpty() && !in(bid.regions(), ask.region())) return null;
    for (String tag : bid.requiredTags()) if (!in(ask.complianceTags(), tag)) return null;
    if (!bid.providersAllowed().isEmpty() && !in(bid.providersAllowed(), ask.providerId())) return null;
    if (in(bid.providersDenied(), ask.providerId())) return null;
    List<Fill> schedule = scheduleOf(ask.askId());
    if (!(schedule.size() < ask.maxConcurrency())) return null;
    long start = Math.max(now, ask.windowFromMillis());
    for (Fill f : schedule) start = Math.max(start, f.finishMillis()); // busyUntil
    long finish = start + duration(bid.tokens(), ask.throughputTps());
    if (!(finish <= bid.deadlineMillis() - rules.safetyMarginMillis())) return null;
    if (!(finish <= ask.windowUntilMillis())) return null;
    return new Candidate(ask, on.askTime, start, finish);
  }

  /** Rule 2: lowest price, then higher quality, then earlier ask time, then smaller askId. */
  static final Comparator<Candidate> PRIORITY = Comparator.comparingLong((Candidate c) -> c.ask().pricePerMtok())
      .thenComparing(Comparator.comparingInt((Candidate c) -> c.ask().quality()).reversed())
      .thenComparingLong(Candidate::askTime)
      .thenComparing(c -> c.ask().askId());

  /** All feasible asks for the bid at {@code now}, best first. */
  List<Candidate> ranked(Bid bid, long now) {
    List<Candidate> all = new ArrayList<>();
    for (AskOnBook on : asks) {
      Candidate c = candidate(on, bid, now);
      if (c != null) all.add(c);
    }
    all.sort(PRIORITY);
    return all;
  }

  /** Whether the ask is feasible for the bid at {@code now} (rule 1). */
  boolean feasible(String askId, Bid bid, long now) {
    AskOnBook on = findAsk(askId);
    return on != null && candidate(on, bid, now) != null;
  }

  /** Rule 3: the fill the bid would make now, or null. */
  private Fill match(Bid bid, long now) {
    List<Candidate> ranked = ranked(bid, now);
    if (ranked.isEmpty()) return null;
    Candidate best = ranked.get(0);
    Long competing = null;
    for (Candidate other : ranked.subList(1, ranked.size())) {
      if (competing == null || other.ask().pricePerMtok() < competing) competing = other.ask().pricePerMtok();
    }
    Ask ask = best.ask();
    // feasibleAsks counts up to the cap: 8 means eight or more.
    int feasibleAsks = Math.min(ranked.size(), MatchingRules.FEASIBLE_COUNT_CAP);
    return new Fill("fil_" + useCase + "_" + nextFillSeq, bid.bidId(), ask.askId(), ask.providerId(), ask.model(),
        ask.pricePerMtok(), bid.tokens(), best.start(), best.finish(), bid.deadlineMillis(), now, competing,
        feasibleAsks, rules.version());
  }

  /** {@code ceil(tokens × 1000 / throughput)} milliseconds. */
  static long duration(long tokens, long throughputTps) {
    return -Math.floorDiv(-tokens * 1000, throughputTps);
  }

  // ---------------------------------------------------------------------------------------------
  // Events: the only way this book changes

  private void emit(List<BookEvent> events, BookEvent event) {
    apply(event);
    events.add(event);
  }

  /** Applies one event; strict: an event that does not fit the book throws. */
  void apply(BookEvent event) {
    if (event instanceof AskPosted p) {
      if (findAsk(p.ask().askId()) != null) throw new IllegalStateException("ask already on the book: " + event);
      asks.add(new AskOnBook(p.ask(), p.atMillis()));
    } else if (event instanceof AskAmended am) {
      AskOnBook on = requireAsk(am.askId());
      Ask old = on.ask;
      on.ask = new Ask(old.askId(), old.providerId(), old.model(), old.useCase(), am.pricePerMtok(), am.quality(),
          am.throughputTps(), old.maxConcurrency(), am.windowFromMillis(), am.windowUntilMillis(), old.region(),
          old.complianceTags());
      on.askTime = am.askTimeMillis();
    } else if (event instanceof CapacityUpdated c) {
      AskOnBook on = requireAsk(c.askId());
      Ask old = on.ask;
      on.ask = new Ask(old.askId(), old.providerId(), old.model(), old.useCase(), old.pricePerMtok(), old.quality(),
          c.throughputTps(), c.maxConcurrency(), old.windowFromMillis(), old.windowUntilMillis(), old.region(),
          old.complianceTags());
    } else if (event instanceof AskWithdrawn w) {
      asks.remove(requireAsk(w.askId()));
    } else if (event instanceof BidRested r) {
      resting.add(new Resting(r.bid(), nextArrivalSeq++, r.atMillis()));
    } else if (event instanceof Filled f) {
      Resting r = findResting(f.fill().bidId());
      if (r != null) resting.remove(r);
      requireAsk(f.fill().askId());
      fills.add(f.fill());
      nextFillSeq++;
    } else if (event instanceof BidExpired e) {
      resting.remove(requireResting(e.bidId()));
    } else if (event instanceof BidCancelled c) {
      resting.remove(requireResting(c.bidId()));
    } else if (event instanceof FillReleased r) {
      Fill fill = findFill(r.fillId());
      if (fill == null) throw new IllegalStateException("no active fill for " + event);
      fills.remove(fill);
    } else {
      throw new IllegalArgumentException("unknown event " + event);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  BookSnapshot snapshot() {
    List<BookSnapshot.AskEntry> a = new ArrayList<>();
    for (AskOnBook on : asks) a.add(new BookSnapshot.AskEntry(on.ask, on.askTime));
    a.sort(Comparator.comparing(e -> e.ask().askId()));
    List<BookSnapshot.RestingEntry> r = new ArrayList<>();
    for (Resting x : resting) r.add(new BookSnapshot.RestingEntry(x.bid(), x.arrivalSeq(), x.restedAt()));
    r.sort(Comparator.comparingLong(BookSnapshot.RestingEntry::arrivalSeq));
    List<Fill> f = new ArrayList<>(fills);
    f.sort(Comparator.comparing(Fill::fillId));
    return new BookSnapshot(useCase, rules, nextFillSeq, nextArrivalSeq, a, r, f);
  }

  Quote quote(Bid bid, long now, int maxOptions) {
    List<Candidate> ranked = ranked(bid, now);
    List<Quote.Option> options = new ArrayList<>();
    for (Candidate c : ranked) {
      if (options.size() >= maxOptions) break;
      options.add(new Quote.Option(c.ask().askId(), c.ask().providerId(), c.ask().model(), c.ask().pricePerMtok(),
          c.ask().quality(), c.start(), c.finish()));
    }
    return new Quote(now, ranked.size(), options);
  }

  BookView view(long now) {
    TreeMap<Long, long[]> levels = new TreeMap<>();
    for (AskOnBook on : asks) {
      long[] l = levels.computeIfAbsent(on.ask.pricePerMtok(), p -> new long[3]);
      l[0]++;
      l[1] += on.ask.throughputTps();
      List<Fill> schedule = scheduleOf(on.ask.askId());
      boolean idle = true;
      for (Fill f : schedule) if (f.finishMillis() > now) idle = false;
      if (idle && schedule.size() < on.ask.maxConcurrency()) l[2] += on.ask.throughputTps();
    }
    List<BookView.PriceLevel> askLevels = new ArrayList<>();
    levels.forEach((p, l) -> askLevels.add(new BookView.PriceLevel(p, (int) l[0], l[1], l[2])));
    TreeMap<Long, long[]> demand = new TreeMap<>(Comparator.reverseOrder());
    for (Resting r : resting) {
      long[] d = demand.computeIfAbsent(r.bid().ceilingPerMtok(), c -> new long[] {0, 0, Long.MAX_VALUE});
      d[0]++;
      d[1] += r.bid().tokens();
      d[2] = Math.min(d[2], r.bid().deadlineMillis());
    }
    List<BookView.DemandLevel> demandLevels = new ArrayList<>();
    demand.forEach((c, d) -> demandLevels.add(new BookView.DemandLevel(c, (int) d[0], d[1], d[2])));
    return new BookView(useCase, now, askLevels, demandLevels);
  }

  /** The earliest escalation point of a resting bid, or {@link Long#MAX_VALUE}. */
  long nextEscalationMillis() {
    long min = Long.MAX_VALUE;
    for (Resting r : resting) min = Math.min(min, r.bid().escalateAtMillis());
    return min;
  }

  long nextFillSeq() {
    return nextFillSeq;
  }

  /** The ask on the book with this id, or null. */
  Ask ask(String askId) {
    AskOnBook on = findAsk(askId);
    return on == null ? null : on.ask;
  }

  long askTime(String askId) {
    return requireAsk(askId).askTime;
  }

  List<Ask> asks() {
    List<Ask> all = new ArrayList<>();
    for (AskOnBook on : asks) all.add(on.ask);
    return all;
  }

  /** The resting bid with this id, or null. */
  Bid restingBid(String bidId) {
    Resting r = findResting(bidId);
    return r == null ? null : r.bid();
  }

  List<Bid> restingBids() {
    List<Bid> all = new ArrayList<>();
    for (Resting r : resting) all.add(r.bid());
    return all;
  }

  List<Fill> activeFills() {
    List<Fill> all = new ArrayList<>(fills);
    all.sort(Comparator.comparing(Fill::fillId));
    return all;
  }

  /** The ask's schedule: its fills not yet released. */
  List<Fill> scheduleOf(String askId) {
    List<Fill> schedule = new ArrayList<>();
    for (Fill f : fills) if (f.askId().equals(askId)) schedule.add(f);
    return schedule;
  }

  // ---------------------------------------------------------------------------------------------
  // Plain helpers

  private Rejected checkAsk(Ask ask) {
    if (ask == null) return reject(Reason.INVALID, "no ask");
    if (badId(ask.askId()) || badId(ask.providerId()) || badId(ask.model())) return reject(Reason.INVALID, "id");
    if (!useCase.equals(ask.useCase())) return reject(Reason.WRONG_USE_CASE, "use case");
    if (ask.pricePerMtok() < 1 || ask.pricePerMtok() > MAX_PRICE) return reject(Reason.INVALID, "price");
    if (ask.quality() < 0 || ask.quality() > 100) return reject(Reason.INVALID, "quality");
    if (ask.throughputTps() < 1 || ask.throughputTps() > MAX_THROUGHPUT) return reject(Reason.INVALID, "throughput");
    if (ask.maxConcurrency() < 1 || ask.maxConcurrency() > MAX_CONCURRENCY) return reject(Reason.INVALID, "concurrency");
    if (ask.windowFromMillis() < 0 || !(ask.windowFromMillis() < ask.windowUntilMillis())) return reject(Reason.INVALID, "window");
    return null;
  }

  private Rejected checkBid(Bid bid, long now) {
    if (bid == null) return reject(Reason.INVALID, "no bid");
    if (badId(bid.bidId())) return reject(Reason.INVALID, "id");
    if (!useCase.equals(bid.useCase())) return reject(Reason.WRONG_USE_CASE, "use case");
    if (bid.ceilingPerMtok() < 1 || bid.ceilingPerMtok() > MAX_PRICE) return reject(Reason.INVALID, "ceiling");
    if (bid.tokens() < 1 || bid.tokens() > MAX_TOKENS) return reject(Reason.INVALID, "tokens");
    if (bid.minQuality() < 0 || bid.minQuality() > 100) return reject(Reason.INVALID, "min quality");
    if (!(bid.deadlineMillis() > now)) return reject(Reason.INVALID, "deadline not in the future");
    if (bid.escalateAtMillis() > bid.deadlineMillis()) return reject(Reason.INVALID, "escalation after deadline");
    return null;
  }

  private static boolean badId(String id) {
    return id == null || id.isBlank() || id.length() > MAX_ID;
  }

  private static boolean in(Collection<String> set, String value) {
    for (String s : set) if (s.equals(value)) return true;
    return false;
  }

  private static Rejected reject(Reason reason, String detail) {
    return new Rejected(reason, detail);
  }

  private AskOnBook findAsk(String askId) {
    for (AskOnBook on : asks) if (on.ask.askId().equals(askId)) return on;
    return null;
  }

  private AskOnBook requireAsk(String askId) {
    AskOnBook on = findAsk(askId);
    if (on == null) throw new IllegalStateException("no ask " + askId + " on the book");
    return on;
  }

  private Resting findResting(String bidId) {
    for (Resting r : resting) if (r.bid().bidId().equals(bidId)) return r;
    return null;
  }

  private Resting requireResting(String bidId) {
    Resting r = findResting(bidId);
    if (r == null) throw new IllegalStateException("bid " + bidId + " does not rest");
    return r;
  }

  private Fill findFill(String fillId) {
    for (Fill f : fills) if (f.fillId().equals(fillId)) return f;
    return null;
  }

  private Fill fillOfBid(String bidId) {
    for (Fill f : fills) if (f.bidId().equals(bidId)) return f;
    return null;
  }
}
