package io.keld.trade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.keld.kit.sql.Sql;
import io.keld.testkit.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGStatement;

/**
 * The statement projection asks the journal for each book's last sequence number every tick. Left to
 * the driver, PostgreSQL keeps such a query as a named statement after a few runs and may keep one
 * generic plan for it, chosen while the journal was small: a sequential scan that stays while the
 * journal grows (measured at 55 ms a call, up to 0.5 s, in {@code bench/run book-persistent}).
 * {@link Sql#planEachRun} has it sent unnamed, so it is planned with its values every time. Here with
 * the projection's query text over a stand-in journal table, on a plain connection and through
 * HikariCP's proxies (as the node's pool hands statements out).
 */
class PlanEachRunTest {

  static final String LAST_SEQ_NR = "SELECT max(sequence_number) FROM event_journal WHERE persistence_id = ?";

  @Test
  void onPostgresAQueryPlannedEachRunIsNeverKeptAsANamedStatement() throws Exception {
    try (TestDatabase db = TestDatabase.postgres()) {
      try (Connection c = db.connect(); Statement s = c.createStatement()) {
        s.execute("CREATE TABLE event_journal (persistence_id VARCHAR(255) NOT NULL, sequence_number BIGINT NOT NULL, "
            + "PRIMARY KEY (persistence_id, sequence_number))");
        s.execute("INSERT INTO event_journal VALUES ('OrderBook|classify', 1), ('OrderBook|classify', 2)");
      }
      try (Connection c = db.connect()) {
        for (int i = 0; i < 10; i++) {
          try (PreparedStatement ps = Sql.planEachRun(c.prepareStatement(LAST_SEQ_NR))) {
            assertEquals(2, lastSeqNr(ps));
          }
        }
        assertEquals(0, namedStatements(c), "planned each run: never prepared as a named statement");
      }
      try (HikariDataSource pool = pool(db); Connection c = pool.getConnection()) {
        for (int i = 0; i < 10; i++) {
          try (PreparedStatement ps = Sql.planEachRun(c.prepareStatement(LAST_SEQ_NR))) {
            assertEquals(2, lastSeqNr(ps));
          }
        }
        assertEquals(0, namedStatements(c), "through HikariCP's proxies too");
      }
      // The control: at the driver's default threshold (five runs, set here in case the URL changes it),
      // the same query becomes a named statement, so the check above can see one.
      try (Connection c = db.connect()) {
        for (int i = 0; i < 10; i++) {
          try (PreparedStatement ps = c.prepareStatement(LAST_SEQ_NR)) {
            ps.unwrap(PGStatement.class).setPrepareThreshold(5);
            assertEquals(2, lastSeqNr(ps));
          }
        }
        assertTrue(namedStatements(c) >= 1, "the driver's default keeps a named statement (the control)");
      }
    }
  }

  @Test
  void onH2ItChangesNothing(@TempDir Path dir) throws Exception {
    try (TestDatabase db = TestDatabase.h2(dir); Connection c = db.connect(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE event_journal (persistence_id VARCHAR(255) NOT NULL, sequence_number BIGINT NOT NULL, "
          + "PRIMARY KEY (persistence_id, sequence_number))");
      s.execute("INSERT INTO event_journal VALUES ('OrderBook|classify', 7)");
      try (PreparedStatement ps = Sql.planEachRun(c.prepareStatement(LAST_SEQ_NR))) {
        assertEquals(7, lastSeqNr(ps));
      }
    }
  }

  private static HikariDataSource pool(TestDatabase db) {
    Map<String, Object> settings = db.nodeSettings();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl((String) settings.get("keld.database.url"));
    config.setUsername((String) settings.get("keld.database.user"));
    config.setPassword((String) settings.get("keld.database.password"));
    config.setMaximumPoolSize(1);
    return new HikariDataSource(config);
  }

  private static long lastSeqNr(PreparedStatement ps) throws SQLException {
    ps.setString(1, "OrderBook|classify");
    try (ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The connection's server-side named statements for the query (PostgreSQL lists protocol-level ones too). */
  private static int namedStatements(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT max(sequence_number) FROM event_journal%'");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
