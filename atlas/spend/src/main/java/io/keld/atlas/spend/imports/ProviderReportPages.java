package io.keld.atlas.spend.imports;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.Providers;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.Texts;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One page of a provider's organization usage or cost report, as a connection pulls it, read into
 * ledger records. Strict where a file import is lenient: a row that cannot be read fails the whole
 * page (an {@link IllegalArgumentException} saying which row and why), because a pull that skipped
 * a row would move its watermark past usage it never recorded.
 *
 * <p>Usage and cost are separate reports, so they become separate records and each number is counted
 * once: a usage row carries the tokens and requests and no cost of its own (cost 0, cost source
 * {@code provider}, tag {@code billed_in=cost_report}); a cost row carries what the provider billed and
 * no tokens. The ledger's token totals are therefore the usage reports', its cost totals the bills'.
 * The price book still gives usage rows their list cost, for comparison.
 *
 * <p>Sources (with each row's grouping fields as its event id, so a page pulled twice counts once):
 * {@value #OPENAI_USAGE_API}, {@value #OPENAI_COSTS_API}, {@value #ANTHROPIC_USAGE_API},
 * {@value #ANTHROPIC_COST_API}. They differ from the file imports' sources on purpose: an uploaded
 * usage file is priced from the price book, a pulled one is billed from the cost report, and the two
 * must not be mistaken for each other.
 */
public final class ProviderReportPages {

  public static final String OPENAI_USAGE_API = "openai_usage_api";
  public static final String OPENAI_COSTS_API = "openai_costs_api";
  public static final String ANTHROPIC_USAGE_API = "anthropic_usage_api";
  public static final String ANTHROPIC_COST_API = "anthropic_cost_api";

  /** The reports a connection reads. */
  public enum Report {
    /** {@code GET /v1/organization/usage/completions}. */
    OPENAI_COMPLETIONS,
    /** {@code GET /v1/organization/usage/embeddings}. */
    OPENAI_EMBEDDINGS,
    /** {@code GET /v1/organization/costs}. */
    OPENAI_COSTS,
    /** {@code GET /v1/organizations/usage_report/messages}. */
    ANTHROPIC_MESSAGES,
    /** {@code GET /v1/organizations/cost_report}. */
    ANTHROPIC_COSTS
  }

  /** A page's records and where the next page is (null: this was the last). */
  public record Page(List<SpendIngest.Incoming> records, String nextPage) {}

  private ProviderReportPages() {}

  /**
   * Reads one page.
   *
   * @throws IllegalArgumentException when the page is not the report's documented shape or any row
   *     cannot be read; the message names the bucket or row and never quotes more than a short excerpt
   */
  public static Page read(Report report, JsonNode page, String orgId) {
    if (page == null || !page.isObject()) throw new IllegalArgumentException("the page is not a JSON object");
    JsonNode data = page.get("data");
    if (data == null || !data.isArray()) throw new IllegalArgumentException("the page has no data array");
    JsonNode hasMore = page.get("has_more");
    if (hasMore != null && !hasMore.isNull() && !hasMore.isBoolean()) {
      throw new IllegalArgumentException("has_more must be true or false, not " + Rows.kind(hasMore));
    }
    String next = null;
    if (hasMore != null && hasMore.asBoolean()) {
      JsonNode n = page.get("next_page");
      if (n == null || !n.isTextual() || n.asText().isBlank()) {
        throw new IllegalArgumentException("has_more is true but next_page is not a page token");
      }
      next = n.asText();
    }
    List<SpendIngest.Incoming> out = new ArrayList<>();
    int bucketIndex = 0;
    for (JsonNode bucket : data) {
      bucketIndex++;
      if (!bucket.isObject() || !bucket.path("results").isArray()) {
        throw new IllegalArgumentException("bucket " + bucketIndex + " has no results array");
      }
      int rowIndex = 0;
      for (JsonNode result : bucket.get("results")) {
        rowIndex++;
        try {
          out.add(row(report, bucket, result, orgId));
        } catch (Rows.Bad e) {
          throw new IllegalArgumentException("bucket " + bucketIndex + ", result " + rowIndex + ": " + e.getMessage());
        }
      }
    }
    return new Page(out, next);
  }

  private static SpendIngest.Incoming row(Report report, JsonNode bucket, JsonNode result, String orgId) {
    SpendIngest.Incoming in = switch (report) {
      case OPENAI_COMPLETIONS, OPENAI_EMBEDDINGS -> billedElsewhere(OpenAiUsageFormat.incoming(orgId, bucket, result), OPENAI_USAGE_API);
      case ANTHROPIC_MESSAGES -> billedElsewhere(AnthropicUsageFormat.incoming(orgId, bucket, result), ANTHROPIC_USAGE_API);
      case OPENAI_COSTS -> openAiCost(orgId, bucket, result);
      case ANTHROPIC_COSTS -> anthropicCost(orgId, bucket, result);
    };
    if (report == Report.OPENAI_EMBEDDINGS && !"embeddings".equals(in.record().operation)) {
      throw new Rows.Bad("an embeddings usage page holds a " + in.record().operation + " result");
    }
    if (report == Report.OPENAI_COMPLETIONS && !"chat".equals(in.record().operation)) {
      throw new Rows.Bad("a completions usage page holds a " + in.record().operation + " result");
    }
    return in;
  }

  private static SpendIngest.Incoming billedElsewhere(SpendIngest.Incoming in, String source) {
    UsageRecord r = in.record();
    r.source = source;
    r.costMicroUsd = 0L;
    r.costSource = UsageRecord.CostSources.PROVIDER;
    Rows.tag(r.tags, "billed_in", "cost_report");
    return in;
  }

  /**
   * OpenAI's costs result: {@code amount {value, currency}}, {@code line_item}
   * ({@code "gpt-4o-mini-2024-07-18, input"} when grouped by it) and {@code project_id}.
   */
  private static SpendIngest.Incoming openAiCost(String orgId, JsonNode bucket, JsonNode result) {
    if (!result.isObject()) throw new Rows.Bad("the result is not an object");
    UsageRecord r = costRecord(orgId, OPENAI_COSTS_API, "openai", unixTime(bucket, "start_time"), unixTime(bucket, "end_time"));
    JsonNode amount = result.get("amount");
    if (amount == null || !amount.isObject()) throw new Rows.Bad("amount: is required (an object with value and currency)");
    JsonNode value = amount.get("value");
    if (Rows.absent(value)) throw new Rows.Bad("amount.value: is required");
    r.currency = currency(Rows.text(amount, "currency", 8));
    r.costMicroUsd = Rows.microUsd("amount.value", Rows.decimal("amount.value", value));
    String lineItem = Rows.text(result, "line_item", 300);
    String projectId = Rows.text(result, "project_id", 200);
    if (lineItem != null) {
      int comma = lineItem.indexOf(',');
      r.modelServed = Texts.clip(comma < 0 ? lineItem : lineItem.substring(0, comma).strip(), Rows.MODEL_MAX);
      Rows.tag(r.tags, "line_item", lineItem);
    }
    r.sourceEventId = Rows.eventId(r.periodStart, r.periodEnd, "costs", projectId, lineItem);
    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "openai.project_id", projectId);
    Rows.put(attrs, "openai.line_item", lineItem);
    Rows.genAiAttributes(r, attrs);
    return new SpendIngest.Incoming(r, attrs);
  }

  /**
   * Anthropic's cost report result: {@code amount} in the currency's smallest unit (cents) as a
   * decimal string ({@code "123.45"} is $1.2345), {@code currency}, and when grouped by description
   * {@code description}, {@code cost_type}, {@code model}, {@code service_tier}, {@code token_type},
   * {@code context_window}; {@code workspace_id} when grouped by it.
   */
  private static SpendIngest.Incoming anthropicCost(String orgId, JsonNode bucket, JsonNode result) {
    if (!result.isObject()) throw new Rows.Bad("the result is not an object");
    UsageRecord r = costRecord(orgId, ANTHROPIC_COST_API, "anthropic", rfc3339(bucket, "starting_at"), rfc3339(bucket, "ending_at"));
    JsonNode amount = result.get("amount");
    if (Rows.absent(amount)) throw new Rows.Bad("amount: is required");
    if (!amount.isTextual()) throw new Rows.Bad("amount: must be a decimal string of cents, not " + Rows.kind(amount));
    BigDecimal cents = Rows.decimal("amount", amount.asText());
    r.currency = currency(Rows.text(result, "currency", 8));
    r.costMicroUsd = Rows.microUsd("amount", cents.movePointLeft(2));
    String workspaceId = Rows.text(result, "workspace_id", 200);
    String description = Rows.text(result, "description", 300);
    String costType = Rows.text(result, "cost_type", 64);
    String tokenType = Rows.text(result, "token_type", 64);
    String contextWindow = Rows.text(result, "context_window", 64);
    String inferenceGeo = Rows.text(result, "inference_geo", 64);
    r.modelServed = Rows.text(result, "model", Rows.MODEL_MAX);
    r.serviceTier = Rows.text(result, "service_tier", Rows.TIER_MAX);
    if (costType != null) Rows.tag(r.tags, "cost_type", costType);
    if (tokenType != null) Rows.tag(r.tags, "token_type", tokenType);
    r.sourceEventId = Rows.eventId(r.periodStart, r.periodEnd, workspaceId, description, costType, r.modelServed, r.serviceTier,
        tokenType, contextWindow, inferenceGeo);
    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "anthropic.workspace_id", workspaceId);
    Rows.put(attrs, "anthropic.service_tier", r.serviceTier);
    Rows.put(attrs, "anthropic.cost_type", costType);
    Rows.genAiAttributes(r, attrs);
    return new SpendIngest.Incoming(r, attrs);
  }

  private static UsageRecord costRecord(String orgId, String source, String provider, Instant start, Instant end) {
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = source;
    r.periodStart = start;
    r.periodEnd = end;
    r.granularity = Rows.granularity(start, end);
    // A bill line is not a request: the usage rows count the requests.
    r.requestCount = 0;
    r.provider = Providers.normalize(provider);
    r.costSource = UsageRecord.CostSources.PROVIDER;
    Rows.tag(r.tags, "billed", "true");
    return r;
  }

  private static String currency(String c) {
    if (c == null) throw new Rows.Bad("currency: is required");
    if (!c.equalsIgnoreCase("usd")) throw new Rows.Bad("currency: only USD bills are read, got " + Texts.clip(c));
    return c.toUpperCase(Locale.ROOT);
  }

  private static Instant unixTime(JsonNode bucket, String field) {
    JsonNode v = bucket.get(field);
    if (Rows.absent(v)) throw new Rows.Bad("bucket " + field + ": is required");
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() >= 32_503_680_000L) {
      throw new Rows.Bad("bucket " + field + ": not Unix seconds: " + Texts.clip(v.asText()));
    }
    return Instant.ofEpochSecond(v.asLong());
  }

  private static Instant rfc3339(JsonNode bucket, String field) {
    JsonNode v = bucket.get(field);
    if (Rows.absent(v)) throw new Rows.Bad("bucket " + field + ": is required");
    if (!v.isTextual()) throw new Rows.Bad("bucket " + field + ": must be an RFC 3339 time, not " + Rows.kind(v));
    return Rows.rfc3339("bucket " + field, v.asText());
  }
}
