package io.keld.atlas.spend.reports;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import java.io.IOException;
import java.time.DayOfWeek;

/**
 * Spend and tokens over a time range, grouped by any of the six dimensions (team, project, model,
 * provider, job category, capex/opex) and by tags, filtered, in buckets of an hour, a day, an ISO
 * week, a month, or one total. Times are UTC and whole hours: {@code from} is rounded down and
 * {@code to} up to the hour.
 *
 * <p>Where the rows come from: whole UTC days from the daily rollup, the partial days at either end
 * from the hourly rollup; a report that groups or filters by a tag reads the ledger itself (tags are
 * not in the rollups), which is slower over long ranges.
 */
public final class SpendReports {

  /** The six dimensions and their columns (the same in the ledger and the rollups). */
  public enum Dimension {
    TEAM("team", "team_id"),
    PROJECT("project", "project_id"),
    MODEL("model", "model"),
    PROVIDER("provider", "provider"),
    JOB_CATEGORY("job_category", "job_category"),
    SPEND_CLASS("spend_class", "spend_class");

    public final String wire;
    final String column;

    Dimension(String wire, String column) {
      this.wire = wire;
      this.column = column;
    }

    public static Dimension of(String wire) {
      for (Dimension d : values()) {
        if (d.wire.equals(wire)) return d;
      }
      return null;
    }
  }

  public enum Granularity {
    HOUR, DAY, WEEK, MONTH, TOTAL;

    public static Granularity of(String wire) {
      for (Granularity g : values()) {
        if (g.name().equalsIgnoreCase(wire)) return g;
      }
      return null;
    }

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * @param groupBy dimensions, and tags as {@code tag:<name>}
   * @param filters per dimension, the values kept ("" for unassigned)
   * @param tagFilters per tag name, the one value kept
   */
  public record Query(String orgId, Instant from, Instant to, Granularity granularity, List<String> groupBy,
      Map<Dimension, List<String>> filters, Map<String, String> tagFilters) {}

  public static final class Totals {
    public long records, requests, inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, reasoningTokens, costMicroUsd,
        listCostMicroUsd;

    void add(Totals o) {
      records += o.records;
      requests += o.requests;
      inputTokens += o.inputTokens;
      cachedInputTokens += o.cachedInputTokens;
      cacheWriteTokens += o.cacheWriteTokens;
      outputTokens += o.outputTokens;
      reasoningTokens += o.reasoningTokens;
      costMicroUsd += o.costMicroUsd;
      listCostMicroUsd += o.listCostMicroUsd;
    }
  }

  /** One bucket of one group: {@code group} maps each grouped-by key to its value ("" = unassigned). */
  public record Row(Instant periodStart, Instant periodEnd, Map<String, String> group, Totals totals) {}

  public record Report(Query query, List<Row> rows, Totals totals, Map<String, String> teamNames, Map<String, String> projectNames,
      Map<String, String> projectTeams) {}

  private static final ObjectMapper JSON = Json.PLAIN;

  private final Sql sql;

  public SpendReports(Sql sql) {
    this.sql = sql;
  }

  public CompletionStage<Report> run(Query raw) {
    Instant from = raw.from().truncatedTo(ChronoUnit.HOURS);
    Instant to = raw.to().truncatedTo(ChronoUnit.HOURS).equals(raw.to()) ? raw.to() : raw.to().truncatedTo(ChronoUnit.HOURS).plus(1, ChronoUnit.HOURS);
    Query q = new Query(raw.orgId(), from, to, raw.granularity(), raw.groupBy(), raw.filters(), raw.tagFilters());
    // In a transaction: PostgreSQL streams a ledger scan by the fetch size only with auto-commit off.
    return sql.transaction(c -> {
      Map<List<String>, Map<String, String>> byKey = new LinkedHashMap<>();
      Map<List<String>, Totals> sums = new LinkedHashMap<>();
      boolean tags = !q.tagFilters().isEmpty() || q.groupBy().stream().anyMatch(g -> g.startsWith("tag:"));
      if (tags) {
        scanLedger(c, q, byKey, sums);
      } else if (q.granularity() == Granularity.HOUR) {
        scanRollup(c, q, "usage_rollup_hourly", "bucket_hour", q.from(), q.to(), byKey, sums);
      } else {
        Instant firstDay = ceilDay(q.from());
        Instant lastDay = q.to().truncatedTo(ChronoUnit.DAYS);
        if (!firstDay.isBefore(lastDay)) {
          scanRollup(c, q, "usage_rollup_hourly", "bucket_hour", q.from(), q.to(), byKey, sums);
        } else {
          scanRollup(c, q, "usage_rollup_hourly", "bucket_hour", q.from(), firstDay, byKey, sums);
          scanRollup(c, q, "usage_rollup_daily", "bucket_day", firstDay, lastDay, byKey, sums);
          scanRollup(c, q, "usage_rollup_hourly", "bucket_hour", lastDay, q.to(), byKey, sums);
        }
      }
      List<Row> rows = new ArrayList<>();
      Totals total = new Totals();
      for (Map.Entry<List<String>, Totals> e : sums.entrySet()) {
        Map<String, String> group = new LinkedHashMap<>(byKey.get(e.getKey()));
        Instant start = Instant.parse(group.remove("\u0000start"));
        // Buckets are cut to the report's range at both ends.
        rows.add(new Row(start.isBefore(q.from()) ? q.from() : start, bucketEnd(start, q), group, e.getValue()));
        total.add(e.getValue());
      }
      rows.sort((a, b) -> {
        int t = a.periodStart().compareTo(b.periodStart());
        return t != 0 ? t : Long.compare(b.totals().costMicroUsd, a.totals().costMicroUsd);
      });
      return new Report(q, rows, total, names(c, "SELECT id, name", "atlas_teams", q.orgId()),
          names(c, "SELECT id, name", "atlas_projects", q.orgId()), names(c, "SELECT id, team_id", "atlas_projects", q.orgId()));
    });
  }

  private static void scanRollup(Connection c, Query q, String table, String timeColumn, Instant from, Instant to,
      Map<List<String>, Map<String, String>> byKey, Map<List<String>, Totals> sums) throws SQLException {
    if (!from.isBefore(to)) return;
    List<Dimension> dims = dimensions(q);
    StringBuilder s = new StringBuilder("SELECT ").append(timeColumn);
    for (Dimension d : dims) s.append(", ").append(d.column);
    s.append(", SUM(records), SUM(request_count), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), ")
        .append("SUM(output_tokens), SUM(reasoning_tokens), SUM(cost_micro_usd), SUM(list_cost_micro_usd) FROM ").append(table)
        .append(" WHERE org_id = ? AND ").append(timeColumn).append(" >= ? AND ").append(timeColumn).append(" < ?");
    List<Object> params = new ArrayList<>(List.of(q.orgId(), from, to));
    filterClause(q, s, params, false);
    s.append(" GROUP BY ").append(timeColumn);
    for (Dimension d : dims) s.append(", ").append(d.column);
    try (PreparedStatement ps = c.prepareStatement(s.toString())) {
      Sql.bind(ps, params.toArray());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Map<String, String> group = new LinkedHashMap<>();
          group.put("\u0000start", bucketStart(Sql.instant(rs, timeColumn), q).toString());
          for (int i = 0; i < dims.size(); i++) group.put(dims.get(i).wire, nz(rs.getString(i + 2)));
          Totals t = new Totals();
          int i = dims.size() + 2;
          t.records = rs.getLong(i++);
          t.requests = rs.getLong(i++);
          t.inputTokens = rs.getLong(i++);
          t.cachedInputTokens = rs.getLong(i++);
          t.cacheWriteTokens = rs.getLong(i++);
          t.outputTokens = rs.getLong(i++);
          t.reasoningTokens = rs.getLong(i++);
          t.costMicroUsd = rs.getLong(i++);
          t.listCostMicroUsd = rs.getLong(i);
          accumulate(group, t, byKey, sums);
        }
      }
    }
  }

  private static void scanLedger(Connection c, Query q, Map<List<String>, Map<String, String>> byKey, Map<List<String>, Totals> sums) throws SQLException {
    StringBuilder s = new StringBuilder("SELECT period_start, team_id, project_id, provider, COALESCE(model_served, model_requested) AS model, ")
        .append("job_category, spend_class, tags, request_count, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, ")
        .append("reasoning_tokens, cost_micro_usd, COALESCE(list_cost_micro_usd, cost_micro_usd) AS list_cost ")
        .append("FROM usage_records WHERE org_id = ? AND period_start >= ? AND period_start < ?");
    List<Object> params = new ArrayList<>(List.of(q.orgId(), q.from(), q.to()));
    filterClause(q, s, params, true);
    try (PreparedStatement ps = c.prepareStatement(s.toString())) {
      ps.setFetchSize(5_000);
      Sql.bind(ps, params.toArray());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Map<String, String> tags = parseTags(rs.getString("tags"));
          boolean keep = true;
          for (Map.Entry<String, String> f : q.tagFilters().entrySet()) {
            if (!f.getValue().equals(tags.get(f.getKey()))) keep = false;
          }
          if (!keep) continue;
          Map<String, String> group = new LinkedHashMap<>();
          group.put("\u0000start", bucketStart(Sql.instant(rs, "period_start"), q).toString());
          for (String g : q.groupBy()) {
            if (g.startsWith("tag:")) group.put(g, nz(tags.get(g.substring(4))));
            else group.put(g, nz(rs.getString(Dimension.of(g).column)));
          }
          Totals t = new Totals();
          t.records = 1;
          t.requests = rs.getLong("request_count");
          t.inputTokens = rs.getLong("input_tokens");
          t.cachedInputTokens = rs.getLong("cached_input_tokens");
          t.cacheWriteTokens = rs.getLong("cache_write_tokens");
          t.outputTokens = rs.getLong("output_tokens");
          t.reasoningTokens = rs.getLong("reasoning_tokens");
          t.costMicroUsd = rs.getLong("cost_micro_usd");
          t.listCostMicroUsd = rs.getLong("list_cost");
          accumulate(group, t, byKey, sums);
        }
      }
    }
  }

  private static void filterClause(Query q, StringBuilder s, List<Object> params, boolean ledger) {
    for (Map.Entry<Dimension, List<String>> f : q.filters().entrySet()) {
      String column = f.getKey().column;
      // The ledger keeps the model asked for and the one that served; the rollups keep the one that counts.
      if (f.getKey() == Dimension.MODEL && ledger) column = "COALESCE(model_served, model_requested)";
      s.append(" AND COALESCE(").append(column).append(", '') IN (").append(String.join(",", Collections.nCopies(f.getValue().size(), "?")))
          .append(')');
      params.addAll(f.getValue());
    }
  }

  private static List<Dimension> dimensions(Query q) {
    List<Dimension> dims = new ArrayList<>();
    for (String g : q.groupBy()) dims.add(Dimension.of(g));
    return dims;
  }

  private static void accumulate(Map<String, String> group, Totals t, Map<List<String>, Map<String, String>> byKey,
      Map<List<String>, Totals> sums) {
    List<String> key = List.copyOf(group.values());
    byKey.putIfAbsent(key, group);
    sums.computeIfAbsent(key, k -> new Totals()).add(t);
  }

  static Instant bucketStart(Instant t, Query q) {
    switch (q.granularity()) {
      case HOUR:
        return t.truncatedTo(ChronoUnit.HOURS);
      case DAY:
        return t.truncatedTo(ChronoUnit.DAYS);
      case WEEK: {
        LocalDate d = t.atZone(ZoneOffset.UTC).toLocalDate().with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
        return d.atStartOfDay(ZoneOffset.UTC).toInstant();
      }
      case MONTH:
        return t.atZone(ZoneOffset.UTC).toLocalDate().withDayOfMonth(1).atStartOfDay(ZoneOffset.UTC).toInstant();
      default:
        return q.from();
    }
  }

  static Instant bucketEnd(Instant start, Query q) {
    Instant end;
    switch (q.granularity()) {
      case HOUR:
        end = start.plus(1, ChronoUnit.HOURS);
        break;
      case DAY:
        end = start.plus(1, ChronoUnit.DAYS);
        break;
      case WEEK:
        end = start.plus(7, ChronoUnit.DAYS);
        break;
      case MONTH:
        end = start.atZone(ZoneOffset.UTC).plusMonths(1).toInstant();
        break;
      default:
        end = q.to();
    }
    // The first and last buckets are cut to the report's range.
    return end.isAfter(q.to()) ? q.to() : end;
  }

  private static Instant ceilDay(Instant t) {
    Instant d = t.truncatedTo(ChronoUnit.DAYS);
    return d.equals(t) ? t : d.plus(1, ChronoUnit.DAYS);
  }

  private static Map<String, String> names(Connection c, String select, String table, String orgId) throws SQLException {
    Map<String, String> out = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(select + " FROM " + table + " WHERE org_id = ?")) {
      ps.setString(1, orgId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.put(rs.getString(1), rs.getString(2));
      }
    }
    return out;
  }

  /**
   * Ledger spend per team or project from {@code from} to {@code to} (whole UTC days), for budget
   * utilization beside a report.
   */
  public CompletionStage<Map<String, Long>> spendBy(String orgId, Dimension d, Instant from, Instant to) {
    return sql.run(c -> {
      Map<String, Long> out = new TreeMap<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT " + d.column + ", SUM(cost_micro_usd) FROM usage_rollup_daily "
          + "WHERE org_id = ? AND bucket_day >= ? AND bucket_day < ? GROUP BY " + d.column)) {
        Sql.bind(ps, orgId, from.truncatedTo(ChronoUnit.DAYS), to);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) out.put(rs.getString(1), rs.getLong(2));
        }
      }
      return out;
    });
  }

  private static Map<String, String> parseTags(String json) {
    if (json == null || json.isEmpty() || json.equals("{}")) return Map.of();
    try {
      return JSON.readValue(json, new TypeReference<Map<String, String>>() {});
    } catch (IOException e) {
      return Map.of();
    }
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }
}
