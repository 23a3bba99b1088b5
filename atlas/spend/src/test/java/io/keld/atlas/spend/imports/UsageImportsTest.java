package io.keld.atlas.spend.imports;

import static org.junit.jupiter.api.Assertions.*;

import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.UsageRecord;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The import formats read from realistic files: normalised tokens, costs, periods, ids, row errors, no content. */
class UsageImportsTest {

  static final String ORG = "org_acme";
  static final String CANARY = "CANARY-7f3a";

  static byte[] resource(String name) {
    try (InputStream in = UsageImportsTest.class.getResourceAsStream("/imports/" + name)) {
      assertNotNull(in, "test resource imports/" + name);
      return in.readAllBytes();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static UsageImports.Parsed parse(String format, String resource) {
    return UsageImports.parse(format, resource(resource), ORG);
  }

  static UsageImports.Parsed parseText(String format, String text) {
    return UsageImports.parse(format, text.getBytes(StandardCharsets.UTF_8), ORG);
  }

  static SpendIngest.Incoming find(UsageImports.Parsed p, Predicate<UsageRecord> which) {
    List<SpendIngest.Incoming> found = p.records().stream().filter(in -> which.test(in.record())).collect(Collectors.toList());
    assertEquals(1, found.size(), "exactly one record matches");
    return found.get(0);
  }

  static SpendIngest.Incoming byEventId(UsageImports.Parsed p, String id) {
    return find(p, r -> r.sourceEventId.equals(id));
  }

  static List<String> ids(UsageImports.Parsed p) {
    return p.records().stream().map(in -> in.record().sourceEventId).collect(Collectors.toList());
  }

  static Map<Integer, String> errors(UsageImports.Parsed p) {
    return p.errors().stream().collect(Collectors.toMap(UsageImports.LineError::line, UsageImports.LineError::reason));
  }

  static void assertDistinctIds(UsageImports.Parsed p) {
    assertEquals(p.records().size(), new HashSet<>(ids(p)).size(), "every record has its own source event id: " + ids(p));
  }

  static void assertError(UsageImports.Parsed p, int line, String... words) {
    String reason = errors(p).get(line);
    assertNotNull(reason, "an error on line " + line + "; errors: " + p.errors());
    for (String w : words) assertTrue(reason.contains(w), "line " + line + " reason '" + reason + "' should mention " + w);
  }

  // ---- OpenAI ----

  @Test
  void openAiCompletionsPage() {
    UsageImports.Parsed p = parse("openai_usage", "openai_completions_page.json");
    assertEquals(3, p.records().size(), "errors: " + p.errors());
    assertEquals(3, p.errors().size());

    // The api key id has no field of its own; it is part of the source event id and an attribute.
    SpendIngest.Incoming online = find(p, r -> r.sourceEventId.contains("|key_abc123|") && !"batch".equals(r.serviceTier));
    UsageRecord r = online.record();
    assertEquals(ORG, r.orgId);
    assertEquals(UsageRecord.Sources.OPENAI_USAGE, r.source);
    assertEquals(Instant.parse("2025-08-01T00:00:00Z"), r.periodStart);
    assertEquals(Instant.parse("2025-08-02T00:00:00Z"), r.periodEnd);
    assertEquals("day", r.granularity);
    assertEquals(4200, r.requestCount);
    assertEquals("openai", r.provider);
    assertEquals("gpt-4o-mini-2024-07-18", r.model());
    assertEquals("chat", r.operation);
    assertEquals("default", r.serviceTier);
    assertEquals(1_250_000, r.inputTokens, "OpenAI's input_tokens already include the cached ones");
    assertEquals(800_000, r.cachedInputTokens);
    assertEquals(0, r.cacheWriteTokens);
    assertEquals(310_000, r.outputTokens);
    assertNull(r.costMicroUsd, "the usage API states no cost: the price book prices it");
    assertNull(r.costSource);
    assertNull(r.teamId);
    assertNull(r.projectId, "OpenAI's project is an attribute for mapping rules, not a Keld project");
    assertNull(r.jobCategory);
    assertNull(r.spendClass);
    assertNull(r.streaming, "a bucket does not say whether its calls streamed");
    assertEquals("proj_search", online.attributes().get("openai.project_id"));
    assertEquals("key_abc123", online.attributes().get("openai.api_key_id"));
    assertFalse(online.attributes().containsKey("openai.user_id"), "null user_id is not an attribute");
    assertEquals("openai", online.attributes().get("gen_ai.provider.name"));
    assertEquals("gpt-4o-mini-2024-07-18", online.attributes().get("gen_ai.response.model"));

    UsageRecord batch = find(p, x -> "batch".equals(x.serviceTier)).record();
    assertEquals(9_000_000, batch.inputTokens);
    assertEquals(15_000, batch.requestCount);
    assertNotEquals(r.sourceEventId, batch.sourceEventId, "results that differ only in batch are different events");

    UsageRecord audio = find(p, x -> x.model().startsWith("gpt-4o-audio")).record();
    assertEquals(64_000, audio.inputTokens, "audio tokens are inside input_tokens, not added again");
    assertEquals("3000", audio.tags.get("input_audio_tokens"));
    assertEquals("1500", audio.tags.get("output_audio_tokens"));
    assertEquals(Instant.parse("2025-08-02T00:00:00Z"), audio.periodStart);

    // Result indexes across the file: 3 is cached > input, 5 negative output, 6 an images result.
    assertError(p, 3, "input_cached_tokens", "input_tokens");
    assertError(p, 5, "output_tokens", "negative");
    assertError(p, 6, "organization.usage.images.result");
    assertDistinctIds(p);
  }

  @Test
  void openAiArrayOfPagesWithEmbeddingsAndHourlyBuckets() {
    UsageImports.Parsed p = parse("openai_usage", "openai_pages.json");
    assertEquals(List.of(), p.errors());
    assertEquals(2, p.records().size());
    UsageRecord chat = find(p, r -> "chat".equals(r.operation)).record();
    assertEquals("hour", chat.granularity);
    assertEquals("flex", chat.serviceTier, "batch null: the service tier as stated");
    assertEquals(Instant.parse("2025-08-01T13:00:00Z"), chat.periodStart);
    UsageRecord emb = find(p, r -> "embeddings".equals(r.operation)).record();
    assertEquals(880_000, emb.inputTokens);
    assertEquals(0, emb.outputTokens);
    assertEquals(310, emb.requestCount);
    assertEquals("text-embedding-3-small", emb.model());
    assertNotEquals(chat.sourceEventId, emb.sourceEventId, "completions and embeddings of one bucket are different events");
  }

  @Test
  void sourceEventIdsAreStableAcrossImports() {
    for (String[] f : new String[][] {{"openai_usage", "openai_completions_page.json"}, {"openai_usage", "openai_pages.json"},
        {"anthropic_usage", "anthropic_usage.json"}, {"litellm_spend_logs", "litellm_spend_logs.json"},
        {"litellm_spend_logs", "litellm_spend_logs.ndjson"}, {"atlas_csv", "atlas_usage.csv"}, {"atlas_jsonl", "atlas_usage.jsonl"}}) {
      UsageImports.Parsed first = parse(f[0], f[1]);
      UsageImports.Parsed second = parse(f[0], f[1]);
      assertFalse(first.records().isEmpty(), f[1]);
      assertEquals(ids(first), ids(second), f[1] + ": the same file gives the same ids");
      assertDistinctIds(first);
      for (String id : ids(first)) assertTrue(id.length() <= 200, "fits the ledger's column: " + id);
    }
  }

  @Test
  void aLongGroupingKeyBecomesADigestThatIsStillStable() {
    String project = "proj_" + "x".repeat(150);
    String page = "{\"object\":\"page\",\"data\":[{\"object\":\"bucket\",\"start_time\":1754006400,\"end_time\":1754092800,\"results\":["
        + "{\"object\":\"organization.usage.completions.result\",\"input_tokens\":1,\"output_tokens\":1,\"num_model_requests\":1,"
        + "\"project_id\":\"" + project + "\",\"model\":\"gpt-4o\"},"
        + "{\"object\":\"organization.usage.completions.result\",\"input_tokens\":1,\"output_tokens\":1,\"num_model_requests\":1,"
        + "\"project_id\":\"" + project + "\",\"model\":\"gpt-4o-mini\"}]}]}";
    UsageImports.Parsed a = parseText("openai_usage", page);
    UsageImports.Parsed b = parseText("openai_usage", page);
    assertEquals(ids(a), ids(b));
    assertDistinctIds(a);
    for (String id : ids(a)) {
      assertTrue(id.startsWith("sha256:"), id);
      assertTrue(id.length() <= 200);
    }
  }

  @Test
  void openAiCacheWritesArePartsOfTheInput() {
    String page = "{\"object\":\"page\",\"data\":[{\"object\":\"bucket\",\"start_time\":1754006400,\"end_time\":1754006460,\"results\":["
        + "{\"object\":\"organization.usage.completions.result\",\"input_tokens\":1000,\"input_cached_tokens\":600,"
        + "\"input_cache_write_tokens\":150,\"input_cache_write_12h_tokens\":50,\"output_tokens\":9,\"num_model_requests\":3,"
        + "\"model\":\"gpt-5\"}]}]}";
    UsageRecord r = parseText("openai_usage", page).records().get(0).record();
    assertEquals("minute", r.granularity);
    assertEquals(1_000, r.inputTokens);
    assertEquals(600, r.cachedInputTokens);
    assertEquals(200, r.cacheWriteTokens);
  }

  // ---- Anthropic ----

  @Test
  void anthropicCacheTokensAreNormalisedToTheLedgersConvention() {
    UsageImports.Parsed p = parse("anthropic_usage", "anthropic_usage.json");
    assertEquals(3, p.records().size(), "errors: " + p.errors());

    SpendIngest.Incoming in = find(p, r -> "standard".equals(r.serviceTier) && r.model().startsWith("claude-sonnet"));
    UsageRecord r = in.record();
    assertEquals(UsageRecord.Sources.ANTHROPIC_USAGE, r.source);
    assertEquals("anthropic", r.provider);
    assertEquals("chat", r.operation);
    assertEquals(Instant.parse("2025-08-01T00:00:00Z"), r.periodStart);
    assertEquals(Instant.parse("2025-08-02T00:00:00Z"), r.periodEnd);
    assertEquals("day", r.granularity);
    // input = uncached 120,000 + cache read 900,000 + cache creation (1h 5,000 + 5m 25,000)
    assertEquals(1_050_000, r.inputTokens);
    assertEquals(900_000, r.cachedInputTokens);
    assertEquals(30_000, r.cacheWriteTokens);
    assertEquals(64_000, r.outputTokens);
    assertEquals(0, r.requestCount, "the report has no request count: 0, not a guess");
    assertNull(r.costMicroUsd);
    assertEquals("12", r.tags.get("web_search_requests"));
    assertEquals("0-200k", r.tags.get("context_window"));
    assertEquals("wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", in.attributes().get("anthropic.workspace_id"));
    assertEquals("apikey_01Rj2N8SVvo6BePZj99NhmiT", in.attributes().get("anthropic.api_key_id"));
    assertEquals("claude-sonnet-4-20250514", in.attributes().get("gen_ai.response.model"));

    UsageRecord batch = find(p, x -> "batch".equals(x.serviceTier)).record();
    assertEquals(2_000_000, batch.inputTokens);
    assertEquals(0, batch.cachedInputTokens);
    assertEquals(0, batch.cacheWriteTokens);
    assertFalse(batch.tags.containsKey("web_search_requests"), "no searches, no tag");
    assertNotEquals(r.sourceEventId, batch.sourceEventId, "results that differ only in service tier are different events");

    UsageRecord priority = find(p, x -> "priority".equals(x.serviceTier)).record();
    assertEquals(4_000 + 8_000 + 1_000, priority.inputTokens);
    assertEquals(8_000, priority.cachedInputTokens);
    assertEquals(1_000, priority.cacheWriteTokens);
    assertEquals(Instant.parse("2025-08-02T00:00:00Z"), priority.periodStart);

    assertError(p, 3, "uncached_input_tokens", "whole number");
    assertError(p, 5, "uncached_input_tokens", "required");
    assertEquals(2, p.errors().size());
  }

  @Test
  void anthropicHourlyBucketsAndFlatCacheCreation() {
    String report = "{\"data\":[{\"starting_at\":\"2025-08-01T10:00:00Z\",\"ending_at\":\"2025-08-01T11:00:00Z\",\"results\":["
        + "{\"uncached_input_tokens\":100,\"cache_read_input_tokens\":50,\"cache_creation_input_tokens\":25,\"output_tokens\":7,"
        + "\"model\":\"claude-3-5-haiku-20241022\"}]}],\"has_more\":false,\"next_page\":null}";
    UsageRecord r = parseText("anthropic_usage", report).records().get(0).record();
    assertEquals("hour", r.granularity);
    assertEquals(175, r.inputTokens);
    assertEquals(50, r.cachedInputTokens);
    assertEquals(25, r.cacheWriteTokens);
  }

  // ---- LiteLLM ----

  @Test
  void liteLlmSpendLogs() {
    UsageImports.Parsed p = parse("litellm_spend_logs", "litellm_spend_logs.json");
    assertEquals(4, p.records().size(), "errors: " + p.errors());

    SpendIngest.Incoming streamed = byEventId(p, "chatcmpl-9f2c1a7e-0b3d-4e8a-9c51-2d7e4b1f6a10");
    UsageRecord r = streamed.record();
    assertEquals(UsageRecord.Sources.LITELLM, r.source);
    assertEquals("event", r.granularity);
    assertEquals(1, r.requestCount);
    assertEquals(Instant.parse("2025-08-01T10:15:30.123Z"), r.periodStart);
    assertEquals(Instant.parse("2025-08-01T10:15:33.623Z"), r.periodEnd);
    assertEquals(3_500L, r.durationMs);
    assertEquals(400L, r.ttftMs, "completionStartTime − startTime");
    assertEquals(Boolean.TRUE, r.streaming);
    assertEquals("openai", r.provider);
    assertEquals("gpt-4o", r.modelRequested, "model_group: the name the client used");
    assertEquals("gpt-4o-2024-08-06", r.modelServed);
    assertEquals("chat", r.operation);
    assertEquals(1_200, r.inputTokens);
    assertEquals(1_024, r.cachedInputTokens);
    assertEquals(300, r.outputTokens);
    assertEquals(1_235L, r.costMicroUsd, "0.0012345678 USD, half up to micro-USD");
    assertEquals(UsageRecord.CostSources.GATEWAY, r.costSource);
    assertEquals(Boolean.TRUE, r.hasEndUser);
    assertEquals(Boolean.TRUE, r.hasConversation, "its session id is shared with another row");
    assertEquals("ok", r.status);
    assertNull(r.teamId, "LiteLLM's team is an attribute, not a Keld team");
    assertEquals(Map.of("prod", "true", "feature", "search"), r.tags);
    Map<String, String> a = streamed.attributes();
    assertEquals("team-search", a.get("litellm.team_id"));
    assertEquals("Search", a.get("litellm.team_alias"));
    assertEquals("search-prod", a.get("litellm.key_alias"));
    assertEquals("internal-user-7", a.get("litellm.user"));
    assertEquals("88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b", a.get("litellm.api_key"));
    assertEquals("gpt-4o", a.get("litellm.model_group"));
    assertEquals("customer-42", a.get("litellm.end_user"));
    assertEquals("prod,feature:search", a.get("litellm.tags"));
    assertEquals("search", a.get("litellm.tag.feature"));
    assertEquals("gpt-4o", a.get("gen_ai.request.model"));

    UsageRecord anthropic = byEventId(p, "msg_01XFDUDYJgAACzvnptvVoYEL").record();
    assertEquals("anthropic", anthropic.provider);
    assertEquals(5_000, anthropic.inputTokens, "LiteLLM's prompt_tokens already hold cache reads and writes");
    assertEquals(3_000, anthropic.cachedInputTokens);
    assertEquals(1_000, anthropic.cacheWriteTokens);
    assertEquals(800, anthropic.outputTokens);
    assertEquals(200, anthropic.reasoningTokens);
    assertEquals(12_300L, anthropic.costMicroUsd);
    assertNull(anthropic.streaming, "completionStartTime = endTime is LiteLLM's 'no first chunk seen'");
    assertNull(anthropic.ttftMs);
    assertEquals(Boolean.FALSE, anthropic.hasEndUser, "end_user empty");
    assertEquals(Boolean.TRUE, anthropic.hasConversation);

    UsageRecord cacheHit = find(p, x -> x.sourceEventId.contains("_cache_hit")).record();
    assertEquals(0L, cacheHit.costMicroUsd, "a LiteLLM cache hit keeps its stated spend");
    assertEquals(UsageRecord.CostSources.GATEWAY, cacheHit.costSource);
    assertEquals("true", cacheHit.tags.get("cache_hit"));
    assertEquals("true", cacheHit.tags.get("prod"), "request_tags as a JSON string (a database export)");
    assertEquals(1_200, cacheHit.inputTokens);
    assertEquals(Instant.parse("2025-08-01T10:16:40Z"), cacheHit.periodStart, "a time without an offset is UTC");
    assertNull(cacheHit.hasConversation, "LiteLLM makes up a session id per request: one row alone says nothing");

    SpendIngest.Incoming emb = byEventId(p, "emb-1b7e6c0a");
    assertEquals("embeddings", emb.record().operation);
    assertEquals("aws.bedrock", emb.record().provider, "no custom_llm_provider: the model's prefix, normalised");
    assertEquals(31L, emb.record().costMicroUsd);
    assertEquals("error", emb.record().status);
    assertNull(emb.record().hasEndUser, "no end_user column: unknown");
    assertEquals(Rows.sha256Hex("sk-1234-raw-key"), emb.attributes().get("litellm.api_key"),
        "a raw key is hashed as LiteLLM hashes it");
    assertFalse(emb.attributes().containsKey("litellm.team_id"), "an empty team is no attribute");

    assertError(p, 5, "request_id", "required");
    assertError(p, 6, "cached", "prompt_tokens");
    assertError(p, 7, "startTime");
    assertError(p, 8, "model", "must be a string");
    assertEquals(4, p.errors().size());
  }

  @Test
  void liteLlmNdjsonWithJsonColumnsAsText() {
    UsageImports.Parsed p = parse("litellm_spend_logs", "litellm_spend_logs.ndjson");
    assertEquals(2, p.records().size(), "errors: " + p.errors());
    SpendIngest.Incoming first = byEventId(p, "chatcmpl-nd-0001");
    UsageRecord r = first.record();
    assertEquals(512, r.cachedInputTokens, "metadata as a JSON string is read through the same allow-list");
    assertEquals(420L, r.costMicroUsd);
    assertEquals(250L, r.ttftMs);
    assertEquals("batch-jobs", first.attributes().get("litellm.key_alias"));
    assertEquals("reindex", r.tags.get("job"));
    assertEquals("true", r.tags.get("nightly"));

    UsageRecord azure = byEventId(p, "chatcmpl-nd-0003").record();
    assertEquals("azure.openai", azure.provider);
    assertEquals("text_completion", azure.operation);
    assertEquals(Boolean.TRUE, azure.hasEndUser);
    assertEquals(10L, azure.costMicroUsd);

    assertError(p, 3, "not JSON");
    assertError(p, 5, "not a JSON object");
    assertError(p, 6, "not JSON", "column");
    assertEquals(3, p.errors().size());
  }

  @Test
  void liteLlmSingleRowAndPagedResponse() {
    String row = "{\"request_id\":\"r-1\",\"call_type\":\"acompletion\",\"spend\":0.5,\"prompt_tokens\":3,\"completion_tokens\":4,"
        + "\"startTime\":\"2025-08-01T00:00:00Z\",\"model\":\"gpt-4o\",\"custom_llm_provider\":\"openai\"}";
    UsageImports.Parsed one = parseText("litellm_spend_logs", row);
    assertEquals(List.of("r-1"), ids(one));
    assertEquals(500_000L, one.records().get(0).record().costMicroUsd);

    String twoRows = "{\"data\":[" + row + "," + row.replace("r-1", "r-2") + "],\"total\":2,\"page\":1}";
    UsageImports.Parsed page = parseText("litellm_spend_logs", twoRows);
    assertEquals(List.of("r-1", "r-2"), ids(page));
  }

  @Test
  void contentNeverEntersARecordAnAttributeOrAnError() {
    for (String file : List.of("litellm_spend_logs.json", "litellm_spend_logs.ndjson")) {
      byte[] body = resource(file);
      String text = new String(body, StandardCharsets.UTF_8);
      assertTrue(text.split(CANARY, -1).length > 5, "the fixture carries the canary in content fields");
      UsageImports.Parsed p = UsageImports.parse("litellm_spend_logs", body, ORG);
      assertFalse(p.records().isEmpty());
      for (SpendIngest.Incoming in : p.records()) {
        for (Field f : UsageRecord.class.getFields()) {
          if (Modifier.isStatic(f.getModifiers())) continue;
          Object v;
          try {
            v = f.get(in.record());
          } catch (IllegalAccessException e) {
            throw new AssertionError(e);
          }
          assertFalse(String.valueOf(v).contains(CANARY), file + ": UsageRecord." + f.getName() + " carries content: " + v);
        }
        for (Map.Entry<String, String> a : in.attributes().entrySet()) {
          assertFalse(a.getKey().contains(CANARY) || a.getValue().contains(CANARY), file + ": attribute " + a.getKey() + " carries content");
        }
      }
      for (UsageImports.LineError e : p.errors()) assertFalse(e.reason().contains(CANARY), file + ": error carries content: " + e);
    }
    // A broken document is refused without quoting it.
    IllegalArgumentException broken = assertThrows(IllegalArgumentException.class,
        () -> parseText("litellm_spend_logs", "[{\"request_id\":\"a\",\"messages\": " + CANARY + " unquoted}]"));
    assertFalse(broken.getMessage().contains(CANARY), broken.getMessage());
  }

  // ---- Atlas CSV ----

  @Test
  void atlasCsv() {
    UsageImports.Parsed p = parse("atlas_csv", "atlas_usage.csv");
    assertEquals(List.of("inv-2025-08-001", "inv-2025-08-002", "inv-2025-08-003", "inv-2025-08-013"), ids(p), "errors: " + p.errors());

    SpendIngest.Incoming in = byEventId(p, "inv-2025-08-001");
    UsageRecord r = in.record();
    assertEquals(UsageRecord.Sources.ATLAS_FILE, r.source);
    assertEquals("aws.bedrock", r.provider);
    assertEquals("anthropic.claude-3-5-sonnet-20240620-v1:0", r.model());
    assertEquals("day", r.granularity);
    assertEquals(Instant.parse("2025-08-02T00:00:00Z"), r.periodEnd);
    assertEquals(1_200, r.requestCount);
    assertEquals(3_400_000, r.inputTokens);
    assertEquals(12_345_678L, r.costMicroUsd);
    assertEquals(UsageRecord.CostSources.PROVIDER, r.costSource);
    assertEquals("team_search", r.teamId);
    assertEquals("prj_rank", r.projectId);
    assertEquals("rerank", r.jobCategory);
    assertEquals("declared", r.jobCategorySource);
    assertEquals("opex", r.spendClass);
    assertEquals("ranker", r.serviceName);
    assertEquals(Map.of("env", "prod", "owner", "search, ranking"), r.tags, "a quoted field keeps its comma");
    assertEquals("ranker", in.attributes().get("service.name"));
    assertEquals("prod", in.attributes().get("deployment.environment"));

    SpendIngest.Incoming quoted = byEventId(p, "inv-2025-08-002");
    UsageRecord q = quoted.record();
    assertEquals(Instant.parse("2025-07-31T22:00:00Z"), q.periodStart, "the offset is honoured");
    assertEquals("hour", q.granularity);
    assertEquals(Instant.parse("2025-07-31T23:00:00Z"), q.periodEnd, "a bucket without an end lasts its granularity");
    assertEquals("mistral_ai", q.provider);
    assertEquals("summariser \"v2\"", q.serviceName, "doubled quotes are one quote");
    assertEquals(Map.of("note", "quoted \"value\"", "k", "a=b"), q.tags);
    assertEquals(Boolean.FALSE, q.streaming);
    assertNull(q.costMicroUsd, "no cost_usd: priced later");
    assertNull(q.costSource);
    assertEquals("summariser \"v2\"", quoted.attributes().get("service.name"));
    assertEquals("staging", quoted.attributes().get("deployment.environment"));

    SpendIngest.Incoming multi = byEventId(p, "inv-2025-08-003");
    UsageRecord m = multi.record();
    assertEquals("multi\nline attribute", multi.attributes().get("service.name"), "a quoted line break stays in the field");
    assertEquals(1_000, m.inputTokens);
    assertEquals(200, m.cachedInputTokens);
    assertEquals(100, m.cacheWriteTokens);
    assertEquals(10, m.reasoningTokens);
    assertEquals(4_200L, m.costMicroUsd);
    assertEquals(UsageRecord.CostSources.GATEWAY, m.costSource);
    assertEquals("priority", m.serviceTier);
    assertEquals("error", m.status);
    assertEquals(Boolean.TRUE, m.streaming);
    assertEquals(1, m.requestCount, "an event is one request");
    assertEquals(m.periodStart, m.periodEnd);

    UsageRecord last = byEventId(p, "inv-2025-08-013").record();
    assertEquals("event", last.granularity, "an empty granularity is an event");
    assertEquals("embeddings", last.operation);

    // The multi-line record starts on line 4 and ends on 5, so the next record is line 6.
    assertError(p, 6, "period_start", "RFC 3339");
    assertError(p, 7, "cached_input_tokens", "input_tokens");
    assertError(p, 8, "input_tokens", "negative");
    assertError(p, 9, "source_event_id", "required");
    assertError(p, 10, "cost_usd", "6 decimal places");
    assertError(p, 11, "spend_class", "capex");
    assertError(p, 12, "input_tokens", "whole number");
    assertError(p, 13, "column 3: text after the closing quote");
    assertError(p, 14, "expected 26 fields", "got 2");
    assertEquals(9, p.errors().size());
  }

  @Test
  void atlasCsvUnknownColumnsFailTheWholeFile() {
    String csv = "source_event_id,period_start,provider,inptu_tokens,attr.team,colour\ne1,2025-08-01T00:00:00Z,openai,5,search,red\n";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parseText("atlas_csv", csv));
    assertTrue(e.getMessage().contains("inptu_tokens") && e.getMessage().contains("colour"), e.getMessage());
    assertFalse(e.getMessage().contains("attr.team"), "attr.<name> columns are known");

    assertThrows(IllegalArgumentException.class, () -> parseText("atlas_csv", "source_event_id,period_start\ne1,2025-08-01T00:00:00Z\n"),
        "provider is a required column");
    assertThrows(IllegalArgumentException.class, () -> parseText("atlas_csv", ""));
    assertThrows(IllegalArgumentException.class, () -> parseText("atlas_csv", "source_event_id,provider,provider,period_start\n"));
  }

  @Test
  void atlasCsvWithCrLfAndAByteOrderMark() {
    String csv = "\uFEFFsource_event_id,period_start,provider,input_tokens,attr.note\r\n"
        + "e1,2025-08-01T00:00:00Z,openai,5,\"a, \"\"b\"\"\"\r\n"
        + "\r\n"
        + "e2,2025-08-01T00:00:00Z,openai,x,\r\n";
    UsageImports.Parsed p = parseText("atlas_csv", csv);
    assertEquals(List.of("e1"), ids(p));
    assertEquals("a, \"b\"", p.records().get(0).attributes().get("note"));
    assertError(p, 4, "input_tokens");
  }

  @Test
  void csvReaderFollowsRfc4180() {
    CsvReader r = new CsvReader("a,\"b,c\",\"d\"\"e\"\n\"multi\nline\",,\"\"\r\nlast");
    CsvReader.Row first = r.next();
    assertEquals(List.of("a", "b,c", "d\"e"), first.fields());
    assertEquals(1, first.line());
    CsvReader.Row second = r.next();
    assertEquals(List.of("multi\nline", "", ""), second.fields());
    assertEquals(2, second.line());
    assertNull(second.problem());
    CsvReader.Row third = r.next();
    assertEquals(List.of("last"), third.fields());
    assertEquals(4, third.line());
    assertNull(r.next());

    CsvReader.Row unclosed = new CsvReader("x,\"never closed\n").next();
    assertEquals("column 2: the quoted field is never closed", unclosed.problem());

    CsvReader malformed = new CsvReader("a,\"b\"x,\"c\"y\r\n\"d\"\t, \"e,f\" ,g\n");
    CsvReader.Row trailing = malformed.next();
    assertEquals(1, trailing.line());
    assertEquals("column 2: text after the closing quote", trailing.problem(), "the first malformed field is named");
    CsvReader.Row padded = malformed.next();
    assertEquals(2, padded.line(), "reading goes on with the next record");
    assertEquals(List.of("d", "e,f", "g"), padded.fields(), "spaces around a field are padding");
    assertNull(malformed.next());
  }

  // ---- Atlas JSONL ----

  @Test
  void atlasJsonl() {
    UsageImports.Parsed p = parse("atlas_jsonl", "atlas_usage.jsonl");
    assertEquals(List.of("meter-7781", "meter-7782"), ids(p), "errors: " + p.errors());

    SpendIngest.Incoming in = byEventId(p, "meter-7781");
    UsageRecord r = in.record();
    assertEquals("gcp.vertex_ai", r.provider);
    assertEquals("gemini-2.5-pro", r.modelRequested);
    assertEquals("gemini-2.5-pro-preview-06-05", r.modelServed);
    assertEquals("hour", r.granularity);
    assertEquals(84, r.requestCount);
    assertEquals(420_000, r.inputTokens);
    assertEquals(100_000, r.cachedInputTokens);
    assertEquals(36_000, r.outputTokens);
    assertEquals(12_000, r.reasoningTokens);
    assertEquals(1_230_000L, r.costMicroUsd);
    assertEquals(UsageRecord.CostSources.GATEWAY, r.costSource);
    assertEquals("prj_docs", r.projectId);
    assertEquals("capex", r.spendClass);
    assertEquals(Boolean.FALSE, r.hasEndUser);
    assertEquals(Boolean.TRUE, r.hasConversation);
    assertEquals(5_400L, r.durationMs);
    assertEquals(Map.of("pipeline", "docs-index", "run", "42"), r.tags);
    assertEquals("docs", in.attributes().get("k8s.namespace"));
    assertEquals("indexer", in.attributes().get("service.name"));

    UsageRecord second = byEventId(p, "meter-7782").record();
    assertEquals(Instant.parse("2025-08-01T09:00:00.500Z"), second.periodStart);
    assertEquals(second.periodStart, second.periodEnd);
    assertEquals("event", second.granularity);
    assertEquals(1, second.requestCount);
    assertEquals(1_200, second.inputTokens, "a count written as a string");
    assertEquals("gpt-4.1-mini", second.model());
    assertEquals(180L, second.ttftMs);
    assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", second.traceId);
    assertEquals(Map.of("tier", "gold"), second.tags);
    assertNull(second.costMicroUsd);

    assertError(p, 4, "cached_input_tokens");
    assertError(p, 5, "tags", "object");
    assertError(p, 6, "cost_usd", "negative");
    assertError(p, 7, "not JSON");
    assertError(p, 8, "period_end", "before");
    assertError(p, 9, "source_event_id", "required");
    assertError(p, 10, "status");
    assertEquals(7, p.errors().size());
  }

  @Test
  void atlasJsonlUnknownFieldsFailTheWholeFileNamingThem() {
    String jsonl = "{\"source_event_id\":\"a\",\"period_start\":\"2025-08-01T00:00:00Z\",\"provider\":\"openai\"}\n"
        + "{\"source_event_id\":\"b\",\"period_start\":\"2025-08-01T00:00:00Z\",\"provider\":\"openai\",\"ouput_tokens\":3}\n";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parseText("atlas_jsonl", jsonl));
    assertTrue(e.getMessage().contains("ouput_tokens") && e.getMessage().contains("line 2"), e.getMessage());
  }

  // ---- Whole-file problems ----

  @Test
  void unknownFormatNamesTheFormats() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parseText("excel", "x"));
    for (String f : UsageImports.FORMATS) assertTrue(e.getMessage().contains(f), e.getMessage());
  }

  @Test
  void unreadableDocumentsAreRefusedAsAWhole() {
    assertThrows(IllegalArgumentException.class, () -> parseText("openai_usage", "this is not json"));
    assertThrows(IllegalArgumentException.class, () -> parseText("openai_usage", "{\"object\":\"list\",\"items\":[]}"));
    assertThrows(IllegalArgumentException.class, () -> parseText("openai_usage", "[{\"object\":\"page\",\"data\":[]}"));
    assertThrows(IllegalArgumentException.class, () -> parseText("openai_usage", ""));
    assertThrows(IllegalArgumentException.class, () -> parseText("anthropic_usage", "{\"data\": 5}"));
    assertThrows(IllegalArgumentException.class, () -> parseText("litellm_spend_logs", "garbage\nmore garbage\n"));
    assertThrows(IllegalArgumentException.class, () -> parseText("litellm_spend_logs", "[{\"request_id\":\"a\"}"));
    assertThrows(IllegalArgumentException.class, () -> parseText("atlas_jsonl", "   \n"));
    assertThrows(IllegalArgumentException.class, () -> UsageImports.parse("atlas_csv", new byte[] {(byte) 0xC3, (byte) 0x28}, ORG),
        "not UTF-8");

    IllegalArgumentException mixedUp = assertThrows(IllegalArgumentException.class,
        () -> UsageImports.parse("openai_usage", resource("anthropic_usage.json"), ORG));
    assertTrue(mixedUp.getMessage().contains("anthropic_usage"), "suggests the right format: " + mixedUp.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> UsageImports.parse("anthropic_usage", resource("openai_pages.json"), ORG));
    assertTrue(other.getMessage().contains("openai_usage"), other.getMessage());

    IllegalArgumentException notJson = assertThrows(IllegalArgumentException.class, () -> parseText("openai_usage", "{\"data\": [1,}"));
    assertTrue(notJson.getMessage().contains("line 1"), notJson.getMessage());
  }

  @Test
  void anEmptyPageIsNoRecordsNotAnError() {
    UsageImports.Parsed p = parseText("openai_usage", "{\"object\":\"page\",\"data\":[],\"has_more\":false,\"next_page\":null}");
    assertEquals(List.of(), p.records());
    assertEquals(List.of(), p.errors());
  }

  @Test
  void aFileOverTheRowLimitIsRefused() {
    String header = "source_event_id,period_start,provider\n";
    String three = header + "a,2025-08-01T00:00:00Z,openai\nb,2025-08-01T00:00:00Z,openai\nc,nope,openai\n";
    UsageImports.Parsed ok = UsageImports.parse("atlas_csv", three.getBytes(StandardCharsets.UTF_8), ORG, 3);
    assertEquals(2, ok.records().size());
    assertEquals(1, ok.errors().size(), "bad rows count towards the limit too");
    String four = three + "d,2025-08-01T00:00:00Z,openai\n";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> UsageImports.parse("atlas_csv", four.getBytes(StandardCharsets.UTF_8), ORG, 3));
    assertTrue(e.getMessage().contains("more than 3 rows"), e.getMessage());
    assertEquals(1_000_000, UsageImports.MAX_ROWS);

    String page = "{\"object\":\"page\",\"data\":[{\"object\":\"bucket\",\"start_time\":1754006400,\"end_time\":1754092800,\"results\":["
        + "{},{},{},{}]}]}";
    assertThrows(IllegalArgumentException.class, () -> UsageImports.parse("openai_usage", page.getBytes(StandardCharsets.UTF_8), ORG, 3));
  }

  @Test
  void everyRecordIsCompleteEnoughForTheIngest() {
    Set<String> sources = new HashSet<>();
    for (String[] f : new String[][] {{"openai_usage", "openai_completions_page.json"}, {"anthropic_usage", "anthropic_usage.json"},
        {"litellm_spend_logs", "litellm_spend_logs.json"}, {"atlas_csv", "atlas_usage.csv"}, {"atlas_jsonl", "atlas_usage.jsonl"}}) {
      for (SpendIngest.Incoming in : parse(f[0], f[1]).records()) {
        UsageRecord r = in.record();
        assertEquals(ORG, r.orgId);
        assertNotNull(r.source);
        assertNotNull(r.sourceEventId);
        assertNotNull(r.periodStart);
        assertNotNull(r.periodEnd);
        assertFalse(r.periodEnd.isBefore(r.periodStart));
        assertNotNull(r.provider);
        assertNotNull(in.attributes());
        assertTrue(r.cachedInputTokens + r.cacheWriteTokens <= r.inputTokens, r.sourceEventId);
        assertTrue(r.reasoningTokens <= r.outputTokens, r.sourceEventId);
        assertTrue(r.costMicroUsd == null || r.costSource != null, r.sourceEventId);
        sources.add(r.source);
      }
    }
    assertEquals(Set.of("openai_usage", "anthropic_usage", "litellm", "atlas_file"), sources);
  }
}
