package io.keld.trade.statement;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.keld.kit.sql.KeldDatabase;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.Fill;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The statement's set-based writes, on PostgreSQL and on H2: fills and releases land as the events
 * say, a fill recorded before the statement became a projection stays as it was (the batch falls back
 * to row by row), and a release in the same batch as its fill finds the row.
 */
class StatementStoreApplyTest {

  static final String BOOK = "OrderBook|summarize";

  static BookEvent.Filled filled(int i) {
    return new BookEvent.Filled(new Fill("fil_summarize_" + i, "job_" + i + ".b1", "ask_1", "prv_" + (i % 3), "m", 100_000, 1_000, 10, 20,
        9_000, 1_700_000_000_000L + i, null, 1, "1.0"), null, 1_700_000_000_000L + i);
  }

  static void apply(KeldDatabase db, List<?> events) throws SQLException {
    try (Connection c = db.dataSource().getConnection()) {
      Sql.inTransaction(c, tx -> {
        StatementStore.apply(tx, BOOK, 1, events);
        return null;
      });
    }
  }

  /** fills, released, failed, tokens served, over every row. */
  static List<Long> totals(KeldDatabase db) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*), coalesce(sum(CASE WHEN released THEN 1 ELSE 0 END), 0), "
            + "coalesce(sum(CASE WHEN failed THEN 1 ELSE 0 END), 0), coalesce(sum(tokens_served), 0) FROM trade_fills WHERE use_case = 'summarize'");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return List.of(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4));
    }
  }

  static void check(TestDatabase test) throws SQLException {
    try (KeldDatabase db = KeldDatabase.connect(ConfigFactory.parseMap(test.nodeSettings()))) {
      db.migrate();
      List<Object> first = new ArrayList<>();
      for (int i = 0; i < 300; i++) first.add(filled(i));
      // Released in the same batch as their fills: 0-99 served 600 tokens each, 100-109 failed.
      for (int i = 0; i < 100; i++) first.add(new BookEvent.FillReleased("fil_summarize_" + i, "ask_1", "job_" + i + ".b1", 600, false, 1L));
      for (int i = 100; i < 110; i++) first.add(new BookEvent.FillReleased("fil_summarize_" + i, "ask_1", "job_" + i + ".b1", 0, true, 1L));
      apply(db, first);
      assertEquals(List.of(300L, 110L, 10L, 60_000L), totals(db));

      // Fills 250-299 again (as if recorded before the statement was a projection), with 50 new ones and releases.
      List<Object> second = new ArrayList<>();
      for (int i = 250; i < 350; i++) second.add(filled(i));
      for (int i = 200; i < 220; i++) second.add(new BookEvent.FillReleased("fil_summarize_" + i, "ask_1", "job_" + i + ".b1", 1_000, false, 1L));
      // Released in this batch too: fills that were already there (their rows are left, then released) and new ones.
      for (int i = 255; i < 260; i++) second.add(new BookEvent.FillReleased("fil_summarize_" + i, "ask_1", "job_" + i + ".b1", 2_000, false, 1L));
      for (int i = 300; i < 305; i++) second.add(new BookEvent.FillReleased("fil_summarize_" + i, "ask_1", "job_" + i + ".b1", 3_000, false, 1L));
      apply(db, second);
      assertEquals(List.of(350L, 140L, 10L, 105_000L), totals(db));
    }
  }

  @Test
  void fillsAndReleasesOnPostgres() throws SQLException {
    try (TestDatabase test = TestDatabase.postgres()) {
      check(test);
    }
  }

  @Test
  void fillsAndReleasesOnH2(@TempDir Path dir) throws SQLException {
    try (TestDatabase test = TestDatabase.h2(dir)) {
      check(test);
    }
  }
}
