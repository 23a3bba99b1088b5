package io.keld.exchange.jobs;

import io.keld.atlas.budget.BudgetLedger;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.entity.OrderBook;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** In-memory stand-ins for what a job talks to: a book that remembers its bids and fills, a budget. */
final class JobFakes {

  private JobFakes() {}

  static Fill fill(String fillId, String bidId, String providerId, long price, long now) {
    return new Fill(fillId, bidId, "ask_" + providerId, providerId, "m", price, 10_000, now, now + 10_000, now + 60_000, now, null, 1, "1");
  }

  /**
   * A book for one job: bids rest unless {@link #onPlace} says otherwise; {@link #status} is what
   * {@code bidStatus} answers. Every operation is recorded in {@link #ops}.
   */
  static final class Books implements JobPorts.Books {
    final List<BookOp> ops = new CopyOnWriteArrayList<>();
    final Map<String, OrderBook.BidStatus> status = new ConcurrentHashMap<>();
    /** Bids whose placing is answered later by the test: bid id → the pending answer. */
    final Map<String, CompletableFuture<BookResult>> held = new ConcurrentHashMap<>();
    volatile Function<BookOp.PlaceBid, CompletionStage<BookResult>> onPlace = this::rest;

    CompletionStage<BookResult> rest(BookOp.PlaceBid p) {
      status.put(p.bid().bidId(), new OrderBook.BidStatus(p.bid().bidId(), OrderBook.BidStatus.Status.RESTING, null));
      return CompletableFuture.completedFuture(new BookResult.Accepted(List.of(new BookEvent.BidRested(p.bid(), 0))));
    }

    CompletionStage<BookResult> fillWith(BookOp.PlaceBid p, Fill f) {
      status.put(p.bid().bidId(), new OrderBook.BidStatus(p.bid().bidId(), OrderBook.BidStatus.Status.FILLED, f));
      return CompletableFuture.completedFuture(new BookResult.Accepted(List.of(new BookEvent.Filled(f, p.bid(), 0))));
    }

    CompletionStage<BookResult> hold(BookOp.PlaceBid p) {
      CompletableFuture<BookResult> answer = new CompletableFuture<>();
      held.put(p.bid().bidId(), answer);
      return answer;
    }

    @Override
    public CompletionStage<BookResult> submit(String useCase, BookOp op) {
      ops.add(op);
      if (op instanceof BookOp.PlaceBid p) return onPlace.apply(p);
      if (op instanceof BookOp.CancelBid c) {
        OrderBook.BidStatus st = status.get(c.bidId());
        if (st == null || st.status() != OrderBook.BidStatus.Status.RESTING) {
          return CompletableFuture.completedFuture(new BookResult.Rejected(BookResult.Reason.BID_NOT_RESTING, "not resting"));
        }
        status.remove(c.bidId());
        return CompletableFuture.completedFuture(new BookResult.Accepted(List.of(new BookEvent.BidCancelled(c.bidId(), 0))));
      }
      return CompletableFuture.completedFuture(new BookResult.Accepted(List.of()));
    }

    @Override
    public CompletionStage<OrderBook.BidStatus> bidStatus(String useCase, String bidId) {
      return CompletableFuture.completedFuture(status.getOrDefault(bidId, new OrderBook.BidStatus(bidId, OrderBook.BidStatus.Status.NOT_ON_BOOK, null)));
    }

    List<String> released() {
      return ops.stream().filter(o -> o instanceof BookOp.ReleaseFill).map(o -> ((BookOp.ReleaseFill) o).fillId()).toList();
    }

    Set<String> placed() {
      return Set.copyOf(ops.stream().filter(o -> o instanceof BookOp.PlaceBid).map(o -> ((BookOp.PlaceBid) o).bid().bidId()).toList());
    }
  }

  /** A budget that says yes, unless the test puts a pending answer in {@link #nextReserve} or {@link #nextRelease}. */
  static final class Budgets implements JobPorts.Budgets {
    final List<String> calls = new CopyOnWriteArrayList<>();
    volatile CompletableFuture<TeamBudgets.Reply> nextReserve;
    volatile CompletableFuture<TeamBudgets.Reply> nextRelease;
    volatile CompletableFuture<TeamBudgets.Reply> nextSettle;
    volatile TeamBudgets.Reply reserveReply;

    static TeamBudgets.Reply ok() {
      return new TeamBudgets.Ok(new BudgetLedger.Reservation("r", "prj_a", 0, 0, 0), List.of());
    }

    private CompletionStage<TeamBudgets.Reply> answer(CompletableFuture<TeamBudgets.Reply> pending, TeamBudgets.Reply otherwise) {
      return pending != null ? pending : CompletableFuture.completedFuture(otherwise);
    }

    @Override
    public CompletionStage<TeamBudgets.Reply> reserve(String teamId, String projectId, String reservationId, long amount, long tokens) {
      calls.add("reserve " + amount);
      CompletableFuture<TeamBudgets.Reply> pending = nextReserve;
      nextReserve = null;
      return answer(pending, reserveReply != null ? reserveReply : ok());
    }

    @Override
    public CompletionStage<TeamBudgets.Reply> settle(String teamId, String reservationId, long actualMicroUsd, long actualTokens) {
      calls.add("settle " + actualMicroUsd);
      CompletableFuture<TeamBudgets.Reply> pending = nextSettle;
      nextSettle = null;
      return answer(pending, ok());
    }

    @Override
    public CompletionStage<TeamBudgets.Reply> release(String teamId, String reservationId) {
      calls.add("release");
      CompletableFuture<TeamBudgets.Reply> pending = nextRelease;
      nextRelease = null;
      return answer(pending, ok());
    }

    long count(String prefix) {
      return calls.stream().filter(c -> c.startsWith(prefix)).count();
    }
  }

  /** Sees every change; throws once when told to, to make the entity fail and restart mid-step. */
  static final class Observer implements JobObserver {
    volatile boolean failNext;

    @Override
    public void changed(JobView view, long version) {
      if (failNext) {
        failNext = false;
        throw new IllegalStateException("the observer failed (test)");
      }
    }
  }
}
