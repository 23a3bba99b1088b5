package io.keld.atlas.spend.connections;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.connections.ConnectionSettings.Api;
import io.keld.atlas.spend.connections.ConnectionSettings.ProviderEndpoint;
import io.keld.atlas.spend.connections.ReportClient.PullFailure;
import io.keld.atlas.spend.imports.ProviderReportPages;
import io.keld.atlas.spend.imports.ProviderReportPages.Report;
import io.keld.atlas.spend.ledger.Ledger;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One provider's reports for one span of time, read page by page into ledger records: OpenAI's
 * organization usage (completions, embeddings) and costs, or Anthropic's usage report (messages) and
 * cost report, all in daily buckets, grouped by every field the report offers that places usage
 * (project or workspace, model, API key, batch, service tier; line item or description for costs).
 */
final class UsagePull {

  /** Pages of one report in one step; more means a provider that keeps answering has_more. */
  private static final int MAX_PAGES = 10_000;

  private final ReportClient client;
  private final int pageLimit;

  UsagePull(ReportClient client, int pageLimit) {
    this.client = client;
    this.pageLimit = pageLimit;
  }

  /** Every record of {@code [from, to)} from the provider, or a failure: nothing partial. */
  List<SpendIngest.Incoming> fetch(ProviderEndpoint provider, String credential, String orgId, Instant from, Instant to)
      throws PullFailure, InterruptedException {
    List<SpendIngest.Incoming> all = new ArrayList<>();
    if (provider.api() == Api.OPENAI) {
      Map<String, String> headers = Map.of("Authorization", "Bearer " + credential);
      Map<String, List<String>> range = openAiRange(from, to);
      all.addAll(pages(provider, "/v1/organization/usage/completions", with(range, "group_by",
          List.of("project_id", "model", "api_key_id", "batch", "service_tier")), headers, credential, Report.OPENAI_COMPLETIONS, orgId));
      all.addAll(pages(provider, "/v1/organization/usage/embeddings", with(range, "group_by",
          List.of("project_id", "model", "api_key_id")), headers, credential, Report.OPENAI_EMBEDDINGS, orgId));
      all.addAll(pages(provider, "/v1/organization/costs", with(range, "group_by", List.of("project_id", "line_item")), headers,
          credential, Report.OPENAI_COSTS, orgId));
    } else {
      Map<String, String> headers = Map.of("x-api-key", credential, "anthropic-version", "2023-06-01");
      Map<String, List<String>> range = anthropicRange(from, to);
      all.addAll(pages(provider, "/v1/organizations/usage_report/messages", with(range, "group_by[]",
          List.of("workspace_id", "model", "api_key_id", "service_tier", "context_window")), headers, credential,
          Report.ANTHROPIC_MESSAGES, orgId));
      all.addAll(pages(provider, "/v1/organizations/cost_report", with(range, "group_by[]", List.of("workspace_id", "description")),
          headers, credential, Report.ANTHROPIC_COSTS, orgId));
    }
    return all;
  }

  private List<SpendIngest.Incoming> pages(ProviderEndpoint provider, String path, Map<String, List<String>> query,
      Map<String, String> headers, String credential, Report report, String orgId) throws PullFailure, InterruptedException {
    List<SpendIngest.Incoming> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    String page = null;
    for (int n = 1; ; n++) {
      if (n > MAX_PAGES) throw new PullFailure(path + ": more than " + MAX_PAGES + " pages; the provider keeps answering has_more");
      Map<String, List<String>> q = new LinkedHashMap<>(query);
      if (page != null) q.put("page", List.of(page));
      URI uri = URI.create(provider.baseUrl() + path + "?" + encode(q));
      JsonNode body = client.get(uri, headers, credential, path + " page " + n);
      ProviderReportPages.Page read;
      try {
        read = ProviderReportPages.read(report, body, orgId);
      } catch (IllegalArgumentException e) {
        throw new PullFailure(path + " page " + n + " is malformed: " + ReportClient.mask(e.getMessage(), credential));
      }
      out.addAll(read.records());
      if (read.nextPage() == null) return out;
      if (!seen.add(read.nextPage())) throw new PullFailure(path + " page " + n + ": next_page repeats an earlier page token");
      page = read.nextPage();
    }
  }

  private Map<String, List<String>> openAiRange(Instant from, Instant to) {
    Map<String, List<String>> q = new LinkedHashMap<>();
    q.put("start_time", List.of(Long.toString(from.getEpochSecond())));
    q.put("end_time", List.of(Long.toString(to.getEpochSecond())));
    q.put("bucket_width", List.of("1d"));
    q.put("limit", List.of(Integer.toString(pageLimit)));
    return q;
  }

  private Map<String, List<String>> anthropicRange(Instant from, Instant to) {
    Map<String, List<String>> q = new LinkedHashMap<>();
    q.put("starting_at", List.of(from.toString()));
    q.put("ending_at", List.of(to.toString()));
    q.put("bucket_width", List.of("1d"));
    q.put("limit", List.of(Integer.toString(pageLimit)));
    return q;
  }

  private static Map<String, List<String>> with(Map<String, List<String>> q, String name, List<String> values) {
    Map<String, List<String>> out = new LinkedHashMap<>(q);
    out.put(name, values);
    return out;
  }

  private static String encode(Map<String, List<String>> q) {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, List<String>> e : q.entrySet()) {
      for (String v : e.getValue()) {
        if (sb.length() > 0) sb.append('&');
        sb.append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8));
      }
    }
    return sb.toString();
  }

  /** What one step wrote. */
  record Landed(Instant to, Ledger.Appended appended) {}
}
