package io.keld.flow.pacing;

/**
 * One item's place in an endpoint's pipeline: what orders it (deadline, then arrival) and what
 * paces it (its token weight). The payload is the lane's business; the scheduler never looks in it.
 */
public final class Ticket<P> {

  final P payload;
  final Object owner;
  final long deadline;
  final long cost;
  long seq;
  long eligibleAt;
  long admittedAt;
  /** Whether {@link #admittedAt} is set: a ticket can reach a queue without its batch's admission (a job's waiting batch moved to another endpoint). */
  boolean admitted;
  long sentAt;
  int inFlightAtSend;
  int attempts;

  /**
   * @param owner    whose work this is (a job); {@link LaneScheduler#withdraw} moves an owner's tickets
   * @param deadline when the work is due, in the scheduler's clock (nanoseconds)
   * @param cost     estimated tokens
   */
  public Ticket(P payload, Object owner, long deadline, long cost) {
    this.payload = payload;
    this.owner = owner;
    this.deadline = deadline;
    this.cost = Math.max(1, cost);
  }

  public P payload() {
    return payload;
  }

  public Object owner() {
    return owner;
  }

  public long deadline() {
    return deadline;
  }

  /** Requests sent for this ticket so far. */
  public int attempts() {
    return attempts;
  }

  /** When the current request was sent. */
  public long sentAt() {
    return sentAt;
  }

  /** When the ticket was first admitted to a queue (a handover keeps it). */
  public long admittedAt() {
    return admittedAt;
  }
}
