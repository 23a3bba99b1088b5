package io.keld.node.cli.jobs;

import static io.keld.ixp.Texts.clip;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.kit.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A batch file on the user's machine: JSONL, one item a line, in OpenAI's Batch input format
 * ({@code {"custom_id", "method", "url", "body"}}) or Keld's ({@code {"custom_id", "body"}}, url and
 * method optional). It is read twice, as a stream, never held whole: once to check every line,
 * count the items, estimate their tokens and digest the bytes (before anything is submitted), and
 * once to send the items.
 *
 * <p><b>Token estimate.</b> No tokenizer is shipped: a prompt counts one token per 4 characters of
 * its text (OpenAI's rule of thumb for English), and a chat item adds its {@code max_tokens} (or
 * {@code max_completion_tokens}) for the answer, or {@value #DEFAULT_OUTPUT_TOKENS} when it sets
 * none. The job reserves its budget on this estimate and settles on the tokens actually used.
 */
final class BatchFile {

  /** The data plane's documented limits (keld.ixp.max-line-bytes, keld.ixp.max-items). */
  static final int MAX_LINE_BYTES = 1024 * 1024;
  static final int MAX_ITEMS = 100_000;
  static final int DEFAULT_OUTPUT_TOKENS = 256;
  static final String CHAT = "/v1/chat/completions";
  static final String EMBEDDINGS = "/v1/embeddings";

  private static final ObjectMapper JSON = Json.PLAIN;
  private static final Set<String> MEMBERS = Set.of("custom_id", "method", "url", "body");

  enum Format {
    OPENAI,
    KELD;

    static Format parse(String s) {
      return switch (s) {
        case "openai" -> OPENAI;
        case "keld" -> KELD;
        default -> throw new IllegalArgumentException("--format is openai or keld, not '" + s + "'");
      };
    }

    String wire() {
      return this == OPENAI ? "openai" : "keld";
    }
  }

  /** A line that is not sent: why, its 1-based number, and its custom_id when one could be read. */
  record BadLine(long lineNo, String customId, String code, String message) {

    /** The key its result has in the output file: a duplicate's custom_id belongs to its first line. */
    String resultKey() {
      return customId != null && !code.equals("duplicate_custom_id") ? customId : ResultFile.lineKey(lineNo);
    }
  }

  /** What the check found. */
  record Scan(Format format, String url, long lines, long items, long estimatedTokens, String sha256, List<BadLine> bad) {}

  /** One line that will be sent: its number, custom_id and bytes as they are in the file. */
  record Item(long lineNo, String customId, byte[] bytes) {}

  private final Path path;

  BatchFile(Path path) {
    this.path = path;
  }

  Path path() {
    return path;
  }

  /**
   * The first pass: the format (given, or from the first line: a line with {@code url} or
   * {@code method} is OpenAI's), the operation every item must share (given by the job's use case,
   * or the first good line's), every bad line, the item count, the token estimate and the digest.
   */
  Scan scan(Format given, String jobUrl) throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
    Format format = given;
    String url = jobUrl;
    List<BadLine> bad = new ArrayList<>();
    Map<String, Long> firstLine = new HashMap<>();
    long lines = 0;
    long items = 0;
    long tokens = 0;
    try (LineReader reader = new LineReader(new DigestInputStream(Files.newInputStream(path), sha))) {
      for (LineReader.Line line; (line = reader.next()) != null; ) {
        lines = line.no();
        if (line.blank()) continue;
        // Past the limit the file is refused: the rest is only counted, for the message.
        if (++items > MAX_ITEMS) continue;
        if (format == null) format = detect(line.bytes());
        Checked c = check(line, format, url, firstLine);
        if (c.bad() != null) {
          bad.add(c.bad());
          continue;
        }
        if (url == null) url = c.url();
        tokens += c.tokens();
      }
    }
    return new Scan(format == null ? Format.OPENAI : format, url == null ? CHAT : url, lines, items, tokens,
        HexFormat.of().formatHex(sha.digest()), bad);
  }

  /**
   * The second pass: the good lines whose custom_id is not in {@code answered}, as they are in the
   * file. The scan judged every line already; here a line's number says whether it was bad, and
   * only its custom_id is read (a streaming read, no tree), so sending costs little per line.
   */
  void forEachItem(Scan scan, Set<String> answered, ItemConsumer consumer) throws IOException {
    Set<Long> bad = new HashSet<>();
    for (BadLine b : scan.bad()) bad.add(b.lineNo());
    try (LineReader reader = new LineReader(Files.newInputStream(path))) {
      for (LineReader.Line line; (line = reader.next()) != null; ) {
        if (line.blank() || bad.contains(line.no())) continue;
        String customId = customIdOf(line.bytes());
        if (customId == null || answered.contains(customId)) continue;
        consumer.accept(new Item(line.no(), customId, line.bytes()));
      }
    }
  }

  /** The top-level custom_id of a line the scan found good. */
  private static String customIdOf(byte[] line) throws IOException {
    try (JsonParser p = JSON.getFactory().createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("custom_id") && value == JsonToken.VALUE_STRING) return p.getText();
        p.skipChildren();
      }
      return null;
    }
  }

  @FunctionalInterface
  interface ItemConsumer {
    void accept(Item item) throws IOException;
  }

  private record Checked(String customId, String url, long tokens, BadLine bad) {
    static Checked bad(long n, String customId, String code, String message) {
      return new Checked(customId, null, 0, new BadLine(n, customId, code, message));
    }
  }

  private static Format detect(byte[] line) {
    try {
      JsonNode n = JSON.readTree(line);
      return n != null && (n.has("url") || n.has("method")) ? Format.OPENAI : Format.KELD;
    } catch (IOException e) {
      return Format.OPENAI;
    }
  }

  private static Checked check(LineReader.Line line, Format format, String jobUrl, Map<String, Long> firstLine) {
    long n = line.no();
    if (line.tooLong()) return Checked.bad(n, null, "line_too_long", "line " + n + " is longer than 1 MiB (the data plane's limit)");
    JsonNode node;
    try {
      node = JSON.readTree(line.bytes());
    } catch (IOException e) {
      return Checked.bad(n, null, "invalid_line", "line " + n + " is not JSON");
    }
    if (node == null || !node.isObject()) return Checked.bad(n, null, "invalid_line", "line " + n + " is not a JSON object");
    JsonNode id = node.get("custom_id");
    if (id == null || !id.isTextual() || id.asText().isEmpty() || id.asText().length() > 256) {
      return Checked.bad(n, null, "invalid_line", "line " + n + " needs a custom_id: a string of 1 to 256 characters");
    }
    String customId = id.asText();
    Long first = firstLine.putIfAbsent(customId, n);
    if (first != null) {
      return Checked.bad(n, customId, "duplicate_custom_id", "line " + n + " repeats custom_id '" + clip(customId) + "' of line " + first);
    }
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String f = names.next();
      if (!MEMBERS.contains(f)) {
        return Checked.bad(n, customId, "invalid_line", "line " + n + " has an unknown member '" + clip(f) + "'; a line has custom_id, method, url and body");
      }
    }
    JsonNode body = node.get("body");
    if (body == null || !body.isObject()) return Checked.bad(n, customId, "invalid_line", "line " + n + " needs a body: a JSON object");
    JsonNode method = node.get("method");
    if (format == Format.OPENAI && (method == null || !method.isTextual())) {
      return Checked.bad(n, customId, "invalid_line", "line " + n + " needs \"method\": \"POST\" (OpenAI's batch format)");
    }
    if (method != null && !"POST".equals(method.asText())) return Checked.bad(n, customId, "invalid_line", "line " + n + ": method must be POST");
    JsonNode urlNode = node.get("url");
    String url;
    if (urlNode != null && !urlNode.isNull()) {
      url = urlNode.asText();
      if (!url.equals(CHAT) && !url.equals(EMBEDDINGS)) {
        return Checked.bad(n, customId, "invalid_line", "line " + n + ": url must be " + CHAT + " or " + EMBEDDINGS);
      }
    } else if (format == Format.OPENAI) {
      return Checked.bad(n, customId, "invalid_line", "line " + n + " needs a url (" + CHAT + " or " + EMBEDDINGS + "; OpenAI's batch format)");
    } else {
      url = body.has("input") ? EMBEDDINGS : CHAT;
    }
    if (jobUrl != null && !url.equals(jobUrl)) {
      return Checked.bad(n, customId, "url_mismatch", "line " + n + " is for " + url + " but the job runs " + jobUrl
          + " (the use case decides: embed runs " + EMBEDDINGS + ", the others " + CHAT + ")");
    }
    if (url.equals(CHAT)) {
      JsonNode messages = body.get("messages");
      if (messages == null || !messages.isArray()) return Checked.bad(n, customId, "invalid_line", "line " + n + ": a chat body needs messages, an array");
      long chars = 0;
      for (JsonNode m : messages) chars += textLength(m.get("content"));
      long output = body.path("max_tokens").asLong(body.path("max_completion_tokens").asLong(DEFAULT_OUTPUT_TOKENS));
      return new Checked(customId, url, tokensOf(chars) + Math.max(0, output), null);
    }
    JsonNode input = body.get("input");
    if (input == null) return Checked.bad(n, customId, "invalid_line", "line " + n + ": an embeddings body needs input");
    return new Checked(customId, url, tokensOf(textLength(input)), null);
  }

  /** Characters of text in a message's content: a string, or an array of parts with text. */
  private static long textLength(JsonNode content) {
    if (content == null) return 0;
    if (content.isTextual()) return content.asText().length();
    long n = 0;
    if (content.isArray()) {
      for (JsonNode part : content) n += part.isTextual() ? part.asText().length() : part.path("text").asText("").length();
    }
    return n;
  }

  private static long tokensOf(long chars) {
    return Math.max(1, (chars + 3) / 4);
  }

  /** Lines as bytes, with their numbers; a line over the limit is skipped to its end and marked. */
  static final class LineReader implements AutoCloseable {
    record Line(long no, byte[] bytes, boolean tooLong, long rawLength, boolean terminated) {
      boolean blank() {
        if (tooLong) return false;
        for (byte b : bytes) if (b != ' ' && b != '\t' && b != '\r') return false;
        return true;
      }
    }

    private final InputStream in;
    private final byte[] buffer = new byte[64 * 1024];
    private int pos;
    private int limit;
    private final ByteArrayOutputStream current = new ByteArrayOutputStream(4096);
    private long no;

    LineReader(InputStream in) {
      this.in = in;
    }

    Line next() throws IOException {
      current.reset();
      boolean tooLong = false;
      boolean any = false;
      boolean ended = false;
      long raw = 0;
      while (!ended) {
        if (pos == limit) {
          limit = in.read(buffer);
          pos = 0;
          if (limit <= 0) {
            limit = 0;
            break;
          }
        }
        any = true;
        int start = pos;
        while (pos < limit && buffer[pos] != '\n') pos++;
        raw += pos - start;
        if (!tooLong) {
          current.write(buffer, start, pos - start);
          if (current.size() > MAX_LINE_BYTES) {
            tooLong = true;
            current.reset();
          }
        }
        if (pos < limit) {
          pos++; // the newline
          ended = true;
        }
      }
      if (!any) return null;
      no++;
      byte[] bytes = current.toByteArray();
      int len = bytes.length;
      if (len > 0 && bytes[len - 1] == '\r') bytes = Arrays.copyOf(bytes, len - 1);
      return new Line(no, bytes, tooLong, raw, ended);
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
