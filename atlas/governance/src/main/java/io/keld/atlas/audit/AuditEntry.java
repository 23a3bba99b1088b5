package io.keld.atlas.audit;

import java.time.Instant;

/**
 * One state-changing call made with a valid key: who (key), in which organization, did what
 * (action) to what (target), when, and how it ended. {@code outcome} is {@code ok}, {@code refused}
 * (the rules said no, e.g. a budget cap), {@code denied} (the key may not, or cannot see the
 * target), or {@code failed} (bad input or an error). Keld's own alerts (a soft budget cap crossed)
 * are entries with outcome {@code alert} and no key. Calls without a valid key are answered 401 and
 * not logged here: there is no one to attribute them to.
 */
public record AuditEntry(long id, Instant at, String orgId, String keyId, String action, String target, String outcome,
    int status, String detail) {}
