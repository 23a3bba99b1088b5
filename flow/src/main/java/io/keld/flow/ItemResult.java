package io.keld.flow;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The one result of an item: the provider's response, or an error.
 *
 * <p>The response holds completion content: it is handed to the caller and never logged
 * ({@link #toString()} redacts it).
 *
 * @param endpointId the endpoint that answered last (null if none was tried)
 * @param attempts   requests sent for this item, retries included
 */
public record ItemResult(String customId, JsonNode response, ItemError error, Usage usage, String endpointId, String model,
    int attempts) {

  public boolean ok() {
    return error == null;
  }

  @Override
  public String toString() {
    return "ItemResult[customId=" + customId + ", ok=" + ok() + (error == null ? "" : ", error=" + error.type())
        + ", usage=" + usage + ", endpoint=" + endpointId + ", attempts=" + attempts + ", response=<redacted>]";
  }
}
