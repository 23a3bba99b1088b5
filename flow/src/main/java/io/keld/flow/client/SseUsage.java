package io.keld.flow.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.keld.flow.Usage;
import io.keld.kit.Json;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.pekko.util.ByteString;

/**
 * Reads the token usage out of a streamed chat completion as it passes through, without holding
 * the stream: only the current partial line is kept, and only {@code data:} lines that carry a
 * {@code usage} object are parsed. Counts chunks too, to estimate output when a provider sends no
 * usage. One instance per stream, fed from one stage: it is not thread-safe.
 */
final class SseUsage {

  private static final ObjectMapper JSON = Json.PLAIN;
  /** A longer line is cut here: a usage chunk is small, and a runaway line must not grow memory. */
  private static final int MAX_LINE_CHARS = 1_048_576;

  private final StringBuilder line = new StringBuilder();
  private Usage usage;
  private long chunks;

  void feed(ByteString bytes) {
    String text = bytes.decodeString(StandardCharsets.UTF_8);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n') {
        take(line.toString());
        line.setLength(0);
      } else if (line.length() < MAX_LINE_CHARS) {
        line.append(c);
      }
    }
  }

  private void take(String l) {
    if (!l.startsWith("data:")) return;
    String data = l.substring(5).trim();
    if (data.equals("[DONE]") || data.isEmpty()) return;
    chunks++;
    if (!data.contains("\"usage\"")) return;
    try {
      ProviderClient.usageOf(JSON.readTree(data)).ifPresent(u -> usage = u);
    } catch (Exception notJson) {
      // a chunk we cannot read is passed on untouched; it just tells us nothing
    }
  }

  /** The usage of the last chunk that carried one. */
  Optional<Usage> usage() {
    return Optional.ofNullable(usage);
  }

  /** The {@code data:} events seen, {@code [DONE]} aside. */
  long chunks() {
    return chunks;
  }
}
