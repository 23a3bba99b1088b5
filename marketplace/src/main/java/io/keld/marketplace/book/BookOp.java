package io.keld.marketplace.book;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.keld.ixp.CborSerializable;

/** An operation on a book: what participants ask of it. {@link OrderBookCore#execute} decides each. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = BookOp.PostAsk.class, name = "PostAsk"),
  @JsonSubTypes.Type(value = BookOp.AmendAsk.class, name = "AmendAsk"),
  @JsonSubTypes.Type(value = BookOp.UpdateCapacity.class, name = "UpdateCapacity"),
  @JsonSubTypes.Type(value = BookOp.WithdrawAsk.class, name = "WithdrawAsk"),
  @JsonSubTypes.Type(value = BookOp.PlaceBid.class, name = "PlaceBid"),
  @JsonSubTypes.Type(value = BookOp.CancelBid.class, name = "CancelBid"),
  @JsonSubTypes.Type(value = BookOp.ReleaseFill.class, name = "ReleaseFill"),
  @JsonSubTypes.Type(value = BookOp.ExpireDue.class, name = "ExpireDue")
})
public sealed interface BookOp extends CborSerializable {

  record PostAsk(Ask ask) implements BookOp {}

  /** New terms for an ask; a null field keeps the current value. */
  record AmendAsk(String askId, String providerId, Long pricePerMtok, Integer quality, Long throughputTps,
      Long windowFromMillis, Long windowUntilMillis) implements BookOp {}

  /** Live fleet limits for an ask. */
  record UpdateCapacity(String askId, String providerId, long throughputTps, int maxConcurrency) implements BookOp {}

  record WithdrawAsk(String askId, String providerId) implements BookOp {}

  record PlaceBid(Bid bid) implements BookOp {}

  record CancelBid(String bidId) implements BookOp {}

  /** The work of a fill is over: {@code actualTokens} were used, or it {@code failed}. */
  record ReleaseFill(String fillId, long actualTokens, boolean failed) implements BookOp {}

  /** Expire every resting bid whose escalation point has come (the entity's timer sends this). */
  record ExpireDue() implements BookOp {}
}
