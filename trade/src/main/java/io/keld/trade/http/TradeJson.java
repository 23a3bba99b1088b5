package io.keld.trade.http;

import io.keld.kit.InvalidField;
import io.keld.trade.providers.Endpoint;
import io.keld.trade.providers.ServedModel;
import java.net.URI;
import java.time.Instant;
import java.util.List;

/** The bodies of {@code /trade/v1} (snake_case on the wire). */
final class TradeJson {

  private TradeJson() {}

  record ListOf<T>(List<T> data) {}

  record CreateEndpoint(String name, String baseUrl, String credential) {
    CreateEndpoint {
      if (name == null || name.isBlank() || name.length() > 200) throw new InvalidField("name", "name is 1 to 200 characters");
      if (baseUrl == null) throw new InvalidField("base_url", "base_url is required (the OpenAI-compatible base URL, e.g. https://api.example.com/v1)");
      URI uri;
      try {
        uri = URI.create(baseUrl);
      } catch (IllegalArgumentException e) {
        throw new InvalidField("base_url", "base_url is not a URL");
      }
      if (!"https".equals(uri.getScheme()) && !"http".equals(uri.getScheme()) || uri.getHost() == null) {
        throw new InvalidField("base_url", "base_url must be an http or https URL with a host");
      }
      if (baseUrl.length() > 2000) throw new InvalidField("base_url", "base_url is at most 2000 characters");
      if (credential != null && (credential.isEmpty() || credential.length() > 2000)) {
        throw new InvalidField("credential", "credential is 1 to 2000 characters (or absent)");
      }
    }

    @Override
    public String toString() {
      return "CreateEndpoint[name=" + name + ", baseUrl=" + baseUrl + ", credential=<redacted>]";
    }
  }

  record EndpointView(String id, String name, String baseUrl, boolean hasCredential, String credentialHint, Instant createdAt) {
    static EndpointView of(Endpoint e) {
      return new EndpointView(e.id(), e.name(), e.baseUrl(), e.hasCredential(), e.credentialHint(), e.createdAt());
    }
  }

  /** @param endpointId optional: which of the provider's endpoints serves the model (absent: its first endpoint) */
  record PutModel(List<String> useCases, List<String> regions, String endpointId) {
    PutModel {
      if (endpointId != null && (endpointId.isBlank() || endpointId.length() > 64)) {
        throw new InvalidField("endpoint_id", "endpoint_id is the id of one of your endpoints (end_…), or absent for your first endpoint");
      }
      if (useCases == null || useCases.isEmpty()) throw new InvalidField("use_cases", "use_cases lists at least one use case");
      useCases = List.copyOf(useCases);
      regions = regions == null ? List.of() : List.copyOf(regions);
      for (String r : regions) {
        if (r == null || r.isBlank() || r.contains(",") || r.length() > 64) throw new InvalidField("regions", "a region is 1 to 64 characters, without commas");
      }
    }
  }

  /** {@code endpoint_id} is left out when the model is served by the provider's first endpoint. */
  record ModelView(String model, List<String> useCases, List<String> regions, String endpointId, Instant updatedAt) {
    static ModelView of(ServedModel m) {
      return new ModelView(m.model(), m.useCases(), m.regions(), m.endpointId(), m.updatedAt());
    }
  }

}
