package io.keld.atlas.spend.imports;

import static java.util.Map.entry;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.Providers;
import io.keld.atlas.spend.ledger.UsageRecord;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code litellm_spend_logs}: rows of LiteLLM's {@code LiteLLM_SpendLogs} table, as the proxy's
 * {@code GET /spend/logs} returns them (a JSON array), as {@code {"data":[rows]}} (the paginated UI
 * endpoint), or one row per line (ndjson, a database export). One row is one request: one record of
 * granularity {@code event}.
 *
 * <p><b>Content never enters.</b> A row carries the prompt ({@code messages}), the completion
 * ({@code response}) and the whole request ({@code proxy_server_request}), and its metadata may carry
 * guardrail findings, error text and free-form user metadata. The row is read through an allow-list
 * ({@link LiteLlmAllowList}): every other field is skipped by the parser without being turned into a
 * string, so content is in no record, attribute, or error message.
 *
 * <ul>
 *   <li>Source event id: {@code request_id} (LiteLLM's primary key; cache hits get their own).</li>
 *   <li>Period: {@code startTime} .. {@code endTime}; duration from them. LiteLLM writes
 *       {@code completionStartTime} = {@code endTime} when it did not see a first chunk (a call that
 *       was not streamed); an earlier {@code completionStartTime} is a streamed call's first chunk:
 *       then streaming is true and ttft = completionStartTime − startTime. Otherwise both stay
 *       unknown.</li>
 *   <li>Cost: {@code spend} (USD, as LiteLLM computed it) to micro-USD, half up, cost source
 *       {@code gateway}. A cache hit ({@code cache_hit}) was served from LiteLLM's cache and cost
 *       nothing at the provider; the row keeps its stated spend (usually 0) and the tag
 *       {@code cache_hit=true}, and its tokens still count (what the cache saved).</li>
 *   <li>Tokens: {@code prompt_tokens} (LiteLLM counts cache reads inside it, as the ledger does),
 *       {@code completion_tokens}; cached, cache-write and reasoning tokens from
 *       {@code metadata.usage_object} (or {@code metadata.additional_usage_values}). LiteLLM versions
 *       that left Anthropic cache writes out of {@code prompt_tokens}, or reasoning out of
 *       {@code completion_tokens}, show it by a smaller total than its part; the part is added back.
 *       Cached tokens above {@code prompt_tokens} are a row error.</li>
 *   <li>Provider from {@code custom_llm_provider} (else the model's {@code provider/} prefix); model
 *       requested = {@code model_group} (the name the client used), served = {@code model}; operation
 *       from {@code call_type} (acompletion → chat, aembedding → embeddings ...).</li>
 *   <li>End user: true when {@code end_user} names one, false when it is empty. The {@code user}
 *       column is the LiteLLM user that owns the key, not an end user, so it does not count.</li>
 *   <li>Conversation: LiteLLM fills {@code session_id} with a fresh id when the client sent none, so a
 *       session id alone says nothing. A session id shared by two or more rows of the file is a
 *       conversation (true); otherwise unknown.</li>
 *   <li>Status: {@code failure} → error, else ok. {@code request_tags} become tags: {@code "k:v"} is
 *       k=v, a bare tag t is t=true.</li>
 *   <li>Attributes for mapping rules: {@code litellm.team_id}, {@code litellm.team_alias},
 *       {@code litellm.user}, {@code litellm.api_key} (the key's SHA-256, as LiteLLM stores it),
 *       {@code litellm.key_alias}, {@code litellm.org_id}, {@code litellm.end_user},
 *       {@code litellm.model_group}, {@code litellm.model_id}, {@code litellm.call_type},
 *       {@code litellm.api_base}, {@code litellm.cache_hit}, {@code litellm.tags} (comma-joined) and
 *       {@code litellm.tag.<k>} per tag, and the {@code gen_ai.*} names. LiteLLM's team is not
 *       Keld's: it is an attribute for rules, never the record's team.</li>
 * </ul>
 * Line numbers in errors: the line for ndjson, the 1-based row index for a JSON array.
 */
final class LiteLlmSpendLogFormat {

  static final String NAME = "litellm_spend_logs";

  /** call_type → operation; LiteLLM's async variants (a-prefixed) are the same operation. */
  private static final Map<String, String> OPERATIONS = Map.ofEntries(
      entry("completion", "chat"),
      entry("acompletion", "chat"),
      entry("responses", "chat"),
      entry("aresponses", "chat"),
      entry("anthropic_messages", "chat"),
      entry("generate_content", "chat"),
      entry("agenerate_content", "chat"),
      entry("text_completion", "text_completion"),
      entry("atext_completion", "text_completion"),
      entry("embedding", "embeddings"),
      entry("aembedding", "embeddings"),
      entry("image_generation", "image_generation"),
      entry("aimage_generation", "image_generation"),
      entry("moderation", "moderation"),
      entry("amoderation", "moderation"),
      entry("transcription", "audio_transcription"),
      entry("atranscription", "audio_transcription"),
      entry("speech", "audio_speech"),
      entry("aspeech", "audio_speech"),
      entry("rerank", "rerank"),
      entry("arerank", "rerank"));

  private LiteLlmSpendLogFormat() {}

  /** One file's rows, and each record's session id (kept here, never on the record). */
  private static final class FileRows {
    final Rows.Sink sink;
    final Map<UsageRecord, String> sessions = new IdentityHashMap<>();
    final String orgId;

    FileRows(String orgId, Rows.Sink sink) {
      this.orgId = orgId;
      this.sink = sink;
    }

    void row(int line, ObjectNode row) {
      sink.row(line, () -> incoming(orgId, row, sessions));
    }
  }

  static void parse(byte[] body, String orgId, Rows.Sink sink) {
    FileRows rows = new FileRows(orgId, sink);
    int first = firstNonBlank(body);
    if (first < 0) throw new IllegalArgumentException(NAME + ": the file is empty");
    if (body[first] == '[') {
      readArray(body, rows);
    } else if (isOneDocument(body)) {
      readDocument(body, rows);
    } else {
      readLines(body, rows);
    }
    markConversations(rows);
  }

  /** A JSON array of rows, read one row at a time. */
  private static void readArray(byte[] body, FileRows rows) {
    try (JsonParser p = Rows.JSON.getFactory().createParser(body)) {
      p.nextToken();
      readElements(p, rows);
      if (p.nextToken() != null) throw new IllegalArgumentException(NAME + ": unexpected content after the JSON array at " + Rows.where(p));
    } catch (JsonProcessingException e) {
      throw Rows.notJson(NAME, e, false);
    } catch (IOException e) {
      throw new IllegalArgumentException(NAME + ": the file could not be read");
    }
  }

  /**
   * One JSON object: a page {@code {"data":[rows], ...}} (LiteLLM's paginated endpoint), else a
   * single row. Both are streamed like an array, so not even one row's content becomes a tree.
   */
  private static void readDocument(byte[] body, FileRows rows) {
    boolean page = isPage(body);
    try (JsonParser p = Rows.JSON.getFactory().createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException(NAME + ": expected spend log rows (JSON objects), or a JSON array of them");
      }
      if (!page) {
        rows.row(1, LiteLlmAllowList.row(p));
        return;
      }
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        boolean data = p.currentName().equals("data");
        if (p.nextToken() == JsonToken.START_ARRAY && data) readElements(p, rows);
        else p.skipChildren();
      }
    } catch (JsonProcessingException e) {
      throw Rows.notJson(NAME, e, false);
    } catch (IOException e) {
      throw new IllegalArgumentException(NAME + ": the file could not be read");
    }
  }

  /** The rows of the array the parser is at (its START_ARRAY); the line of a row is its index. */
  private static void readElements(JsonParser p, FileRows rows) throws IOException {
    int index = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t == null) throw new IllegalArgumentException(NAME + ": the JSON array is not closed (the file ends early)");
      index++;
      if (t == JsonToken.START_OBJECT) {
        rows.row(index, LiteLlmAllowList.row(p));
      } else {
        p.skipChildren();
        rows.sink.error(index, "the row is not a JSON object");
      }
    }
  }

  /** Whether the object is a page: a {@code data} array at its top level (a spend log row has no such field). */
  private static boolean isPage(byte[] body) {
    try (JsonParser p = Rows.JSON.getFactory().createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return false;
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        boolean data = p.currentName().equals("data");
        if (p.nextToken() == JsonToken.START_ARRAY && data) return true;
        p.skipChildren();
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  /** ndjson: a row per line; a line that is not JSON is that line's error. */
  private static void readLines(byte[] body, FileRows rows) {
    int line = 0;
    int json = 0;
    int from = 0;
    while (from <= body.length) {
      int to = from;
      while (to < body.length && body[to] != '\n') to++;
      line++;
      if (!isBlank(body, from, to)) {
        try (JsonParser p = Rows.JSON.getFactory().createParser(body, from, to - from)) {
          if (p.nextToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            json++;
            rows.sink.error(line, "the row is not a JSON object");
          } else {
            ObjectNode row = LiteLlmAllowList.row(p);
            json++;
            if (p.nextToken() != null) rows.sink.error(line, "more than one JSON value on the line");
            else rows.row(line, row);
          }
        } catch (JsonProcessingException e) {
          // Only where: the parser's message could quote a prompt from a broken line.
          rows.sink.error(line, "not JSON" + Rows.jsonProblem(e, false, false));
        } catch (IOException e) {
          rows.sink.error(line, "could not be read");
        }
      }
      from = to + 1;
    }
    if (json == 0) throw new IllegalArgumentException(NAME + ": neither a JSON array of spend log rows nor JSON lines");
  }

  /** Whether the body is exactly one JSON value (not ndjson's several). */
  private static boolean isOneDocument(byte[] body) {
    try (JsonParser p = Rows.JSON.getFactory().createParser(body)) {
      p.nextToken();
      p.skipChildren();
      return p.nextToken() == null;
    } catch (IOException e) {
      return false;
    }
  }

  // ---- One row to a record ----

  static SpendIngest.Incoming incoming(String orgId, ObjectNode row, Map<UsageRecord, String> sessions) {
    String requestId = Rows.text(row, "request_id", 4096);
    if (requestId == null) throw new Rows.Bad("request_id: is required");
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = UsageRecord.Sources.LITELLM;
    r.sourceEventId = Rows.fitted(requestId);
    r.granularity = "event";
    r.requestCount = 1;

    Instant start = time(row, "startTime");
    if (start == null) throw new Rows.Bad("startTime: is required");
    Instant end = time(row, "endTime");
    if (end == null) end = start;
    if (end.isBefore(start)) throw new Rows.Bad("endTime: " + end + " is before startTime " + start);
    r.periodStart = start;
    r.periodEnd = end;
    r.durationMs = Duration.between(start, end).toMillis();
    Instant firstChunk = time(row, "completionStartTime");
    if (firstChunk != null && firstChunk.isBefore(end) && !firstChunk.isBefore(start)) {
      r.streaming = true;
      r.ttftMs = Duration.between(start, firstChunk).toMillis();
    }

    r.modelServed = Rows.text(row, "model", Rows.MODEL_MAX);
    r.modelRequested = Rows.text(row, "model_group", Rows.MODEL_MAX);
    String provider = Rows.text(row, "custom_llm_provider", Rows.PROVIDER_MAX);
    if (provider == null && r.modelServed != null && r.modelServed.indexOf('/') > 0) {
      provider = r.modelServed.substring(0, r.modelServed.indexOf('/'));
    }
    r.provider = Providers.normalize(provider);
    if (r.provider.length() > Rows.PROVIDER_MAX) throw new Rows.Bad("custom_llm_provider: longer than " + Rows.PROVIDER_MAX + " characters");
    String callType = Rows.text(row, "call_type", Rows.OPERATION_MAX);
    r.operation = callType == null ? null : OPERATIONS.getOrDefault(callType.toLowerCase(Locale.ROOT), callType.toLowerCase(Locale.ROOT));

    tokens(r, row);

    JsonNode spend = row.get("spend");
    if (!Rows.absent(spend) && !(spend.isTextual() && spend.asText().isBlank())) {
      r.costMicroUsd = Rows.microUsd("spend", Rows.decimal("spend", spend));
      r.costSource = UsageRecord.CostSources.GATEWAY;
    }

    String status = Rows.text(row, "status", 64);
    r.status = status != null && (status.equalsIgnoreCase("failure") || status.equalsIgnoreCase("error") || status.equalsIgnoreCase("failed"))
        ? "error" : "ok";

    JsonNode metadata = row.path("metadata");
    String endUser = Rows.text(row, "end_user", 512);
    String metaEndUser = Rows.text(metadata, "user_api_key_end_user_id", 512);
    if (endUser == null) endUser = metaEndUser;
    r.hasEndUser = endUser != null ? Boolean.TRUE : row.has("end_user") ? Boolean.FALSE : null;

    boolean cacheHit = cacheHit(row.get("cache_hit"));
    if (cacheHit) Rows.tag(r.tags, "cache_hit", "true");
    List<String[]> tags = requestTags(row.get("request_tags"));
    for (String[] t : tags) Rows.tag(r.tags, t[0], t[1]);

    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "litellm.team_id", first(Rows.text(row, "team_id", 512), Rows.text(metadata, "user_api_key_team_id", 512)));
    Rows.put(attrs, "litellm.team_alias", Rows.text(metadata, "user_api_key_team_alias", 512));
    Rows.put(attrs, "litellm.user", first(Rows.text(row, "user", 512), Rows.text(metadata, "user_api_key_user_id", 512)));
    Rows.put(attrs, "litellm.api_key", hashedKey(first(Rows.text(row, "api_key", 512), Rows.text(metadata, "user_api_key_hash", 512))));
    Rows.put(attrs, "litellm.key_alias", Rows.text(metadata, "user_api_key_alias", 512));
    Rows.put(attrs, "litellm.org_id", first(Rows.text(row, "organization_id", 512), Rows.text(metadata, "user_api_key_org_id", 512)));
    Rows.put(attrs, "litellm.end_user", endUser);
    Rows.put(attrs, "litellm.model_group", r.modelRequested);
    Rows.put(attrs, "litellm.model_id", Rows.text(row, "model_id", 512));
    Rows.put(attrs, "litellm.call_type", callType);
    Rows.put(attrs, "litellm.api_base", Rows.text(row, "api_base", 2048));
    if (cacheHit) attrs.put("litellm.cache_hit", "true");
    if (!tags.isEmpty()) {
      List<String> joined = new ArrayList<>();
      for (String[] t : tags) {
        joined.add(t[2]);
        attrs.put("litellm.tag." + t[0], t[1]);
      }
      attrs.put("litellm.tags", String.join(",", joined));
    }
    Rows.genAiAttributes(r, attrs);

    String session = Rows.text(row, "session_id", 512);
    if (session != null) sessions.put(r, session);
    return new SpendIngest.Incoming(r, attrs);
  }

  private static void tokens(UsageRecord r, ObjectNode row) {
    r.inputTokens = Rows.count(row, "prompt_tokens");
    r.outputTokens = Rows.count(row, "completion_tokens");
    JsonNode metadata = row.path("metadata");
    JsonNode usage = metadata.has("usage_object") ? metadata.get("usage_object") : metadata.path("additional_usage_values");
    JsonNode promptDetails = usage.path("prompt_tokens_details");
    r.cachedInputTokens = promptDetails.has("cached_tokens") && !Rows.absent(promptDetails.get("cached_tokens"))
        ? Rows.count(promptDetails, "cached_tokens") : Rows.count(usage, "cache_read_input_tokens");
    r.cacheWriteTokens = usage.has("cache_creation_input_tokens") && !Rows.absent(usage.get("cache_creation_input_tokens"))
        ? Rows.count(usage, "cache_creation_input_tokens") : Rows.count(promptDetails, "cache_creation_tokens");
    r.reasoningTokens = Rows.count(usage.path("completion_tokens_details"), "reasoning_tokens");
    if (r.cachedInputTokens > r.inputTokens) {
      throw new Rows.Bad("metadata.usage_object cached tokens (" + r.cachedInputTokens + ") are more than prompt_tokens ("
          + r.inputTokens + ")");
    }
    // Older LiteLLM left Anthropic's cache writes out of prompt_tokens, and some providers' reasoning
    // out of completion_tokens; the ledger counts both inside.
    if (r.inputTokens < Rows.plus("prompt_tokens", r.cachedInputTokens, r.cacheWriteTokens)) {
      r.inputTokens = Rows.plus("prompt_tokens", r.inputTokens, r.cacheWriteTokens);
    }
    if (r.outputTokens < r.reasoningTokens) r.outputTokens = Rows.plus("completion_tokens", r.outputTokens, r.reasoningTokens);
    Rows.checkTokens(r, "prompt_tokens", "cached_tokens", "cache_creation_input_tokens", "completion_tokens", "reasoning_tokens");
  }

  private static Instant time(JsonNode row, String field) {
    JsonNode v = row.get(field);
    if (Rows.absent(v) || (v.isTextual() && v.asText().isBlank())) return null;
    return Rows.lenientTime(field, v);
  }

  /** LiteLLM writes Python's {@code str(bool)}: "True", "False", or "None". */
  private static boolean cacheHit(JsonNode v) {
    if (Rows.absent(v)) return false;
    return v.isBoolean() ? v.booleanValue() : v.isTextual() && v.asText().strip().equalsIgnoreCase("true");
  }

  /** Each tag as {key, value, as written}: "k:v" is k=v, a bare tag is tag=true. */
  private static List<String[]> requestTags(JsonNode v) {
    List<String[]> out = new ArrayList<>();
    if (Rows.absent(v)) return out;
    if (!v.isArray()) {
      if (v.isTextual() && v.asText().isBlank()) return out;
      throw new Rows.Bad("request_tags: must be a list of strings");
    }
    for (JsonNode t : v) {
      String tag = t.asText().strip();
      if (tag.isEmpty()) continue;
      int colon = tag.indexOf(':');
      if (colon > 0 && colon < tag.length() - 1) out.add(new String[] {tag.substring(0, colon).strip(), tag.substring(colon + 1).strip(), tag});
      else out.add(new String[] {tag, "true", tag});
    }
    return out;
  }

  /** LiteLLM stores a key as its SHA-256; an export that still has the raw key gets the same digest. */
  private static String hashedKey(String key) {
    if (key == null) return null;
    return key.startsWith("sk-") ? Rows.sha256Hex(key) : key;
  }

  private static String first(String a, String b) {
    return a != null ? a : b;
  }

  /** A session id on two or more rows of the file: those rows are turns of one conversation. */
  private static void markConversations(FileRows rows) {
    Map<String, Integer> counts = new HashMap<>();
    for (String s : rows.sessions.values()) counts.merge(s, 1, Integer::sum);
    for (Map.Entry<UsageRecord, String> e : rows.sessions.entrySet()) {
      if (counts.get(e.getValue()) >= 2) e.getKey().hasConversation = true;
    }
  }

  private static int firstNonBlank(byte[] body) {
    int i = 0;
    // A UTF-8 byte order mark is not content.
    if (body.length >= 3 && (body[0] & 0xff) == 0xEF && (body[1] & 0xff) == 0xBB && (body[2] & 0xff) == 0xBF) i = 3;
    for (; i < body.length; i++) {
      if (!Character.isWhitespace(body[i])) return i;
    }
    return -1;
  }

  private static boolean isBlank(byte[] body, int from, int to) {
    for (int i = from; i < to; i++) {
      if (!Character.isWhitespace(body[i])) return false;
    }
    return true;
  }
}
