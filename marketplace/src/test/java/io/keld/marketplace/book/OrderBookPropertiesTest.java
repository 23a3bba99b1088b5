package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookEvent.AskWithdrawn;
import io.keld.marketplace.book.BookEvent.BidCancelled;
import io.keld.marketplace.book.BookEvent.BidExpired;
import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.book.BookResult.Accepted;
import io.keld.marketplace.book.BookResult.Rejected;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;

/**
 * Random command sequences on a small universe, run through {@link OrderBookCore} and
 * {@link NaiveOrderBook} side by side, with the invariants of {@code MATCHING.md} checked after every
 * step.
 *
 * <p>Commands are generated as small integers (indices into grids of prices, ids, ...) and turned
 * into {@link BookOp}s against the current state while the sequence runs, so that cancels, releases,
 * amends and withdrawals mostly hit things that exist, and shrinking stays meaningful.
 */
class OrderBookPropertiesTest {

  static final String UC = "summarize";
  static final MatchingRules RULES = MatchingRules.DEFAULT;
  static final long T0 = 1_700_000_000_000L;

  static final String[] PROVIDERS = {"prv_1", "prv_2", "prv_3", "prv_4"};
  static final String[] MODELS = {"llama-70b", "mixtral", "qwen-7b"};
  static final String[] REGIONS = {"eu-west", "us-east"};
  static final String[] TAGS = {"zdr", "hipaa", "eu"};
  static final int ASK_IDS = 12;
  static final int BID_IDS = 20;

  // Small grids so that ties happen; a value repeated is a value more likely.
  static final long[] PRICES = {50_000, 100_000, 150_000, 200_000};
  static final long[] CEILINGS = {40_000, 100_000, 150_000, 150_000, 200_000, 250_000, 250_000};
  static final int[] QUALITIES = {70, 80, 90};
  static final int[] MIN_QUALITIES = {0, 0, 70, 80, 90};
  static final long[] THROUGHPUTS = {500, 1_000, 2_000, 5_000, 3};
  static final int[] CONCURRENCIES = {1, 2, 3, 4};
  static final long[] TOKENS = {1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 7};
  static final long[] DEADLINES = {2_500, 4_000, 8_000, 15_000, 30_000, 60_000, 60_000, 120_000, 120_000, 300_000, 600_000};

  // ---------------------------------------------------------------------------------------------
  // Commands (indices; turned into operations against the current state)

  sealed interface Cmd {}

  record Terms(int price, int quality, int throughput, int concurrency) {}

  /** bad: 0 valid, otherwise one kind of invalid input (see {@link Run#post}). */
  record Post(int ask, int provider, int model, int region, int tags, int window, Terms terms, int bad) implements Cmd {}

  /** ask: see {@link Run#askId(int)}. */
  record Amend(int ask, boolean wrongProvider, Integer price, Integer quality, Integer throughput, Integer window, int bad)
      implements Cmd {}

  record Capacity(int ask, boolean wrongProvider, int throughput, int concurrency, int bad) implements Cmd {}

  record Withdraw(int ask, boolean wrongProvider) implements Cmd {}

  record BidTerms(int ceiling, int minQuality, int tokens, int deadline, int escalation) {}

  /** Bit masks over MODELS, REGIONS, TAGS, PROVIDERS. */
  record Constraints(int models, int regions, int tags, int allowed, int denied) {}

  record Place(int bid, BidTerms terms, Constraints constraints, int bad) implements Cmd {}

  record Cancel(int bid, boolean pickResting) implements Cmd {}

  record Release(int pick, boolean unknown, int actualTokens, boolean failed, boolean bad) implements Cmd {}

  record Expire() implements Cmd {}

  record Step(int advanceMillis, Cmd cmd) {}

  @Provide
  Arbitrary<List<Step>> sequences() {
    return steps().list().ofMinSize(1).ofMaxSize(80).withSizeDistribution(RandomDistribution.uniform());
  }

  @Provide
  Arbitrary<List<Step>> longSequences() {
    return steps().list().ofMinSize(1).ofMaxSize(400).withSizeDistribution(RandomDistribution.uniform());
  }

  static Arbitrary<Step> steps() {
    Arbitrary<Integer> advance = Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.just(0)),
        Tuple.of(5, Arbitraries.integers().between(1, 3_000)),
        Tuple.of(2, Arbitraries.integers().between(3_000, 45_000)));
    Arbitrary<Cmd> cmd = Arbitraries.frequencyOf(
        Tuple.of(14, post()),
        Tuple.of(9, amend()),
        Tuple.of(5, capacity()),
        Tuple.of(4, withdraw()),
        Tuple.of(34, place()),
        Tuple.of(7, cancel()),
        Tuple.of(14, release()),
        Tuple.of(8, Arbitraries.<Cmd>just(new Expire())));
    return Combinators.combine(advance, cmd).as(Step::new);
  }

  static Arbitrary<Integer> idx(int n) {
    return Arbitraries.integers().between(0, n - 1);
  }

  /** Mostly 0 (valid); sometimes 1..kinds. */
  static Arbitrary<Integer> bad(int kinds) {
    return Arbitraries.frequencyOf(
        Tuple.of(12, Arbitraries.just(0)),
        Tuple.of(1, Arbitraries.integers().between(1, kinds)));
  }

  /** A bit mask that is mostly empty. */
  static Arbitrary<Integer> mask(int bits, int emptyWeight) {
    return Arbitraries.frequencyOf(
        Tuple.of(emptyWeight, Arbitraries.just(0)),
        Tuple.of(1, Arbitraries.integers().between(1, (1 << bits) - 1)));
  }

  static Arbitrary<Cmd> post() {
    Arbitrary<Terms> terms = Combinators.combine(idx(PRICES.length), idx(QUALITIES.length),
        Arbitraries.frequencyOf(Tuple.of(12, idx(4)), Tuple.of(1, Arbitraries.just(4))),
        idx(CONCURRENCIES.length)).as(Terms::new);
    Arbitrary<Integer> window = Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.just(0)), Tuple.of(1, idx(4)));
    return Combinators.combine(idx(ASK_IDS), idx(PROVIDERS.length), idx(MODELS.length), idx(REGIONS.length),
        mask(TAGS.length, 1), window, terms, bad(12)).as(Post::new);
  }

  static Arbitrary<Cmd> amend() {
    return Combinators.combine(askRef(), Arbitraries.of(false, false, false, true),
        idx(PRICES.length).injectNull(0.4), idx(QUALITIES.length).injectNull(0.6), idx(4).injectNull(0.7),
        idx(4).injectNull(0.8), bad(3)).as(Amend::new);
  }

  static Arbitrary<Cmd> capacity() {
    return Combinators.combine(askRef(), Arbitraries.of(false, false, false, true), idx(4),
        idx(CONCURRENCIES.length), bad(2)).as(Capacity::new);
  }

  static Arbitrary<Cmd> withdraw() {
    return Combinators.combine(askRef(), Arbitraries.of(false, false, true)).as(Withdraw::new);
  }

  /** 0..ASK_IDS-1: ask_i; ASK_IDS: an id never posted; above: one of the asks on the book. */
  static Arbitrary<Integer> askRef() {
    return Arbitraries.integers().between(0, 3 * ASK_IDS);
  }

  static Arbitrary<Cmd> place() {
    Arbitrary<BidTerms> terms = Combinators.combine(idx(CEILINGS.length), idx(MIN_QUALITIES.length),
        idx(TOKENS.length), idx(DEADLINES.length),
        Arbitraries.frequencyOf(Tuple.of(8, idx(3)), Tuple.of(1, Arbitraries.integers().between(3, 4))))
        .as(BidTerms::new);
    Arbitrary<Constraints> constraints = Combinators.combine(mask(MODELS.length, 2), mask(REGIONS.length, 3),
        mask(TAGS.length, 4), mask(PROVIDERS.length, 5), mask(PROVIDERS.length, 4)).as(Constraints::new);
    return Combinators.combine(idx(BID_IDS), terms, constraints, bad(10)).as(Place::new);
  }

  static Arbitrary<Cmd> cancel() {
    return Combinators.combine(idx(BID_IDS + 1), Arbitraries.of(true, false)).as(Cancel::new);
  }

  static Arbitrary<Cmd> release() {
    return Combinators.combine(Arbitraries.integers().between(0, 50), Arbitraries.of(false, false, false, false, true),
        Arbitraries.integers().between(0, 60_000), Arbitraries.of(false, false, true),
        Arbitraries.of(false, false, false, false, false, false, false, false, false, true)).as(Release::new);
  }

  // ---------------------------------------------------------------------------------------------
  // Properties

  @Property(tries = 2500, edgeCases = EdgeCasesMode.NONE)
  void fastAndNaiveBooksAgreeAndKeepTheRules(@ForAll("sequences") List<Step> steps) {
    new Run(steps).run();
  }

  @Property(tries = 250, edgeCases = EdgeCasesMode.NONE)
  void longSequencesAgreeAndKeepTheRules(@ForAll("longSequences") List<Step> steps) {
    new Run(steps).run();
  }

  /** One sequence: the live books, everything emitted so far, and the checks. */
  static final class Run {
    final List<Step> steps;
    final OrderBookCore core = new OrderBookCore(UC, RULES);
    final NaiveOrderBook naive = new NaiveOrderBook(UC, RULES);
    /** Fed the core's events one by one: the state "before" each event, for checking fills. */
    final NaiveOrderBook verifier = new NaiveOrderBook(UC, RULES);
    final List<BookEvent> journal = new ArrayList<>();
    /** Bids that left the book other than by filling, and asks withdrawn: ids gone until placed again. */
    final Set<String> goneBids = new HashSet<>();
    final Set<String> withdrawnAsks = new HashSet<>();
    /** For the statistics jqwik prints: fills, offers, rejections, expiries, releases. */
    final Map<String, Integer> counts = new HashMap<>();
    long now = T0;

    Run(List<Step> steps) {
      this.steps = steps;
    }

    void run() {
      int i = 0;
      for (Step step : steps) {
        now += step.advanceMillis();
        BookOp op = toOp(step.cmd());
        try {
          step(op);
        } catch (AssertionError | RuntimeException e) {
          throw new AssertionError("step " + i + " at T0+" + (now - T0) + " " + op + ": " + e.getMessage(), e);
        }
        i++;
      }
      Statistics.label("steps").collect(bucket(steps.size()));
      Statistics.label("fills").collect(bucket(counts.getOrDefault("fill", 0)));
      Statistics.label("fills on an offer").collect(bucket(counts.getOrDefault("offer", 0)));
      Statistics.label("rejections").collect(bucket(counts.getOrDefault("rejected", 0)));
      Statistics.label("expiries").collect(bucket(counts.getOrDefault("expired", 0)));
      Statistics.label("releases").collect(bucket(counts.getOrDefault("released", 0)));
    }

    static String bucket(int n) {
      return n == 0 ? "0" : n < 5 ? "1-4" : n < 20 ? "5-19" : n < 100 ? "20-99" : "100+";
    }

    void step(BookOp op) {
      BookSnapshot before = core.snapshot();

      if (op instanceof BookOp.PlaceBid p && p.bid() != null && UC.equals(p.bid().useCase()) && p.bid().bidId() != null) {
        assertEquals(naive.quote(p.bid(), now, 3), core.quote(p.bid(), now, 3), "quote");
      }

      BookResult fast = core.execute(op, now);
      BookResult slow = naive.execute(op, now);
      assertSameResult(slow, fast);

      // A book restored from the snapshot before the step decides the same.
      BookResult restored = OrderBookCore.fromSnapshot(before).execute(op, now);
      assertEquals(fast, restored, "a book restored from its snapshot decides differently");

      if (fast instanceof Rejected) {
        counts.merge("rejected", 1, Integer::sum);
        Statistics.label("rejected").collect(op.getClass().getSimpleName() + " " + ((Rejected) fast).reason());
        assertEquals(before, core.snapshot(), "a rejected operation changed the book");
      } else {
        List<BookEvent> events = ((Accepted) fast).events();
        if (op instanceof BookOp.PlaceBid) Statistics.label("placed bid").collect(events.get(0).getClass().getSimpleName());
        for (int k = 0; k < events.size(); k++) {
          BookEvent e = events.get(k);
          assertEquals(now, e.atMillis(), "event time");
          if (e instanceof Filled f) checkFill(op, k, f);
          verifier.apply(e);
          track(e);
          journal.add(e);
        }
      }

      BookSnapshot live = core.snapshot();
      assertEquals(naive.snapshot(), live, "fast and naive snapshots differ");
      assertEquals(verifier.snapshot(), live, "the verifier, fed the events, differs");
      OrderBookCore replayed = new OrderBookCore(UC, RULES);
      for (BookEvent e : journal) replayed.apply(e);
      assertEquals(live, replayed.snapshot(), "replaying the journal gives another book");
      assertEquals(live, OrderBookCore.fromSnapshot(live).snapshot(), "fromSnapshot(snapshot).snapshot()");
      assertEquals(naive.view(now), core.view(now), "view");
      assertEquals(naive.nextEscalationMillis(), core.nextEscalationMillis(), "next escalation");
      assertEquals(live.restingBids().size(), core.restingBidCount());
      assertEquals(live.activeFills().size(), core.activeFillCount());
      assertEquals(live.asks().size(), core.askCount());
      checkSchedules(live);
      checkNoMatchableRestingBid();
    }

    /**
     * Rule 4's claim, as an invariant: with time feasibility only shrinks, and every change of an ask
     * offers it, so after any step no resting bid whose escalation point is still ahead has a
     * feasible ask (those at or past it are due to expire and may).
     */
    void checkNoMatchableRestingBid() {
      for (Bid bid : verifier.restingBids()) {
        if (bid.escalateAtMillis() <= now) continue;
        List<NaiveOrderBook.Candidate> feasible = verifier.ranked(bid, now);
        assertTrue(feasible.isEmpty(), "resting bid " + bid.bidId() + " could fill on " + feasible);
      }
    }

    void assertSameResult(BookResult slow, BookResult fast) {
      if (slow instanceof Rejected s) {
        if (!(fast instanceof Rejected f)) throw new AssertionError("naive rejected (" + s + "), fast accepted: " + fast);
        assertEquals(s.reason(), f.reason(), "rejection reason");
        assertNotNull(f.detail());
      } else {
        if (!(fast instanceof Accepted)) throw new AssertionError("naive accepted " + slow + ", fast rejected: " + fast);
        assertEquals(((Accepted) slow).events(), ((Accepted) fast).events(), "events");
      }
    }

    /** Tracks which bids and asks are gone, to check that they never fill afterwards. */
    void track(BookEvent e) {
      if (e instanceof BidExpired) counts.merge("expired", 1, Integer::sum);
      if (e instanceof BookEvent.FillReleased) counts.merge("released", 1, Integer::sum);
      if (e instanceof BidCancelled c) goneBids.add(c.bidId());
      if (e instanceof BidExpired x) goneBids.add(x.bidId());
      if (e instanceof AskWithdrawn w) withdrawnAsks.add(w.askId());
      if (e instanceof BookEvent.AskPosted p) withdrawnAsks.remove(p.ask().askId());
      if (e instanceof BookEvent.BidRested r) goneBids.remove(r.bid().bidId());
    }

    /** Checks a fill against rules 1-3 on the book as it was just before it (the verifier's state). */
    void checkFill(BookOp op, int index, Filled event) {
      Fill fill = event.fill();
      counts.merge("fill", 1, Integer::sum);
      Statistics.label("feasibleAsks").collect(event.fill().feasibleAsks() < 4 ? "" + event.fill().feasibleAsks()
          : event.fill().feasibleAsks() < MatchingRules.FEASIBLE_COUNT_CAP ? "4-7" : "8 (cap)");
      Statistics.label("runner-up at the same price").collect(Long.valueOf(fill.pricePerMtok()).equals(fill.bestCompetingPricePerMtok()));

      // Which bid: a resting one (matched on an offer) or the one being placed (its first event).
      Bid bid = verifier.restingBid(fill.bidId());
      if (bid != null) {
        counts.merge("offer", 1, Integer::sum);
        assertTrue(bid.escalateAtMillis() > now, "a bid whose escalation point has come was filled on an offer");
        assertTrue(!goneBids.contains(fill.bidId()), "a cancelled or expired bid filled");
      } else {
        if (!(op instanceof BookOp.PlaceBid p) || index != 0 || !p.bid().bidId().equals(fill.bidId())) {
          throw new AssertionError("filled a bid that neither rests nor is being placed "
              + "(cancelled, expired or already filled?): " + fill);
        }
        bid = p.bid();
      }
      Ask ask = verifier.ask(fill.askId());
      assertNotNull(ask, "filled on an ask that is not on the book (withdrawn?): " + fill);
      assertTrue(!withdrawnAsks.contains(fill.askId()), "a withdrawn ask filled");

      // The fill's record.
      assertEquals("fil_" + UC + "_" + verifier.nextFillSeq(), fill.fillId(), "fill id");
      assertEquals(MatchingRules.VERSION, fill.ruleVersion());
      assertEquals(now, fill.filledAtMillis());
      assertEquals(bid.bidId(), fill.bidId());
      assertEquals(ask.providerId(), fill.providerId());
      assertEquals(ask.model(), fill.model());
      assertEquals(ask.pricePerMtok(), fill.pricePerMtok(), "the job pays the ask's price");
      assertEquals(bid.tokens(), fill.tokens());
      assertEquals(bid.deadlineMillis(), fill.deadlineMillis());

      // Rule 1, every clause.
      assertTrue(fill.pricePerMtok() <= bid.ceilingPerMtok(), "above the ceiling");
      assertTrue(ask.quality() >= bid.minQuality(), "below the minimum quality");
      assertTrue(bid.models().isEmpty() || bid.models().contains(ask.model()), "model not allowed");
      assertTrue(bid.regions().isEmpty() || (ask.region() != null && bid.regions().contains(ask.region())), "region");
      assertTrue(ask.complianceTags().containsAll(bid.requiredTags()), "missing compliance tags");
      assertTrue(bid.providersAllowed().isEmpty() || bid.providersAllowed().contains(ask.providerId()), "provider not allowed");
      assertTrue(!bid.providersDenied().contains(ask.providerId()), "provider denied");
      List<Fill> schedule = verifier.scheduleOf(ask.askId());
      assertTrue(schedule.size() < ask.maxConcurrency(), "maxConcurrency exceeded");
      long busyUntil = Long.MIN_VALUE;
      for (Fill other : schedule) busyUntil = Math.max(busyUntil, other.finishMillis());
      assertEquals(Math.max(Math.max(now, busyUntil), ask.windowFromMillis()), fill.startMillis(), "slot start");
      assertEquals(NaiveOrderBook.duration(bid.tokens(), ask.throughputTps()), fill.finishMillis() - fill.startMillis(),
          "slot length");
      assertTrue(fill.startMillis() >= now && fill.startMillis() >= ask.windowFromMillis(), "starts too early");
      assertTrue(fill.finishMillis() <= bid.deadlineMillis() - RULES.safetyMarginMillis(), "finishes after deadline - margin");
      assertTrue(fill.finishMillis() <= ask.windowUntilMillis(), "finishes after the ask's window");

      // Rules 2 and 3: no feasible ask comes before the winner; the competition is recorded.
      long askTime = verifier.askTime(ask.askId());
      int feasible = 1;
      Long competing = null;
      for (Ask other : verifier.asks()) {
        if (other.askId().equals(ask.askId()) || !verifier.feasible(other.askId(), bid, now)) continue;
        feasible++;
        competing = competing == null ? other.pricePerMtok() : Math.min(competing, other.pricePerMtok());
        assertTrue(other.pricePerMtok() >= ask.pricePerMtok(), "a cheaper feasible ask existed: " + other);
        if (other.pricePerMtok() > ask.pricePerMtok()) continue;
        assertTrue(other.quality() <= ask.quality(), "same price, higher quality existed: " + other);
        if (other.quality() < ask.quality()) continue;
        long otherTime = verifier.askTime(other.askId());
        assertTrue(otherTime >= askTime, "same price and quality, earlier ask time existed: " + other);
        if (otherTime > askTime) continue;
        assertTrue(other.askId().compareTo(ask.askId()) > 0, "full tie, smaller askId existed: " + other);
      }
      assertEquals(Math.min(feasible, MatchingRules.FEASIBLE_COUNT_CAP), fill.feasibleAsks(), "feasibleAsks (capped)");
      assertEquals(competing, fill.bestCompetingPricePerMtok(), "bestCompetingPricePerMtok");
      List<NaiveOrderBook.Candidate> ranked = verifier.ranked(bid, now);
      assertEquals(ask.askId(), ranked.get(0).ask().askId(), "rule 2 winner");
    }

    /** No ask's capacity is oversold: its active fills' slots do not overlap, all finish in time. */
    void checkSchedules(BookSnapshot live) {
      Map<String, List<Fill>> byAsk = new HashMap<>();
      for (Fill f : live.activeFills()) byAsk.computeIfAbsent(f.askId(), a -> new ArrayList<>()).add(f);
      for (List<Fill> schedule : byAsk.values()) {
        schedule.sort((x, y) -> Long.compare(x.startMillis(), y.startMillis()));
        for (int i = 0; i < schedule.size(); i++) {
          Fill f = schedule.get(i);
          assertTrue(f.startMillis() < f.finishMillis(), "empty slot " + f);
          assertTrue(f.finishMillis() <= f.deadlineMillis() - RULES.safetyMarginMillis(), "finishes too late " + f);
          if (i > 0) {
            Fill prev = schedule.get(i - 1);
            assertTrue(prev.finishMillis() <= f.startMillis(), "overlapping slots on one ask: " + prev + " and " + f);
          }
        }
      }
    }

    // -------------------------------------------------------------------------------------------
    // Commands to operations

    BookOp toOp(Cmd cmd) {
      if (cmd instanceof Post p) return post(p);
      if (cmd instanceof Amend a) return amend(a);
      if (cmd instanceof Capacity c) return capacity(c);
      if (cmd instanceof Withdraw w) return new BookOp.WithdrawAsk(askId(w.ask()), provider(askId(w.ask()), w.wrongProvider()));
      if (cmd instanceof Place p) return place(p);
      if (cmd instanceof Cancel c) return cancel(c);
      if (cmd instanceof Release r) return release(r);
      return new BookOp.ExpireDue();
    }

    /** 0..ASK_IDS-1: ask_i; ASK_IDS: an id never posted; above: one of the asks on the book (ask_i if none). */
    String askId(int i) {
      if (i < ASK_IDS) return "ask_" + i;
      if (i == ASK_IDS) return "ask_unknown";
      List<Ask> on = naive.asks();
      return on.isEmpty() ? "ask_" + (i % ASK_IDS) : on.get(i % on.size()).askId();
    }

    /** The ask's owner (or some provider if it is not on the book), or another provider. */
    String provider(String askId, boolean wrong) {
      Ask on = naive.ask(askId);
      int owner = on == null ? Math.floorMod(askId.hashCode(), PROVIDERS.length) : List.of(PROVIDERS).indexOf(on.providerId());
      return PROVIDERS[wrong ? (owner + 1) % PROVIDERS.length : owner];
    }

    BookOp post(Post p) {
      long from = 0;
      long until = Long.MAX_VALUE;
      switch (p.window()) {
        case 1 -> from = now + 10_000;
        case 2 -> until = now + 60_000;
        case 3 -> {
          from = now + 5_000;
          until = now + 40_000;
        }
        default -> {}
      }
      String askId = "ask_" + p.ask();
      String provider = PROVIDERS[p.provider()];
      String model = MODELS[p.model()];
      String useCase = UC;
      String region = REGIONS[p.region()];
      long price = PRICES[p.terms().price()];
      int quality = QUALITIES[p.terms().quality()];
      long throughput = THROUGHPUTS[p.terms().throughput()];
      int concurrency = CONCURRENCIES[p.terms().concurrency()];
      switch (p.bad()) {
        case 1 -> price = 0;
        case 2 -> quality = 101;
        case 3 -> throughput = 0;
        case 4 -> concurrency = 0;
        case 5 -> {
          from = now;
          until = now;
        }
        case 6 -> useCase = "classify";
        case 7 -> askId = " ";
        case 8 -> provider = "p".repeat(129);
        case 9 -> {
          return new BookOp.PostAsk(null);
        }
        case 10 -> price = NaiveOrderBook.MAX_PRICE + 1;
        case 11 -> region = null; // not invalid: an ask that names no region is in no region
        case 12 -> from = -1;
        default -> {}
      }
      Set<String> tags = new LinkedHashSet<>();
      for (int t = 0; t < TAGS.length; t++) if ((p.tags() & (1 << t)) != 0) tags.add(TAGS[t]);
      return new BookOp.PostAsk(new Ask(askId, provider, model, useCase, price, quality, throughput, concurrency, from,
          until, region, tags));
    }

    BookOp amend(Amend a) {
      Long price = a.price() == null ? null : PRICES[a.price()];
      Integer quality = a.quality() == null ? null : QUALITIES[a.quality()];
      Long throughput = a.throughput() == null ? null : THROUGHPUTS[a.throughput()];
      Long from = null;
      Long until = null;
      if (a.window() != null) {
        switch (a.window()) {
          case 0 -> {
            from = 0L;
            until = Long.MAX_VALUE;
          }
          case 1 -> from = now + 10_000;
          case 2 -> until = now + 60_000;
          default -> {
            from = now + 5_000;
            until = now + 40_000;
          }
        }
      }
      switch (a.bad()) {
        case 1 -> price = 0L;
        case 2 -> throughput = 0L;
        case 3 -> {
          from = now + 1_000;
          until = now + 1_000;
        }
        default -> {}
      }
      String askId = askId(a.ask());
      return new BookOp.AmendAsk(askId, provider(askId, a.wrongProvider()), price, quality, throughput, from, until);
    }

    BookOp capacity(Capacity c) {
      long throughput = THROUGHPUTS[c.throughput()];
      int concurrency = CONCURRENCIES[c.concurrency()];
      if (c.bad() == 1) throughput = NaiveOrderBook.MAX_THROUGHPUT + 1;
      if (c.bad() == 2) concurrency = 0;
      String askId = askId(c.ask());
      return new BookOp.UpdateCapacity(askId, provider(askId, c.wrongProvider()), throughput, concurrency);
    }

    BookOp place(Place p) {
      BidTerms t = p.terms();
      Constraints c = p.constraints();
      String bidId = "bid_" + p.bid();
      String useCase = UC;
      long ceiling = CEILINGS[t.ceiling()];
      int minQuality = MIN_QUALITIES[t.minQuality()];
      long tokens = TOKENS[t.tokens()];
      long deadline = now + DEADLINES[t.deadline()];
      long escalateAt = switch (t.escalation()) {
        case 0 -> deadline;
        case 1 -> deadline - 2_000;
        case 2 -> deadline - Math.max(1_000, (deadline - now) / 2);
        case 3 -> now; // placed at its escalation point
        default -> now - 1_000; // placed after it
      };
      switch (p.bad()) {
        case 1 -> ceiling = 0;
        case 2 -> tokens = 0;
        case 3 -> minQuality = 101;
        case 4 -> {
          deadline = now;
          escalateAt = now - 1;
        }
        case 5 -> escalateAt = deadline + 1;
        case 6 -> useCase = "chat";
        case 7 -> bidId = "";
        case 8 -> {
          return new BookOp.PlaceBid(null);
        }
        case 9 -> ceiling = NaiveOrderBook.MAX_PRICE + 1;
        case 10 -> minQuality = -1;
        default -> {}
      }
      return new BookOp.PlaceBid(new Bid(bidId, useCase, pick(MODELS, c.models()), minQuality, ceiling, tokens, deadline,
          escalateAt, pick(REGIONS, c.regions()), pick(TAGS, c.tags()), pick(PROVIDERS, c.allowed()),
          pick(PROVIDERS, c.denied())));
    }

    static Set<String> pick(String[] universe, int mask) {
      Set<String> s = new LinkedHashSet<>();
      for (int i = 0; i < universe.length; i++) if ((mask & (1 << i)) != 0) s.add(universe[i]);
      return s;
    }

    BookOp cancel(Cancel c) {
      List<Bid> resting = naive.restingBids();
      if (c.pickResting() && !resting.isEmpty()) return new BookOp.CancelBid(resting.get(c.bid() % resting.size()).bidId());
      return new BookOp.CancelBid(c.bid() < BID_IDS ? "bid_" + c.bid() : "bid_unknown");
    }

    BookOp release(Release r) {
      List<Fill> active = naive.activeFills();
      String fillId;
      if (r.unknown() || active.isEmpty()) {
        fillId = r.pick() % 2 == 0 ? "fil_" + UC + "_" + (1000 + r.pick()) : "fil_classify_1";
      } else {
        fillId = active.get(r.pick() % active.size()).fillId();
      }
      return new BookOp.ReleaseFill(fillId, r.bad() ? -1 : r.actualTokens(), r.failed());
    }
  }
}
