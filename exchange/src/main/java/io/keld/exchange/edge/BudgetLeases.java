package io.keld.exchange.edge;

import io.keld.atlas.budget.BudgetClient;
import io.keld.atlas.budget.Refusal;
import io.keld.atlas.budget.TeamBudgets;
import io.keld.ixp.Ids;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;

/**
 * Node-local budget leases for the real-time path. A request must not wait on the budget entity's
 * write, so this node reserves a chunk of a project's budget (a reservation on the project and its
 * team, like any job's) and hands out holds from it in memory. When a chunk cannot cover a hold, the
 * next chunk is drawn; a chunk that is full, old or idle is settled to what its requests actually
 * cost once its last request is done, which returns the rest to the budget.
 *
 * <p>A crash loses the chunks' in-memory accounting but not their reservations: the budget keeps
 * them reserved, so a crash can only under-spend a budget, never over-spend it.
 */
final class BudgetLeases {

  private static final Logger log = LoggerFactory.getLogger(BudgetLeases.class);

  /** Thrown (inside a failed stage) when the budget refuses even the hold itself. */
  static final class Refused extends RuntimeException {
    final Refusal refusal;

    Refused(Refusal refusal) {
      super("budget refused", null, false, false);
      this.refusal = refusal;
    }
  }

  /** One request's claim on a chunk: released with its actual cost. */
  final class Hold {
    private final Chunk chunk;
    private final long amount;
    private final long tokens;
    private boolean done;

    Hold(Chunk chunk, long amount, long tokens) {
      this.chunk = chunk;
      this.amount = amount;
      this.tokens = tokens;
    }

    /** The request ended; it cost {@code microUsd} for {@code usedTokens}. Idempotent. */
    void release(long microUsd, long usedTokens) {
      synchronized (chunk.lease) {
        if (done) return;
        done = true;
        chunk.heldAmount -= amount;
        chunk.heldTokens -= tokens;
        chunk.spentAmount += microUsd;
        chunk.spentTokens += usedTokens;
        chunk.open--;
      }
      settleIfDone(chunk);
    }
  }

  private final class Chunk {
    final Lease lease;
    final String reservationId;
    final long amount;
    final long tokens;
    final long drawnAtNanos = System.nanoTime();
    long heldAmount;
    long heldTokens;
    long spentAmount;
    long spentTokens;
    int open;
    long lastUseNanos = System.nanoTime();
    boolean closing;
    boolean settled;

    Chunk(Lease lease, String reservationId, long amount, long tokens) {
      this.lease = lease;
      this.reservationId = reservationId;
      this.amount = amount;
      this.tokens = tokens;
    }

    boolean covers(long a, long t) {
      return !closing && amount - heldAmount - spentAmount >= a && tokens - heldTokens - spentTokens >= t;
    }
  }

  private final class Lease {
    final String teamId;
    final String projectId;
    Chunk current;
    CompletableFuture<Void> drawing;
    final List<Chunk> closing = new ArrayList<>();

    Lease(String teamId, String projectId) {
      this.teamId = teamId;
      this.projectId = projectId;
    }
  }

  private final BudgetClient budgets;
  private final long chunkMicroUsd;
  private final long chunkTokens;
  private final Duration maxAge;
  private final Map<String, Lease> leases = new ConcurrentHashMap<>();

  BudgetLeases(ActorSystem<?> system, BudgetClient budgets, long chunkMicroUsd, long chunkTokens, Duration maxAge) {
    this.budgets = budgets;
    this.chunkMicroUsd = chunkMicroUsd;
    this.chunkTokens = chunkTokens;
    this.maxAge = maxAge;
    Duration sweep = maxAge.dividedBy(2);
    system.scheduler().scheduleWithFixedDelay(sweep, sweep, this::closeOld, system.executionContext());
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceStop(),
        "keld-settle-budget-leases", () -> closeAll().thenApply(v -> Done.getInstance()));
  }

  /** A hold of {@code amount} micro-USD and {@code tokens} on the project's budget; fails with {@link Refused}. */
  CompletionStage<Hold> hold(String teamId, String projectId, long amount, long tokens) {
    Lease lease = leases.computeIfAbsent(projectId, p -> new Lease(teamId, projectId));
    CompletableFuture<Void> wait;
    boolean startDrawing = false;
    synchronized (lease) {
      Chunk c = lease.current;
      if (c != null && c.covers(amount, tokens)) {
        c.heldAmount += amount;
        c.heldTokens += tokens;
        c.open++;
        c.lastUseNanos = System.nanoTime();
        return CompletableFuture.completedFuture(new Hold(c, amount, tokens));
      }
      if (lease.drawing == null) {
        lease.drawing = new CompletableFuture<>();
        startDrawing = true;
      }
      wait = lease.drawing;
    }
    // Outside the lock: the draw may complete on this very thread (a budget that answers before its
    // callbacks are attached), and it takes the lock to hand over its chunk.
    if (startDrawing) draw(lease, amount, tokens);
    return wait.thenCompose(v -> hold(teamId, projectId, amount, tokens));
  }

  /** Reserves the next chunk: a full one if the budget allows, else exactly what this hold needs. */
  private void draw(Lease lease, long amount, long tokens) {
    long a = Math.max(chunkMicroUsd, amount);
    long t = Math.max(chunkTokens, tokens);
    reserve(lease, a, t).thenCompose(reply -> {
      if (reply instanceof TeamBudgets.Refused && (a > amount || t > tokens)) return reserve(lease, amount, tokens);
      return CompletableFuture.<Object>completedFuture(reply);
    }).whenComplete((reply, failure) -> {
      CompletableFuture<Void> done;
      synchronized (lease) {
        done = lease.drawing;
        lease.drawing = null;
        if (failure == null && reply instanceof Chunk ok) {
          if (lease.current != null) retire(lease, lease.current);
          lease.current = ok;
        }
      }
      if (failure != null) done.completeExceptionally(failure);
      else if (reply instanceof Chunk) done.complete(null);
      else if (reply instanceof TeamBudgets.Refused r) done.completeExceptionally(new Refused(r.refusal()));
      else done.completeExceptionally(new IllegalStateException("the budget rejected a lease: " + reply));
    });
  }

  /** A new chunk when the budget allows it, else the budget's reply. */
  private CompletionStage<Object> reserve(Lease lease, long amount, long tokens) {
    String reservationId = Ids.next("lease");
    return budgets.reserve(lease.teamId, lease.projectId, reservationId, amount, tokens).thenApply(reply -> {
      if (reply instanceof TeamBudgets.Ok) return new Chunk(lease, reservationId, amount, tokens);
      return reply;
    });
  }

  /** The chunk takes no new holds; it is settled when its last request is done. */
  private void retire(Lease lease, Chunk c) {
    c.closing = true;
    lease.closing.add(c);
  }

  /** Chunks older than the maximum age, or idle for it, are retired so a budget's figures stay current. */
  private void closeOld() {
    long now = System.nanoTime();
    for (Lease lease : leases.values()) {
      List<Chunk> toSettle = new ArrayList<>();
      synchronized (lease) {
        Chunk c = lease.current;
        if (c != null && (now - c.drawnAtNanos > maxAge.toNanos() || now - c.lastUseNanos > maxAge.toNanos())) {
          lease.current = null;
          retire(lease, c);
        }
        toSettle.addAll(lease.closing);
      }
      toSettle.forEach(this::settleIfDone);
    }
  }

  private void settleIfDone(Chunk c) {
    long amount;
    long tokens;
    synchronized (c.lease) {
      if (!c.closing || c.open > 0 || c.settled) return;
      c.settled = true;
      c.lease.closing.remove(c);
      amount = c.spentAmount;
      tokens = c.spentTokens;
    }
    budgets.settle(c.lease.teamId, c.reservationId, amount, tokens).whenComplete((reply, failure) -> {
      if (failure != null || !(reply instanceof TeamBudgets.Ok)) {
        // Left reserved: the budget shows more committed than was spent (under-spend), never less.
        log.warn("Lease {} of project {} could not be settled ({}); it stays reserved", c.reservationId, c.lease.projectId,
            failure != null ? failure.toString() : reply);
      }
    });
  }

  /** Retires every chunk now and settles those without open requests (tests, shutdown). */
  CompletionStage<Void> closeAll() {
    for (Lease lease : leases.values()) {
      synchronized (lease) {
        if (lease.current != null) {
          retire(lease, lease.current);
          lease.current = null;
        }
      }
      List<Chunk> chunks;
      synchronized (lease) {
        chunks = List.copyOf(lease.closing);
      }
      chunks.forEach(this::settleIfDone);
    }
    return CompletableFuture.completedFuture(null);
  }
}
