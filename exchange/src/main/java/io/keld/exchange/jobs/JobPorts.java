package io.keld.exchange.jobs;

import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.entity.BookClient;
import io.keld.marketplace.entity.OrderBook;
import java.util.UUID;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import java.util.concurrent.CompletionStage;

/**
 * What a {@link DeadlineJob} asks of the rest of the node: the use case's book and the team's budget.
 * Interfaces, so the entity's tests run it against fakes; the node passes the real clients
 * ({@link #books(BookClient)}, {@link #budgets(BudgetClient)}).
 */
public final class JobPorts {

  private JobPorts() {}

  public interface Books {
    CompletionStage<BookResult> submit(String useCase, BookOp op);

    CompletionStage<OrderBook.BidStatus> bidStatus(String useCase, String bidId);
  }

  public interface Budgets {
    CompletionStage<TeamBudgets.Reply> reserve(String teamId, String projectId, String reservationId, long amountMicroUsd, long tokens);

    CompletionStage<TeamBudgets.Reply> settle(String teamId, String reservationId, long actualMicroUsd, long actualTokens);

    CompletionStage<TeamBudgets.Reply> release(String teamId, String reservationId);
  }

  /**
   * Whether a data plane that reported on a job still runs. Its open items count towards the job's
   * until its node is gone from the cluster: then they can never be answered there, and the client
   * resends them elsewhere.
   */
  public interface Planes {
    boolean alive(String reporter);

    Planes ALL_ALIVE = reporter -> true;
  }

  /** A data plane's reporter id: the incarnation of its node (the cluster's unique address uid), then a random part. */
  public static String reporterId(ActorSystem<?> system) {
    return "js:" + Cluster.get(system).selfMember().uniqueAddress().longUid() + ":" + UUID.randomUUID();
  }

  /** Reporters whose node incarnation is a member of the cluster (ids without one are taken as alive). */
  public static Planes clusterPlanes(ActorSystem<?> system) {
    Cluster cluster = Cluster.get(system);
    return reporter -> {
      String[] parts = reporter.split(":", 3); // the uid may be negative, so not "-"
      if (parts.length < 3 || !parts[0].equals("js")) return true;
      long uid;
      try {
        uid = Long.parseLong(parts[1]);
      } catch (NumberFormatException e) {
        return true;
      }
      for (Member m : cluster.state().getMembers()) {
        if (m.uniqueAddress().longUid() == uid) return m.status() != MemberStatus.down() && m.status() != MemberStatus.removed();
      }
      return false;
    };
  }

  public static Books books(BookClient client) {
    return new Books() {
      @Override
      public CompletionStage<BookResult> submit(String useCase, BookOp op) {
        return client.submit(useCase, op);
      }

      @Override
      public CompletionStage<OrderBook.BidStatus> bidStatus(String useCase, String bidId) {
        return client.bidStatus(useCase, bidId);
      }
    };
  }

  public static Budgets budgets(BudgetClient client) {
    return new Budgets() {
      @Override
      public CompletionStage<TeamBudgets.Reply> reserve(String teamId, String projectId, String reservationId, long amount, long tokens) {
        return client.reserve(teamId, projectId, reservationId, amount, tokens);
      }

      @Override
      public CompletionStage<TeamBudgets.Reply> settle(String teamId, String reservationId, long actualMicroUsd, long actualTokens) {
        return client.settle(teamId, reservationId, actualMicroUsd, actualTokens);
      }

      @Override
      public CompletionStage<TeamBudgets.Reply> release(String teamId, String reservationId) {
        return client.release(teamId, reservationId);
      }
    };
  }
}
