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
 * {@code openai_usage}: pages of OpenAI's Usage API, {@code GET /v1/organization/usage/completions}
 * and {@code /v1/organization/usage/embeddings}, as the API returns them: one page
 * ({@code {"object":"page","data":[buckets],"has_more":..,"next_page":..}}) or a JSON array of pages
 * (a paginated export saved as one file). Each result of each bucket is one ledger record.
 *
 * <ul>
 *   <li>Period and granularity: the bucket's {@code start_time}/{@code end_time} (Unix seconds); a
 *       60 s bucket is {@code minute}, 3600 s {@code hour}, 86400 s {@code day}.</li>
 *   <li>Source event id: {@code start|end|completions or embeddings|project_id|user_id|api_key_id|
 *       model|batch|service_tier|api_source}, every field the API groups by, so re-importing the same
 *       export counts once and two results of one bucket never collide. A field the export was not
 *       grouped by is empty. (Over 200 characters: {@code sha256:} and its digest.)</li>
 *   <li>Tokens: OpenAI's {@code input_tokens} already counts cached (and cache-write) tokens, as the
 *       ledger does. Audio tokens are not added: the current API counts them inside
 *       {@code input_tokens}/{@code output_tokens}; they are kept as tags.</li>
 *   <li>Requests: {@code num_model_requests}. Provider {@code openai}; operation {@code chat} for
 *       completions (the endpoint covers Chat Completions and Responses) or {@code embeddings}.</li>
 *   <li>Service tier: {@code batch} when the result says {@code batch: true}, else its
 *       {@code service_tier}.</li>
 *   <li>Cost: the usage API states none; the price book prices the record later.</li>
 *   <li>Attributes for mapping rules: {@code openai.project_id}, {@code openai.api_key_id},
 *       {@code openai.user_id}, {@code openai.api_source}, and the {@code gen_ai.*} names.</li>
 * </ul>
 * Line numbers in errors are the 1-based index of the result across the whole file. Results of other
 * usage endpoints (images, audio, moderations) and of the Costs API are row errors.
 */
final class OpenAiUsageFormat {

  static final String NAME = "openai_usage";
  private static final String COMPLETIONS = "organization.usage.completions.result";
  private static final String EMBEDDINGS = "organization.usage.embeddings.result";

  private OpenAiUsageFormat() {}

  static void parse(byte[] body, String orgId, Rows.Sink sink) {
    int[] index = {0};
    Rows.eachTopLevel(body, NAME, page -> {
      if (!page.isObject() || !page.path("data").isArray()) {
        throw new IllegalArgumentException(NAME + ": expected a page of /v1/organization/usage/completions or /embeddings "
            + "(an object with a data array), or a JSON array of such pages");
      }
      for (JsonNode bucket : page.get("data")) {
        if (bucket.has("starting_at")) {
          throw new IllegalArgumentException(NAME + ": this looks like an Anthropic usage report (starting_at); import it as anthropic_usage");
        }
        if (!bucket.path("results").isArray()) {
          throw new IllegalArgumentException(NAME + ": every bucket of data needs a results array (bucket "
              + Texts.clip(bucket.path("start_time").asText()) + ")");
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
    Instant start = time(bucket, "start_time");
    Instant end = time(bucket, "end_time");
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = UsageRecord.Sources.OPENAI_USAGE;
    r.periodStart = start;
    r.periodEnd = end;
    r.granularity = Rows.granularity(start, end);

    String object = Rows.text(result, "object", 100);
    String kind;
    if (COMPLETIONS.equals(object)) {
      kind = "completions";
      r.operation = "chat";
    } else if (EMBEDDINGS.equals(object)) {
      kind = "embeddings";
      r.operation = "embeddings";
    } else if (object == null) {
      throw new Rows.Bad("object: is required (" + COMPLETIONS + " or " + EMBEDDINGS + ")");
    } else {
      throw new Rows.Bad("object: " + Texts.clip(object) + " is not imported; only completions and embeddings usage is");
    }

    r.provider = Providers.normalize("openai");
    r.modelServed = Rows.text(result, "model", Rows.MODEL_MAX);
    r.requestCount = Rows.requiredCount(result, "num_model_requests");
    r.inputTokens = Rows.requiredCount(result, "input_tokens");
    r.cachedInputTokens = Rows.count(result, "input_cached_tokens");
    // Newer pages split out cache writes (30-minute and 12-hour retention); input_tokens counts them too.
    r.cacheWriteTokens = Rows.plus("input_cache_write_tokens",
        Rows.count(result, "input_cache_write_tokens"), Rows.count(result, "input_cache_write_12h_tokens"));
    r.outputTokens = kind.equals("completions") ? Rows.requiredCount(result, "output_tokens") : Rows.count(result, "output_tokens");
    Rows.checkTokens(r, "input_tokens", "input_cached_tokens", "input_cache_write_tokens", "output_tokens", "reasoning_tokens");

    String projectId = Rows.text(result, "project_id", 200);
    String userId = Rows.text(result, "user_id", 200);
    String apiKeyId = Rows.text(result, "api_key_id", 200);
    String tier = Rows.text(result, "service_tier", Rows.TIER_MAX);
    String apiSource = Rows.text(result, "api_source", 64);
    Boolean batch = bool(result, "batch");
    r.serviceTier = Boolean.TRUE.equals(batch) ? "batch" : tier;

    r.sourceEventId = Rows.eventId(start, end, kind, projectId, userId, apiKeyId, r.modelServed, batch, tier, apiSource);

    long audioIn = Rows.count(result, "input_audio_tokens");
    long audioOut = Rows.count(result, "output_audio_tokens");
    if (audioIn > 0) Rows.tag(r.tags, "input_audio_tokens", Long.toString(audioIn));
    if (audioOut > 0) Rows.tag(r.tags, "output_audio_tokens", Long.toString(audioOut));

    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "openai.project_id", projectId);
    Rows.put(attrs, "openai.api_key_id", apiKeyId);
    Rows.put(attrs, "openai.user_id", userId);
    Rows.put(attrs, "openai.api_source", apiSource);
    Rows.genAiAttributes(r, attrs);
    return new SpendIngest.Incoming(r, attrs);
  }

  private static Instant time(JsonNode bucket, String field) {
    JsonNode v = bucket.get(field);
    if (Rows.absent(v)) throw new Rows.Bad("bucket " + field + ": is required");
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() >= 32_503_680_000L) {
      throw new Rows.Bad("bucket " + field + ": not Unix seconds: " + Texts.clip(v.asText()));
    }
    return Instant.ofEpochSecond(v.asLong());
  }

  /** {@code batch} is true, false, or null when the export was not grouped by it. */
  private static Boolean bool(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (Rows.absent(v)) return null;
    if (!v.isBoolean()) throw new Rows.Bad(field + ": must be true, false or null, not " + Rows.kind(v));
    return v.booleanValue();
  }
}
