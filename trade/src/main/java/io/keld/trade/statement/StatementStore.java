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
import java.sql.Savepoint;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
  public static final TagProjection.Spec PROJECTION = new TagProjection.Spec("statement", "OrderBook|<use case>",
      List.of("DELETE FROM trade_fills"));

  /**
   * Applies events of one book (see {@link #PROJECTION}): the fills first, each already released when
   * its release is in the same run, then the releases of earlier fills. Other events pass by. Set-based, because a
   * statement per fill and per release cost PostgreSQL more than the books' own journal writes
   * (persisted bids/s with the statement running: ~23k; without it: ~39k, BENCHMARKS.md):
   * <ul>
   *   <li>the fills in one batched {@code INSERT ... VALUES}, which the PostgreSQL driver sends as
   *       multi-row inserts ({@code reWriteBatchedInserts}); the projection applies each event
   *       once, so only rows written before the statement became a projection can already be there,
   *       and when one is, the batch is undone to a savepoint and inserted row by row around them;
   *   <li>on PostgreSQL the releases in one {@code UPDATE ... FROM unnest(...)}; elsewhere (H2) batched.
   * </ul>
   */
  public static void apply(Connection c, String persistenceId, long firstSeqNr, List<?> events) throws SQLException {
    // The book's entity id is its use case: "OrderBook|summarize".
    String useCase = persistenceId.substring(persistenceId.indexOf('|') + 1);
    List<Fill> fills = new ArrayList<>();
    Map<String, BookEvent.FillReleased> releases = new LinkedHashMap<>();
    for (Object e : events) {
      if (e instanceof BookEvent.Filled filled) fills.add(filled.fill());
      else if (e instanceof BookEvent.FillReleased r) releases.put(r.fillId(), r);
    }
    // A fill released within the same run (a short job) is written once, already released: one row
    // written instead of an insert and an update (and no dead row version left for vacuum).
    Map<String, BookEvent.FillReleased> releasedWithFill = new HashMap<>();
    for (Fill f : fills) {
      BookEvent.FillReleased r = releases.remove(f.fillId());
      if (r != null) releasedWithFill.put(f.fillId(), r);
    }
    if (!fills.isEmpty() && !insertFills(c, useCase, fills, releasedWithFill)) {
      // Rows written before the statement became a projection were left as they were: release those too.
      releasedWithFill.values().forEach(r -> releases.put(r.fillId(), r));
    }
    if (!releases.isEmpty()) {
      List<BookEvent.FillReleased> rest = new ArrayList<>(releases.values());
      if (isPostgres(c)) releaseAll(c, rest);
      else releaseEach(c, rest);
    }
  }

  /** Inserts the fills, each released as {@code releasedWithFill} says; false when some rows were already there (and were left alone). */
  private static boolean insertFills(Connection c, String useCase, List<Fill> fills, Map<String, BookEvent.FillReleased> releasedWithFill)
      throws SQLException {
    Savepoint before = c.setSavepoint();
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_fills (fill_id, org_id, ask_id, use_case, model, price_per_mtok, "
        + "tokens_filled, tokens_served, released, failed, filled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (Fill f : fills) {
        BookEvent.FillReleased r = releasedWithFill.get(f.fillId());
        Sql.bind(ps, f.fillId(), f.providerId(), f.askId(), useCase, f.model(), f.pricePerMtok(), f.tokens(), served(r), r != null,
            r != null && r.failed(), Instant.ofEpochMilli(f.filledAtMillis()));
        ps.addBatch();
      }
      ps.executeBatch();
      c.releaseSavepoint(before);
      return true;
    } catch (SQLException e) {
      if (!Sql.isUniqueViolation(e)) throw e;
      c.rollback(before);
    }
    // Some of these fills were recorded before the statement became a projection: those stay as they are.
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO trade_fills (fill_id, org_id, ask_id, use_case, model, price_per_mtok, "
        + "tokens_filled, tokens_served, released, failed, filled_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
        + "WHERE NOT EXISTS (SELECT 1 FROM trade_fills WHERE fill_id = ?)")) {
      for (Fill f : fills) {
        BookEvent.FillReleased r = releasedWithFill.get(f.fillId());
        Sql.bind(ps, f.fillId(), f.providerId(), f.askId(), useCase, f.model(), f.pricePerMtok(), f.tokens(), served(r), r != null,
            r != null && r.failed(), Instant.ofEpochMilli(f.filledAtMillis()), f.fillId());
        ps.addBatch();
      }
      ps.executeBatch();
    }
    return false;
  }

  /** Tokens served as a release reports them (none for a failed one, or before the release). */
  private static long served(BookEvent.FillReleased r) {
    return r == null || r.failed() ? 0L : r.actualTokens();
  }

  private static void releaseAll(Connection c, List<BookEvent.FillReleased> releases) throws SQLException {
    String[] ids = new String[releases.size()];
    Long[] served = new Long[releases.size()];
    Boolean[] failed = new Boolean[releases.size()];
    for (int i = 0; i < ids.length; i++) {
      BookEvent.FillReleased r = releases.get(i);
      ids[i] = r.fillId();
      served[i] = served(r);
      failed[i] = r.failed();
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE trade_fills SET tokens_served = v.served, released = TRUE, failed = v.failed "
        + "FROM (SELECT unnest(?::varchar[]) AS fill_id, unnest(?::bigint[]) AS served, unnest(?::boolean[]) AS failed) v "
        + "WHERE trade_fills.fill_id = v.fill_id")) {
      ps.setArray(1, c.createArrayOf("varchar", ids));
      ps.setArray(2, c.createArrayOf("bigint", served));
      ps.setArray(3, c.createArrayOf("boolean", failed));
      ps.executeUpdate();
    }
  }

  private static void releaseEach(Connection c, List<BookEvent.FillReleased> releases) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE trade_fills SET tokens_served = ?, released = TRUE, failed = ? WHERE fill_id = ?")) {
      for (BookEvent.FillReleased r : releases) {
        Sql.bind(ps, r.failed() ? 0L : r.actualTokens(), r.failed(), r.fillId());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private static boolean isPostgres(Connection c) throws SQLException {
    return "PostgreSQL".equals(c.getMetaData().getDatabaseProductName());
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
