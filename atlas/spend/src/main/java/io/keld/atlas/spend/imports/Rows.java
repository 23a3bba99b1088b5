package io.keld.atlas.spend.imports;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.atlas.spend.SpendIngest;
import io.keld.atlas.spend.ledger.UsageRecord;
import io.keld.ixp.Texts;
import io.keld.kit.Json;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Supplier;
import io.keld.atlas.spend.ledger.Columns;
import java.time.DateTimeException;
import java.util.Locale;

/**
 * What the import formats share: reading JSON and values out of it, checking a value against the
 * ledger's column, building stable source event ids, and collecting one file's records and row errors.
 */
final class Rows {

  /** A problem with one row: becomes a {@link UsageImports.LineError}, the other rows still import. */
  static final class Bad extends RuntimeException {
    Bad(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * Duplicate keys are refused (which of two values would be meant?) and decimals are read as
   * {@link BigDecimal}, so a cost is never rounded through a double. Documents are read value by value
   * from a parser; each reader checks itself that nothing follows the document.
   */
  static final ObjectMapper JSON = Json.EXACT;

  /** The ledger's column widths (usage_records), so a long value is a row error rather than a failed insert. */
  static final int ID_MAX = 64;
  static final int EVENT_ID_MAX = 200;
  static final int PROVIDER_MAX = 64;
  static final int MODEL_MAX = 200;
  static final int OPERATION_MAX = 64;
  static final int TIER_MAX = 32;
  static final int SERVICE_NAME_MAX = 200;
  static final int TAGS_JSON_MAX = 4000;
  static final int MAX_TAGS = 32;
  static final int TAG_KEY_MAX = 64;
  static final int TAG_VALUE_MAX = 200;
  /** No single row states a billion dollars; a larger number is a unit mistake (cents, micros). */
  static final BigDecimal MAX_COST_USD = BigDecimal.valueOf(1_000_000_000L);

  private Rows() {}

  // ---- Collecting a file's rows ----

  /** One file's records and row errors, and the row limit. */
  static final class Sink {
    private final List<SpendIngest.Incoming> records = new ArrayList<>();
    private final List<UsageImports.LineError> errors = new ArrayList<>();
    private final int maxRows;
    private int rows;

    Sink(int maxRows) {
      this.maxRows = maxRows;
    }

    /** Counts a row against the limit, then adds what {@code read} builds, or its {@link Bad} reason. */
    void row(int line, Supplier<SpendIngest.Incoming> read) {
      count();
      try {
        records.add(read.get());
      } catch (Bad e) {
        errors.add(new UsageImports.LineError(line, e.getMessage()));
      } catch (ArithmeticException | DateTimeException e) {
        // Checks bound every number and time; this is the net under them, still one row's problem.
        errors.add(new UsageImports.LineError(line, "a number or time is out of range"));
      }
    }

    /** A row that could not be read at all (not JSON, not an object): counted, and an error. */
    void error(int line, String reason) {
      count();
      errors.add(new UsageImports.LineError(line, reason));
    }

    private void count() {
      if (++rows > maxRows) {
        throw new IllegalArgumentException("the file has more than " + maxRows + " rows; split it into smaller files");
      }
    }

    int rows() {
      return rows;
    }

    List<SpendIngest.Incoming> records() {
      return records;
    }

    UsageImports.Parsed parsed() {
      return new UsageImports.Parsed(List.copyOf(records), List.copyOf(errors));
    }
  }

  // ---- Reading JSON documents ----

  /**
   * Calls {@code each} for every top-level value: the elements of a JSON array, else the one value.
   * An array is read element by element so a large export is never one tree in memory.
   *
   * @throws IllegalArgumentException if the document is not JSON (the message says where)
   */
  static void eachTopLevel(byte[] body, String what, Consumer<JsonNode> each) {
    try (JsonParser p = JSON.getFactory().createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == null) throw new IllegalArgumentException(what + ": the file is empty");
      if (first == JsonToken.START_ARRAY) {
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
          if (t == null) throw new IllegalArgumentException(what + ": the JSON array is not closed (the file ends early)");
          each.accept(p.readValueAsTree());
        }
      } else {
        each.accept(p.readValueAsTree());
      }
      if (p.nextToken() != null) throw new IllegalArgumentException(what + ": unexpected content after the JSON document at " + where(p));
    } catch (JsonProcessingException e) {
      // Usage exports carry no content, so the parser's message may quote the input.
      throw notJson(what, e, true);
    } catch (IOException e) {
      throw new IllegalArgumentException(what + ": the file could not be read: " + Texts.clip(e.getMessage(), 120));
    }
  }

  /**
   * A document that does not parse, as a message that says where. The parser's own words follow
   * only when the file cannot hold content ({@code withDetail}): they may quote a stretch of the input.
   */
  static IllegalArgumentException notJson(String what, JsonProcessingException e, boolean withDetail) {
    return new IllegalArgumentException(what + ": not valid JSON" + jsonProblem(e, withDetail, true));
  }

  /** " at line L, column C" and, with detail, ": " and the parser's message without its source excerpt. */
  static String jsonProblem(JsonProcessingException e, boolean withDetail, boolean withLine) {
    StringBuilder sb = new StringBuilder();
    if (e.getLocation() != null) {
      sb.append(withLine ? " at line " + e.getLocation().getLineNr() + ", column " : " at column ").append(e.getLocation().getColumnNr());
    }
    if (withDetail && e instanceof JsonParseException && e.getOriginalMessage() != null) {
      String m = e.getOriginalMessage();
      int source = m.indexOf(" (start marker at");
      if (source < 0) source = m.indexOf(" at [Source");
      sb.append(": ").append(Texts.clip(source < 0 ? m : m.substring(0, source), 120));
    }
    return sb.toString();
  }

  static String where(JsonParser p) {
    return "line " + p.currentLocation().getLineNr() + ", column " + p.currentLocation().getColumnNr();
  }

  static boolean absent(JsonNode v) {
    return v == null || v.isNull() || v.isMissingNode();
  }

  // ---- Values ----

  /** A text field: null if absent or blank; numbers and booleans as written; too long is an error. */
  static String text(JsonNode node, String field, int max) {
    JsonNode v = node == null ? null : node.get(field);
    if (absent(v)) return null;
    if (v.isContainerNode()) throw new Bad(field + ": must be a string, not " + (v.isObject() ? "an object" : "an array"));
    return text(field, v.isBigDecimal() ? v.decimalValue().toPlainString() : v.asText(), max);
  }

  static String text(String field, String value, int max) {
    if (value == null || value.isBlank()) return null;
    String s = value.strip();
    if (s.length() > max) throw new Bad(field + ": longer than " + max + " characters: " + Texts.clip(s));
    return s;
  }

  /** A token or request count: absent is 0; it must be a whole number, not negative. */
  static long count(JsonNode node, String field) {
    JsonNode v = node == null ? null : node.get(field);
    if (absent(v)) return 0;
    return count(field, v);
  }

  /** A count the row must state. */
  static long requiredCount(JsonNode node, String field) {
    JsonNode v = node == null ? null : node.get(field);
    if (absent(v)) throw new Bad(field + ": is required");
    return count(field, v);
  }

  static long count(String field, JsonNode v) {
    if (v.isNumber()) return count(field, v.isIntegralNumber() ? new BigDecimal(v.bigIntegerValue()) : v.decimalValue());
    if (v.isTextual()) return count(field, v.asText());
    throw new Bad(field + ": must be a whole number, not " + kind(v));
  }

  static long count(String field, String s) {
    String t = s.strip();
    if (t.isEmpty()) return 0;
    BigDecimal d;
    try {
      d = new BigDecimal(t);
    } catch (NumberFormatException e) {
      throw new Bad(field + ": not a number: " + Texts.clip(t));
    }
    return count(field, d);
  }

  private static long count(String field, BigDecimal d) {
    if (d.signum() < 0) throw new Bad(field + ": must not be negative, got " + Texts.clip(d.toPlainString()));
    // 1200.0 is a whole number written by a tool that knows only floats; 1200.5 is not a count.
    if (d.stripTrailingZeros().scale() > 0) throw new Bad(field + ": must be a whole number, got " + Texts.clip(d.toPlainString()));
    // Ten trillion tokens in one row is no real usage; bounding it keeps every sum far from overflow.
    if (d.compareTo(BigDecimal.valueOf(Columns.MAX_TOKENS)) > 0) {
      throw new Bad(field + ": too large: " + Texts.clip(d.toPlainString()));
    }
    return d.toBigIntegerExact().longValueExact();
  }

  /** A sum of counts, which must still be a count. */
  static long plus(String what, long... parts) {
    long sum = 0;
    try {
      for (long x : parts) sum = Math.addExact(sum, x);
    } catch (ArithmeticException e) {
      throw new Bad(what + ": too large");
    }
    return sum;
  }

  /** An amount in USD to micro-USD (half up): not negative, at most a billion. */
  static long microUsd(String field, BigDecimal usd) {
    if (usd.signum() < 0) throw new Bad(field + ": must not be negative, got " + usd.toPlainString());
    if (usd.compareTo(MAX_COST_USD) > 0) throw new Bad(field + ": more than " + MAX_COST_USD + " USD in one row: " + usd.toPlainString());
    return usd.movePointRight(6).setScale(0, RoundingMode.HALF_UP).longValueExact();
  }

  static BigDecimal decimal(String field, JsonNode v) {
    if (v.isNumber()) return v.decimalValue();
    if (v.isTextual()) return decimal(field, v.asText());
    throw new Bad(field + ": must be a number, not " + kind(v));
  }

  static BigDecimal decimal(String field, String s) {
    try {
      return new BigDecimal(s.strip());
    } catch (NumberFormatException e) {
      throw new Bad(field + ": not a number: " + Texts.clip(s));
    }
  }

  static String kind(JsonNode v) {
    if (v.isObject()) return "an object";
    if (v.isArray()) return "an array";
    if (v.isBoolean()) return "a boolean";
    if (v.isTextual()) return "a string";
    return "a " + v.getNodeType().name().toLowerCase(Locale.ROOT);
  }

  /**
   * An RFC 3339 time, with a time and an offset ({@code 2025-08-01T00:00:00Z},
   * {@code 2025-08-01 02:00:00+02:00}).
   */
  static Instant rfc3339(String field, String s) {
    String t = s.strip();
    try {
      return inRange(field, OffsetDateTime.parse(normalizeSeparator(t), DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant());
    } catch (DateTimeParseException e) {
      throw new Bad(field + ": not an RFC 3339 time with an offset (like 2025-08-01T00:00:00Z): " + Texts.clip(t));
    }
  }

  /**
   * A time as gateways write it: RFC 3339, or without an offset (then UTC, as LiteLLM stores its
   * times), or seconds since the epoch.
   */
  static Instant lenientTime(String field, JsonNode v) {
    if (v.isNumber()) {
      BigDecimal seconds = v.decimalValue();
      if (seconds.signum() <= 0 || seconds.compareTo(BigDecimal.valueOf(32_503_680_000L)) >= 0) {
        throw new Bad(field + ": not a time in seconds since 1970: " + seconds.toPlainString());
      }
      BigDecimal nanos = seconds.movePointRight(9).setScale(0, RoundingMode.HALF_UP);
      return Instant.ofEpochSecond(0, nanos.longValueExact());
    }
    if (!v.isTextual()) throw new Bad(field + ": must be a time, not " + kind(v));
    String t = normalizeSeparator(v.asText().strip());
    try {
      return inRange(field, OffsetDateTime.parse(t, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant());
    } catch (DateTimeParseException e) {
      try {
        return inRange(field, LocalDateTime.parse(t, DateTimeFormatter.ISO_LOCAL_DATE_TIME).toInstant(ZoneOffset.UTC));
      } catch (DateTimeParseException e2) {
        throw new Bad(field + ": not a time (RFC 3339 like 2025-08-01T12:00:00Z): " + Texts.clip(t));
      }
    }
  }

  /** Usage happens between 1970 and 3000; a time outside is a mistake (and would overflow durations). */
  static Instant inRange(String field, Instant t) {
    if (t.isBefore(Instant.EPOCH) || !t.isBefore(LATEST)) throw new Bad(field + ": " + t + " is not a plausible time of usage");
    return t;
  }

  private static final Instant LATEST = Instant.parse("3000-01-01T00:00:00Z");

  /** RFC 3339 allows a space or a lower-case t between date and time, and a lower-case z. */
  private static String normalizeSeparator(String t) {
    if (t.length() > 10 && (t.charAt(10) == ' ' || t.charAt(10) == 't')) t = t.substring(0, 10) + 'T' + t.substring(11);
    if (t.endsWith("z")) t = t.substring(0, t.length() - 1) + 'Z';
    return t;
  }

  /** A bucket's granularity from its width: the ledger knows minute, hour and day buckets. */
  static String granularity(Instant start, Instant end) {
    long seconds = end.getEpochSecond() - start.getEpochSecond();
    if (seconds <= 0) throw new Bad("the bucket ends at or before its start (" + start + " .. " + end + ")");
    // A bucket cut short by the query's end is still a bucket of its width, so round up.
    if (seconds <= 60) return "minute";
    if (seconds <= 3_600) return "hour";
    if (seconds <= 86_400) return "day";
    throw new Bad("the bucket is wider than a day (" + start + " .. " + end + "); export with a bucket width of 1m, 1h or 1d");
  }

  // ---- Records ----

  /**
   * A source event id from a row's grouping fields, joined with {@code |} (escaped inside values),
   * so the same row of the same export always has the same id and any two rows differ. An id that
   * would not fit the ledger's column becomes {@code sha256:} and the digest of the joined form:
   * still stable, still distinct.
   */
  static String eventId(Object... parts) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < parts.length; i++) {
      if (i > 0) sb.append('|');
      String s = parts[i] == null ? "" : parts[i].toString();
      sb.append(s.replace("\\", "\\\\").replace("|", "\\|"));
    }
    return fitted(sb.toString());
  }

  /** An id as it is, or its digest if it is longer than the ledger's column. */
  static String fitted(String id) {
    return id.length() <= EVENT_ID_MAX ? id : "sha256:" + sha256Hex(id);
  }

  static String sha256Hex(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Cached and cache-write tokens are parts of the input, reasoning tokens part of the output (the ledger's convention). */
  static void checkTokens(UsageRecord r, String input, String cached, String cacheWrite, String output, String reasoning) {
    if (r.cachedInputTokens > r.inputTokens) {
      throw new Bad(cached + ": " + r.cachedInputTokens + " is more than " + input + " (" + r.inputTokens + ")");
    }
    long cacheParts = plus(cached + " + " + cacheWrite, r.cachedInputTokens, r.cacheWriteTokens);
    if (cacheParts > r.inputTokens) {
      throw new Bad(cached + " + " + cacheWrite + ": " + cacheParts + " is more than " + input + " (" + r.inputTokens + ")");
    }
    if (r.reasoningTokens > r.outputTokens) {
      throw new Bad(reasoning + ": " + r.reasoningTokens + " is more than " + output + " (" + r.outputTokens + ")");
    }
  }

  /**
   * Adds a tag if it still fits: at most {@value #MAX_TAGS} tags whose JSON fits the ledger's column;
   * keys and values are clipped as the OTLP source clips them. Returns whether it was added.
   */
  static boolean tag(Map<String, String> tags, String key, String value) {
    if (key == null || key.isBlank() || value == null || tags.size() >= MAX_TAGS) return false;
    String k = Texts.clip(key.strip(), TAG_KEY_MAX);
    String v = Texts.clip(value.strip(), TAG_VALUE_MAX);
    Map<String, String> next = new TreeMap<>(tags);
    next.put(k, v);
    if (tagsJsonLength(next) > TAGS_JSON_MAX) return false;
    tags.put(k, v);
    return true;
  }

  static int tagsJsonLength(Map<String, String> tags) {
    try {
      return JSON.writeValueAsString(tags).length();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The attributes every imported record carries besides its source's own: the GenAI semantic
   * conventions' names, so one mapping rule ({@code gen_ai.request.model: gpt-4o*}) places usage
   * whether it came from telemetry or from an export.
   */
  static void genAiAttributes(UsageRecord r, Map<String, String> attrs) {
    put(attrs, "gen_ai.provider.name", r.provider);
    put(attrs, "gen_ai.operation.name", r.operation);
    put(attrs, "gen_ai.request.model", r.modelRequested);
    put(attrs, "gen_ai.response.model", r.modelServed);
  }

  static void put(Map<String, String> attrs, String key, String value) {
    if (value != null && !value.isBlank()) attrs.put(key, value);
  }
}
