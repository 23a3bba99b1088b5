package io.keld.atlas.spend.imports;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.Providers;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.Texts;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.HashSet;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * {@code atlas_csv} and {@code atlas_jsonl}: Atlas's own file format, for usage from anywhere else
 * (another gateway, an internal meter, a provider's invoice lines). A row is a ledger record, its
 * fields the ledger's in snake_case:
 *
 * <table>
 *   <caption>Fields</caption>
 *   <tr><td>source_event_id</td><td>required; the row's id in the file's system, at most 200
 *       characters. Importing the same id again counts once.</td></tr>
 *   <tr><td>period_start</td><td>required; RFC 3339 with an offset ({@code 2025-08-01T00:00:00Z})</td></tr>
 *   <tr><td>period_end</td><td>RFC 3339, not before period_start; default period_start for an
 *       event, start + one minute/hour/day for a bucket</td></tr>
 *   <tr><td>granularity</td><td>event (default), minute, hour, day</td></tr>
 *   <tr><td>request_count</td><td>default 1 for an event, 0 (not known) for a bucket</td></tr>
 *   <tr><td>provider</td><td>required; normalised ({@code bedrock} → {@code aws.bedrock} ...)</td></tr>
 *   <tr><td>model, model_requested, model_served</td><td>{@code model} is the served model unless
 *       model_served is given</td></tr>
 *   <tr><td>operation, service_tier, use_case, service_name</td><td>text</td></tr>
 *   <tr><td>input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
 *       reasoning_tokens</td><td>whole numbers ≥ 0 (default 0); input counts all input tokens,
 *       cached and cache-write are parts of it, reasoning is part of output</td></tr>
 *   <tr><td>cost_usd</td><td>a decimal with at most 6 places, ≥ 0; absent: priced by the price book</td></tr>
 *   <tr><td>cost_source</td><td>provider (default), gateway or computed; only read with a cost</td></tr>
 *   <tr><td>team_id, project_id, job_category, spend_class</td><td>set on the record as given
 *       (spend_class: capex or opex); the ingest checks them against the key's scope</td></tr>
 *   <tr><td>duration_ms, ttft_ms</td><td>whole numbers</td></tr>
 *   <tr><td>streaming, has_end_user, has_conversation</td><td>true or false</td></tr>
 *   <tr><td>status</td><td>ok (default) or error</td></tr>
 *   <tr><td>trace_id, span_id</td><td>hex, at most 32 and 16 characters</td></tr>
 *   <tr><td>tags</td><td>JSONL: an object of strings (or the CSV form); CSV: {@code k=v;k2=v2}. At
 *       most 32, names up to 64 and values up to 200 characters.</td></tr>
 *   <tr><td>attr.&lt;name&gt;</td><td>an attribute mapping rules match on
 *       ({@code attr.service.name}, {@code attr.deployment.environment} ...)</td></tr>
 * </table>
 *
 * <p>CSV has a header row naming the columns, in any order; an empty cell is an absent field.
 * JSONL has one object per line; null is an absent field. An unknown column or field fails the
 * whole file, naming it, so a misspelt column is never silently dropped. Rows are the source
 * {@code atlas_file}. Besides {@code attr.*}, a record's attributes carry {@code service.name} and the
 * {@code gen_ai.*} names.
 */
final class AtlasFileFormat {

  static final String CSV = "atlas_csv";
  static final String JSONL = "atlas_jsonl";
  static final String ATTR = "attr.";

  static final Set<String> FIELDS = Set.of("source_event_id", "period_start", "period_end", "granularity", "request_count", "provider",
      "model", "model_requested", "model_served", "operation", "service_tier", "use_case", "input_tokens", "cached_input_tokens",
      "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "cost_source", "team_id", "project_id", "job_category",
      "spend_class", "duration_ms", "ttft_ms", "streaming", "has_end_user", "has_conversation", "status", "service_name", "trace_id",
      "span_id", "tags");
  private static final Set<String> GRANULARITIES = Set.of("event", "minute", "hour", "day");
  private static final Set<String> COST_SOURCES = Set.of(UsageRecord.CostSources.PROVIDER, UsageRecord.CostSources.GATEWAY,
      UsageRecord.CostSources.COMPUTED);

  private static final Pattern HEX = Pattern.compile("[0-9a-fA-F]+");

  private AtlasFileFormat() {}

  // ---- CSV ----

  static void parseCsv(byte[] body, String orgId, Rows.Sink sink) {
    CsvReader csv = new CsvReader(utf8(body));
    CsvReader.Row header = csv.next();
    while (header != null && header.blank()) header = csv.next();
    if (header == null) throw new IllegalArgumentException(CSV + ": the file is empty (it needs a header row)");
    if (header.problem() != null) throw new IllegalArgumentException(CSV + ": the header row is not valid CSV: " + header.problem());
    List<String> columns = new ArrayList<>();
    for (String c : header.fields()) columns.add(c.strip());
    checkColumns(columns);

    for (CsvReader.Row row = csv.next(); row != null; row = csv.next()) {
      if (row.blank()) continue;
      if (row.problem() != null) {
        sink.error(row.line(), row.problem());
      } else if (row.fields().size() != columns.size()) {
        sink.error(row.line(), "expected " + columns.size() + " fields (as in the header), got " + row.fields().size());
      } else {
        Map<String, String> fields = new LinkedHashMap<>();
        for (int i = 0; i < columns.size(); i++) fields.put(columns.get(i), row.fields().get(i));
        sink.row(row.line(), () -> incoming(orgId, fields, csvTags(fields.get("tags"))));
      }
    }
  }

  private static void checkColumns(List<String> columns) {
    List<String> unknown = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String c : columns) {
      if (c.isEmpty()) throw new IllegalArgumentException(CSV + ": the header has an empty column name");
      if (!seen.add(c)) throw new IllegalArgumentException(CSV + ": the header names column " + Texts.clip(c) + " twice");
      if (!known(c)) unknown.add(Texts.clip(c));
    }
    if (!unknown.isEmpty()) throw unknownFields(CSV, "column", unknown);
    for (String required : List.of("source_event_id", "period_start", "provider")) {
      if (!columns.contains(required)) throw new IllegalArgumentException(CSV + ": the header has no " + required + " column (required)");
    }
  }

  /** {@code k=v;k2=v2}: a value may hold '=', neither may hold ';'. */
  private static Map<String, String> csvTags(String s) {
    Map<String, String> tags = new TreeMap<>();
    if (s == null || s.isBlank()) return tags;
    for (String part : s.split(";")) {
      if (part.isBlank()) continue;
      int eq = part.indexOf('=');
      if (eq <= 0) throw new Rows.Bad("tags: expected k=v pairs separated by ';', got " + Texts.clip(part.strip()));
      tags.put(part.substring(0, eq).strip(), part.substring(eq + 1).strip());
    }
    return tags;
  }

  // ---- JSONL ----

  static void parseJsonl(byte[] body, String orgId, Rows.Sink sink) {
    String text = utf8(body);
    Map<String, Integer> unknown = new TreeMap<>();
    int json = 0;
    String[] lines = text.split("\r?\n|\r", -1);
    for (int i = 0; i < lines.length; i++) {
      int line = i + 1;
      String l = i == 0 && lines[0].startsWith("\uFEFF") ? lines[0].substring(1) : lines[i];
      if (l.isBlank()) continue;
      JsonNode node;
      try (JsonParser p = Rows.JSON.getFactory().createParser(l)) {
        node = p.readValueAsTree();
        if (p.nextToken() != null) {
          sink.error(line, "more than one JSON value on the line");
          continue;
        }
      } catch (JsonProcessingException e) {
        sink.error(line, "not JSON" + Rows.jsonProblem(e, true, false));
        continue;
      } catch (IOException e) {
        sink.error(line, "could not be read");
        continue;
      }
      json++;
      if (node == null || !node.isObject()) {
        sink.error(line, "the line is not a JSON object");
        continue;
      }
      for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
        String name = names.next();
        if (!known(name)) unknown.putIfAbsent(Texts.clip(name), line);
      }
      if (!unknown.isEmpty()) continue; // The file fails below; no point reading further rows.
      sink.row(line, () -> {
        Map<String, String> fields = new LinkedHashMap<>();
        Map<String, String> tags = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> f = it.next();
          if (f.getKey().equals("tags")) tags = jsonTags(f.getValue());
          else fields.put(f.getKey(), scalar(f.getKey(), f.getValue()));
        }
        return incoming(orgId, fields, tags);
      });
    }
    if (!unknown.isEmpty()) {
      List<String> named = new ArrayList<>();
      unknown.forEach((name, line) -> named.add(name + " (line " + line + ")"));
      throw unknownFields(JSONL, "field", named);
    }
    if (json == 0 && sink.rows() > 0) throw new IllegalArgumentException(JSONL + ": no line of the file is JSON");
    if (sink.rows() == 0) throw new IllegalArgumentException(JSONL + ": the file is empty");
  }

  /** A field's value as text: numbers as written (never in exponent form), booleans as true/false. */
  private static String scalar(String field, JsonNode v) {
    if (Rows.absent(v)) return null;
    if (v.isContainerNode()) throw new Rows.Bad(field + ": must be a string, number or boolean, not " + Rows.kind(v));
    return v.isBigDecimal() ? v.decimalValue().toPlainString() : v.asText();
  }

  /** Tags as an object of strings (or, as in CSV, {@code k=v;k2=v2}). */
  private static Map<String, String> jsonTags(JsonNode v) {
    Map<String, String> tags = new TreeMap<>();
    if (Rows.absent(v)) return tags;
    if (v.isTextual()) return csvTags(v.asText());
    if (!v.isObject()) throw new Rows.Bad("tags: must be an object of strings, not " + Rows.kind(v));
    for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> t = it.next();
      if (Rows.absent(t.getValue())) continue;
      tags.put(t.getKey(), scalar("tags." + Texts.clip(t.getKey()), t.getValue()));
    }
    return tags;
  }

  // ---- Shared ----

  private static boolean known(String name) {
    return FIELDS.contains(name) || (name.startsWith(ATTR) && name.length() > ATTR.length());
  }

  private static IllegalArgumentException unknownFields(String format, String what, List<String> unknown) {
    return new IllegalArgumentException(format + ": unknown " + what + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown)
        + "; the known ones are " + String.join(", ", new TreeSet<>(FIELDS)) + " and attr.<name>");
  }

  private static String utf8(byte[] body) {
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("the file is not UTF-8 text");
    }
  }

  /** One row, its fields as text (absent, empty and blank are all "not given"). */
  static SpendIngest.Incoming incoming(String orgId, Map<String, String> raw, Map<String, String> tags) {
    Map<String, String> f = new HashMap<>();
    raw.forEach((k, v) -> {
      if (v != null && !v.isBlank()) f.put(k, v.strip());
    });
    UsageRecord r = new UsageRecord();
    r.orgId = orgId;
    r.source = UsageRecord.Sources.ATLAS_FILE;
    r.sourceEventId = required(f, "source_event_id", Rows.EVENT_ID_MAX);
    r.periodStart = Rows.rfc3339("period_start", required(f, "period_start", 100));
    r.granularity = oneOf(f, "granularity", GRANULARITIES, "event");
    if (f.containsKey("period_end")) {
      r.periodEnd = Rows.rfc3339("period_end", f.get("period_end"));
      if (r.periodEnd.isBefore(r.periodStart)) throw new Rows.Bad("period_end: " + r.periodEnd + " is before period_start " + r.periodStart);
    } else {
      r.periodEnd = r.periodStart.plus(width(r.granularity));
    }
    // One event is one request; a bucket that does not say how many requests it holds holds an
    // unknown number, recorded as 0 rather than guessed.
    r.requestCount = f.containsKey("request_count") ? count(f, "request_count") : r.granularity.equals("event") ? 1 : 0;

    String provider = required(f, "provider", Rows.PROVIDER_MAX);
    r.provider = Providers.normalize(provider);
    r.modelRequested = Rows.text("model_requested", f.get("model_requested"), Rows.MODEL_MAX);
    r.modelServed = Rows.text("model_served", f.get("model_served"), Rows.MODEL_MAX);
    if (r.modelServed == null) r.modelServed = Rows.text("model", f.get("model"), Rows.MODEL_MAX);
    r.operation = Rows.text("operation", f.get("operation"), Rows.OPERATION_MAX);
    r.serviceTier = Rows.text("service_tier", f.get("service_tier"), Rows.TIER_MAX);
    r.useCase = Rows.text("use_case", f.get("use_case"), Rows.ID_MAX);
    r.serviceName = Rows.text("service_name", f.get("service_name"), Rows.SERVICE_NAME_MAX);

    r.inputTokens = count(f, "input_tokens");
    r.cachedInputTokens = count(f, "cached_input_tokens");
    r.cacheWriteTokens = count(f, "cache_write_tokens");
    r.outputTokens = count(f, "output_tokens");
    r.reasoningTokens = count(f, "reasoning_tokens");
    Rows.checkTokens(r, "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens");

    if (f.containsKey("cost_usd")) {
      BigDecimal usd = Rows.decimal("cost_usd", f.get("cost_usd"));
      if (usd.stripTrailingZeros().scale() > 6) throw new Rows.Bad("cost_usd: more than 6 decimal places: " + Texts.clip(f.get("cost_usd")));
      r.costMicroUsd = Rows.microUsd("cost_usd", usd);
      r.costSource = oneOf(f, "cost_source", COST_SOURCES, UsageRecord.CostSources.PROVIDER);
    }

    r.teamId = Rows.text("team_id", f.get("team_id"), Rows.ID_MAX);
    r.projectId = Rows.text("project_id", f.get("project_id"), Rows.ID_MAX);
    r.jobCategory = Rows.text("job_category", f.get("job_category"), Rows.ID_MAX);
    if (r.jobCategory != null) r.jobCategorySource = "declared";
    if (f.containsKey("spend_class")) r.spendClass = oneOf(f, "spend_class", Set.of("capex", "opex"), null);
    r.durationMs = f.containsKey("duration_ms") ? (Long) count(f, "duration_ms") : null;
    r.ttftMs = f.containsKey("ttft_ms") ? (Long) count(f, "ttft_ms") : null;
    r.streaming = bool(f, "streaming");
    r.hasEndUser = bool(f, "has_end_user");
    r.hasConversation = bool(f, "has_conversation");
    r.status = oneOf(f, "status", Set.of("ok", "error"), "ok");
    r.traceId = hex(f, "trace_id", 32);
    r.spanId = hex(f, "span_id", 16);

    if (tags.size() > Rows.MAX_TAGS) throw new Rows.Bad("tags: at most " + Rows.MAX_TAGS + ", got " + tags.size());
    for (Map.Entry<String, String> t : tags.entrySet()) {
      if (t.getKey().isBlank()) throw new Rows.Bad("tags: a tag has an empty name");
      if (t.getKey().length() > Rows.TAG_KEY_MAX) {
        throw new Rows.Bad("tags: name longer than " + Rows.TAG_KEY_MAX + ": " + Texts.clip(t.getKey()));
      }
      if (t.getValue() != null && t.getValue().length() > Rows.TAG_VALUE_MAX) {
        throw new Rows.Bad("tags." + Texts.clip(t.getKey()) + ": longer than " + Rows.TAG_VALUE_MAX + " characters");
      }
      r.tags.put(t.getKey(), t.getValue() == null ? "" : t.getValue());
    }
    if (Rows.tagsJsonLength(r.tags) > Rows.TAGS_JSON_MAX) throw new Rows.Bad("tags: more than " + Rows.TAGS_JSON_MAX + " characters in all");

    Map<String, String> attrs = new HashMap<>();
    Rows.put(attrs, "service.name", r.serviceName);
    Rows.genAiAttributes(r, attrs);
    // The file's own attributes win over the derived ones.
    for (Map.Entry<String, String> e : f.entrySet()) {
      if (e.getKey().startsWith(ATTR)) attrs.put(e.getKey().substring(ATTR.length()), e.getValue());
    }
    return new SpendIngest.Incoming(r, attrs);
  }

  private static String required(Map<String, String> f, String field, int max) {
    String v = Rows.text(field, f.get(field), max);
    if (v == null) throw new Rows.Bad(field + ": is required");
    return v;
  }

  private static long count(Map<String, String> f, String field) {
    String v = f.get(field);
    return v == null ? 0 : Rows.count(field, v);
  }

  private static String oneOf(Map<String, String> f, String field, Set<String> allowed, String otherwise) {
    String v = f.get(field);
    if (v == null) return otherwise;
    String lower = v.toLowerCase(Locale.ROOT);
    if (!allowed.contains(lower)) {
      throw new Rows.Bad(field + ": must be one of " + String.join(", ", new TreeSet<>(allowed)) + ", got " + Texts.clip(v));
    }
    return lower;
  }

  private static Boolean bool(Map<String, String> f, String field) {
    String v = f.get(field);
    if (v == null) return null;
    if (v.equalsIgnoreCase("true")) return Boolean.TRUE;
    if (v.equalsIgnoreCase("false")) return Boolean.FALSE;
    throw new Rows.Bad(field + ": must be true or false, got " + Texts.clip(v));
  }

  private static String hex(Map<String, String> f, String field, int max) {
    String v = f.get(field);
    if (v == null) return null;
    if (v.length() > max || !HEX.matcher(v).matches()) {
      throw new Rows.Bad(field + ": must be hex, at most " + max + " characters: " + Texts.clip(v));
    }
    return v.toLowerCase(Locale.ROOT);
  }

  private static Duration width(String granularity) {
    switch (granularity) {
      case "minute": return Duration.ofMinutes(1);
      case "hour": return Duration.ofHours(1);
      case "day": return Duration.ofDays(1);
      default: return Duration.ZERO;
    }
  }
}
