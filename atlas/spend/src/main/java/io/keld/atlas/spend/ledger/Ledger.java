package io.keld.atlas.spend.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.io.IOException;
import java.io.StringReader;
import java.util.Comparator;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.postgresql.PGConnection;

/**
 * The spend ledger's write side: appends usage records and keeps the hourly rollup in step, in one
 * transaction. Idempotent: a record whose (organization, source, source event id) is already there
 * is counted as a duplicate and changes nothing, so a source may send the same export twice. The one
 * exception, {@link #appendNewInTransaction}, is for callers that know their records are new: there a
 * record already present fails the transaction instead (never counted twice).
 *
 * <p>Records must be complete (mapped, priced, classified) before they come here.
 */
public final class Ledger {

  /** What an append did: records written, and records that were there already. */
  public record Appended(int accepted, int duplicates) {}

  private static final ObjectMapper JSON = Json.PLAIN;
  /** Rows per INSERT statement: 43 parameters each stays well under PostgreSQL's 32,767. */
  private static final int ROWS_PER_INSERT = 500;
  private static final int ATTEMPTS = 5;

  private final Sql sql;
  private final Clock clock;

  public Ledger(Sql sql, Clock clock) {
    this.sql = sql;
    this.clock = clock;
  }

  public CompletionStage<Appended> append(List<UsageRecord> records) {
    if (records.isEmpty()) return CompletableFuture.completedFuture(new Appended(0, 0));
    return sql.run(c -> appendIn(c, records));
  }

  /**
   * Appends on {@code c} in a transaction of its own. Two writers racing on the same events: the
   * loser's insert meets the unique key, its transaction rolls back and is tried again, and this
   * time it sees the winner's rows as duplicates.
   */
  public Appended appendIn(Connection c, List<UsageRecord> records) throws SQLException {
    for (int attempt = 1; ; attempt++) {
      try {
        return Sql.inTransaction(c, tx -> appendInTransaction(tx, records));
      } catch (SQLException e) {
        if (attempt >= ATTEMPTS || !(Sql.isUniqueViolation(e) || Sql.isConcurrencyFailure(e))) throw e;
      }
    }
  }

  /** Appends within the caller's transaction (a settled job's usage rows and its ledger records together). */
  public Appended appendInTransaction(Connection tx, List<UsageRecord> records) throws SQLException {
    return append(tx, records, false);
  }

  /**
   * Appends records the caller knows are not in the ledger (fresh ids, or looked up already), within
   * its transaction: on PostgreSQL one COPY straight into the table, with no staging table, no
   * duplicate check and no TRUNCATE (on the edge's busiest path those were half of what PostgreSQL
   * spent on the ledger). A record that is there after all breaks the unique key and fails the
   * transaction, which the caller then retries with {@link #appendInTransaction}, so nothing is written
   * twice. Records given twice in {@code records} are written once.
   */
  public Appended appendNewInTransaction(Connection tx, List<UsageRecord> records) throws SQLException {
    return append(tx, records, true);
  }

  private Appended append(Connection tx, List<UsageRecord> records, boolean knownNew) throws SQLException {
    Map<String, UsageRecord> unique = new LinkedHashMap<>();
    for (UsageRecord r : records) {
      validate(r);
      Columns.fit(r);
      unique.putIfAbsent(r.orgId + '\u0000' + r.source + '\u0000' + r.sourceEventId, r);
    }
    List<UsageRecord> rows = new ArrayList<>(unique.values());
    boolean postgres = isPostgres(tx);
    List<UsageRecord> fresh;
    Instant now = clock.instant();
    if (postgres) {
      fresh = knownNew ? copy(tx, "usage_records", rows, now) : copyNew(tx, rows, now);
    } else {
      fresh = knownNew ? rows : withoutExisting(tx, rows);
      for (int from = 0; from < fresh.size(); from += ROWS_PER_INSERT) {
        insert(tx, fresh.subList(from, Math.min(fresh.size(), from + ROWS_PER_INSERT)), now);
      }
    }
    rollUp(tx, fresh, postgres);
    return new Appended(fresh.size(), records.size() - fresh.size());
  }

  /** Which record: the ledger's idempotency key. */
  public record EntryKey(String orgId, String source, String sourceEventId) {}

  /**
   * Takes records out of the ledger within the caller's transaction, and their sums out of the
   * rollups (a rollup row left with no record goes too). For a read side rebuilt from its source
   * (the job projection's rebuild): the records come back with their source's replay. Returns the
   * records removed; keys with no record are ignored.
   */
  public static int removeInTransaction(Connection tx, List<EntryKey> keys) throws SQLException {
    if (keys.isEmpty()) return 0;
    Map<String, List<EntryKey>> bySource = new LinkedHashMap<>();
    for (EntryKey k : keys) bySource.computeIfAbsent(k.orgId() + '\u0000' + k.source(), x -> new ArrayList<>()).add(k);
    List<UsageRecord> removed = new ArrayList<>();
    for (List<EntryKey> group : bySource.values()) {
      for (int from = 0; from < group.size(); from += ROWS_PER_INSERT) {
        List<EntryKey> chunk = group.subList(from, Math.min(group.size(), from + ROWS_PER_INSERT));
        String which = " FROM usage_records WHERE org_id = ? AND source = ? AND source_event_id IN ("
            + String.join(",", Collections.nCopies(chunk.size(), "?")) + ")";
        Object[] args = new Object[chunk.size() + 2];
        args[0] = chunk.get(0).orgId();
        args[1] = chunk.get(0).source();
        for (int i = 0; i < chunk.size(); i++) args[i + 2] = chunk.get(i).sourceEventId();
        try (PreparedStatement ps = tx.prepareStatement("SELECT org_id, period_start, team_id, project_id, provider, model_requested, "
            + "model_served, job_category, spend_class, request_count, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
            + "reasoning_tokens, cost_micro_usd, list_cost_micro_usd" + which)) {
          Sql.bind(ps, args);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) removed.add(stored(rs));
          }
        }
        try (PreparedStatement ps = tx.prepareStatement("DELETE" + which)) {
          Sql.bind(ps, args);
          ps.executeUpdate();
        }
      }
    }
    if (removed.isEmpty()) return 0;
    boolean postgres = isPostgres(tx);
    rollUp(tx, removed, "usage_rollup_hourly", "bucket_hour", ChronoUnit.HOURS, postgres, -1);
    rollUp(tx, removed, "usage_rollup_daily", "bucket_day", ChronoUnit.DAYS, postgres, -1);
    for (String table : List.of("usage_rollup_hourly", "usage_rollup_daily")) {
      try (PreparedStatement ps = tx.prepareStatement("DELETE FROM " + table + " WHERE records = 0")) {
        ps.executeUpdate();
      }
    }
    return removed.size();
  }

  /** A stored record, with what its rollups are keyed and summed by. */
  private static UsageRecord stored(ResultSet rs) throws SQLException {
    UsageRecord r = new UsageRecord();
    r.orgId = rs.getString("org_id");
    r.periodStart = Sql.instant(rs, "period_start");
    r.teamId = rs.getString("team_id");
    r.projectId = rs.getString("project_id");
    r.provider = rs.getString("provider");
    r.modelRequested = rs.getString("model_requested");
    r.modelServed = rs.getString("model_served");
    r.jobCategory = rs.getString("job_category");
    r.spendClass = rs.getString("spend_class");
    r.requestCount = rs.getLong("request_count");
    r.inputTokens = rs.getLong("input_tokens");
    r.cachedInputTokens = rs.getLong("cached_input_tokens");
    r.cacheWriteTokens = rs.getLong("cache_write_tokens");
    r.outputTokens = rs.getLong("output_tokens");
    r.reasoningTokens = rs.getLong("reasoning_tokens");
    r.costMicroUsd = rs.getLong("cost_micro_usd");
    long list = rs.getLong("list_cost_micro_usd");
    r.listCostMicroUsd = rs.wasNull() ? null : list;
    return r;
  }

  private static void validate(UsageRecord r) {
    if (r.orgId == null || r.source == null || r.sourceEventId == null || r.periodStart == null || r.provider == null
        || r.costMicroUsd == null || r.costSource == null) {
      throw new IllegalArgumentException("a usage record needs org, source, source event id, period start, provider and cost");
    }
  }

  private static List<UsageRecord> withoutExisting(Connection tx, List<UsageRecord> records) throws SQLException {
    Map<String, List<UsageRecord>> bySource = new LinkedHashMap<>();
    for (UsageRecord r : records) bySource.computeIfAbsent(r.orgId + '\u0000' + r.source, k -> new ArrayList<>()).add(r);
    Set<String> existing = new HashSet<>();
    for (List<UsageRecord> group : bySource.values()) {
      for (int from = 0; from < group.size(); from += ROWS_PER_INSERT) {
        List<UsageRecord> chunk = group.subList(from, Math.min(group.size(), from + ROWS_PER_INSERT));
        String q = "SELECT source_event_id FROM usage_records WHERE org_id = ? AND source = ? AND source_event_id IN ("
            + String.join(",", Collections.nCopies(chunk.size(), "?")) + ")";
        try (PreparedStatement ps = tx.prepareStatement(q)) {
          ps.setString(1, chunk.get(0).orgId);
          ps.setString(2, chunk.get(0).source);
          for (int i = 0; i < chunk.size(); i++) ps.setString(i + 3, chunk.get(i).sourceEventId);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) existing.add(chunk.get(0).orgId + '\u0000' + chunk.get(0).source + '\u0000' + rs.getString(1));
          }
        }
      }
    }
    if (existing.isEmpty()) return records;
    List<UsageRecord> fresh = new ArrayList<>();
    for (UsageRecord r : records) {
      if (!existing.contains(r.orgId + '\u0000' + r.source + '\u0000' + r.sourceEventId)) fresh.add(r);
    }
    return fresh;
  }

  private static final String COLUMNS = "org_id, source, source_event_id, team_id, project_id, period_start, period_end, granularity, "
      + "request_count, provider, model_requested, model_served, operation, service_tier, use_case, input_tokens, "
      + "cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_micro_usd, list_cost_micro_usd, currency, "
      + "cost_source, price_ref, job_category, job_category_source, spend_class, latency_class, latency_confidence, duration_ms, "
      + "ttft_ms, streaming, has_end_user, has_conversation, under_server_span, status, trace_id, span_id, service_name, tags, "
      + "ingested_at, resource_id";
  private static final int COLUMN_COUNT = COLUMNS.split(",").length;
  private static final String ROW = "(" + String.join(",", Collections.nCopies(COLUMN_COUNT, "?")) + ")";

  private static void insert(Connection tx, List<UsageRecord> rows, Instant now) throws SQLException {
    String q = "INSERT INTO usage_records (" + COLUMNS + ") VALUES " + String.join(",", Collections.nCopies(rows.size(), ROW));
    try (PreparedStatement ps = tx.prepareStatement(q)) {
      int i = 1;
      Timestamp ingested = Timestamp.from(now);
      for (UsageRecord r : rows) {
        ps.setString(i++, r.orgId);
        ps.setString(i++, r.source);
        ps.setString(i++, r.sourceEventId);
        ps.setString(i++, r.teamId);
        ps.setString(i++, r.projectId);
        ps.setTimestamp(i++, Timestamp.from(r.periodStart));
        ps.setTimestamp(i++, Timestamp.from(r.periodEnd == null ? r.periodStart : r.periodEnd));
        ps.setString(i++, r.granularity);
        ps.setLong(i++, r.requestCount);
        ps.setString(i++, r.provider);
        ps.setString(i++, r.modelRequested);
        ps.setString(i++, r.modelServed);
        ps.setString(i++, r.operation);
        ps.setString(i++, r.serviceTier);
        ps.setString(i++, r.useCase);
        ps.setLong(i++, r.inputTokens);
        ps.setLong(i++, r.cachedInputTokens);
        ps.setLong(i++, r.cacheWriteTokens);
        ps.setLong(i++, r.outputTokens);
        ps.setLong(i++, r.reasoningTokens);
        ps.setLong(i++, r.costMicroUsd);
        setLong(ps, i++, r.listCostMicroUsd);
        ps.setString(i++, r.currency);
        ps.setString(i++, r.costSource);
        ps.setString(i++, r.priceRef);
        ps.setString(i++, r.jobCategory);
        ps.setString(i++, r.jobCategorySource);
        ps.setString(i++, r.spendClass);
        ps.setString(i++, r.latencyClass);
        if (r.latencyConfidence == null) ps.setNull(i++, Types.DOUBLE);
        else ps.setDouble(i++, r.latencyConfidence);
        setLong(ps, i++, r.durationMs);
        setLong(ps, i++, r.ttftMs);
        setBoolean(ps, i++, r.streaming);
        setBoolean(ps, i++, r.hasEndUser);
        setBoolean(ps, i++, r.hasConversation);
        setBoolean(ps, i++, r.underServerSpan);
        ps.setString(i++, r.status);
        ps.setString(i++, r.traceId);
        ps.setString(i++, r.spanId);
        ps.setString(i++, r.serviceName);
        ps.setString(i++, tagsJson(r.tags));
        ps.setTimestamp(i++, ingested);
        ps.setString(i++, r.resourceId);
      }
      ps.executeUpdate();
    }
  }

  /**
   * PostgreSQL's bulk path: COPY the rows into a session-local staging table, then move them into the
   * ledger in one statement that skips events already there and returns the ones it wrote. A quarter
   * of the server CPU of a 500-row INSERT (most of which goes to parsing and planning it), and no
   * separate look-up of existing events; a concurrent writer of the same events waits for the first
   * and then skips them.
   */
  private static List<UsageRecord> copyNew(Connection tx, List<UsageRecord> rows, Instant now) throws SQLException {
    if (rows.isEmpty()) return rows;
    try (var st = tx.createStatement()) {
      st.execute("CREATE TEMP TABLE IF NOT EXISTS usage_staging ON COMMIT DELETE ROWS AS SELECT " + COLUMNS
          + " FROM usage_records WITH NO DATA");
    }
    copy(tx, "usage_staging", rows, now);
    Set<String> written = new HashSet<>();
    try (var st = tx.createStatement(); ResultSet rs = st.executeQuery("INSERT INTO usage_records (" + COLUMNS + ") SELECT " + COLUMNS
        + " FROM usage_staging ON CONFLICT ON CONSTRAINT usage_records_event_unique DO NOTHING RETURNING org_id, source, source_event_id")) {
      while (rs.next()) written.add(rs.getString(1) + '\u0000' + rs.getString(2) + '\u0000' + rs.getString(3));
    }
    try (var st = tx.createStatement()) {
      // Emptied at commit anyway; emptied now so a retry in the same transaction starts clean.
      st.execute("TRUNCATE usage_staging");
    }
    if (written.size() == rows.size()) return rows;
    List<UsageRecord> fresh = new ArrayList<>(written.size());
    for (UsageRecord r : rows) {
      if (written.contains(r.orgId + '\u0000' + r.source + '\u0000' + r.sourceEventId)) fresh.add(r);
    }
    return fresh;
  }

  private static final int COPY_CHUNK = 10_000;

  /** COPYs {@code rows} into {@code table} in chunks, so a million-row import never becomes one gigabyte string; returns them. */
  private static List<UsageRecord> copy(Connection tx, String table, List<UsageRecord> rows, Instant now) throws SQLException {
    for (int from = 0; from < rows.size(); from += COPY_CHUNK) {
      copyChunk(tx, table, rows.subList(from, Math.min(rows.size(), from + COPY_CHUNK)), now.toString());
    }
    return rows;
  }

  private static void copyChunk(Connection tx, String table, List<UsageRecord> rows, String ingested) throws SQLException {
    StringBuilder b = new StringBuilder(rows.size() * 400);
    for (UsageRecord r : rows) {
      field(b, r.orgId).field(b, r.source).field(b, r.sourceEventId).field(b, r.teamId).field(b, r.projectId);
      field(b, r.periodStart.toString()).field(b, (r.periodEnd == null ? r.periodStart : r.periodEnd).toString());
      field(b, r.granularity).field(b, r.requestCount).field(b, r.provider).field(b, r.modelRequested).field(b, r.modelServed);
      field(b, r.operation).field(b, r.serviceTier).field(b, r.useCase).field(b, r.inputTokens).field(b, r.cachedInputTokens);
      field(b, r.cacheWriteTokens).field(b, r.outputTokens).field(b, r.reasoningTokens).field(b, r.costMicroUsd);
      field(b, r.listCostMicroUsd).field(b, r.currency).field(b, r.costSource).field(b, r.priceRef).field(b, r.jobCategory);
      field(b, r.jobCategorySource).field(b, r.spendClass).field(b, r.latencyClass).field(b, r.latencyConfidence);
      field(b, r.durationMs).field(b, r.ttftMs).field(b, r.streaming).field(b, r.hasEndUser).field(b, r.hasConversation);
      field(b, r.underServerSpan).field(b, r.status).field(b, r.traceId).field(b, r.spanId).field(b, r.serviceName);
      field(b, tagsJson(r.tags)).field(b, ingested).field(b, r.resourceId);
      b.setCharAt(b.length() - 1, '\n');
    }
    try {
      tx.unwrap(PGConnection.class).getCopyAPI()
          .copyIn("COPY " + table + " (" + COLUMNS + ") FROM STDIN", new StringReader(b.toString()));
    } catch (IOException e) {
      throw new SQLException("COPY into " + table + " failed: " + e.getMessage(), e);
    }
  }

  private static final CopyText COPY_TEXT = new CopyText();

  private static CopyText field(StringBuilder b, Object v) {
    return COPY_TEXT.field(b, v);
  }

  /** Appends one COPY text field and its tab; chained for readability. */
  private static final class CopyText {
    CopyText field(StringBuilder b, Object v) {
      if (v == null) {
        b.append("\\N");
      } else if (v instanceof Boolean bool) {
        b.append(bool ? 't' : 'f');
      } else {
        String s = v.toString();
        for (int i = 0; i < s.length(); i++) {
          char c = s.charAt(i);
          switch (c) {
            case '\\' -> b.append("\\\\");
            case '\t' -> b.append("\\t");
            case '\n' -> b.append("\\n");
            case '\r' -> b.append("\\r");
            default -> b.append(c);
          }
        }
      }
      b.append('\t');
      return this;
    }
  }

  /** One rollup row's key: the hour and the six dimensions. */
  private record RollupKey(String orgId, Instant hour, String teamId, String projectId, String provider, String model, String jobCategory,
      String spendClass) {}

  private static final Comparator<RollupKey> ROLLUP_ORDER = Comparator.comparing(RollupKey::orgId)
      .thenComparing(RollupKey::hour).thenComparing(RollupKey::teamId).thenComparing(RollupKey::projectId)
      .thenComparing(RollupKey::provider).thenComparing(RollupKey::model).thenComparing(RollupKey::jobCategory)
      .thenComparing(RollupKey::spendClass);

  private static final class Sums {
    long records, requests, input, cached, cacheWrite, output, reasoning, cost, listCost;
  }

  private static boolean isPostgres(Connection c) throws SQLException {
    return c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT).contains("postgres");
  }

  private static void rollUp(Connection tx, List<UsageRecord> fresh, boolean postgres) throws SQLException {
    if (fresh.isEmpty()) return;
    rollUp(tx, fresh, "usage_rollup_hourly", "bucket_hour", ChronoUnit.HOURS, postgres, 1);
    rollUp(tx, fresh, "usage_rollup_daily", "bucket_day", ChronoUnit.DAYS, postgres, 1);
  }

  /** Adds the records' sums to a rollup table ({@code sign} 1), or takes them out of it ({@code sign} -1). */
  private static void rollUp(Connection tx, List<UsageRecord> fresh, String table, String timeColumn, ChronoUnit unit, boolean postgres,
      int sign) throws SQLException {
    // Keys in a fixed order, so two writers lock rollup rows in the same order and cannot deadlock.
    Map<RollupKey, Sums> sums = new TreeMap<>(ROLLUP_ORDER);
    for (UsageRecord r : fresh) {
      // Instant.truncatedTo works in UTC: hours and days are UTC hours and days.
      RollupKey k = new RollupKey(r.orgId, r.periodStart.truncatedTo(unit), nz(r.teamId), nz(r.projectId), nz(r.provider),
          nz(r.model()), nz(r.jobCategory), nz(r.spendClass));
      Sums s = sums.computeIfAbsent(k, x -> new Sums());
      s.records++;
      s.requests += r.requestCount;
      s.input += r.inputTokens;
      s.cached += r.cachedInputTokens;
      s.cacheWrite += r.cacheWriteTokens;
      s.output += r.outputTokens;
      s.reasoning += r.reasoningTokens;
      s.cost += r.costMicroUsd;
      s.listCost += r.listCostMicroUsd == null ? r.costMicroUsd : r.listCostMicroUsd;
    }
    String columns = ROLLUP_COLUMNS.replace("bucket_hour", timeColumn);
    String statement = postgres
        ? "INSERT INTO " + table + " AS r (" + columns + ") VALUES (" + String.join(",", Collections.nCopies(17, "?")) + ") ON CONFLICT ("
            + KEY_COLUMNS.replace("bucket_hour", timeColumn) + ") DO UPDATE SET " + String.format(ADDS, "r", "EXCLUDED")
        : MERGE_STANDARD.replace("usage_rollup_hourly", table).replace("bucket_hour", timeColumn);
    try (PreparedStatement ps = tx.prepareStatement(statement)) {
      for (Map.Entry<RollupKey, Sums> e : sums.entrySet()) {
        RollupKey k = e.getKey();
        Sums s = e.getValue();
        Sql.bind(ps, k.orgId(), k.hour(), k.teamId(), k.projectId(), k.provider(), k.model(), k.jobCategory(), k.spendClass(), sign * s.records,
            sign * s.requests, sign * s.input, sign * s.cached, sign * s.cacheWrite, sign * s.output, sign * s.reasoning, sign * s.cost,
            sign * s.listCost);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private static final String KEY_COLUMNS = "org_id, bucket_hour, team_id, project_id, provider, model, job_category, spend_class";
  private static final String ROLLUP_COLUMNS = KEY_COLUMNS + ", records, "
      + "request_count, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_micro_usd, "
      + "list_cost_micro_usd";
  private static final String ADDS = "records = %1$s.records + %2$s.records, request_count = %1$s.request_count + %2$s.request_count, "
      + "input_tokens = %1$s.input_tokens + %2$s.input_tokens, cached_input_tokens = %1$s.cached_input_tokens + %2$s.cached_input_tokens, "
      + "cache_write_tokens = %1$s.cache_write_tokens + %2$s.cache_write_tokens, output_tokens = %1$s.output_tokens + %2$s.output_tokens, "
      + "reasoning_tokens = %1$s.reasoning_tokens + %2$s.reasoning_tokens, cost_micro_usd = %1$s.cost_micro_usd + %2$s.cost_micro_usd, "
      + "list_cost_micro_usd = %1$s.list_cost_micro_usd + %2$s.list_cost_micro_usd";
  /**
   * H2 (the embedded development store): standard MERGE, which PostgreSQL's upsert replaces because
   * MERGE is not safe under concurrent inserts there; on H2 a concurrent insert of the same key
   * retries the transaction.
   */
  private static final String MERGE_STANDARD = "MERGE INTO usage_rollup_hourly r USING (VALUES (CAST(? AS VARCHAR(64)), "
      + "CAST(? AS TIMESTAMP WITH TIME ZONE), CAST(? AS VARCHAR(64)), CAST(? AS VARCHAR(64)), CAST(? AS VARCHAR(64)), "
      + "CAST(? AS VARCHAR(200)), CAST(? AS VARCHAR(64)), CAST(? AS VARCHAR(8)), "
      + String.join(",", Collections.nCopies(9, "CAST(? AS BIGINT)")) + ")) AS v(" + ROLLUP_COLUMNS + ") "
      + "ON r.org_id = v.org_id AND r.bucket_hour = v.bucket_hour AND r.team_id = v.team_id AND r.project_id = v.project_id "
      + "AND r.provider = v.provider AND r.model = v.model AND r.job_category = v.job_category AND r.spend_class = v.spend_class "
      + "WHEN MATCHED THEN UPDATE SET " + String.format(ADDS, "r", "v") + " "
      + "WHEN NOT MATCHED THEN INSERT (" + ROLLUP_COLUMNS + ") VALUES (v.org_id, v.bucket_hour, v.team_id, v.project_id, v.provider, v.model, "
      + "v.job_category, v.spend_class, v.records, v.request_count, v.input_tokens, v.cached_input_tokens, v.cache_write_tokens, "
      + "v.output_tokens, v.reasoning_tokens, v.cost_micro_usd, v.list_cost_micro_usd)";

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  private static void setLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) ps.setNull(i, Types.BIGINT);
    else ps.setLong(i, v);
  }

  private static void setBoolean(PreparedStatement ps, int i, Boolean v) throws SQLException {
    if (v == null) ps.setNull(i, Types.BOOLEAN);
    else ps.setBoolean(i, v);
  }

  static String tagsJson(Map<String, String> tags) {
    try {
      return JSON.writeValueAsString(tags == null ? Map.of() : new TreeMap<>(tags));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }


}
