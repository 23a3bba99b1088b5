package io.keld.atlas.spend.imports;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.Providers;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.Texts;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code anthropic_usage}: Anthropic's Admin API usage report,
 * {@code GET /v1/organizations/usage_report/messages}: one page
 * ({@code {"data":[buckets],"has_more":..,"next_page":..}}) or a JSON array of pages. Each result of
 * each bucket is one ledger record.
 *
 * <ul>
 *   <li>Period and granularity: the bucket's {@code starting_at}/{@code ending_at} (RFC 3339); 1m,
 *       1h and 1d buckets are {@code minute}, {@code hour}, {@code day}.</li>
 *   <li>Tokens, normalised to the ledger's (OpenAI's) convention. Anthropic reports the parts of the
 *       input separately, the ledger counts the whole input and its cached parts inside it:
 *       inputTokens = {@code uncached_input_tokens} + {@code cache_read_input_tokens} + cache creation
 *       ({@code cache_creation.ephemeral_5m_input_tokens} + {@code ephemeral_1h_input_tokens});
 *       cachedInputTokens = {@code cache_read_input_tokens}; cacheWriteTokens = cache creation.</li>
 *   <li>Requests: the report does not count requests, so the record says 0 (unknown), never a guess.
 *       Token and cost totals are right; request totals for Anthropic exports are not available.</li>
 *   <li>Source event id: {@code start|end|workspace_id|api_key_id|model|service_tier|context_window|
 *       inference_geo}, every field the report groups by (empty when not grouped by it).</li>
 *   <li>Provider {@code anthropic}, operation {@code chat}, service tier the result's
 *       {@code service_tier} (standard, batch, priority). Web search requests and the context window
 *       are kept as tags. No cost: the usage report states none (the cost report is another
 *       endpoint), so the price book prices the record later.</li>
 *   <li>Attributes for mapping rules: {@code anthropic.workspace_id}, {@code anthropic.api_key_id},
 *       {@code anthropic.service_tier}, {@code anthropic.context_window}, and the {@code gen_ai.*}
 *       names.</li>
 * </ul>
 * Line numbers in errors are the 1-based index of the result across the whole file.
 */
final class AnthropicUsageFormat {

  static final String NAME = "anthropic_usage";

  private AnthropicUsageFormat() {}

  static void parse(byte[] body, String orgId, Rows.Sink sink) {
    int[] index = {0};
    Rows.eachTopLevel(body, NAME, page -> {
      if (!page.isObject() || !page.path("data").isArray()) {
        throw new IllegalArgumentException(NAME + ": expected a page of /v1/organizations/usage_report/messages "
            + "(an object with a data array), or a JSON array of such pages");
      }
      for (JsonNode bucket : page.get("data")) {
        if (bucket.has("start_time") && !bucket.has("starting_at")) {
          throw new IllegalArgumentException(NAME + ": this looks like an OpenAI usage page (start_time); import it as openai_usage");
        }
        if (!bucket.path("results").isArray()) {
          throw new IllegalArgumentException(NAME + ": every bucket of data needs a results array (bucket "
              + Texts.clip(bucket.path("starting_at").asText()) + ")");
        }
        for (JsonNode result : bucket.get("results")) {
          int line = ++index[0];
          sink.row(line, () -> incoming(orgId, bucket, result));
        }
      }
    });
  }

  static SpendIngest.Incoming incoming(String orgId, JsonNode bucket, JsonNode result) {
    if (!result.isObject()) throw new Rows.Bad("the result is not an object");
    Instant start = time(bucket, "starting_at");
    Instant end = time(bucket, "ending_at");
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = UsageRecord.Sources.ANTHROPIC_USAGE;
    r.periodStart = start;
    r.periodEnd = end;
    r.granularity = Rows.granularity(start, end);
    // The report has no request count. 0 says "not known" without inventing one; the ledger's
    // request totals for this source are therefore not meaningful, its tokens and costs are.
    r.requestCount = 0;
    r.provider = Providers.normalize("anthropic");
    r.operation = "chat";
    r.modelServed = Rows.text(result, "model", Rows.MODEL_MAX);
    r.serviceTier = Rows.text(result, "service_tier", Rows.TIER_MAX);

    long uncached = Rows.requiredCount(result, "uncached_input_tokens");
    long cacheRead = Rows.count(result, "cache_read_input_tokens");
    long cacheCreation;
    JsonNode creation = result.get("cache_creation");
    if (!Rows.absent(creation)) {
      if (!creation.isObject()) throw new Rows.Bad("cache_creation: must be an object, not " + Rows.kind(creation));
      cacheCreation = Rows.plus("cache_creation", Rows.count(creation, "ephemeral_5m_input_tokens"),
          Rows.count(creation, "ephemeral_1h_input_tokens"));
    } else {
      // Tools that flatten the report write the Messages API's name for the same number.
      cacheCreation = Rows.count(result, "cache_creation_input_tokens");
    }
    r.inputTokens = Rows.plus("input tokens (uncached + cache read + cache creation)", uncached, cacheRead, cacheCreation);
    r.cachedInputTokens = cacheRead;
    r.cacheWriteTokens = cacheCreation;
    r.outputTokens = Rows.requiredCount(result, "output_tokens");

    String workspaceId = Rows.text(result, "workspace_id", 200);
    String apiKeyId = Rows.text(result, "api_key_id", 200);
    String contextWindow = Rows.text(result, "context_window", 64);
    String inferenceGeo = Rows.text(result, "inference_geo", 64);
    r.sourceEventId = Rows.eventId(start, end, workspaceId, apiKeyId, r.modelServed, r.serviceTier, contextWindow, inferenceGeo);

    JsonNode serverTools = result.get("server_tool_use");
    long webSearches = Rows.absent(serverTools) ? 0 : Rows.count(serverTools, "web_search_requests");
    if (webSearches > 0) Rows.tag(r.tags, "web_search_requests", Long.toString(webSearches));
    if (contextWindow != null) Rows.tag(r.tags, "context_window", contextWindow);

    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "anthropic.workspace_id", workspaceId);
    Rows.put(attrs, "anthropic.api_key_id", apiKeyId);
    Rows.put(attrs, "anthropic.service_tier", r.serviceTier);
    Rows.put(attrs, "anthropic.context_window", contextWindow);
    Rows.genAiAttributes(r, attrs);
    return new SpendIngest.Incoming(r, attrs);
  }

  private static Instant time(JsonNode bucket, String field) {
    JsonNode v = bucket.get(field);
    if (Rows.absent(v)) throw new Rows.Bad("bucket " + field + ": is required");
    if (!v.isTextual()) throw new Rows.Bad("bucket " + field + ": must be an RFC 3339 time, not " + Rows.kind(v));
    return Rows.rfc3339("bucket " + field, v.asText());
  }
}
