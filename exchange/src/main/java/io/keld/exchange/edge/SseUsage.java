package io.keld.exchange.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.apache.pekko.util.ByteString;

/**
 * Reads the token usage out of a streamed chat completion as it passes through, without holding
 * the stream: only the current partial line is kept, and only {@code data:} lines that carry a
 * {@code usage} object are parsed. Counts chunks too, to estimate output when a provider sends no
 * usage.
 */
final class SseUsage {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final StringBuilder line = new StringBuilder();
  private long inputTokens;
  private long outputTokens;
  private boolean seen;
  private long chunks;

  void feed(ByteString bytes) {
    String text = bytes.decodeString(StandardCharsets.UTF_8);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n') {
        take(line.toString());
        line.setLength(0);
      } else if (line.length() < 1_048_576) {
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
      JsonNode u = JSON.readTree(data).path("usage");
      if (u.isObject()) {
        inputTokens = u.path("prompt_tokens").asLong(0);
        outputTokens = u.path("completion_tokens").asLong(0);
        seen = true;
      }
    } catch (Exception notJson) {
      // a chunk we cannot read is passed on untouched; it just tells us nothing
    }
  }

  long inputTokens(long estimate) {
    return seen ? inputTokens : estimate;
  }

  long outputTokens() {
    return seen ? outputTokens : chunks;
  }
}
