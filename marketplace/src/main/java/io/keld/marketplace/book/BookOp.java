package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;

/** An operation on a book: what participants ask of it. {@link OrderBookCore#execute} decides each. */
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
