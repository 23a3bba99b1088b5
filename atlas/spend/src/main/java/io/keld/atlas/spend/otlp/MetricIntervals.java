package io.keld.atlas.spend.otlp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.keld.atlas.spend.ledger.Columns;
import io.keld.atlas.spend.ledger.LatencyTolerance;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.atlas.spend.mapping.MappingRules;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.ixp.auth.Principal;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * OTLP GenAI metrics on their way into the ledger, counted once even where spans describe the same calls.
 *
 * <p><b>Recording</b> ({@link #record}): each point's stream keeps the newest point read
 * ({@code otlp_metric_streams}): a point no newer than that is a repeat and counts nothing; a
 * cumulative point counts its increase over the one before (the whole of it for a stream's first
 * point, or after a reset). The increases are added up per call group and collection interval
 * ({@code otlp_metric_intervals}), placed (mapping rules, the key's scope) as they arrive.
 *
 * <p><b>Settling</b> ({@link #settleDue}): once an interval ended {@code settle-after} ago, when the
 * spans of its calls have arrived (SDKs export spans every few seconds, metrics every minute), it
 * becomes one ledger record ({@code source = otlp_metrics}) of what the GenAI spans of the same
 * resource, provider, model, operation and outcome that ended inside the interval did not already
 * count: calls, input tokens and output tokens each taken away and floored at zero. So a service that
 * sends both for every call is counted once, by its spans; one that samples its spans gets the
 * unsampled rest from its metrics; one that sends only metrics is counted by them alone. The row
 * goes in the same transaction, and the record's event id names the row, so two nodes settling at
 * once count it once.
 */
public final class MetricIntervals {

  /** What a record call did: points that counted, and repeats of points already read. */
  public record Recorded(int points, int repeats) {}

  /** What a settle did: intervals settled, and the ledger records they became (the rest were all spans). */
  public record Settled(int intervals, int records) {}

  private static final int ATTEMPTS = 5;
  private static final int SETTLE_BATCH = 200;
  private static final TypeReference<TreeMap<String, String>> TAGS = new TypeReference<>() {};

  private final Sql sql;
  private final MappingRules rules;
  private final PriceBook prices;
  private final Ledger ledger;
  private final Clock clock;

  public MetricIntervals(Sql sql, MappingRules rules, PriceBook prices, Ledger ledger, Clock clock) {
    this.sql = sql;
    this.rules = rules;
    this.prices = prices;
    this.ledger = ledger;
    this.clock = clock;
  }

  /** Where a group's usage goes, decided when its points arrive. */
  private record Placed(String groupId, GenAiMetrics.Group group, UsageRecord template, String tagsJson) {}

  public CompletionStage<Recorded> record(Principal key, List<GenAiMetrics.Contribution> contributions) {
    if (contributions.isEmpty()) return CompletableFuture.completedFuture(new Recorded(0, 0));
    return rules.snapshot(key.orgId()).thenCompose(snapshot -> {
      Map<String, Placed> byGroup = new HashMap<>();
      List<Map.Entry<GenAiMetrics.Contribution, Placed>> placed = new ArrayList<>(contributions.size());
      for (GenAiMetrics.Contribution c : contributions) {
        GenAiMetrics.Group g = c.group();
        Placed p = byGroup.computeIfAbsent(g.resourceId() + '\u0000' + OtlpResource.canonical(g.groupAttributes()), k -> {
          UsageRecord t = new UsageRecord();
          t.orgId = key.orgId();
          t.source = UsageRecord.Sources.OTLP_METRICS;
          t.provider = g.provider();
          t.modelRequested = g.modelRequested();
          t.modelServed = g.modelServed();
          t.operation = g.operation();
          t.serviceName = g.serviceName();
          t.status = g.error() ? "error" : "ok";
          MappingRules.place(t, key, g.attributes(), snapshot);
          for (Map.Entry<String, String> a : g.attributes().entrySet()) GenAiSpans.tag(t, a);
          Columns.fit(t);
          String tags = json(t.tags);
          String groupId = OtlpResource.digest(k + '\u0000' + t.teamId + '\u0000' + t.projectId + '\u0000' + t.jobCategory + '\u0000'
              + t.jobCategorySource + '\u0000' + t.spendClass);
          return new Placed(groupId, g, t, tags);
        });
        placed.add(Map.entry(c, p));
      }
      // Streams in a fixed order, so two writers lock their rows in the same order and cannot deadlock.
      placed.sort(Comparator.comparing((Map.Entry<GenAiMetrics.Contribution, Placed> e) -> e.getKey().streamId())
          .thenComparingLong(e -> e.getKey().timeNanos()));
      return sql.run(c -> recordIn(c, key.orgId(), placed));
    });
  }

  private Recorded recordIn(Connection c, String orgId, List<Map.Entry<GenAiMetrics.Contribution, Placed>> placed) throws SQLException {
    for (int attempt = 1; ; attempt++) {
      try {
        return Sql.inTransaction(c, tx -> recordInTransaction(tx, orgId, placed));
      } catch (SQLException e) {
        // Two exports racing to create the same stream or interval row: the loser tries again and finds it.
        if (attempt >= ATTEMPTS || !(Sql.isUniqueViolation(e) || Sql.isConcurrencyFailure(e))) throw e;
      }
    }
  }

  /** One group's increases over one collection interval. */
  private static final class Interval {
    final Placed placed;
    final long endNanos;
    long startNanos;
    Long calls;
    long durationMs;
    long inputMeasurements;
    long inputTokens;
    long outputMeasurements;
    long outputTokens;

    Interval(Placed placed, long startNanos, long endNanos) {
      this.placed = placed;
      this.startNanos = startNanos;
      this.endNanos = endNanos;
    }
  }

  private Recorded recordInTransaction(Connection tx, String orgId, List<Map.Entry<GenAiMetrics.Contribution, Placed>> placed)
      throws SQLException {
    Instant now = clock.instant();
    Map<String, Interval> intervals = new TreeMap<>();
    int points = 0;
    int repeats = 0;
    for (Map.Entry<GenAiMetrics.Contribution, Placed> e : placed) {
      GenAiMetrics.Contribution c = e.getKey();
      long lastTime = -1;
      long lastCount = 0;
      double lastSum = 0;
      try (PreparedStatement ps = tx.prepareStatement(
          "SELECT last_time_nanos, last_count, last_sum FROM otlp_metric_streams WHERE org_id = ? AND stream_id = ? FOR UPDATE")) {
        Sql.bind(ps, orgId, c.streamId());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            lastTime = rs.getLong(1);
            lastCount = rs.getLong(2);
            lastSum = rs.getDouble(3);
          }
        }
      }
      if (lastTime >= 0 && c.timeNanos() <= lastTime) {
        repeats++;
        continue;
      }
      long count;
      double sum;
      long from;
      if (!c.cumulative()) {
        count = c.count();
        sum = c.sum();
        from = c.startNanos() == 0 ? c.timeNanos() : c.startNanos();
      } else if (lastTime < 0 || c.count() < lastCount || c.sum() < lastSum) {
        // The stream's first point (or the counter went back without a new start time): all of it is new.
        count = c.count();
        sum = c.sum();
        from = c.startNanos();
      } else {
        count = c.count() - lastCount;
        sum = c.sum() - lastSum;
        from = lastTime;
      }
      String write = lastTime < 0
          ? "INSERT INTO otlp_metric_streams (last_time_nanos, last_count, last_sum, updated_at, org_id, stream_id) VALUES (?, ?, ?, ?, ?, ?)"
          : "UPDATE otlp_metric_streams SET last_time_nanos = ?, last_count = ?, last_sum = ?, updated_at = ? WHERE org_id = ? AND stream_id = ?";
      try (PreparedStatement ps = tx.prepareStatement(write)) {
        Sql.bind(ps, c.timeNanos(), c.count(), c.sum(), now, orgId, c.streamId());
        ps.executeUpdate();
      }
      points++;
      if (count == 0 && sum == 0) continue;
      Placed p = e.getValue();
      Interval iv = intervals.computeIfAbsent(p.groupId() + ':' + c.timeNanos(), k -> new Interval(p, from, c.timeNanos()));
      iv.startNanos = Math.min(iv.startNanos, from);
      switch (c.measure()) {
        case CALLS -> {
          iv.calls = (iv.calls == null ? 0 : iv.calls) + count;
          iv.durationMs += Math.round(sum * 1000);
        }
        case INPUT_TOKENS -> {
          iv.inputMeasurements += count;
          iv.inputTokens += Math.round(sum);
        }
        case OUTPUT_TOKENS -> {
          iv.outputMeasurements += count;
          iv.outputTokens += Math.round(sum);
        }
      }
    }
    for (Interval iv : intervals.values()) addInterval(tx, orgId, iv);
    return new Recorded(points, repeats);
  }

  private static void addInterval(Connection tx, String orgId, Interval iv) throws SQLException {
    Long id = null;
    try (PreparedStatement ps = tx.prepareStatement(
        "SELECT id FROM otlp_metric_intervals WHERE org_id = ? AND group_id = ? AND interval_end_nanos = ? FOR UPDATE")) {
      Sql.bind(ps, orgId, iv.placed.groupId(), iv.endNanos);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) id = rs.getLong(1);
      }
    }
    if (id != null) {
      try (PreparedStatement ps = tx.prepareStatement("UPDATE otlp_metric_intervals SET "
          + "interval_start = CASE WHEN interval_start > ? THEN ? ELSE interval_start END, "
          + "calls = CASE WHEN CAST(? AS BIGINT) IS NULL THEN calls ELSE COALESCE(calls, 0) + CAST(? AS BIGINT) END, "
          + "duration_ms = duration_ms + ?, input_measurements = input_measurements + ?, input_tokens = input_tokens + ?, "
          + "output_measurements = output_measurements + ?, output_tokens = output_tokens + ? WHERE id = ?")) {
        Instant start = instant(iv.startNanos);
        Sql.bind(ps, start, start);
        setLong(ps, 3, iv.calls);
        setLong(ps, 4, iv.calls);
        ps.setLong(5, iv.durationMs);
        ps.setLong(6, iv.inputMeasurements);
        ps.setLong(7, iv.inputTokens);
        ps.setLong(8, iv.outputMeasurements);
        ps.setLong(9, iv.outputTokens);
        ps.setLong(10, id);
        ps.executeUpdate();
      }
      return;
    }
    UsageRecord t = iv.placed.template();
    try (PreparedStatement ps = tx.prepareStatement("INSERT INTO otlp_metric_intervals (org_id, group_id, interval_start, interval_end, "
        + "interval_end_nanos, resource_id, service_name, provider, model_requested, model_served, operation, status, team_id, project_id, "
        + "job_category, job_category_source, spend_class, tags, calls, duration_ms, input_measurements, input_tokens, "
        + "output_measurements, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      Sql.bind(ps, orgId, iv.placed.groupId(), instant(iv.startNanos), instant(iv.endNanos), iv.endNanos, iv.placed.group().resourceId(),
          t.serviceName, t.provider, t.modelRequested, t.modelServed, t.operation, t.status, t.teamId, t.projectId, t.jobCategory,
          t.jobCategorySource, t.spendClass, iv.placed.tagsJson());
      setLong(ps, 19, iv.calls);
      ps.setLong(20, iv.durationMs);
      ps.setLong(21, iv.inputMeasurements);
      ps.setLong(22, iv.inputTokens);
      ps.setLong(23, iv.outputMeasurements);
      ps.setLong(24, iv.outputTokens);
      ps.executeUpdate();
    }
  }

  // ---- settling ----

  /**
   * Settles every interval that ended at least {@code settleAfter} ago, in batches of one transaction
   * each, on the calling thread (JDBC: a blocking executor's).
   */
  public Settled settleDue(Duration settleAfter) {
    Instant cutoff = clock.instant().minus(settleAfter);
    int intervals = 0;
    int records = 0;
    while (true) {
      Settled batch = sql.now(c -> {
        for (int attempt = 1; ; attempt++) {
          try {
            return Sql.inTransaction(c, tx -> settleBatch(tx, cutoff));
          } catch (SQLException e) {
            if (attempt >= ATTEMPTS || !(Sql.isUniqueViolation(e) || Sql.isConcurrencyFailure(e))) throw e;
          }
        }
      });
      intervals += batch.intervals();
      records += batch.records();
      if (batch.intervals() < SETTLE_BATCH) return new Settled(intervals, records);
    }
  }

  /** Forgets streams no point arrived for in {@code idle} (their process is gone); their next point, if any, counts as a first one. */
  public int forgetStreams(Duration idle) {
    return sql.now(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM otlp_metric_streams WHERE updated_at < ?")) {
        Sql.bind(ps, clock.instant().minus(idle));
        return ps.executeUpdate();
      }
    });
  }

  private Settled settleBatch(Connection tx, Instant cutoff) throws SQLException {
    List<UsageRecord> records = new ArrayList<>();
    List<Long> ids = new ArrayList<>();
    try (PreparedStatement ps = tx.prepareStatement("SELECT id, org_id, group_id, interval_start, interval_end, interval_end_nanos, "
        + "resource_id, service_name, provider, model_requested, model_served, operation, status, team_id, project_id, job_category, "
        + "job_category_source, spend_class, tags, calls, duration_ms, input_measurements, input_tokens, output_measurements, output_tokens "
        + "FROM otlp_metric_intervals WHERE interval_end <= ? ORDER BY id LIMIT ? FOR UPDATE")) {
      Sql.bind(ps, cutoff, SETTLE_BATCH);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getLong("id"));
          UsageRecord r = new UsageRecord();
          r.orgId = rs.getString("org_id");
          r.source = UsageRecord.Sources.OTLP_METRICS;
          // The row's id makes the event: settled twice (two nodes) it counts once; points that arrive
          // for the same interval after it was settled make a new row and a new record.
          r.sourceEventId = rs.getString("group_id") + ':' + rs.getLong("interval_end_nanos") + ':' + rs.getLong("id");
          r.periodStart = Sql.instant(rs, "interval_start");
          r.periodEnd = Sql.instant(rs, "interval_end");
          r.resourceId = rs.getString("resource_id");
          r.serviceName = rs.getString("service_name");
          r.provider = rs.getString("provider");
          r.modelRequested = rs.getString("model_requested");
          r.modelServed = rs.getString("model_served");
          r.operation = rs.getString("operation");
          r.status = rs.getString("status");
          r.teamId = rs.getString("team_id");
          r.projectId = rs.getString("project_id");
          r.jobCategory = rs.getString("job_category");
          r.jobCategorySource = rs.getString("job_category_source");
          r.spendClass = rs.getString("spend_class");
          r.tags = tags(rs.getString("tags"));
          long calls = rs.getLong("calls");
          boolean hasCalls = !rs.wasNull();
          // Calls are counted by the duration histogram; without it, by the token histograms (one measurement a call).
          r.requestCount = hasCalls ? calls : Math.max(rs.getLong("input_measurements"), rs.getLong("output_measurements"));
          r.inputTokens = rs.getLong("input_tokens");
          r.outputTokens = rs.getLong("output_tokens");
          r.durationMs = hasCalls ? rs.getLong("duration_ms") : null;
          records.add(r);
        }
      }
    }
    List<UsageRecord> fresh = new ArrayList<>();
    for (UsageRecord r : records) {
      if (netOfSpans(tx, r)) fresh.add(r);
    }
    if (!fresh.isEmpty()) ledger.appendInTransaction(tx, fresh);
    for (int from = 0; from < ids.size(); from += 100) {
      List<Long> chunk = ids.subList(from, Math.min(ids.size(), from + 100));
      try (PreparedStatement ps = tx.prepareStatement("DELETE FROM otlp_metric_intervals WHERE id IN ("
          + String.join(",", java.util.Collections.nCopies(chunk.size(), "?")) + ")")) {
        for (int i = 0; i < chunk.size(); i++) ps.setLong(i + 1, chunk.get(i));
        ps.executeUpdate();
      }
    }
    return new Settled(ids.size(), fresh.size());
  }

  /**
   * Takes away what GenAI spans of the record's resource already counted of the same calls (same
   * provider, model, operation and outcome, ending inside the interval); prices and classifies what
   * is left. False when nothing is left.
   */
  private boolean netOfSpans(Connection tx, UsageRecord r) throws SQLException {
    StringBuilder q = new StringBuilder("SELECT COALESCE(SUM(request_count), 0), COALESCE(SUM(input_tokens), 0), "
        + "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(duration_ms), 0) FROM usage_records WHERE resource_id = ? AND period_end > ? "
        + "AND period_end <= ? AND org_id = ? AND source = ? AND provider = ? AND status = ?");
    List<Object> args = new ArrayList<>(List.of(r.resourceId, r.periodStart, r.periodEnd, r.orgId, UsageRecord.Sources.OTLP, r.provider,
        r.status));
    if (r.operation != null) {
      q.append(" AND operation = ?");
      args.add(r.operation);
    }
    if (r.modelRequested != null) {
      q.append(" AND model_requested = ?");
      args.add(r.modelRequested);
    }
    if (r.modelServed != null) {
      // A span that did not record the served model still describes one of these calls.
      q.append(" AND (model_served = ? OR model_served IS NULL)");
      args.add(r.modelServed);
    }
    long spanRequests;
    long spanInput;
    long spanOutput;
    long spanDuration;
    try (PreparedStatement ps = tx.prepareStatement(q.toString())) {
      Sql.bind(ps, args.toArray());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        spanRequests = rs.getLong(1);
        spanInput = rs.getLong(2);
        spanOutput = rs.getLong(3);
        spanDuration = rs.getLong(4);
      }
    }
    r.requestCount = Math.max(0, r.requestCount - spanRequests);
    r.inputTokens = Math.max(0, r.inputTokens - spanInput);
    r.outputTokens = Math.max(0, r.outputTokens - spanOutput);
    if (r.requestCount == 0 && r.inputTokens == 0 && r.outputTokens == 0) return false;
    if (r.durationMs != null) r.durationMs = r.requestCount == 0 ? null : Math.max(0, r.durationMs - spanDuration) / r.requestCount;
    r.granularity = granularity(r.periodStart, r.periodEnd);
    prices.price(r);
    LatencyTolerance.classify(r);
    return true;
  }

  private static String granularity(Instant start, Instant end) {
    long seconds = Duration.between(start, end).toSeconds();
    return seconds <= 60 ? "minute" : seconds <= 3_600 ? "hour" : seconds <= 86_400 ? "day" : "interval";
  }

  private static Instant instant(long nanos) {
    return Instant.ofEpochSecond(nanos / 1_000_000_000L, nanos % 1_000_000_000L);
  }

  private static void setLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) ps.setNull(i, Types.BIGINT);
    else ps.setLong(i, v);
  }

  private static String json(Map<String, String> tags) {
    try {
      return Json.PLAIN.writeValueAsString(tags == null ? Map.of() : new TreeMap<>(tags));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, String> tags(String json) {
    try {
      return Json.PLAIN.readValue(json, TAGS);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("an interval's tags are not JSON", e);
    }
  }
}
