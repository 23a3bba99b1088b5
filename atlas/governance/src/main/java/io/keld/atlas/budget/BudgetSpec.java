package io.keld.atlas.budget;

import io.keld.kit.InvalidField;
import io.keld.ixp.CborSerializable;

/**
 * The limits of one scope (a team or a project) per calendar period. Every limit is optional.
 *
 * @param period          when spend resets (UTC calendar day or month)
 * @param hardCapMicroUsd a reservation that would take spent + reserved past it is refused
 * @param softCapMicroUsd crossing it raises one alert per period; nothing is refused
 * @param tokenQuota      a reservation that would take tokens spent + reserved past it is refused
 */
public record BudgetSpec(BudgetPeriod period, Long hardCapMicroUsd, Long softCapMicroUsd, Long tokenQuota)
    implements CborSerializable {

  public BudgetSpec {
    if (period == null) throw new InvalidField("period", "a budget needs a period: day or month");
    if (hardCapMicroUsd != null && hardCapMicroUsd < 0) throw new InvalidField("hard_cap_micro_usd", "hard_cap_micro_usd must not be negative");
    if (softCapMicroUsd != null && softCapMicroUsd < 0) throw new InvalidField("soft_cap_micro_usd", "soft_cap_micro_usd must not be negative");
    if (tokenQuota != null && tokenQuota < 0) throw new InvalidField("token_quota", "token_quota must not be negative");
    if (hardCapMicroUsd != null && softCapMicroUsd != null && softCapMicroUsd > hardCapMicroUsd) {
      throw new InvalidField("soft_cap_micro_usd", "soft_cap_micro_usd (" + softCapMicroUsd + ") must not exceed hard_cap_micro_usd (" + hardCapMicroUsd + ")");
    }
  }

  /** What a scope without a budget tracks against: a calendar month, no limits. */
  public static final BudgetSpec UNLIMITED_MONTHLY = new BudgetSpec(BudgetPeriod.MONTH, null, null, null);
}
