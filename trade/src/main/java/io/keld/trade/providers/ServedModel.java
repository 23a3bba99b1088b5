package io.keld.trade.providers;

import java.time.Instant;
import java.util.List;

/**
 * A model a provider serves, for these use cases and in these regions.
 *
 * @param endpointId the endpoint that serves it, or null for the provider's first endpoint (the oldest)
 */
public record ServedModel(String orgId, String model, List<String> useCases, List<String> regions, String endpointId, Instant updatedAt) {}
