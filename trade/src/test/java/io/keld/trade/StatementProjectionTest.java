package io.keld.trade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.keld.kit.projection.PersistenceIdProjection;
import io.keld.kit.projection.TagProjection;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.entity.OrderBook;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicLong;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.testkit.TestDatabase;
import io.keld.trade.statement.StatementStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The providers' statement is a projection of the books' journal: a node that dies after the book
 * persisted its fills and before the statement was written loses none of them and counts none
 * twice, batches lost on their way to the projection are read from the journal, and a rebuild from
 * offset zero on thousands of fills gives the same totals.
 */
class StatementProjectionTest {

  static final Duration WAIT = Duration.ofSeconds(90);

  /** What the statement holds, summed over every row. */
  record Totals(long fills, long tokensFilled, long tokensServed, long released) {
    Totals plus(Totals o) {
      return new Totals(fills + o.fills, tokensFilled + o.tokensFilled, tokensServed + o.tokensServed, released + o.released);
    }
  }

  static Totals statement(TestDatabase db) throws SQLException {
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT count(*), coalesce(sum(tokens_filled), 0), coalesce(sum(tokens_served), 0), "
            + "coalesce(sum(CASE WHEN released THEN 1 ELSE 0 END), 0) FROM trade_fills");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return new Totals(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4));
    }
  }

  static long storedOffset(TestDatabase db) throws SQLException {
    try (Connection c = db.connect()) {
      return TagProjection.storedOffset(c, StatementStore.PROJECTION.name());
    }
  }

  static void awaitStatement(TestDatabase db, Totals expected) throws Exception {
    long end = System.nanoTime() + WAIT.toNanos();
    Totals seen = statement(db);
    while (!seen.equals(expected)) {
      if (System.nanoTime() > end) throw new AssertionError("the statement shows " + seen + ", the journal " + expected);
      Thread.sleep(100);
      seen = statement(db);
    }
  }

  /**
   * {@code n} fills on one large ask, every other one released with 600 of its 1,000 tokens served:
   * what the statement must show for them.
   */
  static Totals trade(TradeNode node, String prefix, int n) throws Exception {
    long now = System.currentTimeMillis();
    Ask ask = new Ask("ask_" + prefix, "org_statement", "m-" + prefix, "summarize", 400_000, 80, 1_000_000_000L, 1_000_000, Ask.OPEN_FROM,
        Ask.OPEN_UNTIL, null, Set.of());
    assertInstanceOf(BookResult.Accepted.class, node.books().submit("summarize", new BookOp.PostAsk(ask)).toCompletableFuture().get(10, TimeUnit.SECONDS));
    List<Fill> fills = new ArrayList<>();
    for (int from = 0; from < n; from += 200) {
      List<CompletableFuture<BookResult>> placed = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 200); i++) {
        Bid bid = new Bid(prefix + "_bid_" + i, "summarize", Set.of(), 50, 500_000, 1_000, now + 600_000, now + 300_000, Set.of(), Set.of(),
            Set.of(), Set.of());
        placed.add(node.books().submit("summarize", new BookOp.PlaceBid(bid)).toCompletableFuture());
      }
      for (CompletableFuture<BookResult> p : placed) {
        BookResult.Accepted a = assertInstanceOf(BookResult.Accepted.class, p.get(30, TimeUnit.SECONDS));
        a.events().stream().filter(e -> e instanceof BookEvent.Filled).forEach(e -> fills.add(((BookEvent.Filled) e).fill()));
      }
    }
    assertEquals(n, fills.size(), "every bid filled");
    List<CompletableFuture<BookResult>> releases = new ArrayList<>();
    for (int i = 0; i < fills.size(); i += 2) {
      releases.add(node.books().submit("summarize", new BookOp.ReleaseFill(fills.get(i).fillId(), 600, false)).toCompletableFuture());
    }
    for (CompletableFuture<BookResult> r : releases) assertInstanceOf(BookResult.Accepted.class, r.get(30, TimeUnit.SECONDS));
    return new Totals(n, n * 1_000L, releases.size() * 600L, releases.size());
  }

  @Test
  void aNodeThatDiesBeforeWritingTheStatementLosesNoFillAndCountsNoneTwice() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      // Every start on this database is the same node coming back: the same master key.
      Path keyFile = Files.createTempDirectory("keld-statement").resolve("master.key");
      Config config = TradeNode.config(db).withValue("keld.trade.master-key-file", ConfigValueFactory.fromAnyRef(keyFile.toString()));
      TradeNode node = TradeNode.start(config);
      // The read side stops first: the book persists its fills, and the node dies before any reaches the statement.
      node.statement().stop();
      Totals first = trade(node, "a", 300);
      node.stopAndAwait();
      assertEquals(new Totals(0, 0, 0, 0), statement(db), "nothing was written before the node died");

      node = TradeNode.start(config);
      awaitStatement(db, first);
      // Mid-stream: more fills, and the node stopped the moment the book has answered, wherever the projection is.
      Totals second = trade(node, "b", 300);
      node.stopAndAwait();
      Totals partial = statement(db);
      assertTrue(partial.fills() <= 600, partial.toString());

      node = TradeNode.start(config);
      try {
        awaitStatement(db, first.plus(second));
        Thread.sleep(1_500); // nothing more arrives later: each fill and release counted once
        assertEquals(first.plus(second), statement(db));
      } finally {
        node.stopAndAwait();
      }
    }
  }

  @Test
  void rebuildingFromOffsetZeroOnThousandsOfFillsGivesTheSameTotals() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      TradeNode node = TradeNode.start(TradeNode.config(db));
      try {
        Totals expected = trade(node, "r", 2_500);
        awaitStatement(db, expected);
        long offset = storedOffset(db);
        assertTrue(offset > 0);

        long had;
        try (Connection c = db.connect()) {
          had = TagProjection.rebuild(c, StatementStore.PROJECTION); // what `keld projections rebuild statement` runs
        }
        assertEquals(offset, had);
        long end = System.nanoTime() + WAIT.toNanos();
        while (storedOffset(db) != offset || !statement(db).equals(expected)) {
          if (System.nanoTime() > end) throw new AssertionError("not rebuilt: offset " + storedOffset(db) + ", statement " + statement(db));
          Thread.sleep(100);
        }
        assertEquals(expected, statement(db));
      } finally {
        node.stopAndAwait();
      }
    }
  }

  @Test
  void batchesLostOnTheWayAreReadFromTheJournalAndNothingCountsTwice() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      TradeNode node = TradeNode.start(TradeNode.config(db));
      try {
        node.statement().stop();
        // Every third batch the books publish never arrives; pages of 25 events make most gaps too large to fill
        // in passing, so both ways are taken: small gaps read before the batch that follows them, larger ones at a tick.
        AtomicLong heard = new AtomicLong();
        PersistenceIdProjection lossy = new PersistenceIdProjection(node.system(), new Sql(node.module().dataSource(), node.module().blocking()),
            StatementStore.PROJECTION, List.of(OrderBook.persistenceId("summarize")),
            () -> Trade.heardBooks(node.system(), List.of("summarize")).filter(b -> heard.incrementAndGet() % 3 != 0),
            StatementStore::apply, new PersistenceIdProjection.Settings(25, Duration.ofMillis(20), Duration.ofMillis(500), 1_000),
            Clock.systemUTC(), new SimpleMeterRegistry()).start();
        try {
          Totals expected = trade(node, "l", 1_200);
          awaitStatement(db, expected);
          Thread.sleep(1_500); // nothing more arrives later
          assertEquals(expected, statement(db));
          assertTrue(lossy.eventsReadFromJournal() > 0, "some events came from the journal");
          // 1 ask, 1,200 fills and 600 releases: the batches that did arrive were applied as heard.
          assertTrue(lossy.eventsReadFromJournal() < 1_801, "read from the journal: " + lossy.eventsReadFromJournal());
          assertEquals(0, lossy.eventsBehind());
        } finally {
          lossy.stop();
        }
      } finally {
        node.stopAndAwait();
      }
    }
  }

  @Test
  void aProjectionSlowerThanTheBooksKeepsApplyingWhatItHeardInsteadOfReadingTheJournal() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      TradeNode node = TradeNode.start(TradeNode.config(db));
      try {
        node.statement().stop();
        // Each transaction takes 150 ms more than it needs, so heard batches wait in the buffer far longer than
        // quietAfter (100 ms). They still arrive in order and move the offset: the journal has nothing to add.
        PersistenceIdProjection.Handler slow = (c, pid, first, events) -> {
          try {
            Thread.sleep(150);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          StatementStore.apply(c, pid, first, events);
        };
        PersistenceIdProjection busy = new PersistenceIdProjection(node.system(), new Sql(node.module().dataSource(), node.module().blocking()),
            StatementStore.PROJECTION, List.of(OrderBook.persistenceId("summarize")),
            () -> Trade.heardBooks(node.system(), List.of("summarize")), slow,
            new PersistenceIdProjection.Settings(25, Duration.ofMillis(20), Duration.ofMillis(100), 10_000),
            Clock.systemUTC(), new SimpleMeterRegistry()).start();
        try {
          Totals expected = trade(node, "s", 600);
          awaitStatement(db, expected);
          assertEquals(expected, statement(db));
          assertEquals(0, busy.eventsReadFromJournal(), "every event was applied as heard");
          assertEquals(0, busy.eventsBehind());
        } finally {
          busy.stop();
        }
      } finally {
        node.stopAndAwait();
      }
    }
  }
}
