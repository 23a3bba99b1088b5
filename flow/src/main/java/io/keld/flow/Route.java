package io.keld.flow;

import io.keld.flow.client.ProviderEndpoint;
import java.util.Objects;

/** Where a job's items go: an endpoint, and the model name to ask it for. */
public record Route(ProviderEndpoint endpoint, String model) {

  public Route {
    Objects.requireNonNull(endpoint, "endpoint");
    Objects.requireNonNull(model, "model");
  }
}
