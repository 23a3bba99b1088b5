package io.keld.exchange.ixp;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.keld.ixp.jobs.ResultLine;
import java.util.UUID;

/**
 * A result line in OpenAI's Batch output format ({@code ?format=openai} on the data plane):
 * {@code {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}}, where
 * exactly one of {@code response} and {@code error} is null and {@code error} is OpenAI's
 * {@code BatchError} ({@code code}, {@code message}, {@code line}). Built as a tree so the nulls
 * OpenAI's schema requires are written (Keld's own JSON leaves absent members out).
 */
final class OpenAiBatchLines {

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private OpenAiBatchLines() {}

  static ObjectNode of(ResultLine r) {
    ObjectNode line = NODES.objectNode();
    line.put("id", "batch_req_" + UUID.randomUUID().toString().replace("-", ""));
    if (r.customId() != null) line.put("custom_id", r.customId());
    else line.putNull("custom_id");
    if (r.response() != null) {
      ObjectNode response = line.putObject("response");
      response.put("status_code", r.response().statusCode());
      // The provider's own id for the call, when it gave one: the closest thing to OpenAI's request id.
      String providerId = r.response().body() != null ? r.response().body().path("id").asText("") : "";
      response.put("request_id", providerId.isEmpty() ? "req_" + UUID.randomUUID().toString().replace("-", "") : providerId);
      response.set("body", r.response().body() == null ? NODES.nullNode() : r.response().body());
      line.putNull("error");
    } else {
      line.putNull("response");
      ObjectNode error = line.putObject("error");
      error.put("code", r.error().code());
      error.put("message", r.error().message());
      if (r.error().line() != null) error.put("line", r.error().line());
      else error.putNull("line");
    }
    return line;
  }
}
