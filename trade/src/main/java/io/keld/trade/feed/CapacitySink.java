package io.keld.trade.feed;

import io.keld.trade.providers.Endpoint;
import java.util.Optional;

/** Where a provider's live fleet limits for an endpoint go (the node hands them to Flow's pacing). */
@FunctionalInterface
public interface CapacitySink {

  /** @param credential the endpoint's credential in clear, for the data plane; never to be logged */
  void endpointCapacity(Endpoint endpoint, Optional<String> credential, int maxConcurrency, long tokensPerSecond);
}
