package io.keld.atlas.budget;

import io.keld.ixp.CborSerializable;

/**
 * Why a reservation was refused: the scope whose limit it would pass, the limit, and the figures
 * (micro-USD for a cost cap, tokens for a token quota) as they stood when it was decided.
 */
public record Refusal(String scopeId, ScopeKind scopeKind, Limit limit, long cap, long spent, long reserved,
    long requested, long periodStart, long periodEnd) implements CborSerializable {

  public enum Limit { COST, TOKENS }
}
