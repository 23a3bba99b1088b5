package io.keld.exchange.jobs;

import io.keld.ixp.CborSerializable;
import io.keld.marketplace.book.Fill;

/**
 * One provider a job's work ran on, at one price. A job has one leg when all goes well; a re-route
 * or an escalation adds one. Items are charged at the price of the leg whose provider answered them.
 *
 * @param kind                {@code fill} (cleared on the book) or {@code backup}
 * @param bidId               the bid that filled (null for a backup)
 * @param fillId              the book's fill, released when the leg's work ends (null for a backup)
 * @param plannedTokens       the tokens the leg was bought for
 * @param promisedFinishMillis when the book's schedule (or the backup's throughput) said the tokens would be done
 * @param movedFor            why the work moved to this leg (null for the first)
 */
public record Leg(int no, String kind, String bidId, String fillId, String askId, String providerId, String model,
    long pricePerMtok, long plannedTokens, long startedAtMillis, long promisedFinishMillis, String movedFor) implements CborSerializable {

  public static final String FILL = "fill";
  public static final String BACKUP = "backup";

  /** The leg a book's fill makes, starting {@code atMillis}. */
  static Leg of(Fill fill, int no, long atMillis, String movedFor) {
    return new Leg(no, FILL, fill.bidId(), fill.fillId(), fill.askId(), fill.providerId(), fill.model(), fill.pricePerMtok(),
        fill.tokens(), atMillis, fill.finishMillis(), movedFor);
  }

  public boolean backup() {
    return BACKUP.equals(kind);
  }

  /**
   * Whether requests still open at the previous provider should be sent here too: yes when that
   * provider stalled or failed (they may never answer in time), not when it was merely slow.
   */
  public boolean resendInFlight() {
    return movedFor != null && !movedFor.equals("projected_late");
  }
}
