package io.keld.flow;

import java.util.concurrent.CompletableFuture;

/** An item on its way through Flow: its job, the upload it came on, and the promise of its one result. */
final class Work {

  final Item item;
  final FlowJob job;
  /** The upload waiting for the result; a resumed upload takes over an item still in flight. */
  volatile Object run;
  final CompletableFuture<ItemResult> result = new CompletableFuture<>();
  volatile ItemError lastError;
  volatile String lastEndpoint;

  Work(Item item, FlowJob job, Object run) {
    this.item = item;
    this.job = job;
    this.run = run;
  }
}
