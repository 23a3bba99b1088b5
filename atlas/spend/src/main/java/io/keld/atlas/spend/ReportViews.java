package io.keld.atlas.spend;

import io.keld.atlas.budget.BudgetSpec;
import io.keld.atlas.budget.ScopeView;
import io.keld.atlas.spend.reports.Recommendations;
import io.keld.atlas.spend.reports.SpendReports;
import io.keld.atlas.spend.reports.SpendReports.Dimension;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * How the spend map's answers look on the wire: reports as JSON or CSV (money as both exact
 * micro-USD integers and USD decimals), budget lines, recommendations.
 */
final class ReportViews {

  private ReportViews() {}

  static Map<String, Object> json(SpendReports.Report r, List<Map<String, Object>> budgets) {
    Map<String, Object> out = new LinkedHashMap<>();
    SpendReports.Query q = r.query();
    out.put("from", q.from());
    out.put("to", q.to());
    out.put("granularity", q.granularity().wire());
    out.put("group_by", q.groupBy());
    Map<String, Object> filters = new LinkedHashMap<>();
    q.filters().forEach((d, v) -> filters.put(d.wire, v));
    q.tagFilters().forEach((k, v) -> filters.put("tag." + k, v));
    out.put("filters", filters);
    out.put("currency", "USD");
    List<Map<String, Object>> rows = new ArrayList<>();
    for (SpendReports.Row row : r.rows()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("period_start", row.periodStart());
      m.put("period_end", row.periodEnd());
      for (Map.Entry<String, String> g : row.group().entrySet()) {
        String v = g.getValue().isEmpty() ? null : g.getValue();
        m.put(g.getKey().startsWith("tag:") ? "tag." + g.getKey().substring(4) : key(g.getKey()), v);
        if (g.getKey().equals("team")) m.put("team_name", v == null ? "(unassigned)" : r.teamNames().getOrDefault(v, v));
        if (g.getKey().equals("project")) m.put("project_name", v == null ? "(unassigned)" : r.projectNames().getOrDefault(v, v));
      }
      totals(m, row.totals());
      rows.add(m);
    }
    out.put("rows", rows);
    Map<String, Object> totals = new LinkedHashMap<>();
    totals(totals, r.totals());
    out.put("totals", totals);
    if (!budgets.isEmpty()) out.put("budgets", budgets);
    return out;
  }

  private static String key(String dimension) {
    return dimension.equals("team") ? "team_id" : dimension.equals("project") ? "project_id" : dimension;
  }

  private static void totals(Map<String, Object> m, SpendReports.Totals t) {
    m.put("records", t.records);
    m.put("requests", t.requests);
    m.put("input_tokens", t.inputTokens);
    m.put("cached_input_tokens", t.cachedInputTokens);
    m.put("cache_write_tokens", t.cacheWriteTokens);
    m.put("output_tokens", t.outputTokens);
    m.put("reasoning_tokens", t.reasoningTokens);
    m.put("cost_micro_usd", t.costMicroUsd);
    m.put("cost_usd", usd(t.costMicroUsd));
    m.put("list_cost_micro_usd", t.listCostMicroUsd);
    m.put("list_cost_usd", usd(t.listCostMicroUsd));
  }

  static BigDecimal usd(long micro) {
    return BigDecimal.valueOf(micro, 6);
  }

  static String csv(SpendReports.Report r) {
    List<String> groupBy = r.query().groupBy();
    List<String> header = new ArrayList<>(List.of("period_start", "period_end"));
    for (String g : groupBy) {
      header.add(g.startsWith("tag:") ? "tag." + g.substring(4) : key(g));
      if (g.equals("team")) header.add("team_name");
      if (g.equals("project")) header.add("project_name");
    }
    header.addAll(List.of("records", "requests", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
        "reasoning_tokens", "cost_usd", "list_cost_usd"));
    StringBuilder out = new StringBuilder();
    try (CSVPrinter csv = new CSVPrinter(out, CSVFormat.RFC4180)) {
      csv.printRecord(header);
      for (SpendReports.Row row : r.rows()) {
        List<Object> cells = new ArrayList<>(List.of(row.periodStart(), row.periodEnd()));
        for (String g : groupBy) {
          String v = row.group().get(g);
          cells.add(defused(v));
          if (g.equals("team")) cells.add(defused(v.isEmpty() ? "(unassigned)" : r.teamNames().getOrDefault(v, v)));
          if (g.equals("project")) cells.add(defused(v.isEmpty() ? "(unassigned)" : r.projectNames().getOrDefault(v, v)));
        }
        SpendReports.Totals t = row.totals();
        cells.addAll(List.of(t.records, t.requests, t.inputTokens, t.cachedInputTokens, t.cacheWriteTokens, t.outputTokens,
            t.reasoningTokens, usd(t.costMicroUsd).toPlainString(), usd(t.listCostMicroUsd).toPlainString()));
        csv.printRecord(cells);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringBuilder does not fail
    }
    return out.toString();
  }

  /** A leading = + - @ would be a formula to a spreadsheet: a quote before it makes the cell text. */
  static String defused(String v) {
    if (v == null) return "";
    return !v.isEmpty() && "=+-@".indexOf(v.charAt(0)) >= 0 ? "'" + v : v;
  }

  static Map<String, Object> budgetLine(Dimension d, String scopeId, ScopeView v, long ledgerSpend) {
    Map<String, Object> m = new LinkedHashMap<>();
    BudgetSpec spec = v.spec();
    m.put("scope_kind", d == Dimension.TEAM ? "team" : "project");
    m.put("scope_id", scopeId);
    m.put("period", v.period());
    m.put("period_start", Instant.ofEpochMilli(v.periodStart()));
    m.put("period_end", Instant.ofEpochMilli(v.periodEnd()));
    m.put("hard_cap_micro_usd", spec == null ? null : spec.hardCapMicroUsd());
    m.put("soft_cap_micro_usd", spec == null ? null : spec.softCapMicroUsd());
    m.put("committed_micro_usd", v.spentMicroUsd() + v.reservedMicroUsd());
    m.put("ledger_spend_micro_usd", ledgerSpend);
    Long cap = spec == null ? null : spec.hardCapMicroUsd() != null ? spec.hardCapMicroUsd() : spec.softCapMicroUsd();
    // Keld jobs draw on the budget; spend from other sources (telemetry, files) shows beside it.
    m.put("utilization", cap == null || cap == 0 ? null : round((double) (v.spentMicroUsd() + v.reservedMicroUsd()) / cap));
    m.put("ledger_utilization", cap == null || cap == 0 ? null : round((double) ledgerSpend / cap));
    return m;
  }

  private static double round(double v) {
    return Math.round(v * 10_000) / 10_000.0;
  }

  static Map<String, Object> recommendation(Recommendations.Recommendation r) {
    Map<String, Object> m = new LinkedHashMap<>();
    Map<String, Object> w = new LinkedHashMap<>();
    w.put("project_id", r.workload().projectId());
    w.put("team_id", r.workload().teamId());
    w.put("service_name", r.workload().serviceName());
    w.put("operation", r.workload().operation());
    w.put("model", r.workload().model());
    w.put("provider", r.workload().provider());
    m.put("workload", w);
    m.put("latency_class", r.latencyClass());
    m.put("confidence", r.confidence());
    m.put("score", r.score());
    m.put("evidence", r.evidence());
    m.put("requests", r.requests());
    m.put("input_tokens", r.inputTokens());
    m.put("output_tokens", r.outputTokens());
    m.put("cost_micro_usd", r.costMicroUsd());
    m.put("current_usd_per_mtok", usd(r.currentPricePerMtok()));
    m.put("use_case", r.useCase());
    m.put("suggested_deadline", r.suggestedDeadline().toString());
    if (r.quote() != null) {
      Map<String, Object> q = new LinkedHashMap<>();
      q.put("provider_id", r.quote().providerId());
      q.put("model", r.quote().model());
      q.put("usd_per_mtok", usd(r.quote().pricePerMtok()));
      q.put("quality", r.quote().quality());
      m.put("quote", q);
    }
    m.put("savings_micro_usd", r.savingsMicroUsd());
    m.put("monthly_savings_micro_usd", r.monthlySavingsMicroUsd());
    m.put("monthly_savings_usd", r.monthlySavingsMicroUsd() == null ? null : usd(r.monthlySavingsMicroUsd()));
    if (r.note() != null) m.put("note", r.note());
    return m;
  }
}
