package io.keld.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * One unit of work: an OpenAI-compatible request body and the caller's id for it.
 *
 * <p>The body holds prompt content. It lives in memory only while the item is queued or in flight,
 * and {@link #toString()} never prints it, so an item logged by mistake leaks nothing.
 *
 * @param customId        the caller's id; each yields exactly one {@link ItemResult}
 * @param operation       chat completions or embeddings
 * @param body            the request body; its {@code model} is replaced by the route's model on dispatch
 * @param estimatedTokens input plus expected output tokens: the item's weight in micro-batches and
 *                        against a fleet's tokens-per-second limit
 */
public record Item(String customId, Operation operation, ObjectNode body, long estimatedTokens) {

  /** Output tokens assumed for a chat request that sets no {@code max_tokens}. */
  public static final long DEFAULT_OUTPUT_TOKENS = 256;

  public Item {
    Objects.requireNonNull(customId, "customId");
    Objects.requireNonNull(operation, "operation");
    Objects.requireNonNull(body, "body");
    if (estimatedTokens < 1) throw new IllegalArgumentException("estimatedTokens must be at least 1");
  }

  /** An item whose weight is estimated from its body (about four characters per token). */
  public static Item of(String customId, Operation operation, ObjectNode body) {
    return new Item(customId, operation, body, estimate(operation, body));
  }

  /** Input tokens (characters / 4) plus the output the request allows (chat) or none (embeddings). */
  public static long estimate(Operation operation, JsonNode body) {
    long chars = 0;
    if (operation == Operation.EMBEDDINGS) {
      JsonNode input = body.path("input");
      if (input.isTextual()) chars = input.asText().length();
      else for (JsonNode i : input) chars += i.asText().length();
      return Math.max(1, chars / 4);
    }
    for (JsonNode m : body.path("messages")) chars += m.path("content").asText().length() + 4;
    long output = DEFAULT_OUTPUT_TOKENS;
    if (body.hasNonNull("max_tokens")) output = body.get("max_tokens").asLong();
    else if (body.hasNonNull("max_completion_tokens")) output = body.get("max_completion_tokens").asLong();
    return Math.max(1, chars / 4 + Math.max(0, output));
  }

  @Override
  public String toString() {
    return "Item[customId=" + customId + ", operation=" + operation + ", estimatedTokens=" + estimatedTokens + ", body=<redacted>]";
  }
}
