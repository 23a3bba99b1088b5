package io.keld.marketplace.book;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.keld.ixp.CborSerializable;

/**
 * What happened on a book. Events are the only way the book changes ({@link OrderBookCore#apply}),
 * so replaying them rebuilds it exactly; they are also what the entity persists.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = BookEvent.AskPosted.class, name = "AskPosted"),
  @JsonSubTypes.Type(value = BookEvent.AskAmended.class, name = "AskAmended"),
  @JsonSubTypes.Type(value = BookEvent.CapacityUpdated.class, name = "CapacityUpdated"),
  @JsonSubTypes.Type(value = BookEvent.AskWithdrawn.class, name = "AskWithdrawn"),
  @JsonSubTypes.Type(value = BookEvent.BidRested.class, name = "BidRested"),
  @JsonSubTypes.Type(value = BookEvent.Filled.class, name = "Filled"),
  @JsonSubTypes.Type(value = BookEvent.BidExpired.class, name = "BidExpired"),
  @JsonSubTypes.Type(value = BookEvent.BidCancelled.class, name = "BidCancelled"),
  @JsonSubTypes.Type(value = BookEvent.FillReleased.class, name = "FillReleased")
})
public sealed interface BookEvent extends CborSerializable {

  long atMillis();

  record AskPosted(Ask ask, long atMillis) implements BookEvent {}

  /** The ask's new terms; {@code askTimeMillis} moves when price or quality changed. */
  record AskAmended(String askId, long pricePerMtok, int quality, long throughputTps, long windowFromMillis,
      long windowUntilMillis, long askTimeMillis, long atMillis) implements BookEvent {}

  record CapacityUpdated(String askId, long throughputTps, int maxConcurrency, long atMillis) implements BookEvent {}

  record AskWithdrawn(String askId, long atMillis) implements BookEvent {}

  record BidRested(Bid bid, long atMillis) implements BookEvent {}

  /**
   * A bid cleared. {@code bid} is the bid's terms as they were matched, so the log alone is enough to
   * check the clearing (rules 1-3); events written before it was recorded carry none.
   */
  record Filled(Fill fill, Bid bid, long atMillis) implements BookEvent {}

  record BidExpired(String bidId, long escalateAtMillis, long atMillis) implements BookEvent {}

  record BidCancelled(String bidId, long atMillis) implements BookEvent {}

  record FillReleased(String fillId, String askId, String bidId, long actualTokens, boolean failed, long atMillis)
      implements BookEvent {}
}
