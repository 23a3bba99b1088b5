package io.keld.atlas.spend.reports;

import io.keld.atlas.spend.ledger.LatencyTolerance;
import io.keld.kit.sql.Sql;
import io.keld.marketplace.book.Quote;
import java.math.BigInteger;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import io.keld.ixp.Money;
import java.util.Arrays;

/**
 * Which work could move to cheaper deadline jobs. Usage from outside Keld (telemetry, usage files) is
 * grouped into workloads — project, service, operation, model — each scored for latency tolerance
 * from content-free signals ({@link LatencyTolerance}) including how periodic its arrivals are. For
 * each tolerant workload the marketplace is quoted live, for its use case and a suggested deadline,
 * with its current price per million tokens as the ceiling; the savings are what the window's
 * tokens would have cost at the quoted price instead. Ranked by savings weighted by confidence;
 * interactive workloads are never recommended. Usage already on Keld is left out.
 */
public final class Recommendations {

  /** Asks the marketplace what the work would clear at now; empty when no ask fits. */
  public interface Quoter {
    CompletionStage<Optional<Quote.Option>> quote(String useCase, long ceilingPerMtok, long tokens, Instant deadline);
  }

  public record Workload(String projectId, String teamId, String serviceName, String operation, String model, String provider) {}

  public record Recommendation(Workload workload, String useCase, long requests, long inputTokens, long outputTokens,
      long costMicroUsd, long currentPricePerMtok, String latencyClass, double confidence, double score,
      List<LatencyTolerance.Evidence> evidence, Duration suggestedDeadline, Quote.Option quote, Long savingsMicroUsd,
      Long monthlySavingsMicroUsd, String note) {}

  private static final Duration BATCH_DEADLINE = Duration.ofHours(24);
  private static final Duration DEADLINE_DEADLINE = Duration.ofHours(1);

  private final Sql sql;
  private final Quoter quoter;
  private final Set<String> useCases;
  private final Clock clock;

  public Recommendations(Sql sql, Quoter quoter, Set<String> useCases, Clock clock) {
    this.sql = sql;
    this.quoter = quoter;
    this.useCases = useCases;
    this.clock = clock;
  }

  private static final class Stats {
    Workload workload;
    String useCase;
    String category;
    long records, requests, input, output, cost;
    long streamed, streamKnown, endUser, endUserKnown, conversation, conversationKnown, server, serverKnown, batchTier;
    final Map<Long, Long> requestsPerHour = new HashMap<>();
  }

  /**
   * @param teamId,projectId the caller's scope (null: the whole organization)
   */
  public CompletionStage<List<Recommendation>> find(String orgId, String teamId, String projectId, Instant from, Instant to, int limit) {
    return sql.run(c -> {
      Map<String, Stats> workloads = new LinkedHashMap<>();
      String scope = (teamId != null ? " AND team_id = ?" : "") + (projectId != null ? " AND project_id = ?" : "");
      List<Object> params = new ArrayList<>(List.of(orgId, from, to));
      if (teamId != null) params.add(teamId);
      if (projectId != null) params.add(projectId);
      String model = "COALESCE(model_served, model_requested)";
      String key = "COALESCE(project_id, ''), COALESCE(service_name, ''), COALESCE(operation, ''), " + model + ", provider";
      try (PreparedStatement ps = c.prepareStatement("SELECT " + key + ", MAX(team_id), MAX(use_case), MAX(job_category), COUNT(*), "
          + "SUM(request_count), SUM(input_tokens), SUM(output_tokens), SUM(cost_micro_usd), "
          + "SUM(CASE WHEN streaming THEN 1 ELSE 0 END), SUM(CASE WHEN streaming IS NULL THEN 0 ELSE 1 END), "
          + "SUM(CASE WHEN has_end_user THEN 1 ELSE 0 END), SUM(CASE WHEN has_end_user IS NULL THEN 0 ELSE 1 END), "
          + "SUM(CASE WHEN has_conversation THEN 1 ELSE 0 END), SUM(CASE WHEN has_conversation IS NULL THEN 0 ELSE 1 END), "
          + "SUM(CASE WHEN under_server_span THEN 1 ELSE 0 END), SUM(CASE WHEN under_server_span IS NULL THEN 0 ELSE 1 END), "
          + "SUM(CASE WHEN LOWER(COALESCE(service_tier, '')) IN ('batch', 'flex') THEN 1 ELSE 0 END) "
          + "FROM usage_records WHERE org_id = ? AND period_start >= ? AND period_start < ? AND source <> 'keld'" + scope
          + " GROUP BY " + key)) {
        Sql.bind(ps, params.toArray());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            Stats s = new Stats();
            s.workload = new Workload(emptyToNull(rs.getString(1)), rs.getString(6), emptyToNull(rs.getString(2)), emptyToNull(rs.getString(3)),
                rs.getString(4), rs.getString(5));
            s.useCase = rs.getString(7);
            s.category = rs.getString(8);
            int i = 9;
            s.records = rs.getLong(i++);
            s.requests = rs.getLong(i++);
            s.input = rs.getLong(i++);
            s.output = rs.getLong(i++);
            s.cost = rs.getLong(i++);
            s.streamed = rs.getLong(i++);
            s.streamKnown = rs.getLong(i++);
            s.endUser = rs.getLong(i++);
            s.endUserKnown = rs.getLong(i++);
            s.conversation = rs.getLong(i++);
            s.conversationKnown = rs.getLong(i++);
            s.server = rs.getLong(i++);
            s.serverKnown = rs.getLong(i++);
            s.batchTier = rs.getLong(i);
            workloads.put(keyOf(s.workload), s);
          }
        }
      }
      // Arrivals per hour (hours since the epoch: no time-zone arithmetic in SQL), for periodicity.
      String hour = "FLOOR(EXTRACT(EPOCH FROM period_start) / 3600)";
      try (PreparedStatement ps = c.prepareStatement("SELECT " + key + ", " + hour + ", SUM(request_count) FROM usage_records "
          + "WHERE org_id = ? AND period_start >= ? AND period_start < ? AND source <> 'keld'" + scope + " GROUP BY " + key + ", " + hour)) {
        Sql.bind(ps, params.toArray());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            Stats s = workloads.get(keyOf(new Workload(emptyToNull(rs.getString(1)), null, emptyToNull(rs.getString(2)),
                emptyToNull(rs.getString(3)), rs.getString(4), rs.getString(5))));
            if (s != null) s.requestsPerHour.merge(rs.getLong(6), rs.getLong(7), Long::sum);
          }
        }
      }
      return new ArrayList<>(workloads.values());
    }).thenCompose(stats -> {
      double windowDays = Math.max(1.0 / 24, Duration.between(from, to).toMinutes() / 1440.0);
      List<CompletableFuture<Recommendation>> pending = new ArrayList<>();
      for (Stats s : stats) {
        LatencyTolerance.Score score = LatencyTolerance.score(signals(s));
        if (score.latencyClass().equals(LatencyTolerance.INTERACTIVE)) continue;
        pending.add(recommend(s, score, windowDays).toCompletableFuture());
      }
      return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).thenApply(x -> {
        List<Recommendation> out = new ArrayList<>();
        for (CompletableFuture<Recommendation> f : pending) out.add(f.join());
        out.sort(Comparator.comparingDouble(Recommendations::rank).reversed());
        return out.size() > limit ? out.subList(0, limit) : out;
      });
    });
  }

  /** Savings weighted by confidence; workloads with no quote rank after those with one, by score. */
  private static double rank(Recommendation r) {
    if (r.savingsMicroUsd() != null && r.savingsMicroUsd() > 0) return 1e6 + r.savingsMicroUsd() * r.confidence();
    return r.score() * r.confidence();
  }

  private CompletionStage<Recommendation> recommend(Stats s, LatencyTolerance.Score score, double windowDays) {
    long tokens = s.input + s.output;
    long pricePerMtok = tokens == 0 ? 0 : BigInteger.valueOf(s.cost).multiply(BigInteger.valueOf(1_000_000))
        .divide(BigInteger.valueOf(tokens)).longValue();
    Duration deadline = score.latencyClass().equals(LatencyTolerance.BATCH) ? BATCH_DEADLINE : DEADLINE_DEADLINE;
    String useCase = useCaseOf(s);
    if (useCase == null || tokens == 0 || pricePerMtok == 0) {
      return CompletableFuture.completedFuture(result(s, score, useCase, pricePerMtok, deadline, null, windowDays,
          useCase == null ? "no Keld use case fits this workload's operation" : "no priced tokens to compare"));
    }
    // A day's worth of the workload's tokens, due within the suggested deadline.
    long tokensPerDay = Math.max(1, Math.round(tokens / windowDays));
    return quoter.quote(useCase, pricePerMtok, tokensPerDay, clock.instant().plus(deadline))
        .thenApply(q -> result(s, score, useCase, pricePerMtok, deadline, q.orElse(null), windowDays,
            q.isPresent() ? null : "no ask on the " + useCase + " book beats the current price within the deadline right now"))
        .exceptionally(e -> result(s, score, useCase, pricePerMtok, deadline, null, windowDays, "the marketplace did not answer the quote"));
  }

  private static Recommendation result(Stats s, LatencyTolerance.Score score, String useCase, long pricePerMtok, Duration deadline,
      Quote.Option quote, double windowDays, String note) {
    Long savings = null;
    Long monthly = null;
    if (quote != null) {
      long atQuote = Money.costMicroUsd(s.input + s.output, quote.pricePerMtok());
      savings = Math.max(0, s.cost - atQuote);
      monthly = Math.round(savings * 30 / windowDays);
    }
    return new Recommendation(s.workload, useCase, s.requests, s.input, s.output, s.cost, pricePerMtok, score.latencyClass(),
        score.confidence(), score.score(), score.evidence(), deadline, quote, savings, monthly, note);
  }

  private String useCaseOf(Stats s) {
    if (s.useCase != null && useCases.contains(s.useCase)) return s.useCase;
    if (s.workload.operation() != null && LatencyTolerance.isEmbeddings(s.workload.operation())) return useCases.contains("embed") ? "embed" : null;
    if (s.category != null && useCases.contains(s.category.toLowerCase(Locale.ROOT))) return s.category.toLowerCase(Locale.ROOT);
    return useCases.contains("chat") ? "chat" : null;
  }

  static LatencyTolerance.Signals signals(Stats s) {
    double records = Math.max(1, s.records);
    return new LatencyTolerance.Signals(
        share(s.streamed, s.streamKnown), share(s.endUser, s.endUserKnown), share(s.conversation, s.conversationKnown),
        share(s.server, s.serverKnown),
        s.workload.operation() == null ? null : LatencyTolerance.isEmbeddings(s.workload.operation()) ? 1.0 : 0.0,
        s.batchTier / records,
        s.output > 0 ? (double) s.input / s.output : s.input > 0 ? 1000.0 : null,
        periodicity(s.requestsPerHour));
  }

  /**
   * How much the arrivals repeat at the same hours of the day: 0 for traffic spread over the day (or
   * seen on a single day only), 1 when every request falls in the same three hours of the day, day
   * after day.
   */
  static Double periodicity(Map<Long, Long> requestsPerHour) {
    if (requestsPerHour.isEmpty()) return null;
    long days = requestsPerHour.keySet().stream().map(h -> h / 24).distinct().count();
    if (days < 2) return 0.0;
    long[] byHourOfDay = new long[24];
    long total = 0;
    for (Map.Entry<Long, Long> e : requestsPerHour.entrySet()) {
      byHourOfDay[(int) (e.getKey() % 24)] += e.getValue();
      total += e.getValue();
    }
    if (total == 0) return 0.0;
    long[] sorted = byHourOfDay.clone();
    Arrays.sort(sorted);
    double top3 = (double) (sorted[23] + sorted[22] + sorted[21]) / total;
    return Math.round(Math.max(0, (top3 - 0.125) / 0.875) * 100) / 100.0;
  }

  private static Double share(long yes, long known) {
    return known == 0 ? null : (double) yes / known;
  }

  private static String keyOf(Workload w) {
    return w.projectId() + '\u0000' + w.serviceName() + '\u0000' + w.operation() + '\u0000' + w.model() + '\u0000' + w.provider();
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
