package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Examples: the worked examples of {@code MATCHING.md}, exactly as written, and the refusals. */
class OrderBookCoreTest {

  static final String UC = "summarize";
  static final long T = 1_700_000_000_000L;
  static final long S = 1_000; // one second

  OrderBookCore book;

  @BeforeEach
  void newBook() {
    book = new OrderBookCore(UC, MatchingRules.DEFAULT);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  static Ask ask(String askId, String provider, String model, long price, int quality, long throughput, int maxConcurrency) {
    return new Ask(askId, provider, model, UC, price, quality, throughput, maxConcurrency, Ask.OPEN_FROM, Ask.OPEN_UNTIL,
        "eu-west", Set.of());
  }

  static Bid bid(String bidId, long ceiling, int minQuality, long tokens, long deadline, long escalateAt) {
    return new Bid(bidId, UC, Set.of(), minQuality, ceiling, tokens, deadline, escalateAt, Set.of(), Set.of(), Set.of(),
        Set.of());
  }

  List<BookEvent> ok(BookOp op, long now) {
    BookResult r = book.execute(op, now);
    return assertInstanceOf(Accepted.class, r, () -> "expected acceptance of " + op + ", got " + r).events();
  }

  Rejected refused(BookOp op, long now, Reason reason) {
    BookSnapshot before = book.snapshot();
    BookResult r = book.execute(op, now);
    Rejected rejected = assertInstanceOf(Rejected.class, r, () -> "expected refusal of " + op + ", got " + r);
    assertEquals(reason, rejected.reason(), rejected.detail());
    assertEquals(before, book.snapshot(), "a refusal changes nothing");
    return rejected;
  }

  Fill place(Bid bid, long now) {
    List<BookEvent> events = ok(new BookOp.PlaceBid(bid), now);
    assertEquals(1, events.size(), events.toString());
    return assertInstanceOf(Filled.class, events.get(0)).fill();
  }

  // ---------------------------------------------------------------------------------------------
  // The worked examples: book summarize, safety margin 2 s, now = T

  @Nested
  class WorkedExamples {

    @BeforeEach
    void postTheThreeAsks() {
      assertEquals(2_000, book.rules().safetyMarginMillis());
      ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "llama-70b", 150_000, 80, 1_000, 4)), T);
      ok(new BookOp.PostAsk(ask("ask_b", "prv_2", "llama-70b", 150_000, 90, 500, 4)), T);
      ok(new BookOp.PostAsk(ask("ask_c", "prv_3", "mixtral", 120_000, 70, 2_000, 1)), T);
    }

    Fill example1() {
      return place(bid("job_1", 200_000, 60, 10_000, T + 60 * S, T + 60 * S), T);
    }

    Fill example2() {
      return place(bid("job_2", 200_000, 60, 10_000, T + 60 * S, T + 60 * S), T);
    }

    @Test
    void quoteBeforeExample1ListsAllThreeInPriorityOrder() {
      Bid job1 = bid("job_1", 200_000, 60, 10_000, T + 60 * S, T + 60 * S);
      BookSnapshot before = book.snapshot();
      Quote q = book.quote(job1, T, 5);
      assertEquals(3, q.feasibleAsks());
      assertTrue(q.matchable());
      assertEquals(List.of(
          new Quote.Option("ask_c", "prv_3", "mixtral", 120_000, 70, T, T + 5 * S),
          new Quote.Option("ask_b", "prv_2", "llama-70b", 150_000, 90, T, T + 20 * S),
          new Quote.Option("ask_a", "prv_1", "llama-70b", 150_000, 80, T, T + 10 * S)), q.options());
      assertEquals(2, book.quote(job1, T, 2).options().size());
      assertEquals(3, book.quote(job1, T, 2).feasibleAsks());
      assertEquals(before, book.snapshot(), "a quote commits nothing");
    }

    @Test
    void example1PriceFirstThenQuality() {
      Fill f = example1();
      assertEquals(new Fill("fil_summarize_1", "job_1", "ask_c", "prv_3", "mixtral", 120_000, 10_000, T, T + 5 * S,
          T + 60 * S, T, 150_000L, 3, "1.0"), f);
    }

    @Test
    void example2ConcurrencyAndQuality() {
      example1();
      Fill f = example2();
      assertEquals("ask_b", f.askId(), "ask_c is at maxConcurrency 1; ask_a and ask_b tie on price, ask_b has quality 90");
      assertEquals(150_000, f.pricePerMtok());
      assertEquals(T, f.startMillis());
      assertEquals(T + 20 * S, f.finishMillis());
      assertEquals(2, f.feasibleAsks());
      assertEquals(150_000L, f.bestCompetingPricePerMtok(), "ask_a, the other feasible ask, is at 150,000 too");
      assertEquals("fil_summarize_2", f.fillId());
    }

    @Test
    void example3TheScheduleDecides() {
      example1();
      example2();
      Fill f = place(bid("job_3", 200_000, 60, 10_000, T + 15 * S, T + 15 * S), T);
      assertEquals("ask_a", f.askId(), "ask_b is busy until T + 20 s");
      assertEquals(T, f.startMillis());
      assertEquals(T + 10 * S, f.finishMillis(), "T + 10 s <= T + 13 s");
      assertNull(f.bestCompetingPricePerMtok());
      assertEquals(1, f.feasibleAsks());
      assertEquals(150_000, f.pricePerMtok());
    }

    @Test
    void example4RestingThenAnOffer() {
      Fill job1 = example1();
      Bid job4 = bid("job_4", 100_000, 60, 10_000, T + 120 * S, T + 90 * S);
      assertEquals(List.of(new BidRested(job4, T)), ok(new BookOp.PlaceBid(job4), T), "no ask is priced <= 100,000");
      assertTrue(book.isResting("job_4"));

      // The fill of example 1 is released at T + 5 s: ask_c (120,000) is offered, but is above the ceiling.
      assertEquals(List.of(new FillReleased(job1.fillId(), "ask_c", "job_1", 9_800, false, T + 5 * S)),
          ok(new BookOp.ReleaseFill(job1.fillId(), 9_800, false), T + 5 * S));

      // At T + 30 s prv_3 amends ask_c to 95,000: offered to the resting bids, it fills job_4 at 95,000.
      List<BookEvent> events = ok(new BookOp.AmendAsk("ask_c", "prv_3", 95_000L, null, null, null, null), T + 30 * S);
      assertEquals(2, events.size(), events.toString());
      assertEquals(new AskAmended("ask_c", 95_000, 70, 2_000, Ask.OPEN_FROM, Ask.OPEN_UNTIL, T + 30 * S, T + 30 * S),
          events.get(0));
      Fill f = assertInstanceOf(Filled.class, events.get(1)).fill();
      assertEquals(new Fill("fil_summarize_2", "job_4", "ask_c", "prv_3", "mixtral", 95_000, 10_000, T + 30 * S,
          T + 35 * S, T + 120 * S, T + 30 * S, null, 1, "1.0"), f, "at the ask's price, not at the ceiling");
      assertFalse(book.isResting("job_4"));
      assertEquals(f, book.activeFillOfBid("job_4"));
    }

    @Test
    void example5Expiry() {
      Fill job1 = example1();
      Bid job5 = bid("job_5", 50_000, 60, 10_000, T + 120 * S, T + 40 * S);
      assertEquals(List.of(new BidRested(job5, T)), ok(new BookOp.PlaceBid(job5), T));
      assertEquals(T + 40 * S, book.nextEscalationMillis(), "the entity sets its timer here");
      ok(new BookOp.ReleaseFill(job1.fillId(), 10_000, false), T + 5 * S);

      assertEquals(List.of(), ok(new BookOp.ExpireDue(), T + 40 * S - 1), "not yet");
      assertEquals(List.of(new BidExpired("job_5", T + 40 * S, T + 40 * S)), ok(new BookOp.ExpireDue(), T + 40 * S));
      assertFalse(book.isResting("job_5"));
      assertEquals(Long.MAX_VALUE, book.nextEscalationMillis());

      // Had ask_c moved to 50,000 at T + 41 s, job_5 would not be filled: it is gone.
      List<BookEvent> events = ok(new BookOp.AmendAsk("ask_c", "prv_3", 50_000L, null, null, null, null), T + 41 * S);
      assertEquals(1, events.size(), events.toString());
      assertInstanceOf(AskAmended.class, events.get(0));
      assertNull(book.activeFillOfBid("job_5"));
      refused(new BookOp.CancelBid("job_5"), T + 41 * S, Reason.UNKNOWN_BID);
    }

    @Test
    void aDueBidIsSkippedByOffersEvenBeforeExpireDueRuns() {
      Bid job5 = bid("job_5", 50_000, 60, 10_000, T + 120 * S, T + 40 * S);
      ok(new BookOp.PlaceBid(job5), T);
      // The timer has not run yet, but the escalation point has come: the offer skips job_5.
      assertEquals(1, ok(new BookOp.AmendAsk("ask_a", "prv_1", 50_000L, null, null, null, null), T + 40 * S).size());
      assertTrue(book.isResting("job_5"));
      assertEquals(List.of(new BidExpired("job_5", T + 40 * S, T + 40 * S)), ok(new BookOp.ExpireDue(), T + 40 * S));
    }

    @Test
    void viewShowsPriceLevelsAndDemand() {
      assertEquals(new BookView(UC, T, List.of(
          new BookView.PriceLevel(120_000, 1, 2_000, 2_000),
          new BookView.PriceLevel(150_000, 2, 1_500, 1_500)), List.of()), book.view(T));
      example1(); // ask_c busy until T + 5 s, at its concurrency limit
      ok(new BookOp.PlaceBid(bid("job_4", 100_000, 60, 10_000, T + 120 * S, T + 90 * S)), T);
      ok(new BookOp.PlaceBid(bid("job_5", 50_000, 60, 10_000, T + 100 * S, T + 40 * S)), T);
      ok(new BookOp.PlaceBid(bid("job_6", 100_000, 60, 5_000, T + 90 * S, T + 60 * S)), T);
      assertEquals(new BookView(UC, T, List.of(
          new BookView.PriceLevel(120_000, 1, 2_000, 0),
          new BookView.PriceLevel(150_000, 2, 1_500, 1_500)), List.of(
          new BookView.DemandLevel(100_000, 2, 15_000, T + 90 * S),
          new BookView.DemandLevel(50_000, 1, 10_000, T + 100 * S))), book.view(T));
    }

    @Test
    void replayingTheEventsRebuildsTheBook() {
      OrderBookCore replica = new OrderBookCore(UC, MatchingRules.DEFAULT);
      // Rebuild from scratch on a second book, recording every event of this one.
      OrderBookCore live = new OrderBookCore(UC, MatchingRules.DEFAULT);
      List<BookOp> ops = List.of(
          new BookOp.PostAsk(ask("ask_a", "prv_1", "llama-70b", 150_000, 80, 1_000, 4)),
          new BookOp.PostAsk(ask("ask_c", "prv_3", "mixtral", 120_000, 70, 2_000, 1)),
          new BookOp.PlaceBid(bid("job_1", 200_000, 60, 10_000, T + 60 * S, T + 60 * S)),
          new BookOp.PlaceBid(bid("job_4", 100_000, 60, 10_000, T + 120 * S, T + 90 * S)),
          new BookOp.ReleaseFill("fil_summarize_1", 10_000, false),
          new BookOp.AmendAsk("ask_c", "prv_3", 95_000L, null, null, null, null));
      for (BookOp op : ops) {
        for (BookEvent e : ((Accepted) live.execute(op, T)).events()) replica.apply(e);
      }
      assertEquals(live.snapshot(), replica.snapshot());
      assertEquals(live.snapshot(), OrderBookCore.fromSnapshot(live.snapshot()).snapshot());
      assertEquals(2, live.snapshot().nextFillSeq() - 1);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rules in detail

  @Test
  void theSafetyMarginIsExact() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    // 10,000 tokens at 1,000 tok/s: 10 s. Deadline T + 12 s - 2 s margin = T + 10 s: just fits.
    assertEquals(1, book.quote(bid("b", 100, 0, 10_000, T + 12 * S, T), T, 1).feasibleAsks());
    assertEquals(0, book.quote(bid("b", 100, 0, 10_000, T + 12 * S - 1, T), T, 1).feasibleAsks());
    // The duration rounds up: 1 token at 1,000 tok/s is 1 ms; 1,001 tokens at 1,000 tok/s is 1,001 ms.
    Fill f = place(bid("b", 100, 0, 1_001, T + 12 * S, T + 12 * S), T);
    assertEquals(1_001, f.finishMillis() - f.startMillis());
    assertEquals(3, BidScan.durationMillis(5, 2_000));
  }

  @Test
  void anAskWindowBoundsTheSlot() {
    Ask windowed = new Ask("ask_w", "prv_1", "m", UC, 100, 50, 1_000, 2, T + 10 * S, T + 30 * S, "eu-west", Set.of());
    ok(new BookOp.PostAsk(windowed), T);
    Fill f = place(bid("b1", 100, 0, 10_000, T + 60 * S, T + 60 * S), T);
    assertEquals(T + 10 * S, f.startMillis(), "no work starts before the window opens");
    assertEquals(T + 20 * S, f.finishMillis());
    // The next 10 s of work would finish at T + 30 s: allowed; 11 s would not.
    assertEquals(0, book.quote(bid("b2", 100, 0, 11_000, T + 60 * S, T + 60 * S), T, 1).feasibleAsks());
    assertEquals(T + 30 * S, place(bid("b3", 100, 0, 10_000, T + 60 * S, T + 60 * S), T).finishMillis());
  }

  @Test
  void ruleTwoTieBreaksByAskTimeThenAskId() {
    ok(new BookOp.PostAsk(ask("ask_z", "prv_1", "m", 100, 50, 1_000, 1)), T);
    ok(new BookOp.PostAsk(ask("ask_y", "prv_2", "m", 100, 50, 1_000, 1)), T + 1);
    ok(new BookOp.PostAsk(ask("ask_x", "prv_3", "m", 100, 50, 1_000, 1)), T + 1);
    Bid b = bid("b", 100, 0, 1_000, T + 60 * S, T + 60 * S);
    assertEquals(List.of("ask_z", "ask_x", "ask_y"),
        book.quote(b, T + 2, 3).options().stream().map(Quote.Option::askId).toList(), "earlier ask time, then smaller id");

    // Amending throughput keeps the ask time; amending the price (even back) moves it.
    ok(new BookOp.AmendAsk("ask_z", "prv_1", null, null, 2_000L, null, null), T + 5);
    assertEquals("ask_z", book.quote(b, T + 5, 1).options().get(0).askId());
    assertEquals(T, book.snapshot().asks().get(2).askTimeMillis());
    ok(new BookOp.AmendAsk("ask_z", "prv_1", 101L, null, null, null, null), T + 6);
    ok(new BookOp.AmendAsk("ask_z", "prv_1", 100L, null, null, null, null), T + 7);
    assertEquals(List.of("ask_x", "ask_y", "ask_z"),
        book.quote(b, T + 8, 3).options().stream().map(Quote.Option::askId).toList());
    ok(new BookOp.UpdateCapacity("ask_x", "prv_3", 10, 1), T + 9);
    assertEquals(T + 1, book.snapshot().asks().get(0).askTimeMillis(), "a capacity update keeps the ask time");

    Fill f = place(b, T + 10);
    assertEquals("ask_y", f.askId(), "ask_x is now too slow for the deadline");
    assertEquals(100L, f.bestCompetingPricePerMtok());
    assertEquals(2, f.feasibleAsks());
  }

  @Test
  void restingBidsAreOfferedInOrderHigherCeilingThenEarlierDeadlineThenArrival() {
    ok(new BookOp.PlaceBid(bid("low", 100, 0, 1_000, T + 60 * S, T + 60 * S)), T);
    ok(new BookOp.PlaceBid(bid("late", 200, 0, 1_000, T + 90 * S, T + 90 * S)), T);
    ok(new BookOp.PlaceBid(bid("early1", 200, 0, 1_000, T + 60 * S, T + 60 * S)), T);
    ok(new BookOp.PlaceBid(bid("early2", 200, 0, 1_000, T + 60 * S, T + 60 * S)), T);
    assertEquals(4, book.restingBidCount());
    // One ask with room for three: the three first resting bids fill, in order; "low" keeps resting.
    List<BookEvent> events = ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 3)), T + S);
    assertInstanceOf(AskPosted.class, events.get(0));
    assertEquals(List.of("early1", "early2", "late"),
        events.subList(1, events.size()).stream().map(e -> ((Filled) e).fill().bidId()).toList(),
        "ceiling 200 before 100; deadline T+60s before T+90s; then arrival");
    Fill last = ((Filled) events.get(3)).fill();
    assertEquals(T + 3 * S, last.startMillis(), "each fill starts after the previous one's slot");
    assertTrue(book.isResting("low"));
  }

  @Test
  void aBidPlacedAtItsEscalationPointRestsAndExpiresAtOnceUnlessItFills() {
    Bid late = bid("late", 100, 0, 1_000, T + 60 * S, T);
    assertEquals(List.of(new BidRested(late, T), new BidExpired("late", T, T)), ok(new BookOp.PlaceBid(late), T));
    assertFalse(book.isResting("late"));
    assertEquals(2, book.snapshot().nextArrivalSeq());
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    assertEquals("ask_a", place(bid("late", 100, 0, 1_000, T + 60 * S, T - 1), T).askId(), "it can still fill");
  }

  @Test
  void releaseFreesTheScheduleAndOffersTheAsk() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    Fill f1 = place(bid("b1", 100, 0, 10_000, T + 60 * S, T + 60 * S), T);
    Bid b2 = bid("b2", 100, 0, 10_000, T + 60 * S, T + 50 * S);
    assertEquals(List.of(new BidRested(b2, T)), ok(new BookOp.PlaceBid(b2), T), "maxConcurrency 1");
    List<BookEvent> events = ok(new BookOp.ReleaseFill(f1.fillId(), 3_000, true), T + 3 * S);
    assertEquals(new FillReleased(f1.fillId(), "ask_a", "b1", 3_000, true, T + 3 * S), events.get(0));
    Fill f2 = assertInstanceOf(Filled.class, events.get(1)).fill();
    assertEquals(T + 3 * S, f2.startMillis(), "the released slot no longer holds the schedule");
    assertEquals("fil_summarize_2", f2.fillId());
    refused(new BookOp.ReleaseFill(f1.fillId(), 3_000, false), T + 4 * S, Reason.UNKNOWN_FILL);
  }

  @Test
  void aWithdrawnAskNeverFillsAgainButItsFillsStayUntilReleased() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 2)), T);
    Fill f = place(bid("b1", 100, 0, 10_000, T + 60 * S, T + 60 * S), T);
    assertEquals(List.of(new AskWithdrawn("ask_a", T + 1)), ok(new BookOp.WithdrawAsk("ask_a", "prv_1"), T + 1));
    assertEquals(0, book.askCount());
    assertEquals(f, book.activeFill(f.fillId()));
    Bid b2 = bid("b2", 100, 0, 1_000, T + 60 * S, T + 60 * S);
    assertEquals(List.of(new BidRested(b2, T + 2)), ok(new BookOp.PlaceBid(b2), T + 2));
    // Its release is accepted, and offers nothing (the ask is gone).
    assertEquals(1, ok(new BookOp.ReleaseFill(f.fillId(), 10_000, false), T + 3).size());
    assertTrue(book.isResting("b2"));
  }

  @Test
  void aWithdrawnAsksIdCannotBePostedAgainUntilItsFillsAreReleased() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    Fill f = place(bid("b1", 100, 0, 10_000, T + 60 * S, T + 60 * S), T);
    ok(new BookOp.WithdrawAsk("ask_a", "prv_1"), T + 1);
    refused(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T + 2, Reason.DUPLICATE_ID);
    ok(new BookOp.ReleaseFill(f.fillId(), 10_000, false), T + 3);
    assertInstanceOf(AskPosted.class, ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T + 4).get(0));
    assertEquals(1, book.quote(bid("b2", 100, 0, 1_000, T + 60 * S, T + 60 * S), T + 4, 1).feasibleAsks());
  }

  @Test
  void feasibleAsksIsCountedUpToTheCap() {
    int cap = MatchingRules.FEASIBLE_COUNT_CAP;
    assertEquals(8, cap, "MATCHING.md: counted up to 8");
    for (int i = 0; i < cap + 3; i++) {
      // Two models, so that the count spans ladders; prices 100..110, the cheapest is ask_00.
      String model = i % 2 == 0 ? "llama" : "mixtral";
      ok(new BookOp.PostAsk(ask(String.format("ask_%02d", i), "prv_" + i, model, 100 + i, 50, 1_000, 1)), T);
    }
    Bid b = bid("b", 1_000, 0, 1_000, T + 60 * S, T + 60 * S);
    assertEquals(cap + 3, book.quote(b, T, 100).feasibleAsks(), "a quote counts them all");
    Fill f = place(b, T);
    assertEquals("ask_00", f.askId());
    assertEquals(cap, f.feasibleAsks(), "eight or more");
    assertEquals(101L, f.bestCompetingPricePerMtok());
    // With exactly cap - 1 feasible asks left (ask_00 busy, ask_08..10 above the ceiling), the count is exact.
    Fill g = place(bid("c", 107, 0, 1_000, T + 60 * S, T + 60 * S), T);
    assertEquals("ask_01", g.askId());
    assertEquals(cap - 1, g.feasibleAsks());
    assertEquals(102L, g.bestCompetingPricePerMtok());
  }

  @Test
  void anAskThatNamesNoRegionIsInNoRegion() {
    ok(new BookOp.PostAsk(new Ask("ask_n", "prv_1", "m", UC, 100, 50, 1_000, 1, 0, Long.MAX_VALUE, null, Set.of())), T);
    Bid inEu = new Bid("b", UC, Set.of(), 0, 100, 1_000, T + 60 * S, T + 60 * S, Set.of("eu-west"), Set.of(), Set.of(),
        Set.of());
    assertEquals(List.of(new BidRested(inEu, T)), ok(new BookOp.PlaceBid(inEu), T));
    assertEquals("ask_n", place(bid("anywhere", 100, 0, 1_000, T + 60 * S, T + 60 * S), T).askId());
  }

  @Test
  void constraintsOfTheBid() {
    ok(new BookOp.PostAsk(new Ask("ask_1", "prv_1", "llama", UC, 100, 80, 1_000, 9, 0, Long.MAX_VALUE, "eu-west",
        Set.of("zdr", "eu"))), T);
    ok(new BookOp.PostAsk(new Ask("ask_2", "prv_2", "mixtral", UC, 200, 90, 1_000, 9, 0, Long.MAX_VALUE, "us-east",
        Set.of("hipaa"))), T);
    Bid base = bid("b", 1_000, 0, 1_000, T + 60 * S, T + 60 * S);
    assertEquals(2, book.quote(base, T, 5).feasibleAsks());
    assertEquals(List.of("ask_2"), feasible(with(base, Set.of("mixtral"), Set.of(), Set.of(), Set.of(), Set.of())));
    assertEquals(List.of("ask_1"), feasible(with(base, Set.of(), Set.of("eu-west"), Set.of(), Set.of(), Set.of())));
    assertEquals(List.of("ask_1"), feasible(with(base, Set.of(), Set.of(), Set.of("zdr", "eu"), Set.of(), Set.of())));
    assertEquals(List.of(), feasible(with(base, Set.of(), Set.of(), Set.of("zdr", "hipaa"), Set.of(), Set.of())));
    assertEquals(List.of("ask_2"), feasible(with(base, Set.of(), Set.of(), Set.of(), Set.of("prv_2", "prv_9"), Set.of())));
    assertEquals(List.of("ask_2"), feasible(with(base, Set.of(), Set.of(), Set.of(), Set.of(), Set.of("prv_1"))));
    assertEquals(List.of(), feasible(with(base, Set.of(), Set.of(), Set.of(), Set.of("prv_1"), Set.of("prv_1"))));
    assertEquals(List.of("ask_2"), feasible(bid("q", 1_000, 85, 1_000, T + 60 * S, T + 60 * S)), "min quality");
    assertEquals(List.of("ask_1"), feasible(bid("c", 199, 0, 1_000, T + 60 * S, T + 60 * S)), "ceiling");
    assertEquals(List.of("ask_1", "ask_2"), feasible(bid("c", 200, 0, 1_000, T + 60 * S, T + 60 * S)), "ceiling inclusive");
  }

  List<String> feasible(Bid b) {
    return book.quote(b, T, 10).options().stream().map(Quote.Option::askId).toList();
  }

  static Bid with(Bid b, Set<String> models, Set<String> regions, Set<String> tags, Set<String> allowed, Set<String> denied) {
    return new Bid(b.bidId(), b.useCase(), models, b.minQuality(), b.ceilingPerMtok(), b.tokens(), b.deadlineMillis(),
        b.escalateAtMillis(), regions, tags, allowed, denied);
  }

  @Test
  void cancelARestingBid() {
    Bid b = bid("b", 100, 0, 1_000, T + 60 * S, T + 50 * S);
    ok(new BookOp.PlaceBid(b), T);
    assertEquals(List.of(new BidCancelled("b", T + 1)), ok(new BookOp.CancelBid("b"), T + 1));
    assertEquals(0, book.restingBidCount());
    assertEquals(List.of(), ok(new BookOp.ExpireDue(), T + 50 * S), "a cancelled bid does not expire");
    ok(new BookOp.PlaceBid(b), T + 2); // its id is free again
  }

  @Test
  void capacityUpdateOffersTheAsk() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 10, 1)), T);
    Bid b = bid("b", 100, 0, 10_000, T + 60 * S, T + 60 * S);
    assertEquals(List.of(new BidRested(b, T)), ok(new BookOp.PlaceBid(b), T), "10 tok/s: 1,000 s");
    List<BookEvent> events = ok(new BookOp.UpdateCapacity("ask_a", "prv_1", 1_000, 2), T + S);
    assertEquals(new CapacityUpdated("ask_a", 1_000, 2, T + S), events.get(0));
    assertEquals("b", assertInstanceOf(Filled.class, events.get(1)).fill().bidId());
  }

  // ---------------------------------------------------------------------------------------------
  // Refusals

  @Test
  void wrongUseCase() {
    Ask a = new Ask("ask_a", "prv_1", "m", "classify", 100, 50, 1_000, 1, 0, Long.MAX_VALUE, "eu-west", Set.of());
    refused(new BookOp.PostAsk(a), T, Reason.WRONG_USE_CASE);
    Bid b = new Bid("b", "classify", Set.of(), 0, 100, 1_000, T + 60 * S, T + 60 * S, Set.of(), Set.of(), Set.of(), Set.of());
    refused(new BookOp.PlaceBid(b), T, Reason.WRONG_USE_CASE);
  }

  @Test
  void duplicateIds() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    refused(new BookOp.PostAsk(ask("ask_a", "prv_2", "m2", 200, 60, 1_000, 1)), T, Reason.DUPLICATE_ID);
    ok(new BookOp.PlaceBid(bid("filled", 100, 0, 1_000, T + 60 * S, T + 60 * S)), T);
    ok(new BookOp.PlaceBid(bid("resting", 50, 0, 1_000, T + 60 * S, T + 60 * S)), T);
    refused(new BookOp.PlaceBid(bid("filled", 100, 0, 1_000, T + 60 * S, T + 60 * S)), T, Reason.DUPLICATE_ID);
    refused(new BookOp.PlaceBid(bid("resting", 100, 0, 1_000, T + 60 * S, T + 60 * S)), T, Reason.DUPLICATE_ID);
  }

  @Test
  void notYourAskAndUnknownAsk() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    refused(new BookOp.AmendAsk("ask_a", "prv_2", 50L, null, null, null, null), T, Reason.NOT_YOUR_ASK);
    refused(new BookOp.UpdateCapacity("ask_a", "prv_2", 1_000, 5), T, Reason.NOT_YOUR_ASK);
    refused(new BookOp.WithdrawAsk("ask_a", "prv_2"), T, Reason.NOT_YOUR_ASK);
    refused(new BookOp.WithdrawAsk("ask_a", null), T, Reason.NOT_YOUR_ASK);
    refused(new BookOp.AmendAsk("ask_x", "prv_1", 50L, null, null, null, null), T, Reason.UNKNOWN_ASK);
    refused(new BookOp.UpdateCapacity("ask_x", "prv_1", 1_000, 5), T, Reason.UNKNOWN_ASK);
    refused(new BookOp.WithdrawAsk("ask_x", "prv_1"), T, Reason.UNKNOWN_ASK);
    ok(new BookOp.WithdrawAsk("ask_a", "prv_1"), T);
    refused(new BookOp.WithdrawAsk("ask_a", "prv_1"), T, Reason.UNKNOWN_ASK);
  }

  /** Guards any index of fills by the number in their id (tried in 355f907): the id found must be the fill's own. */
  @Test
  void aFillIsFoundByItsOwnIdOnlyNotByANumberWrittenAnotherWay() {
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    Fill f = place(bid("b", 100, 0, 1_000, T + 60 * S, T + 60 * S), T);
    assertEquals("fil_summarize_1", f.fillId());
    for (String other : List.of("fil_summarize_01", "fil_summarize_", "fil_summarize_1x", "fil_summarise_1", "fil_summarize_-1",
        "fil_summarize_18446744073709551617", "fil_summarize_1000000000000000000001", "", "1")) {
      assertNull(book.activeFill(other), other);
      refused(new BookOp.ReleaseFill(other, 10, false), T, Reason.UNKNOWN_FILL);
    }
    assertEquals(f, book.activeFill("fil_summarize_1"));
    ok(new BookOp.ReleaseFill("fil_summarize_1", 10, false), T);
    assertNull(book.activeFill("fil_summarize_1"));
  }

  @Test
  void unknownFillAndBids() {
    refused(new BookOp.ReleaseFill("fil_summarize_1", 10, false), T, Reason.UNKNOWN_FILL);
    refused(new BookOp.CancelBid("nobody"), T, Reason.UNKNOWN_BID);
    ok(new BookOp.PostAsk(ask("ask_a", "prv_1", "m", 100, 50, 1_000, 1)), T);
    Fill f = place(bid("b", 100, 0, 1_000, T + 60 * S, T + 60 * S), T);
    refused(new BookOp.CancelBid("b"), T, Reason.BID_NOT_RESTING);
    refused(new BookOp.ReleaseFill(f.fillId(), -1, false), T, Reason.INVALID);
    ok(new BookOp.ReleaseFill(f.fillId(), 0, true), T);
    refused(new BookOp.CancelBid("b"), T, Reason.UNKNOWN_BID);
    assertInstanceOf(BidRested.class, ok(new BookOp.PlaceBid(bid("e", 50, 0, 1_000, T + 60 * S, T + 10 * S)), T).get(0));
    ok(new BookOp.ExpireDue(), T + 10 * S);
    refused(new BookOp.CancelBid("e"), T + 10 * S, Reason.UNKNOWN_BID);
  }

  @Test
  void invalidAsks() {
    refused(new BookOp.PostAsk(null), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("", "prv_1", "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask(" ", "prv_1", "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask(" \t\u2003 ", "prv_1", "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "\n", "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    // Only an id that is all white space is blank: one that starts with it is an id like any other.
    ok(new BookOp.PostAsk(ask(" ask", "prv_1", "m", 100, 50, 1_000, 1)), T);
    refused(new BookOp.PostAsk(ask("a".repeat(129), "prv_1", "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    ok(new BookOp.PostAsk(ask("a".repeat(128), "prv_1", "m", 100, 50, 1_000, 1)), T);
    refused(new BookOp.PostAsk(ask("ask", null, "m", 100, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", null, 100, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 0, 50, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 1_000_000_000_001L, 50, 1_000, 1)), T, Reason.INVALID);
    ok(new BookOp.PostAsk(ask("ask_max", "prv_1", "m", 1_000_000_000_000L, 100, 1_000_000_000L, 1_000_000)), T);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, -1, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 101, 1_000, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 50, 0, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 50, 1_000_000_001L, 1)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 50, 1_000, 0)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 50, 1_000, 1_000_001)), T, Reason.INVALID);
    refused(new BookOp.PostAsk(new Ask("ask", "prv_1", "m", UC, 100, 50, 1_000, 1, T, T, "eu", Set.of())), T, Reason.INVALID);
    refused(new BookOp.PostAsk(new Ask("ask", "prv_1", "m", UC, 100, 50, 1_000, 1, -1, T, "eu", Set.of())), T, Reason.INVALID);

    ok(new BookOp.PostAsk(ask("ask", "prv_1", "m", 100, 50, 1_000, 1)), T);
    refused(new BookOp.AmendAsk("ask", "prv_1", 0L, null, null, null, null), T, Reason.INVALID);
    refused(new BookOp.AmendAsk("ask", "prv_1", null, 101, null, null, null), T, Reason.INVALID);
    refused(new BookOp.AmendAsk("ask", "prv_1", null, null, 0L, null, null), T, Reason.INVALID);
    refused(new BookOp.AmendAsk("ask", "prv_1", null, null, null, T + 10, T + 10), T, Reason.INVALID);
    refused(new BookOp.AmendAsk("ask", "prv_1", null, null, null, Long.MAX_VALUE, null), T, Reason.INVALID);
    refused(new BookOp.UpdateCapacity("ask", "prv_1", 0, 1), T, Reason.INVALID);
    refused(new BookOp.UpdateCapacity("ask", "prv_1", 1_000, 0), T, Reason.INVALID);
  }

  @Test
  void invalidBids() {
    long d = T + 60 * S;
    refused(new BookOp.PlaceBid(null), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("", 100, 0, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("x".repeat(129), 100, 0, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid(null, 100, 0, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 0, 0, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 1_000_000_000_001L, 0, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, -1, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, 101, 1_000, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, 0, 0, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, 0, 1_000_000_000_001L, d, d)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, 0, 1_000, T, T)), T, Reason.INVALID, "the deadline must be in the future");
    refused(new BookOp.PlaceBid(bid("b", 100, 0, 1_000, T - 1, T - 2)), T, Reason.INVALID);
    refused(new BookOp.PlaceBid(bid("b", 100, 0, 1_000, d, d + 1)), T, Reason.INVALID, "escalation after the deadline");
    assertEquals(0, book.restingBidCount());
  }

  Rejected refused(BookOp op, long now, Reason reason, String why) {
    return refused(op, now, reason);
  }
}
