package io.keld.node.cli.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.kit.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The output file of a run: one result line per item, appended as results arrive. What it already
 * holds is what a re-run does not send again: each line's {@code custom_id} (or, for a line of the
 * input that had none, its line number) is a result key, and a key is written at most once. A line
 * cut off by an interrupted write is dropped on opening, so its item is sent again.
 */
final class ResultFile implements AutoCloseable {

  private static final ObjectMapper JSON = Json.PLAIN;

  private final Path path;
  /** Read by the upload's writer thread while results are appended on the reading thread. */
  private final Set<String> written = ConcurrentHashMap.newKeySet();
  private final OutputStream out;
  private volatile long succeeded;
  private volatile long failed;

  /** What one result line says, for the counts. */
  record Parsed(String key, boolean ok, long tokens) {}

  private ResultFile(Path path, OutputStream out) {
    this.path = path;
    this.out = out;
  }

  /** Opens (or creates) the file, reading the keys it already holds and cutting a half-written last line. */
  static ResultFile open(Path path) throws IOException {
    Set<String> keys = new HashSet<>();
    long ok = 0;
    long bad = 0;
    if (Files.exists(path)) {
      long complete = 0;
      long offset = 0;
      try (InputStream in = Files.newInputStream(path); BatchFile.LineReader reader = new BatchFile.LineReader(in)) {
        for (BatchFile.LineReader.Line line; (line = reader.next()) != null; ) {
          // Only a newline-terminated line counts: a kill may have cut the last one.
          if (!line.terminated()) break;
          offset += line.rawLength() + 1;
          complete = offset;
          if (line.blank()) continue;
          Parsed p = parse(new String(line.bytes(), StandardCharsets.UTF_8));
          if (p == null || p.key() == null) continue;
          if (keys.add(p.key())) {
            if (p.ok()) ok++;
            else bad++;
          }
        }
      }
      if (complete < Files.size(path)) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
          ch.truncate(complete);
        }
      }
    }
    ResultFile f = new ResultFile(path, Files.newOutputStream(path, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE));
    f.written.addAll(keys);
    f.succeeded = ok;
    f.failed = bad;
    return f;
  }

  /** The result key of an input line that has no custom_id of its own. */
  static String lineKey(long lineNo) {
    return "#line " + lineNo;
  }

  /** The key, success and tokens of a result line in either format; null if it is not one. */
  static Parsed parse(String line) {
    JsonNode n;
    try {
      n = JSON.readTree(line);
    } catch (IOException e) {
      return null;
    }
    if (n == null || !n.isObject()) return null;
    JsonNode id = n.get("custom_id");
    JsonNode error = n.get("error");
    String key = id != null && id.isTextual() ? id.asText()
        : error != null && error.hasNonNull("line") ? lineKey(error.get("line").asLong()) : null;
    JsonNode response = n.get("response");
    boolean ok = (error == null || error.isNull()) && response != null && response.isObject()
        && response.path("status_code").asInt(0) / 100 == 2;
    long tokens = response == null ? 0 : response.path("body").path("usage").path("total_tokens").asLong(0);
    return new Parsed(key, ok, tokens);
  }

  Set<String> keys() {
    return written;
  }

  boolean has(String key) {
    return written.contains(key);
  }

  long succeeded() {
    return succeeded;
  }

  long failed() {
    return failed;
  }

  /** Appends a result line unless its key is written already; true if it was written. */
  boolean append(Parsed p, String line) throws IOException {
    if (p.key() == null || !written.add(p.key())) return false;
    byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
    // One write per line, flushed: a kill loses at most the line being written, never half a line's key.
    out.write(bytes);
    out.flush();
    if (p.ok()) succeeded++;
    else failed++;
    return true;
  }

  /** The error result of a line that was not sent, in the file's format. */
  static String badLineResult(BatchFile.BadLine bad, BatchFile.Format format) {
    ObjectNode line = JSON.createObjectNode();
    String customId = bad.code().equals("duplicate_custom_id") ? null : bad.customId();
    if (format == BatchFile.Format.OPENAI) {
      line.put("id", "batch_req_" + UUID.randomUUID().toString().replace("-", ""));
      if (customId != null) line.put("custom_id", customId);
      else line.putNull("custom_id");
      line.putNull("response");
      line.putObject("error").put("code", bad.code()).put("message", bad.message()).put("line", bad.lineNo());
    } else {
      if (customId != null) line.put("custom_id", customId);
      line.putObject("error").put("type", "invalid_request_error").put("code", bad.code()).put("message", bad.message()).put("line", bad.lineNo());
    }
    return line.toString();
  }

  Path path() {
    return path;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
