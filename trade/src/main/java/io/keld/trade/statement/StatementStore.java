package io.keld.trade.statement;

import io.keld.kit.sql.Sql;
import io.keld.ixp.Money;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.BookListener;
import io.keld.trade.asks.ProviderAsk;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A provider's statement: fills, tokens served, revenue and utilization by UTC day, model and use
 * case. Fills are recorded from the books' events (insert by fill id, so a repeat changes nothing);
 * a released fill records the tokens actually served. Revenue is tokens served at the fill's price
 * ({@link Money}). Utilization is tokens filled over the capacity the provider's asks offered that
 * day (their current tokens/s times the seconds they were open), an approximation: an ask's
 * throughput is taken as it is now, not as it was hour by hour.
 */
public final class StatementStore implements BookListener {

  private static final Logger log = LoggerFactory.getLogger(StatementStore.class);

  /** One line of a statement. */
  public record Line(LocalDate day, String model, String useCase, long fills, long failedFills, long tokensFilled, long tokensServed,
      long revenueMicroUsd, double utilization) {}

  private final Sql sql;
  /** The last write: each batch of events is written after the one before. */
  private CompletionStage<Void> tail = CompletableFuture.completedFuture(null);

  public StatementStore(Sql sql) {
    this.sql = sql;
  }

  /** Tries per batch of events that failed for a passing reason, with waits of 0.5 s doubling in between (about 15 s in all). */
  static final int WRITE_ATTEMPTS = 6;

  /**
   * Records a book's fills and releases in the order the book persisted them: one database call per
   * batch of events, each after the previous one (a release must never overtake its fill). Both
   * writes are idempotent, so a batch that fails for a passing reason (the database restarting,
   * say) is tried again before later batches are written.
   */
  @Override
  public void onPersisted(String useCase, List<BookEvent> events) {
    List<BookEvent> relevant = events.stream().filter(e -> e instanceof BookEvent.Filled || e instanceof BookEvent.FillReleased).toList();
    if (relevant.isEmpty()) return;
    synchronized (this) {
      tail = tail.thenCompose(x -> write(useCase, relevant, 1));
    }
  }

  private CompletionStage<Void> write(String useCase, List<BookEvent> events, int attempt) {
    CompletionStage<Void> written;
    try {
      // Statement by statement (auto-commit): a repeated fill's unique violation must not abort the rest.
      written = sql.run(c -> {
        for (BookEvent e : events) {
          if (e instanceof BookEvent.Filled f) record(c, useCase, f.fill());
          else released(c, (BookEvent.FillReleased) e);
        }
        return null;
      });
    } catch (RuntimeException e) {
      written = CompletableFuture.failedFuture(e);
    }
    return written.exceptionallyCompose(failure -> {
      if (attempt >= WRITE_ATTEMPTS || !transientFailure(failure)) {
        log.error("{} fill event(s) of the {} book not recorded for the provider statement after {} tries: {}", events.size(), useCase,
            attempt, failure.getMessage());
        return CompletableFuture.completedFuture(null);
      }
      long waitMillis = 500L << (attempt - 1);
      log.warn("fills of the {} book not recorded for the provider statement (try {} of {}), trying again in {} ms: {}", useCase, attempt,
          WRITE_ATTEMPTS, waitMillis, failure.getMessage());
      return CompletableFuture.runAsync(() -> { },
              CompletableFuture.delayedExecutor(waitMillis, TimeUnit.MILLISECONDS))
          .thenCompose(x -> write(useCase, events, attempt + 1));
    });
  }

  /**
   * Failures worth another try: the connection or the server going away (SQLSTATE class 08, 57P),
   * a lost concurrency conflict (40), the server out of resources (53), or no connection to be had
   * in time. Anything else would fail the same way again.
   */
  static boolean transientFailure(Throwable failure) {
    if (Sql.isConcurrencyFailure(failure)) return true;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientException || t instanceof SQLRecoverableException) return true;
      if (t instanceof SQLException s && s.getSQLState() != null
          && (s.getSQLState().startsWith("08") || s.getSQLState().startsWith("53") || s.getSQLState().startsWith("57P"))) {
        return true;
      }
    }
    return false;
  }

  private static void record(Connection c, String useCase, Fill f) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_fills (fill_id, org_id, ask_id, use_case, model, price_per_mtok, "
        + "tokens_filled, tokens_served, released, failed, filled_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, FALSE, FALSE, ?)")) {
      Sql.bind(ps, f.fillId(), f.providerId(), f.askId(), useCase, f.model(), f.pricePerMtok(), f.tokens(), Instant.ofEpochMilli(f.filledAtMillis()));
      ps.executeUpdate();
    } catch (SQLException e) {
      if (!Sql.isUniqueViolation(e)) throw e; // recorded before: a repeat changes nothing
    }
  }

  private static void released(Connection c, BookEvent.FillReleased r) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE trade_fills SET tokens_served = ?, released = TRUE, failed = ? WHERE fill_id = ?")) {
      Sql.bind(ps, r.failed() ? 0L : r.actualTokens(), r.failed(), r.fillId());
      ps.executeUpdate();
    }
  }

  /** The statement of {@code orgId} for the UTC days {@code from} to {@code to}, inclusive; {@code asks} are its asks, for utilization. */
  public CompletionStage<List<Line>> statement(String orgId, LocalDate from, LocalDate to, List<ProviderAsk> asks) {
    Instant start = from.atStartOfDay(ZoneOffset.UTC).toInstant();
    Instant end = to.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    return sql.run(c -> {
      Map<String, long[]> sums = new TreeMap<>(); // day|model|use case -> fills, failed, filled, served, revenue
      try (PreparedStatement ps = c.prepareStatement("SELECT model, use_case, price_per_mtok, tokens_filled, tokens_served, failed, filled_at "
          + "FROM trade_fills WHERE org_id = ? AND filled_at >= ? AND filled_at < ?")) {
        Sql.bind(ps, orgId, start, end);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            LocalDate day = Sql.instant(rs, "filled_at").atZone(ZoneOffset.UTC).toLocalDate();
            long[] s = sums.computeIfAbsent(day + "|" + rs.getString("model") + "|" + rs.getString("use_case"), k -> new long[5]);
            s[0]++;
            if (rs.getBoolean("failed")) s[1]++;
            s[2] += rs.getLong("tokens_filled");
            s[3] += rs.getLong("tokens_served");
            s[4] += Money.costMicroUsd(rs.getLong("tokens_served"), rs.getLong("price_per_mtok"));
          }
        }
      }
      List<Line> lines = new ArrayList<>();
      for (Map.Entry<String, long[]> e : sums.entrySet()) {
        String[] k = e.getKey().split("\\|", 3);
        LocalDate day = LocalDate.parse(k[0]);
        long[] s = e.getValue();
        double offered = offeredTokens(asks, k[1], k[2], day);
        lines.add(new Line(day, k[1], k[2], s[0], s[1], s[2], s[3], s[4], offered <= 0 ? 0 : Math.min(1.0, s[2] / offered)));
      }
      return lines;
    });
  }

  /** Tokens the provider's asks for this model and use case offered on {@code day}: throughput × seconds open. */
  static double offeredTokens(List<ProviderAsk> asks, String model, String useCase, LocalDate day) {
    Instant dayStart = day.atStartOfDay(ZoneOffset.UTC).toInstant();
    Instant dayEnd = dayStart.plus(Duration.ofDays(1));
    Instant now = Instant.now();
    double total = 0;
    for (ProviderAsk a : asks) {
      if (!a.model().equals(model) || !a.useCase().equals(useCase)) continue;
      Instant openFrom = a.createdAt().isAfter(dayStart) ? a.createdAt() : dayStart;
      Instant closedAt = a.open() ? now : a.updatedAt();
      Instant openUntil = closedAt.isBefore(dayEnd) ? closedAt : dayEnd;
      if (openUntil.isAfter(openFrom)) total += a.throughputTps() * (Duration.between(openFrom, openUntil).toMillis() / 1000.0);
    }
    return total;
  }
}
