package io.keld.atlas.tenancy;

import java.time.Instant;

/** A project belongs to one team for life (its budget is kept with the team's). */
public record Project(String id, String orgId, String teamId, String name, Instant createdAt) {}
