package io.keld.trade.statement;

import io.keld.kit.sql.Sql;
import io.keld.ixp.Money;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.Fill;
import io.keld.kit.projection.TagProjection;
import io.keld.trade.asks.ProviderAsk;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;

/**
 * A provider's statement: fills, tokens served, revenue and utilization by UTC day, model and use
 * case, a projection of the books' journal ({@link #PROJECTION}): a fill is recorded from its
 * {@code Filled} event, and its release records the tokens actually served. Revenue is tokens served at the fill's price
 * ({@link Money}). Utilization is tokens filled over the capacity the provider's asks offered that
 * day (their current tokens/s times the seconds they were open), an approximation: an ask's
 * throughput is taken as it is now, not as it was hour by hour.
 */
public final class StatementStore {

  /** One line of a statement. */
  public record Line(LocalDate day, String model, String useCase, long fills, long failedFills, long tokensFilled, long tokensServed,
      long revenueMicroUsd, double utilization) {}

  private final Sql sql;

  public StatementStore(Sql sql) {
    this.sql = sql;
  }

  /**
   * The statement as a projection of the books' journal: fills and releases in the order the books
   * persisted them (a release never overtakes its fill), applied in the transaction that moves the
   * projection's offset, so each counts exactly once, also when the node died in between.
   */
  public static final TagProjection.Spec PROJECTION = new TagProjection.Spec("statement", "the books' journals (OrderBook|<use case>)",
      List.of("DELETE FROM trade_fills"));

  /**
   * Applies events of one book (see {@link #PROJECTION}) in two JDBC batches: the fills first, then
   * the releases, so a release in the same batch as its fill finds the row. Other events pass by.
   */
  public static void apply(Connection c, String persistenceId, long firstSeqNr, List<?> events) throws SQLException {
    try (PreparedStatement fills = c.prepareStatement("INSERT INTO trade_fills (fill_id, org_id, ask_id, use_case, model, price_per_mtok, "
            + "tokens_filled, tokens_served, released, failed, filled_at) SELECT ?, ?, ?, ?, ?, ?, ?, 0, FALSE, FALSE, ? "
            + "WHERE NOT EXISTS (SELECT 1 FROM trade_fills WHERE fill_id = ?)");
        PreparedStatement releases = c.prepareStatement("UPDATE trade_fills SET tokens_served = ?, released = TRUE, failed = ? WHERE fill_id = ?")) {
      int fillCount = 0;
      int releaseCount = 0;
      // The book's entity id is its use case: "OrderBook|summarize".
      String useCase = persistenceId.substring(persistenceId.indexOf('|') + 1);
      for (Object e : events) {
        if (e instanceof BookEvent.Filled filled) {
          // A fill already there (written before the statement became a projection) stays as it is.
          Fill f = filled.fill();
          Sql.bind(fills, f.fillId(), f.providerId(), f.askId(), useCase, f.model(), f.pricePerMtok(), f.tokens(),
              Instant.ofEpochMilli(f.filledAtMillis()), f.fillId());
          fills.addBatch();
          fillCount++;
        } else if (e instanceof BookEvent.FillReleased r) {
          Sql.bind(releases, r.failed() ? 0L : r.actualTokens(), r.failed(), r.fillId());
          releases.addBatch();
          releaseCount++;
        }
      }
      if (fillCount > 0) fills.executeBatch();
      if (releaseCount > 0) releases.executeBatch();
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
