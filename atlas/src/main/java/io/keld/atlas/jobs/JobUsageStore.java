package io.keld.atlas.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.edge.sql.Sql;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The usage records settled jobs emit for the spend ledger ({@code job_usage}): one per provider leg,
 * with that leg's exact tokens and its cost at the price paid. Writing a job twice changes nothing.
 */
public final class JobUsageStore {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One row of {@code job_usage}. */
  public record UsageRecord(String jobId, int legNo, String orgId, String teamId, String projectId, String useCase, String providerId,
      String model, String legKind, String jobCategory, String spendClass, String tagsJson, String jobState, long requests,
      long failedRequests, long inputTokens, long outputTokens, long pricePerMtok, long costMicroUsd, Instant startedAt, Instant endedAt) {}

  private final Sql sql;

  public JobUsageStore(Sql sql) {
    this.sql = sql;
  }

  /** The records of a finished job, one per leg that has any usage or was bought. */
  static List<UsageRecord> recordsOf(JobState s) {
    JobSpec spec = s.spec();
    String tags;
    try {
      tags = JSON.writeValueAsString(new java.util.TreeMap<>(spec.tags()));
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

  /** Writes the records; rows already there (an earlier attempt) are left as they are. */
  public CompletionStage<Integer> write(List<UsageRecord> records) {
    return sql.run(c -> {
      int written = 0;
      for (UsageRecord r : records) {
        try (PreparedStatement ps = c.prepareStatement(INSERT)) {
          bind(ps, r);
          written += ps.executeUpdate();
        } catch (java.sql.SQLException e) {
          if (!Sql.isUniqueViolation(e)) throw e;
        }
      }
      return written;
    });
  }

  /**
   * Writes records that are new (the real-time path's, under fresh job ids) in one batched
   * transaction; if any was there already, falls back to {@link #write}.
   */
  public CompletionStage<Integer> writeNew(List<UsageRecord> records) {
    return sql.run(c -> {
      try {
        return Sql.inTransaction(c, tx -> {
          try (PreparedStatement ps = tx.prepareStatement(INSERT)) {
            for (UsageRecord r : records) {
              bind(ps, r);
              ps.addBatch();
            }
            ps.executeBatch();
            return records.size();
          }
        });
      } catch (java.sql.SQLException e) {
        return -1;
      }
    }).thenCompose(n -> n >= 0 ? java.util.concurrent.CompletableFuture.completedFuture(n) : write(records));
  }

  private static final String INSERT = "INSERT INTO job_usage (job_id, leg_no, org_id, team_id, project_id, use_case, "
      + "provider_id, model, leg_kind, job_category, spend_class, tags, job_state, requests, failed_requests, input_tokens, "
      + "output_tokens, price_per_mtok, cost_micro_usd, started_at, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

  private static void bind(PreparedStatement ps, UsageRecord r) throws java.sql.SQLException {
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
