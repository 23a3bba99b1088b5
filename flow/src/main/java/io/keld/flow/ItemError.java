package io.keld.flow;

/**
 * Why an item has no response. {@code type} follows OpenAI's error types where the provider gave
 * one; Flow's own are {@code deadline_exceeded}, {@code cancelled}, {@code provider_unavailable} and
 * {@code duplicate_custom_id}.
 *
 * @param status the provider's HTTP status, or 0 when none was received
 */
public record ItemError(String type, String code, String message, int status) {

  public static ItemError of(String type, String message) {
    return new ItemError(type, null, message, 0);
  }
}
