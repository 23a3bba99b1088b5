package io.keld.exchange.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.spend.ledger.Ledger;
import io.keld.atlas.spend.prices.PriceBook;
import io.keld.kit.Json;
import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.function.Predicate;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import com.fasterxml.jackson.core.type.TypeReference;
import io.keld.atlas.spend.ledger.LatencyTolerance;
import io.keld.atlas.spend.mapping.MappingRules;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

/**
 * The usage records settled jobs emit for the spend ledger ({@code job_usage}): one per provider leg,
 * with that leg's exact tokens and its cost at the price paid, each with its spend-ledger record in
 * the same transaction. Writing a job twice changes nothing. A deadline job's rows are a projection
 * of its journal ({@code exchange/.../projection/JobProjection}). A real-time job's one record goes to
 * the ledger only (source {@code keld}, event {@code <job id>/1}), written in batches by the edge
 * ({@code ixp/JobIndex}); rows of {@code job_usage} with leg kind {@code realtime} are from before that.
 */
public final class JobUsageStore {

  private static final ObjectMapper JSON = Json.PLAIN;

  /** One row of {@code job_usage}; for a real-time job, the record that becomes its ledger record only. */
  public record UsageRecord(String jobId, int legNo, String orgId, String teamId, String projectId, String useCase, String providerId,
      String model, String legKind, String jobCategory, String spendClass, String tagsJson, String jobState, long requests,
      long failedRequests, long inputTokens, long outputTokens, long pricePerMtok, long costMicroUsd, Instant startedAt, Instant endedAt) {}

  private final Sql sql;
  /** Where each row also becomes a usage record of the spend ledger, in the same transaction. */
  private final Ledger ledger;
  private final PriceBook prices;

  public JobUsageStore(Sql sql, Ledger ledger, PriceBook prices) {
    this.sql = sql;
    this.ledger = ledger;
    this.prices = prices;
  }

  /** The records of a finished job, one per leg that has any usage or was bought. */
  public static List<UsageRecord> recordsOf(JobState s) {
    JobSpec spec = s.spec();
    String tags;
    try {
      tags = JSON.writeValueAsString(new TreeMap<>(spec.tags()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    List<UsageRecord> out = new ArrayList<>();
    List<Leg> legs = s.legs();
    long ended = s.timeline().get(s.timeline().size() - 1).atMillis();
    for (int i = 0; i < legs.size(); i++) {
      Leg leg = legs.get(i);
      JobState.LegCounts c = s.counts(leg.no());
      long legEnd = i + 1 < legs.size() ? legs.get(i + 1).startedAtMillis() : ended;
      out.add(new UsageRecord(spec.jobId(), leg.no(), spec.orgId(), spec.teamId(), spec.projectId(), spec.useCase(), leg.providerId(),
          leg.model(), leg.kind(), spec.jobCategory(), spec.spendClass(), tags, s.phase().wire(), c.answered(), c.failed(),
          c.inputTokens(), c.outputTokens(), leg.pricePerMtok(), s.legCostMicroUsd(leg), Instant.ofEpochMilli(leg.startedAtMillis()),
          Instant.ofEpochMilli(Math.max(legEnd, leg.startedAtMillis()))));
    }
    return out;
  }

  /**
   * Writes the records not there yet, and their ledger entries, within the caller's transaction:
   * one query to find what is there, one batch of rows, one ledger append. Returns the rows written.
   */
  public int writeInTransaction(Connection tx, List<UsageRecord> records) throws SQLException {
    return write(tx, withoutExisting(tx, records));
  }

  /**
   * A real-time job's usage, within the caller's transaction: its spend-ledger record only. Its row
   * in {@code job_usage} would repeat that record in the same transaction, and the edge's usage is
   * the database's busiest write (a quarter of what PostgreSQL spent on it). The records are under
   * fresh ids, of which only those {@code mayBeThere} (their batch failed, perhaps after its commit)
   * can be in the ledger already: only those are checked; the others go in without a look-up (one
   * that is there after all fails the transaction on the ledger's unique key, and the batch is tried
   * again with every record checked). Looking up every record, a few hundred ids a query, once made
   * each batch scan {@code job_usage} wherever PostgreSQL had no statistics for it yet (35 s for a
   * batch of 5,000 once it held 180,000 rows).
   */
  public void writeRealtimeInTransaction(Connection tx, List<UsageRecord> records, Predicate<UsageRecord> mayBeThere) throws SQLException {
    List<io.keld.atlas.spend.ledger.UsageRecord> again = new ArrayList<>();
    List<io.keld.atlas.spend.ledger.UsageRecord> fresh = new ArrayList<>(records.size());
    for (UsageRecord r : records) (mayBeThere.test(r) ? again : fresh).add(ledgerRecord(r));
    if (!fresh.isEmpty()) ledger.appendNewInTransaction(tx, fresh);
    if (!again.isEmpty()) ledger.appendInTransaction(tx, again);
  }

  private int write(Connection tx, List<UsageRecord> fresh) throws SQLException {
    if (fresh.isEmpty()) return 0;
    try (PreparedStatement ps = tx.prepareStatement(INSERT)) {
      for (UsageRecord r : fresh) {
        bind(ps, r);
        ps.addBatch();
      }
      ps.executeBatch();
    }
    List<io.keld.atlas.spend.ledger.UsageRecord> entries = new ArrayList<>(fresh.size());
    for (UsageRecord r : fresh) entries.add(ledgerRecord(r));
    ledger.appendInTransaction(tx, entries);
    return fresh.size();
  }

  private static final int IDS_PER_QUERY = 500;

  private static List<UsageRecord> withoutExisting(Connection tx, List<UsageRecord> records) throws SQLException {
    if (records.isEmpty()) return records;
    Set<String> existing = new HashSet<>();
    List<String> jobIds = records.stream().map(UsageRecord::jobId).distinct().toList();
    for (int from = 0; from < jobIds.size(); from += IDS_PER_QUERY) {
      List<String> chunk = jobIds.subList(from, Math.min(jobIds.size(), from + IDS_PER_QUERY));
      try (PreparedStatement ps = tx.prepareStatement("SELECT job_id, leg_no FROM job_usage WHERE job_id IN ("
          + String.join(",", Collections.nCopies(chunk.size(), "?")) + ")")) {
        Sql.bind(ps, chunk.toArray());
        try (var rs = ps.executeQuery()) {
          while (rs.next()) existing.add(rs.getString(1) + "/" + rs.getInt(2));
        }
      }
    }
    List<UsageRecord> fresh = new ArrayList<>();
    for (UsageRecord r : records) {
      if (existing.add(r.jobId() + "/" + r.legNo())) fresh.add(r); // also drops a record given twice
    }
    return fresh;
  }

  /**
   * Empties what the job projection writes here, for its rebuild: the deadline jobs' rows and their
   * ledger records (taken out of the ledger's rollups too). Real-time jobs' rows are not a projection
   * (no events) and stay.
   */
  public static void clearDeadlineJobs(Connection tx) throws SQLException {
    List<Ledger.EntryKey> entries = new ArrayList<>();
    try (PreparedStatement ps = tx.prepareStatement("SELECT org_id, job_id, leg_no FROM job_usage WHERE leg_kind <> ?")) {
      ps.setString(1, REALTIME);
      try (var rs = ps.executeQuery()) {
        while (rs.next()) entries.add(new Ledger.EntryKey(rs.getString(1), SOURCE, rs.getString(2) + "/" + rs.getInt(3)));
      }
    }
    Ledger.removeInTransaction(tx, entries);
    try (PreparedStatement ps = tx.prepareStatement("DELETE FROM job_usage WHERE leg_kind <> ?")) {
      ps.setString(1, REALTIME);
      ps.executeUpdate();
    }
  }

  private static final String SOURCE = io.keld.atlas.spend.ledger.UsageRecord.Sources.KELD;
  /** The leg kind of a real-time job's one leg (see {@code edge/RealtimePath}). */
  public static final String REALTIME = "realtime";

  /**
   * A settled leg as a ledger record: exact tokens, and the exact cost at the price paid (cost source
   * {@code provider}: what the provider is paid through Keld). Deadline jobs are deadline work by
   * definition; real-time edge calls are taken as interactive.
   */
  private io.keld.atlas.spend.ledger.UsageRecord ledgerRecord(UsageRecord u) {
    var r = new io.keld.atlas.spend.ledger.UsageRecord();
    r.orgId = u.orgId();
    r.source = SOURCE;
    r.sourceEventId = u.jobId() + "/" + u.legNo();
    r.teamId = u.teamId();
    r.projectId = u.projectId();
    r.periodStart = u.startedAt();
    r.periodEnd = u.endedAt();
    r.granularity = "job";
    r.requestCount = u.requests();
    r.provider = u.providerId();
    r.modelServed = u.model();
    r.useCase = u.useCase();
    r.operation = "embed".equals(u.useCase()) ? "embeddings" : "chat";
    r.inputTokens = u.inputTokens();
    r.outputTokens = u.outputTokens();
    r.costMicroUsd = u.costMicroUsd();
    r.costSource = io.keld.atlas.spend.ledger.UsageRecord.CostSources.PROVIDER;
    r.priceRef = "keld/" + u.jobId() + "/leg-" + u.legNo() + "@" + u.pricePerMtok() + "-micro-usd-per-mtok";
    r.jobCategory = u.jobCategory() != null ? u.jobCategory() : MappingRules.inferCategory(r.operation);
    r.jobCategorySource = u.jobCategory() != null ? "declared" : "inferred";
    r.spendClass = u.spendClass() != null ? u.spendClass() : "opex";
    boolean realtime = REALTIME.equals(u.legKind());
    r.latencyClass = realtime ? LatencyTolerance.INTERACTIVE : LatencyTolerance.DEADLINE;
    r.latencyConfidence = realtime ? 0.5 : 1.0;
    r.durationMs = Duration.between(u.startedAt(), u.endedAt()).toMillis();
    r.status = u.requests() == 0 && u.failedRequests() > 0 ? "error" : "ok";
    r.serviceName = "keld";
    // A real-time record's tags are always "{}": no parse for those, one per request on the edge.
    if ("{}".equals(u.tagsJson())) {
      r.tags = new TreeMap<>();
    } else {
      try {
        r.tags = new TreeMap<>(JSON.readValue(u.tagsJson(), new TypeReference<Map<String, String>>() {}));
      } catch (JsonProcessingException e) {
        r.tags = new TreeMap<>();
      }
    }
    r.tags.put("keld.job_id", u.jobId());
    // The list cost: what the same tokens cost at the book's price for this model, where it has one.
    Long list = prices.listCost(r);
    r.listCostMicroUsd = list != null ? list : r.costMicroUsd;
    return r;
  }

  private static final String INSERT = "INSERT INTO job_usage (job_id, leg_no, org_id, team_id, project_id, use_case, "
      + "provider_id, model, leg_kind, job_category, spend_class, tags, job_state, requests, failed_requests, input_tokens, "
      + "output_tokens, price_per_mtok, cost_micro_usd, started_at, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

  private static void bind(PreparedStatement ps, UsageRecord r) throws SQLException {
    Sql.bind(ps, r.jobId(), r.legNo(), r.orgId(), r.teamId(), r.projectId(), r.useCase(), r.providerId(), r.model(), r.legKind(),
        r.jobCategory(), r.spendClass(), r.tagsJson(), r.jobState(), r.requests(), r.failedRequests(), r.inputTokens(),
        r.outputTokens(), r.pricePerMtok(), r.costMicroUsd(), r.startedAt(), r.endedAt());
  }

  /** A job's records, in leg order. */
  public CompletionStage<List<UsageRecord>> ofJob(String jobId) {
    return sql.run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM job_usage WHERE job_id = ? ORDER BY leg_no")) {
        ps.setString(1, jobId);
        try (var rs = ps.executeQuery()) {
          List<UsageRecord> out = new ArrayList<>();
          while (rs.next()) {
            out.add(new UsageRecord(rs.getString("job_id"), rs.getInt("leg_no"), rs.getString("org_id"), rs.getString("team_id"),
                rs.getString("project_id"), rs.getString("use_case"), rs.getString("provider_id"), rs.getString("model"),
                rs.getString("leg_kind"), rs.getString("job_category"), rs.getString("spend_class"), rs.getString("tags"),
                rs.getString("job_state"), rs.getLong("requests"), rs.getLong("failed_requests"), rs.getLong("input_tokens"),
                rs.getLong("output_tokens"), rs.getLong("price_per_mtok"), rs.getLong("cost_micro_usd"), Sql.instant(rs, "started_at"),
                Sql.instant(rs, "ended_at")));
          }
          return out;
        }
      }
    });
  }
}
