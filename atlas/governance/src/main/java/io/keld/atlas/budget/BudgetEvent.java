package io.keld.atlas.budget;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.keld.ixp.CborSerializable;

/**
 * What a team's budgets persist. Every event carries its time ({@code at}, epoch millis): period
 * roll-over is derived from it, so replay reaches exactly the state the entity had.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = BudgetEvent.BudgetSet.class, name = "set"),
  @JsonSubTypes.Type(value = BudgetEvent.BudgetRemoved.class, name = "removed"),
  @JsonSubTypes.Type(value = BudgetEvent.Reserved.class, name = "reserved"),
  @JsonSubTypes.Type(value = BudgetEvent.Settled.class, name = "settled"),
  @JsonSubTypes.Type(value = BudgetEvent.Released.class, name = "released"),
  @JsonSubTypes.Type(value = BudgetEvent.SoftCapCrossed.class, name = "soft-cap-crossed"),
})
public sealed interface BudgetEvent extends CborSerializable {

  /**
   * The tag of {@link SoftCapCrossed} events, and of no other: the alert's audit row is a projection
   * of them (governance's {@code SoftCapAlerts}). Reservations and settlements, the budgets' busy
   * path, carry no tag, so they cost no tag row.
   */
  String ALERTS_TAG = "budget-alerts";

  long at();

  record BudgetSet(String scopeId, ScopeKind kind, BudgetSpec spec, long at) implements BudgetEvent {}

  record BudgetRemoved(String scopeId, long at) implements BudgetEvent {}

  /** Holds {@code amountMicroUsd} and {@code tokens} on the project and its team together. */
  record Reserved(String reservationId, String projectId, long amountMicroUsd, long tokens, long at) implements BudgetEvent {}

  /** The reservation becomes actual spend; the rest of what it held is freed. */
  record Settled(String reservationId, long actualMicroUsd, long actualTokens, long at) implements BudgetEvent {}

  /** The reservation is freed without spend (the job ended without cost). */
  record Released(String reservationId, long at) implements BudgetEvent {}

  /** Spent + reserved reached the soft cap of a scope; raised once per period. */
  record SoftCapCrossed(String scopeId, long softCapMicroUsd, long committedMicroUsd, long periodStart, long at)
      implements BudgetEvent {}
}
