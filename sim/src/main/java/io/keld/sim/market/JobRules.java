package io.keld.sim.market;

/**
 * The deadline job's rules the simulation runs by, supplied by the exchange (the node wires
 * {@code JobSettings.escalationPoint} and {@code stall-after}): this module sits below the exchange and
 * cannot call it itself.
 *
 * @param escalation           where an unmatched job gives up on the book
 * @param faultDetectionMillis how long a failed provider goes unnoticed before the job moves its work
 */
public record JobRules(EscalationPoint escalation, long faultDetectionMillis) {

  @FunctionalInterface
  public interface EscalationPoint {
    /** The escalation point of a job with this deadline and tokens and a backup of {@code backupTps} (null: no backup). */
    long at(long deadlineMillis, long tokens, Long backupTps);
  }
}
