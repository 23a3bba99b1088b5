package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookResult.Accepted;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A book far larger than the property tests' (about 300 asks a model, so every ladder spans several
 * blocks), churned by amends, posts, withdrawals, fills and releases. Then many bids are cleared two
 * ways, committing nothing: {@link OrderBookCore#clearing}, the ladders' walk that matching uses, and
 * {@link OrderBookCore#quote}, which checks every ask on the book and sorts the feasible ones by rule 2.
 * The best asks and their slots must agree.
 */
class LargeBookScanTest {

  static final String UC = "summarize";
  static final String[] MODELS = {"llama-70b", "mixtral", "qwen-7b"};
  static final String[] REGIONS = {"eu", "us"};
  static final long T0 = 1_700_000_000_000L;

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3})
  void theLaddersWalkFindsTheBestAsksThatACheckOfEveryAskFinds(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    OrderBookCore book = new OrderBookCore(UC, MatchingRules.DEFAULT);
    long now = T0;
    List<String> live = new ArrayList<>();
    List<String> fills = new ArrayList<>();
    int nextAsk = 0;
    int nextBid = 0;
    for (int i = 0; i < 900; i++) {
      String id = "ask_" + nextAsk++;
      accept(book.execute(new BookOp.PostAsk(ask(id, rnd)), now++));
      live.add(id);
    }
    int fillsMade = 0;
    for (int step = 0; step < 6_000; step++) {
      int roll = rnd.nextInt(100);
      if (roll < 45) {
        String id = live.get(rnd.nextInt(live.size()));
        Ask a = book.ask(id);
        // Mostly a tick or two; sometimes anywhere, or a new quality.
        long price = rnd.nextInt(5) == 0 ? price(rnd) : Math.max(1_000, a.pricePerMtok() + 1_000 * (rnd.nextInt(5) - 2));
        Integer quality = rnd.nextInt(8) == 0 ? 70 + 10 * rnd.nextInt(3) : null;
        accept(book.execute(new BookOp.AmendAsk(id, a.providerId(), price, quality, null, null, null), now++));
      } else if (roll < 55) {
        String id = live.remove(rnd.nextInt(live.size()));
        accept(book.execute(new BookOp.WithdrawAsk(id, book.ask(id).providerId()), now++));
        String posted = "ask_" + nextAsk++;
        accept(book.execute(new BookOp.PostAsk(ask(posted, rnd)), now++));
        live.add(posted);
      } else if (roll < 80) {
        List<BookEvent> events = accept(book.execute(new BookOp.PlaceBid(bid("job_" + nextBid++, now, rnd)), now++));
        for (BookEvent e : events) {
          if (e instanceof BookEvent.Filled f) {
            fills.add(f.fill().fillId());
            fillsMade++;
          }
        }
      } else if (!fills.isEmpty()) {
        accept(book.execute(new BookOp.ReleaseFill(fills.remove(rnd.nextInt(fills.size())), 1_000, false), now++));
      }
      if (step % 50 == 0) accept(book.execute(new BookOp.ExpireDue(), now));
    }
    assertTrue(fillsMade > 500, "the churn filled " + fillsMade + " bids");

    int cleared = 0;
    for (int probe = 0; probe < 1_500; probe++) {
      Bid bid = bid("probe_" + probe, now, rnd);
      Clearing clearing = book.clearing(bid, now, MatchingRules.DEFAULT);
      Quote quote = book.quote(bid, now, MatchingRules.FEASIBLE_COUNT_CAP);
      List<String> walked = new ArrayList<>();
      for (Clearing.Candidate c : clearing.best()) walked.add(c.askId() + " " + c.startMillis() + "-" + c.finishMillis());
      List<String> checked = new ArrayList<>();
      for (Quote.Option o : quote.options()) checked.add(o.askId() + " " + o.startMillis() + "-" + o.finishMillis());
      assertEquals(checked, walked, "the best asks for " + bid);
      assertEquals(Math.min(quote.feasibleAsks(), MatchingRules.FEASIBLE_COUNT_CAP), clearing.feasibleAsks());
      if (!walked.isEmpty()) cleared++;
    }
    assertTrue(cleared > 300, "probes with a feasible ask: " + cleared);
  }

  private static List<BookEvent> accept(BookResult r) {
    return assertInstanceOf(Accepted.class, r, () -> "refused: " + r).events();
  }

  /** Crowded prices: a few hundred ticks for about 900 asks. */
  private static long price(SplittableRandom rnd) {
    return 100_000 + 1_000 * rnd.nextInt(rnd.nextInt(4) == 0 ? 20 : 300);
  }

  private static Ask ask(String id, SplittableRandom rnd) {
    long from = rnd.nextInt(6) == 0 ? T0 + 60_000L * rnd.nextInt(30) : Ask.OPEN_FROM;
    long until = rnd.nextInt(6) == 0 ? T0 + 3_600_000L + 60_000L * rnd.nextInt(60) : Ask.OPEN_UNTIL;
    return new Ask(id, "prv_" + rnd.nextInt(12), MODELS[rnd.nextInt(MODELS.length)], UC, price(rnd), 70 + 10 * rnd.nextInt(3),
        500 + 500L * rnd.nextInt(10), 1 + rnd.nextInt(2), from, until, rnd.nextInt(5) == 0 ? null : REGIONS[rnd.nextInt(2)],
        rnd.nextBoolean() ? Set.of("zdr") : Set.of());
  }

  private static Bid bid(String id, long now, SplittableRandom rnd) {
    int modelCount = rnd.nextInt(4) == 0 ? 2 : rnd.nextInt(3) == 0 ? 0 : 1;
    Set<String> models = modelCount == 0 ? Set.of()
        : modelCount == 1 ? Set.of(MODELS[rnd.nextInt(MODELS.length)]) : Set.of(MODELS[0], MODELS[1 + rnd.nextInt(2)]);
    long deadline = now + 60_000L * (1 + rnd.nextInt(240));
    return new Bid(id, UC, models, rnd.nextInt(3) == 0 ? 80 : 0, 100_000 + 1_000L * rnd.nextInt(320), 1_000L * (1 + rnd.nextInt(2_000)),
        deadline, deadline - 30_000, rnd.nextInt(6) == 0 ? Set.of(REGIONS[rnd.nextInt(2)]) : Set.of(),
        rnd.nextInt(6) == 0 ? Set.of("zdr") : Set.of(), rnd.nextInt(10) == 0 ? Set.of("prv_1", "prv_2", "prv_3") : Set.of(),
        rnd.nextInt(10) == 0 ? Set.of("prv_4") : Set.of());
  }
}
