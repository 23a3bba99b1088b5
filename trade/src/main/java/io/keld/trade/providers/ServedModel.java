package io.keld.trade.providers;

import java.time.Instant;
import java.util.List;

/** A model a provider serves, for these use cases and in these regions. */
public record ServedModel(String orgId, String model, List<String> useCases, List<String> regions, Instant updatedAt) {}
