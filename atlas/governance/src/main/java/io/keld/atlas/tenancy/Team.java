package io.keld.atlas.tenancy;

import java.time.Instant;

/** A team of an enterprise organization; the unit its budgets are kept in. */
public record Team(String id, String orgId, String name, Instant createdAt) {}
