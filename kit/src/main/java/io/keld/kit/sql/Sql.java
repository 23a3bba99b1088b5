package io.keld.kit.sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.postgresql.PGStatement;

/**
 * Keld's reference and read-side tables (Atlas, Trade) are plain SQL (H2 or PostgreSQL, same statements). JDBC
 * blocks, so every call runs on the given executor (the node's blocking dispatcher), never on a
 * thread that serves requests.
 */
public final class Sql {

  @FunctionalInterface
  public interface Work<T> {
    T apply(Connection connection) throws SQLException;
  }

  private final DataSource dataSource;
  private final Executor blocking;

  public Sql(DataSource dataSource, Executor blocking) {
    this.dataSource = dataSource;
    this.blocking = blocking;
  }

  /** Runs {@code work} on one connection (auto-commit) off the caller's thread. */
  public <T> CompletionStage<T> run(Work<T> work) {
    return CompletableFuture.supplyAsync(() -> now(work), blocking);
  }

  /** Runs {@code work} on one connection as one transaction, off the caller's thread. */
  public <T> CompletionStage<T> transaction(Work<T> work) {
    return run(c -> inTransaction(c, work));
  }

  /** Runs {@code work} on {@code c} as one transaction: committed if it returns, rolled back if it throws. */
  public static <T> T inTransaction(Connection c, Work<T> work) throws SQLException {
    c.setAutoCommit(false);
    try {
      T result = work.apply(c);
      c.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(true);
    }
  }

  /** Runs {@code work} on the calling thread (start-up, CLI). */
  public <T> T now(Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      return work.apply(c);
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  public static Instant instant(ResultSet rs, String column) throws SQLException {
    Timestamp t = rs.getTimestamp(column);
    return t == null ? null : t.toInstant();
  }

  public static void bind(PreparedStatement ps, Object... values) throws SQLException {
    for (int i = 0; i < values.length; i++) {
      Object v = values[i];
      if (v instanceof Instant in) ps.setTimestamp(i + 1, Timestamp.from(in));
      else ps.setObject(i + 1, v);
    }
  }

  /**
   * Has PostgreSQL plan {@code ps} with its values each time it runs, not once for all values. After a
   * few runs of a prepared statement on one connection, PostgreSQL may keep a generic plan chosen for
   * the table as it was then. Growth alone does not replace it; the next {@code ANALYZE} (autovacuum)
   * does, so the harm is worst on a young database: a plan chosen while the journal was nearly empty (a
   * sequential scan) stayed while it grew to millions of rows. Measured on {@code bench/run
   * book-persistent} (a fresh schema each run): the statement projection's per-tick
   * {@code max(sequence_number)} took 55 ms a call on average and up to 0.5 s, the largest single cost
   * of the database in that run. The driver sends such a statement unnamed, which PostgreSQL plans with
   * the values given, for a fraction of a millisecond.
   *
   * <p>For small queries that run a few times a second, not per row, and not for reading large
   * {@code bytea} columns (the driver takes results in binary only from named statements). The driver
   * counts runs per SQL text on the connection: a copy of the same SQL run without this would name it
   * after five runs, and from then on this one would use that named statement too. No effect on H2.
   */
  public static PreparedStatement planEachRun(PreparedStatement ps) throws SQLException {
    if (ps.isWrapperFor(PGStatement.class)) ps.unwrap(PGStatement.class).setPrepareThreshold(0);
    return ps;
  }

  /** True for a unique or primary key violation (SQLSTATE 23505 on both H2 and PostgreSQL). */
  public static boolean isUniqueViolation(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s) {
        // A batch's failure names the failed entry's error as its next exception.
        for (SQLException n = s; n != null; n = n.getNextException()) {
          if ("23505".equals(n.getSQLState())) return true;
        }
      }
    }
    return false;
  }

  /**
   * A failure that trying the transaction again can cure: a deadlock or serialization failure
   * (SQLSTATE class 40 on PostgreSQL and H2), or an H2 lock timeout (HYT00).
   */
  public static boolean isConcurrencyFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && s.getSQLState() != null && (s.getSQLState().startsWith("40") || s.getSQLState().equals("HYT00"))) {
        return true;
      }
    }
    return false;
  }

  /** A database failure; its message may name tables but never holds row values. */
  public static final class StoreException extends RuntimeException {
    public StoreException(SQLException cause) {
      super("database error: " + cause.getMessage(), cause);
    }
  }
}
