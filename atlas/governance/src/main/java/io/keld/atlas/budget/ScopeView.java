package io.keld.atlas.budget;

import io.keld.ixp.CborSerializable;

/**
 * A scope's budget and usage in its current period. {@code spec} is null when no budget is set (the
 * scope is still metered, by calendar month).
 */
public record ScopeView(String scopeId, ScopeKind kind, BudgetSpec spec, BudgetPeriod period, long periodStart,
    long periodEnd, long spentMicroUsd, long reservedMicroUsd, long tokensSpent, long tokensReserved,
    Long softCapAlertedAt) implements CborSerializable {}
