package io.keld.flow.pacing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The decisions of one endpoint's pipeline, as plain Java with time passed in (nanoseconds), so they
 * can be tested without a clock or a network.
 *
 * <p>Work arrives as micro-batches. A batch first <em>waits</em>; it is <em>admitted</em> when it
 * fits beside the admitted-but-unsent tickets within half the concurrency limit, so about half a
 * round of work sits ahead of the fleet, and the caller's stream is held (backpressure) until then. Among
 * waiting batches and among queued tickets the earliest deadline goes first, then the earliest
 * arrival. A ticket is <em>sent</em> when fewer than the limit are in flight and the token bucket
 * has room. A ticket whose request failed may come back with a not-before time (its backoff).
 */
public final class LaneScheduler<P> {

  /** A group of tickets that is admitted as one. */
  public static final class Batch<P> {
    final List<Ticket<P>> tickets;
    final Object owner;
    final long deadline;
    final Object attachment;
    long seq;

    /** @param attachment the caller's own data (the lane keeps the caller's admission promise here) */
    public Batch(Object owner, long deadline, List<Ticket<P>> tickets, Object attachment) {
      this.owner = owner;
      this.deadline = deadline;
      this.tickets = List.copyOf(tickets);
      this.attachment = attachment;
    }

    public Object attachment() {
      return attachment;
    }

    public List<Ticket<P>> tickets() {
      return tickets;
    }

    public Object owner() {
      return owner;
    }
  }

  /** What {@link #withdraw} took out: batches not yet admitted and admitted tickets not yet sent. */
  public record Withdrawn<P>(List<Batch<P>> waiting, List<Ticket<P>> queued) {}

  /** Counts for metrics. */
  public record Snapshot(int waitingItems, int queued, int inFlight, int limit, long tokensPerSecond, long limitDecreases) {}

  private static final Comparator<Ticket<?>> EDF = Comparator.<Ticket<?>>comparingLong(t -> t.deadline).thenComparingLong(t -> t.seq);
  private static final Comparator<Batch<?>> EDF_BATCH = Comparator.<Batch<?>>comparingLong(b -> b.deadline).thenComparingLong(b -> b.seq);

  private final PriorityQueue<Batch<P>> waiting = new PriorityQueue<>(EDF_BATCH);
  private final PriorityQueue<Ticket<P>> ready = new PriorityQueue<>(EDF);
  private final PriorityQueue<Ticket<P>> delayed = new PriorityQueue<>(Comparator.<Ticket<?>>comparingLong(t -> t.eligibleAt).thenComparingLong(t -> t.seq));
  private final AdaptiveLimit limit;
  private final TokenBucket bucket;
  private final Consumer<Batch<P>> onAdmitted;
  private long seq;
  private int waitingItems;
  private int inFlight;

  /**
   * @param onAdmitted told of each batch when it is admitted, in the order admitted
   * @param holdNanos  how long the limit holds after a cut before it grows again
   */
  public LaneScheduler(Capacity capacity, long holdNanos, long now, Consumer<Batch<P>> onAdmitted) {
    this.limit = new AdaptiveLimit(capacity.maxConcurrency(), holdNanos);
    this.bucket = new TokenBucket(capacity.tokensPerSecond(), now);
    this.onAdmitted = onAdmitted;
  }

  /** A batch arrives; it is admitted now if there is room, else it waits. */
  public void offer(Batch<P> batch, long now) {
    batch.seq = seq++;
    waiting.add(batch);
    waitingItems += batch.tickets.size();
    admit(now);
  }

  /**
   * Admitted tickets from elsewhere (a handover, or a retry moved off another endpoint): queued at
   * once, in deadline order, to be sent no earlier than {@code notBefore}.
   */
  public void enqueue(List<Ticket<P>> tickets, long notBefore, long now) {
    for (Ticket<P> t : tickets) retryAt(t, Math.max(notBefore, now), now);
  }

  /** The next ticket to send now, or null; a returned ticket counts as in flight until {@link #answered}/{@link #failed}. */
  public Ticket<P> poll(long now) {
    promoteDue(now);
    Ticket<P> head = ready.peek();
    if (head == null || inFlight >= limit.limit() || !bucket.tryTake(head.cost, now)) return null;
    ready.poll();
    inFlight++;
    head.attempts++;
    head.sentAt = now;
    head.inFlightAtSend = inFlight;
    admit(now);
    return head;
  }

  /** When {@link #poll} may next succeed for a reason of time alone, or {@link Long#MAX_VALUE}. */
  public long wakeAt(long now) {
    long wake = Long.MAX_VALUE;
    if (!delayed.isEmpty()) wake = Math.max(now, delayed.peek().eligibleAt);
    if (!ready.isEmpty() && inFlight < limit.limit()) wake = Math.min(wake, bucket.readyAt(now));
    return wake;
  }

  /** The ticket's request was answered. */
  public void answered(Ticket<P> t, long now) {
    inFlight--;
    limit.answered(t.sentAt, now, t.cost, t.inFlightAtSend);
    admit(now);
  }

  /** The ticket's request failed; {@code overload} when the fleet said it has too much work. */
  public void failed(Ticket<P> t, boolean overload, long now) {
    inFlight--;
    if (overload) limit.overloaded(t.sentAt, now);
    admit(now);
  }

  /** Puts a failed ticket back, to be sent again no earlier than {@code notBefore}. */
  public void retryAt(Ticket<P> t, long notBefore, long now) {
    t.seq = seq++;
    t.eligibleAt = notBefore;
    markAdmitted(t, now);
    if (notBefore > now) delayed.add(t);
    else ready.add(t);
  }

  /**
   * The ticket's first admission, kept through retries and handovers. Before this was tracked, a
   * ticket queued without passing {@link #admit} kept 0 as its admission time, so the queueing-delay
   * meter read the JVM's nanoTime origin as a wait (hundreds of seconds per request).
   */
  private static void markAdmitted(Ticket<?> t, long now) {
    if (t.admitted) return;
    t.admitted = true;
    t.admittedAt = now;
  }

  /** Takes out the waiting batches and queued tickets the tests pick; nothing in flight. */
  public Withdrawn<P> withdraw(Predicate<Batch<P>> batchTest, Predicate<Ticket<P>> ticketTest, long now) {
    List<Batch<P>> batches = new ArrayList<>();
    for (Iterator<Batch<P>> it = waiting.iterator(); it.hasNext(); ) {
      Batch<P> b = it.next();
      if (batchTest.test(b)) {
        batches.add(b);
        waitingItems -= b.tickets.size();
        it.remove();
      }
    }
    List<Ticket<P>> tickets = new ArrayList<>();
    for (PriorityQueue<Ticket<P>> q : List.of(ready, delayed)) {
      for (Iterator<Ticket<P>> it = q.iterator(); it.hasNext(); ) {
        Ticket<P> t = it.next();
        if (ticketTest.test(t)) {
          tickets.add(t);
          it.remove();
        }
      }
    }
    batches.sort(EDF_BATCH);
    tickets.sort(EDF);
    admit(now);
    return new Withdrawn<>(batches, tickets);
  }

  /** Takes out everything of {@code owner} that is not in flight. */
  public Withdrawn<P> withdraw(Object owner, long now) {
    return withdraw(b -> b.owner == owner, t -> t.owner == owner, now);
  }

  /** The provider stated new limits. */
  public void capacity(Capacity capacity, long now) {
    limit.stated(capacity.maxConcurrency());
    bucket.rate(capacity.tokensPerSecond(), now);
    admit(now);
  }

  public int limit() {
    return limit.limit();
  }

  public int inFlight() {
    return inFlight;
  }

  public Snapshot snapshot() {
    return new Snapshot(waitingItems, ready.size() + delayed.size(), inFlight, limit.limit(), bucket.rate(), limit.decreases());
  }

  private void promoteDue(long now) {
    while (!delayed.isEmpty() && delayed.peek().eligibleAt <= now) ready.add(delayed.poll());
  }

  /**
   * Admits waiting batches, earliest deadline first, while they fit in half a round of work (half
   * the limit) beside the tickets ready to send; a larger batch goes alone into an empty queue. Half
   * a round keeps a ticket's wait near half a service time, and still refills the queue long before
   * it runs dry (a refill takes milliseconds, half a round takes half a service time), so a slot
   * never idles for want of work. The head is never skipped for a smaller batch behind it, so deadline order holds.
   * Tickets sitting out a retry backoff do not count: they must not hold up work that could go now.
   */
  private void admit(long now) {
    promoteDue(now);
    while (!waiting.isEmpty()) {
      int queued = ready.size();
      Batch<P> head = waiting.peek();
      if (queued > 0 && queued + head.tickets.size() > Math.max(1, limit.limit() / 2)) return;
      waiting.poll();
      waitingItems -= head.tickets.size();
      for (Ticket<P> t : head.tickets) {
        t.seq = seq++;
        t.eligibleAt = now;
        markAdmitted(t, now);
        ready.add(t);
      }
      onAdmitted.accept(head);
    }
  }
}
