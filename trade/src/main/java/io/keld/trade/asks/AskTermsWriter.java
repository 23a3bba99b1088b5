package io.keld.trade.asks;

import io.keld.kit.sql.Sql;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Writes the providers' amends and capacity updates to their index ({@code trade_asks}) by group
 * commit: one transaction at a time, holding every change that arrived while the previous one was
 * written. A feed moving thousands of asks a second costs a few transactions a second, not a
 * statement and a round trip per amend, and each change is still committed before it is
 * acknowledged. A transaction that loses to a concurrent one (another node's batch) is tried again.
 */
final class AskTermsWriter {

  /** Tries per batch when the database reports a concurrency failure (deadlock, serialization, lock timeout). */
  static final int ATTEMPTS = 3;

  private record Pending(AskTermsChange change, CompletableFuture<Optional<ProviderAsk>> done) {}

  private final AskStore store;
  private final int maxBatch;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean writing = new AtomicBoolean();

  AskTermsWriter(AskStore store, int maxBatch) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Completes, once the change is committed, with the ask as it then stands, or empty if it was not open (so nothing changed). */
  CompletionStage<Optional<ProviderAsk>> write(AskTermsChange change) {
    CompletableFuture<Optional<ProviderAsk>> done = new CompletableFuture<>();
    queue.add(new Pending(change, done));
    writeNextBatch();
    return done;
  }

  /** Starts a transaction for what is waiting, unless one is being written (its end starts the next). */
  private void writeNextBatch() {
    while (!queue.isEmpty()) {
      if (!writing.compareAndSet(false, true)) return;
      List<Pending> batch = new ArrayList<>();
      for (Pending p; batch.size() < maxBatch && (p = queue.poll()) != null; ) batch.add(p);
      if (batch.isEmpty()) {
        writing.set(false); // another caller's batch took them; look again
        continue;
      }
      write(batch.stream().map(Pending::change).toList(), 1).whenComplete((asks, failure) -> {
        // Answered in commit order, then the next batch starts.
        try {
          for (Pending p : batch) {
            if (failure != null) p.done().completeExceptionally(failure);
            else p.done().complete(Optional.ofNullable(asks.get(p.change().askId())));
          }
        } finally {
          writing.set(false);
          writeNextBatch();
        }
      });
      return;
    }
  }

  private CompletionStage<Map<String, ProviderAsk>> write(List<AskTermsChange> changes, int attempt) {
    CompletionStage<Map<String, ProviderAsk>> written;
    try {
      written = store.updateTerms(changes);
    } catch (RuntimeException e) {
      written = CompletableFuture.failedFuture(e);
    }
    return written.exceptionallyCompose(failure -> attempt < ATTEMPTS && Sql.isConcurrencyFailure(failure)
        ? write(changes, attempt + 1)
        : CompletableFuture.failedFuture(failure));
  }
}
