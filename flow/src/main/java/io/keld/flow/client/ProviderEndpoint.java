package io.keld.flow.client;

import java.net.URI;
import java.util.Objects;

/**
 * An OpenAI-compatible inference endpoint of a provider.
 *
 * @param id         Keld's id of the endpoint (metrics and results name it)
 * @param baseUrl    the base URL, ending in {@code /v1} as OpenAI's does
 * @param credential the bearer token Keld presents, or null; held in memory and never printed
 */
public record ProviderEndpoint(String id, String baseUrl, String credential) {

  public ProviderEndpoint {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(baseUrl, "baseUrl");
    URI uri = URI.create(baseUrl);
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException("an endpoint's base URL must be http or https: " + baseUrl);
    }
    while (baseUrl.endsWith("/")) baseUrl = baseUrl.substring(0, baseUrl.length() - 1);
  }

  @Override
  public String toString() {
    return "ProviderEndpoint[id=" + id + ", baseUrl=" + baseUrl + ", credential=" + (credential == null ? "none" : "<redacted>") + "]";
  }
}
