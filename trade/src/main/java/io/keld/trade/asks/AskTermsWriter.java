package io.keld.trade.asks;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Writes the providers' amends and capacity updates to their index ({@code trade_asks}) by group
 * commit: one transaction at a time, holding every change that arrived while the previous one was
 * written. A feed moving thousands of asks a second costs a few transactions a second, not a
 * statement and a round trip per amend, and each change is still committed before it is
 * acknowledged.
 */
final class AskTermsWriter {

  private record Pending(AskTermsChange change, CompletableFuture<Boolean> done) {}

  private final AskStore store;
  private final int maxBatch;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean writing = new AtomicBoolean();

  AskTermsWriter(AskStore store, int maxBatch) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Completes with whether the ask was open (and so changed) once the change is committed. */
  CompletionStage<Boolean> write(AskTermsChange change) {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
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
      CompletionStage<boolean[]> written;
      try {
        written = store.updateTerms(batch.stream().map(Pending::change).toList());
      } catch (RuntimeException e) {
        written = CompletableFuture.failedFuture(e);
      }
      // Answered in commit order, then the next batch starts.
      written.whenComplete((changed, failure) -> {
        for (int i = 0; i < batch.size(); i++) {
          if (failure != null) batch.get(i).done().completeExceptionally(failure);
          else batch.get(i).done().complete(changed[i]);
        }
        writing.set(false);
        writeNextBatch();
      });
      return;
    }
  }
}
