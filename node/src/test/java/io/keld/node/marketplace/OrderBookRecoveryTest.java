package io.keld.node.marketplace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.entity.OrderBook;
import io.keld.node.KeldNode;
import io.keld.testkit.TestDatabase;
import io.keld.node.testing.TestNodes;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A book with asks, a fill and resting bids survives an ActorSystem restart on PostgreSQL, and a
 * resting bid whose escalation point passed while the system was down expires right after
 * recovery, without anyone writing to the book.
 */
class OrderBookRecoveryTest {

  private static final String USE_CASE = "summarize";

  @Test
  void aBookSurvivesARestartAndExpiresWhatFellDueWhileDown() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      long escalateSoon;
      String fillId;
      KeldNode first = TestNodes.startReady(TestNodes.config(db, null));
      try {
        long now = System.currentTimeMillis();
        accepted(first, new BookOp.PostAsk(ask("ask_cheap", "prv_1", 100_000, 1_000, 2)));
        accepted(first, new BookOp.PostAsk(ask("ask_dear", "prv_2", 150_000, 1_000, 2)));

        BookResult.Accepted filled = accepted(first, new BookOp.PlaceBid(bid("job_fills", 200_000, now + 600_000, now + 500_000)));
        BookEvent.Filled fill = assertInstanceOf(BookEvent.Filled.class, filled.events().get(0));
        assertEquals("ask_cheap", fill.fill().askId());
        fillId = fill.fill().fillId();

        escalateSoon = now + 3_000;
        BookResult.Accepted rested = accepted(first, new BookOp.PlaceBid(bid("job_expires", 50_000, now + 600_000, escalateSoon)));
        assertInstanceOf(BookEvent.BidRested.class, rested.events().get(0));
        accepted(first, new BookOp.PlaceBid(bid("job_waits", 60_000, now + 600_000, now + 500_000)));
      } finally {
        first.stop();
      }

      // Down past the escalation point of job_expires.
      long wait = escalateSoon - System.currentTimeMillis() + 500;
      if (wait > 0) Thread.sleep(wait);

      LinkedBlockingQueue<BookEvent> seen = new LinkedBlockingQueue<>();
      KeldNode second = TestNodes.startReady(TestNodes.config(db, null), List.of((useCase, events) -> seen.addAll(events)));
      try {

        // Nobody touches the book: it restarts as a remembered entity and its timer fires.
        BookEvent expired = seen.poll(30, TimeUnit.SECONDS);
        assertNotNull(expired, "the overdue bid expired after recovery without any write to the book");
        BookEvent.BidExpired e = assertInstanceOf(BookEvent.BidExpired.class, expired);
        assertEquals("job_expires", e.bidId());
        assertEquals(escalateSoon, e.escalateAtMillis());

        OrderBook.BidStatus filled = second.books().bidStatus(USE_CASE, "job_fills").toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(OrderBook.BidStatus.Status.FILLED, filled.status());
        assertEquals(fillId, filled.fill().fillId());
        assertEquals(OrderBook.BidStatus.Status.RESTING,
            second.books().bidStatus(USE_CASE, "job_waits").toCompletableFuture().get(10, TimeUnit.SECONDS).status());
        assertEquals(OrderBook.BidStatus.Status.NOT_ON_BOOK,
            second.books().bidStatus(USE_CASE, "job_expires").toCompletableFuture().get(10, TimeUnit.SECONDS).status());

        BookView view = second.books().view(USE_CASE).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(List.of(100_000L, 150_000L), view.asks().stream().map(BookView.PriceLevel::pricePerMtok).toList());
        assertEquals(1, view.restingDemand().size());

        // The recovered book still clears: a cheaper ask fills the waiting bid, at the ask's price.
        BookResult.Accepted posted = accepted(second, new BookOp.PostAsk(ask("ask_new", "prv_3", 55_000, 1_000, 1)));
        BookEvent.Filled late = (BookEvent.Filled) posted.events().stream().filter(ev -> ev instanceof BookEvent.Filled).findFirst().orElseThrow();
        assertEquals("job_waits", late.fill().bidId());
        assertEquals(55_000, late.fill().pricePerMtok());
        // The fill sequence continued from the journal: no id is reused.
        assertTrue(!late.fill().fillId().equals(fillId));

        accepted(second, new BookOp.ReleaseFill(fillId, 9_000, false));
      } finally {
        second.stop();
      }
    }
  }

  private static Ask ask(String id, String provider, long price, long tps, int maxConcurrency) {
    return new Ask(id, provider, "llama-70b", USE_CASE, price, 80, tps, maxConcurrency, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "eu", Set.of("zdr"));
  }

  private static Bid bid(String id, long ceiling, long deadline, long escalateAt) {
    return new Bid(id, USE_CASE, Set.of(), 50, ceiling, 10_000, deadline, escalateAt, Set.of(), Set.of(), Set.of(), Set.of());
  }

  private static BookResult.Accepted accepted(KeldNode node, BookOp op) throws Exception {
    BookResult result = node.books().submit(USE_CASE, op).toCompletableFuture().get(15, TimeUnit.SECONDS);
    return assertInstanceOf(BookResult.Accepted.class, result, () -> "accepted: " + op + " -> " + result);
  }

}
