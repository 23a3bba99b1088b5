package io.keld.atlas.audit;

import java.time.Instant;

/**
 * One state-changing call: who (key), in which organization, did what (action) to what (target),
 * when, and how it ended. {@code outcome} is {@code ok}, {@code refused} (the rules said no, e.g. a
 * budget cap), {@code denied} (the key may not), or {@code failed} (bad input or an error).
 */
public record AuditEntry(long id, Instant at, String orgId, String keyId, String action, String target, String outcome,
    int status, String detail) {}
