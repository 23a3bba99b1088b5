package io.keld.atlas.budget;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/**
 * How the rest of a node reaches the budgets: {@code reserve} at admission, {@code settle} or
 * {@code release} afterwards. The caller names the team a project belongs to (projects never move
 * between teams). A budget that does not answer within the timeout fails the stage with a
 * {@link java.util.concurrent.TimeoutException}; the reservation may or may not have been made, and
 * a retry with the same reservation id is safe.
 */
public final class BudgetClient {

  private final ClusterSharding sharding;
  private final Duration timeout;

  public BudgetClient(ActorSystem<?> system, Duration timeout) {
    this.sharding = ClusterSharding.get(system);
    this.timeout = timeout;
  }

  public CompletionStage<TeamBudgets.Reply> reserve(String teamId, String projectId, String reservationId, long amountMicroUsd, long tokens) {
    return team(teamId).ask(r -> new TeamBudgets.Reserve(reservationId, projectId, amountMicroUsd, tokens, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> settle(String teamId, String reservationId, long actualMicroUsd, long actualTokens) {
    return team(teamId).ask(r -> new TeamBudgets.Settle(reservationId, actualMicroUsd, actualTokens, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> release(String teamId, String reservationId) {
    return team(teamId).ask(r -> new TeamBudgets.Release(reservationId, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> setBudget(String teamId, String scopeId, ScopeKind kind, BudgetSpec spec) {
    return team(teamId).ask(r -> new TeamBudgets.SetBudget(scopeId, kind, spec, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> removeBudget(String teamId, String scopeId) {
    return team(teamId).ask(r -> new TeamBudgets.RemoveBudget(scopeId, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> scope(String teamId, String scopeId) {
    return team(teamId).ask(r -> new TeamBudgets.GetScope(scopeId, r), timeout);
  }

  public CompletionStage<TeamBudgets.Reply> reservation(String teamId, String reservationId) {
    return team(teamId).ask(r -> new TeamBudgets.GetReservation(reservationId, r), timeout);
  }

  private EntityRef<TeamBudgets.Command> team(String teamId) {
    return sharding.entityRefFor(TeamBudgets.ENTITY_KEY, teamId);
  }
}
