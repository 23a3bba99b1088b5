package io.keld.trade.providers;

import java.time.Instant;

/**
 * A provider's inference endpoint as the API shows it: never the credential, only whether there is
 * one and its last four characters.
 */
public record Endpoint(String id, String orgId, String name, String baseUrl, boolean hasCredential, String credentialHint,
    Instant createdAt) {}
