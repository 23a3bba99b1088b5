package io.keld.atlas.spend.connections;

import io.keld.atlas.spend.imports.ProviderReportPages;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.kit.sql.Sql;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;

/**
 * What telemetry said beside what the provider reported and billed, per provider and UTC day: the
 * OpenTelemetry spans' tokens and cost (priced by the price book, or as the spans stated), the
 * usage reports' tokens and the cost reports' bill, all from the ledger. A gap says instrumentation
 * is missing (the bill is larger) or prices are off (the tokens agree, the costs do not).
 */
public final class Reconciliation {

  /** One side's sums for a provider and day. */
  public record Sums(long records, long requests, long inputTokens, long outputTokens, long costMicroUsd) {
    static final Sums NONE = new Sums(0, 0, 0, 0, 0);

    Sums plus(Sums o) {
      return new Sums(records + o.records, requests + o.requests, inputTokens + o.inputTokens, outputTokens + o.outputTokens,
          costMicroUsd + o.costMicroUsd);
    }
  }

  /** A provider's day: telemetry, the provider's usage report, the provider's bill. */
  public record Line(LocalDate day, String provider, Sums telemetry, Sums reported, Sums billed) {
    /** The bill minus what telemetry priced: positive when the provider billed more than telemetry saw. */
    public long unexplainedMicroUsd() {
      return billed.costMicroUsd() - telemetry.costMicroUsd();
    }

    /** The provider's token count minus telemetry's. */
    public long unseenTokens() {
      return reported.inputTokens() + reported.outputTokens() - telemetry.inputTokens() - telemetry.outputTokens();
    }
  }

  /** OTLP spans and, net of them, OTLP metrics (see MetricIntervals). */
  private static final List<String> TELEMETRY = List.of(UsageRecord.Sources.OTLP, UsageRecord.Sources.OTLP_METRICS);
  private static final List<String> REPORTED = List.of(ProviderReportPages.OPENAI_USAGE_API, ProviderReportPages.ANTHROPIC_USAGE_API);
  private static final List<String> BILLED = List.of(ProviderReportPages.OPENAI_COSTS_API, ProviderReportPages.ANTHROPIC_COST_API);

  private final Sql sql;

  public Reconciliation(Sql sql) {
    this.sql = sql;
  }

  /** Days in {@code [from, to)} that have any of the three, providers that have a bill or a usage report. */
  public CompletionStage<List<Line>> lines(String orgId, Instant from, Instant to) {
    return sql.run(c -> {
      // UTC days whatever the session's time zone: the same statement on H2 and PostgreSQL.
      String q = "SELECT CAST(period_start AT TIME ZONE 'UTC' AS DATE) AS d, provider, source, COUNT(*), SUM(request_count), "
          + "SUM(input_tokens), SUM(output_tokens), SUM(cost_micro_usd) FROM usage_records WHERE org_id = ? AND period_start >= ? "
          + "AND period_start < ? AND source IN (?, ?, ?, ?, ?, ?) GROUP BY CAST(period_start AT TIME ZONE 'UTC' AS DATE), provider, source";
      Map<String, Sums[]> byKey = new TreeMap<>();
      try (PreparedStatement ps = c.prepareStatement(q)) {
        Sql.bind(ps, orgId, from, to, UsageRecord.Sources.OTLP, UsageRecord.Sources.OTLP_METRICS, REPORTED.get(0), REPORTED.get(1), BILLED.get(0), BILLED.get(1));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String key = rs.getDate(1).toLocalDate() + "|" + rs.getString(2);
            Sums s = new Sums(rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getLong(8));
            Sums[] sides = byKey.computeIfAbsent(key, k -> new Sums[] {Sums.NONE, Sums.NONE, Sums.NONE});
            String source = rs.getString(3);
            int side = TELEMETRY.contains(source) ? 0 : REPORTED.contains(source) ? 1 : 2;
            sides[side] = sides[side].plus(s);
          }
        }
      }
      List<Line> out = new ArrayList<>();
      for (Map.Entry<String, Sums[]> e : byKey.entrySet()) {
        String[] k = e.getKey().split("\\|", 2);
        Sums[] s = e.getValue();
        // Telemetry of a provider no connection reports on has nothing to be reconciled with.
        if (s[1].records() == 0 && s[2].records() == 0) continue;
        out.add(new Line(LocalDate.parse(k[0]), k[1], s[0], s[1], s[2]));
      }
      return out;
    });
  }
}
