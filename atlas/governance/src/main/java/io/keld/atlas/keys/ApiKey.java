package io.keld.atlas.keys;

import io.keld.ixp.auth.Role;
import java.time.Instant;

/**
 * An API key as stored and listed: never the key itself, only its id and the last four characters
 * ({@code hint}) so a person can tell keys apart.
 */
public record ApiKey(String id, String orgId, String teamId, String projectId, Role role, String name, String hint,
    Instant createdAt, String createdBy, Instant revokedAt) {
}
