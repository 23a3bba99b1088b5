package io.keld.flow;

import com.fasterxml.jackson.databind.JsonNode;
import io.keld.flow.pacing.LaneScheduler.Batch;
import io.keld.flow.pacing.LaneScheduler.Withdrawn;
import io.keld.flow.pacing.Ticket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.slf4j.LoggerFactory;

/**
 * One job's work in Flow: it sends the job's items to the endpoint it is routed to, can move them to
 * another (handover), and counts what happened. Flow knows nothing else of the job: not its price,
 * tenant or book.
 *
 * <p>Each {@code custom_id} has at most one item open at a time and yields exactly one result:
 * <ul>
 *   <li>an id sent twice on the same upload gets a {@code duplicate_custom_id} error for the second;
 *   <li>an id sent again on a new upload (the caller resumed after a dropped connection) while it is
 *       still open joins the open item instead of sending it again;
 *   <li>on a handover, queued items move; items in flight finish where they are, and if they fail
 *       their retry goes to the new endpoint.
 * </ul>
 */
public final class FlowJob {

  /** Results an upload may be waiting for at once; the endpoint's admission bounds it well below this. */
  private static final int MAX_OUTSTANDING = 16_384;

  private final Flow flow;
  private final String id;
  private final Instant deadline;
  private final long deadlineNanos;
  private final JobProgress progress;
  private final ConcurrentHashMap<String, String> modelByEndpoint = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Work> open = new ConcurrentHashMap<>();
  private final LongAdder answered = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder inputTokens = new LongAdder();
  private final LongAdder outputTokens = new LongAdder();
  private final LongAdder failedAttempts = new LongAdder();
  private volatile Route route;
  private volatile EndpointLane lane;
  private volatile boolean cancelled;

  FlowJob(Flow flow, String id, Instant deadline, Route route, JobProgress progress) {
    this.flow = flow;
    this.id = id;
    this.deadline = deadline;
    this.deadlineNanos = System.nanoTime() + Duration.between(Instant.now(), deadline).toNanos();
    this.progress = progress == null ? JobProgress.IGNORE : progress;
    this.route = route;
    this.modelByEndpoint.put(route.endpoint().id(), route.model());
    this.lane = flow.lane(route.endpoint());
  }

  public String id() {
    return id;
  }

  public Instant deadline() {
    return deadline;
  }

  public Route route() {
    return route;
  }

  public boolean cancelled() {
    return cancelled;
  }

  public Progress progress() {
    return new Progress(answered.sum(), failed.sum(), inputTokens.sum(), outputTokens.sum(), failedAttempts.sum(), open.size());
  }

  /**
   * Sends the items of one upload and returns their results as they come, one per item. Items are
   * read only as the endpoint admits them (backpressure reaches the upload). If the result stream is
   * cancelled or the upload fails, its items not yet sent are dropped; items in flight finish.
   */
  public Source<ItemResult, NotUsed> dispatch(Source<Item, ?> items) {
    Object run = new Object();
    FlowSettings s = flow.settings();
    return items
        .groupedWeightedWithin(s.batchTokens(), s.batchItems(), Item::estimatedTokens, s.batchLinger())
        .mapAsync(1, batch -> submit(run, batch))
        .mapConcat(results -> results)
        .mapAsyncUnordered(MAX_OUTSTANDING, result -> result)
        .watchTermination((mat, done) -> {
          done.whenComplete((d, failure) -> abandon(run));
          return NotUsed.notUsed();
        });
  }

  /**
   * Moves the job to another endpoint (escalation, re-routing). Items not yet sent go to the new
   * endpoint at once; items in flight finish at the old one, and retry at the new one if they fail.
   * Completes with the number of items moved.
   */
  public CompletionStage<Integer> handover(Route next) {
    return handover(next, false);
  }

  /**
   * Like {@link #handover(Route)}; with {@code resendInFlight}, items in flight at the old endpoint
   * are also sent to the new one at once, and whichever answer comes first is the item's result (the
   * other is dropped unseen). For a provider that stalled or fails: its open requests may never answer
   * in time. Completes with the number of items moved or re-sent.
   */
  public CompletionStage<Integer> handover(Route next, boolean resendInFlight) {
    EndpointLane from = lane;
    EndpointLane to = flow.lane(next.endpoint());
    modelByEndpoint.put(next.endpoint().id(), next.model());
    route = next;
    lane = to;
    if (from == to) return CompletableFuture.completedFuture(0);
    return from.withdraw(this).thenApply(w -> {
      Set<Work> moved = Collections.newSetFromMap(new IdentityHashMap<>());
      for (Batch<Work> b : w.waiting()) {
        for (Ticket<Work> t : b.tickets()) moved.add(t.payload());
        to.offer(this, b);
      }
      for (Ticket<Work> t : w.queued()) moved.add(t.payload());
      if (!w.queued().isEmpty()) to.take(w.queued(), 0);
      int count = moved.size();
      if (resendInFlight) {
        List<Ticket<Work>> resend = new ArrayList<>();
        for (Work work : open.values()) {
          if (!moved.contains(work) && !work.settled()) resend.add(new Ticket<>(work, this, deadlineNanos, work.item.estimatedTokens()));
        }
        if (!resend.isEmpty()) to.take(resend, 0);
        count += resend.size();
      }
      return count;
    });
  }

  /** Ends the job in Flow: items not yet sent end as cancelled; answers already on their way are still delivered. */
  public CompletionStage<Done> cancel() {
    cancelled = true;
    return lane.withdraw(this).thenApply(w -> {
      ItemError error = ItemError.of("cancelled", "the job was cancelled");
      for (Batch<Work> b : w.waiting()) {
        for (Ticket<Work> t : b.tickets()) failed(t.payload(), error, null, t.attempts());
        ((EndpointLane.Admission) b.attachment()).admitted().complete(Done.getInstance());
      }
      for (Ticket<Work> t : w.queued()) failed(t.payload(), error, null, t.attempts());
      return Done.getInstance();
    });
  }

  // -- for the lanes ----------------------------------------------------------------------------

  EndpointLane lane() {
    return lane;
  }

  String modelAt(String endpointId) {
    return modelByEndpoint.get(endpointId);
  }

  // The job hears of an item (counts, the progress callback) before its result is released, so
  // whoever sees an upload end has already been told of every item in it.

  void answered(Work w, JsonNode body, Usage usage, String endpointId, int attempts) {
    if (!w.claim()) return;
    answered.increment();
    inputTokens.add(usage.inputTokens());
    outputTokens.add(usage.outputTokens());
    tell(() -> progress.itemAnswered(w.item.customId(), usage, endpointId));
    release(w, new ItemResult(w.item.customId(), body, null, usage, endpointId, modelAt(endpointId), attempts));
  }

  void failed(Work w, ItemError error, String endpointId, int attempts) {
    if (!w.claim()) return;
    failed.increment();
    tell(() -> progress.itemFailed(w.item.customId(), error, endpointId));
    release(w, new ItemResult(w.item.customId(), null, error, Usage.NONE, endpointId, endpointId == null ? null : modelAt(endpointId), attempts));
  }

  void attemptFailed(String endpointId, ItemError error) {
    failedAttempts.increment();
    tell(() -> progress.attemptFailed(endpointId, error));
  }

  /** A listener's failure is its own: it must never break the endpoint's pipeline, which other jobs share. */
  private void tell(Runnable callback) {
    try {
      callback.run();
    } catch (RuntimeException e) {
      LoggerFactory.getLogger(FlowJob.class).warn("job {}: a progress listener failed: {}", id, e.toString());
    }
  }

  // -- uploads ----------------------------------------------------------------------------------

  private CompletionStage<List<CompletableFuture<ItemResult>>> submit(Object run, List<Item> items) {
    List<CompletableFuture<ItemResult>> results = new ArrayList<>(items.size());
    List<Ticket<Work>> tickets = new ArrayList<>(items.size());
    for (Item item : items) {
      if (cancelled) {
        results.add(CompletableFuture.completedFuture(error(item, "cancelled", "the job was cancelled")));
        continue;
      }
      Work fresh = new Work(item, this, run);
      Work existing = open.putIfAbsent(item.customId(), fresh);
      if (existing != null) {
        if (existing.run == run) {
          results.add(CompletableFuture.completedFuture(error(item, "duplicate_custom_id",
              "custom_id '" + item.customId() + "' appears twice in this upload; the first is being processed")));
        } else {
          existing.run = run; // a resumed upload: wait for the open item instead of sending it again
          results.add(existing.result);
        }
        continue;
      }
      tickets.add(new Ticket<>(fresh, this, deadlineNanos, item.estimatedTokens()));
      results.add(fresh.result);
    }
    if (tickets.isEmpty()) return CompletableFuture.completedFuture(results);
    CompletableFuture<Done> admitted = new CompletableFuture<>();
    lane.offer(this, new Batch<>(this, deadlineNanos, tickets, new EndpointLane.Admission(run, admitted)));
    return admitted.thenApply(d -> results);
  }

  /**
   * An upload ended: what it left queued is dropped (nobody waits for it); what is in flight
   * finishes. Items a resumed upload took over stay: they go back to the job's endpoint.
   */
  private void abandon(Object run) {
    lane.withdrawRun(run).thenAccept(w -> {
      ItemError error = ItemError.of("cancelled", "the upload ended before the item was sent");
      List<Ticket<Work>> kept = new ArrayList<>();
      for (Batch<Work> b : w.waiting()) {
        for (Ticket<Work> t : b.tickets()) {
          if (t.payload().run == run) complete(t.payload(), new ItemResult(t.payload().item.customId(), null, error, Usage.NONE, null, null, 0));
          else kept.add(t);
        }
        ((EndpointLane.Admission) b.attachment()).admitted().complete(Done.getInstance());
      }
      for (Ticket<Work> t : w.queued()) complete(t.payload(), new ItemResult(t.payload().item.customId(), null, error, Usage.NONE, null, null, t.attempts()));
      if (!kept.isEmpty()) lane.take(kept, 0);
    });
  }

  private boolean complete(Work w, ItemResult result) {
    if (!w.claim()) return false;
    release(w, result);
    return true;
  }

  private void release(Work w, ItemResult result) {
    open.remove(w.item.customId(), w);
    w.result.complete(result);
  }

  private static ItemResult error(Item item, String type, String message) {
    return new ItemResult(item.customId(), null, ItemError.of(type, message), Usage.NONE, null, null, 0);
  }
}
