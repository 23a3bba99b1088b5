package io.keld.ixp.jobs;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One line of a data-plane answer: exactly one per uploaded item, with its {@code custom_id}, and
 * either the provider's response or an error. A line without {@code custom_id} reports a problem
 * with the upload itself (a line too long, too many items) and is the last line.
 */
public record ResultLine(String customId, Response response, Error error) {

  /** The provider's answer, as OpenAI's batch output carries it. */
  public record Response(int statusCode, JsonNode body) {}

  /**
   * @param line for an upload problem, the 1-based line number it concerns
   */
  public record Error(String type, String code, String message, Long line) {}
}
