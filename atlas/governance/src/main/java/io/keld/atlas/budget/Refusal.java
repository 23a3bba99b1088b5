package io.keld.atlas.budget;

import io.keld.ixp.CborSerializable;
import io.keld.ixp.problem.Problem;
import io.keld.ixp.problem.ProblemType;
import java.time.Instant;

/**
 * Why a reservation was refused: the scope whose limit it would pass, the limit, and the figures
 * (micro-USD for a cost cap, tokens for a token quota) as they stood when it was decided.
 */
public record Refusal(String scopeId, ScopeKind scopeKind, Limit limit, long cap, long spent, long reserved,
    long requested, long periodStart, long periodEnd) implements CborSerializable {

  public enum Limit { COST, TOKENS }

  /** The 402 a refused reservation gets: it names the scope, the cap, and what is spent and reserved. */
  public Problem problem() {
    boolean cost = limit == Limit.COST;
    String unit = cost ? "micro-USD" : "tokens";
    String detail = String.format(
        "reserving %d %s would exceed the %s of %s %s: %d %s (spent %d, reserved %d) for the period %s to %s",
        requested, unit, cost ? "hard cap" : "token quota", scopeKind.wire(), scopeId, cap, unit,
        spent, reserved, Instant.ofEpochMilli(periodStart), Instant.ofEpochMilli(periodEnd));
    return Problem.of(ProblemType.BUDGET_EXCEEDED, detail)
        .with("scope_id", scopeId)
        .with("scope_kind", scopeKind.wire())
        .with("limit", cost ? "hard_cap" : "token_quota")
        .with("unit", cost ? "micro_usd" : "tokens")
        .with("cap", cap)
        .with("spent", spent)
        .with("reserved", reserved)
        .with("requested", requested)
        .with("period_start", Instant.ofEpochMilli(periodStart).toString())
        .with("period_end", Instant.ofEpochMilli(periodEnd).toString());
  }
}
