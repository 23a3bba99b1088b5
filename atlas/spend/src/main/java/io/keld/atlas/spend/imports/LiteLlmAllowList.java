package io.keld.atlas.spend.imports;

import static java.util.Map.entry;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;

/**
 * The fields of a LiteLLM spend log row that {@link LiteLlmSpendLogFormat} reads, and the reader that
 * keeps only them. A row carries the prompt, the completion and the whole request; every field not
 * named here is skipped by the parser without being turned into a string, so content is in no record,
 * attribute, or error message.
 */
final class LiteLlmAllowList {

  // The allow-list. SCALAR: a string, number or boolean; SCALARS: a list of them; a map: an object
  // read by its own allow-list (or a string holding such an object, as a database export writes JSON
  // columns). Anything not named here is skipped unread.
  private static final String SCALAR = "scalar";
  private static final String SCALARS = "scalars";

  private static final Map<String, Object> USAGE = Map.of(
      "prompt_tokens", SCALAR,
      "completion_tokens", SCALAR,
      "cache_creation_input_tokens", SCALAR,
      "cache_read_input_tokens", SCALAR,
      "prompt_tokens_details", Map.of("cached_tokens", SCALAR, "cache_creation_tokens", SCALAR),
      "completion_tokens_details", Map.of("reasoning_tokens", SCALAR));

  private static final Map<String, Object> METADATA = Map.ofEntries(
      entry("user_api_key_team_id", SCALAR),
      entry("user_api_key_team_alias", SCALAR),
      entry("user_api_key_alias", SCALAR),
      entry("user_api_key_user_id", SCALAR),
      entry("user_api_key_org_id", SCALAR),
      entry("user_api_key_end_user_id", SCALAR),
      entry("user_api_key_hash", SCALAR),
      entry("usage_object", USAGE),
      entry("additional_usage_values", USAGE));

  private static final Map<String, Object> ROW = Map.ofEntries(
      entry("request_id", SCALAR),
      entry("call_type", SCALAR),
      entry("api_key", SCALAR),
      entry("spend", SCALAR),
      entry("prompt_tokens", SCALAR),
      entry("completion_tokens", SCALAR),
      entry("startTime", SCALAR),
      entry("endTime", SCALAR),
      entry("completionStartTime", SCALAR),
      entry("model", SCALAR),
      entry("model_id", SCALAR),
      entry("model_group", SCALAR),
      entry("custom_llm_provider", SCALAR),
      entry("api_base", SCALAR),
      entry("user", SCALAR),
      entry("team_id", SCALAR),
      entry("organization_id", SCALAR),
      entry("end_user", SCALAR),
      entry("session_id", SCALAR),
      entry("status", SCALAR),
      entry("cache_hit", SCALAR),
      entry("request_tags", SCALARS),
      entry("metadata", METADATA));

  private LiteLlmAllowList() {}

  /** The allowed fields of the spend log row the parser is at (its START_OBJECT), skipping the rest unread. */
  static ObjectNode row(JsonParser p) throws IOException {
    return allowed(p, ROW);
  }

  /** The allowed fields of the object the parser is at (its START_OBJECT), skipping the rest unread. */
  private static ObjectNode allowed(JsonParser p, Map<String, Object> allowList) throws IOException {
    ObjectNode out = Rows.JSON.createObjectNode();
    for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
      String name = p.currentName();
      JsonToken value = p.nextToken();
      Object rule = allowList.get(name);
      if (rule == null) {
        p.skipChildren();
      } else if (rule == SCALAR) {
        if (value.isScalarValue()) {
          out.set(name, p.readValueAsTree());
        } else {
          // Keep the shape, not the content, so the row can say the field has the wrong type.
          out.set(name, value == JsonToken.START_OBJECT ? Rows.JSON.createObjectNode() : Rows.JSON.createArrayNode());
          p.skipChildren();
        }
      } else if (rule == SCALARS) {
        out.set(name, scalars(p, value));
      } else {
        @SuppressWarnings("unchecked")
        Map<String, Object> nested = (Map<String, Object>) rule;
        if (value == JsonToken.START_OBJECT) {
          out.set(name, allowed(p, nested));
        } else if (value == JsonToken.VALUE_STRING) {
          ObjectNode decoded = decoded(p.getText(), nested);
          if (decoded != null) out.set(name, decoded);
        } else {
          p.skipChildren();
        }
      }
    }
    return out;
  }

  private static JsonNode scalars(JsonParser p, JsonToken value) throws IOException {
    if (value == JsonToken.START_ARRAY) {
      ArrayNode out = Rows.JSON.createArrayNode();
      for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
        if (t.isScalarValue()) out.add((JsonNode) p.readValueAsTree());
        else p.skipChildren();
      }
      return out;
    }
    if (value == JsonToken.VALUE_STRING && p.getText().strip().startsWith("[")) {
      // A JSON column exported as text: the list inside it.
      try (JsonParser q = Rows.JSON.getFactory().createParser(p.getText())) {
        return scalars(q, q.nextToken());
      } catch (JsonProcessingException e) {
        return Rows.JSON.getNodeFactory().textNode("");
      }
    }
    if (value.isScalarValue()) return p.readValueAsTree();
    p.skipChildren();
    return Rows.JSON.createObjectNode();
  }

  /** A JSON column exported as text ({@code metadata} in a database dump): the allowed part of the object inside. */
  private static ObjectNode decoded(String text, Map<String, Object> allowList) {
    try (JsonParser q = Rows.JSON.getFactory().createParser(text)) {
      return q.nextToken() == JsonToken.START_OBJECT ? allowed(q, allowList) : null;
    } catch (IOException e) {
      return null; // Not JSON: as if absent.
    }
  }
}
