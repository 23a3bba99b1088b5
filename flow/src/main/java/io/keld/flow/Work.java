package io.keld.flow;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/** An item on its way through Flow: its job, the upload it came on, and the promise of its one result. */
final class Work {

  final Item item;
  final FlowJob job;
  /** The upload waiting for the result; a resumed upload takes over an item still in flight. */
  volatile Object run;
  final CompletableFuture<ItemResult> result = new CompletableFuture<>();
  volatile ItemError lastError;
  volatile String lastEndpoint;
  private final AtomicBoolean claimed = new AtomicBoolean();

  /** True for the one caller that gets to give this item its result (an answer can race a resend or a cancel). */
  boolean claim() {
    return claimed.compareAndSet(false, true);
  }

  /** The item has (or is being given) its result: nothing more to send for it. */
  boolean settled() {
    return claimed.get();
  }

  Work(Item item, FlowJob job, Object run) {
    this.item = item;
    this.job = job;
    this.run = run;
  }
}
