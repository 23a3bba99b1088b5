package io.keld.marketplace.book;

import io.keld.marketplace.book.BookResult.Reason;
import io.keld.marketplace.book.BookResult.Rejected;

/**
 * What an operation must satisfy before a book decides it: ids, terms in range, the right use case,
 * the provider's own ask. Each check answers the refusal the participant gets, or null when it passes.
 */
final class OperationChecks {

  static final long MAX_TOKENS = 1_000_000_000_000L;
  static final long MAX_THROUGHPUT = 1_000_000_000L;
  static final int MAX_CONCURRENCY = 1_000_000;
  static final int MAX_ID_LENGTH = 128;

  private OperationChecks() {}

  static Rejected ask(Ask ask, String useCase) {
    if (ask == null) return invalid("an ask is required");
    String bad = badId(ask.askId(), "askId");
    if (bad == null) bad = badId(ask.providerId(), "providerId");
    if (bad == null) bad = badId(ask.model(), "model");
    if (bad != null) return invalid(bad);
    if (!useCase.equals(ask.useCase())) {
      return BookResult.rejected(Reason.WRONG_USE_CASE, "ask is for use case '" + ask.useCase() + "', this book is '" + useCase + "'");
    }
    return terms(ask.pricePerMtok(), ask.quality(), ask.throughputTps(), ask.maxConcurrency(), ask.windowFromMillis(),
        ask.windowUntilMillis());
  }

  /** An ask's terms, as posted or as an amend leaves them. */
  static Rejected terms(long price, int quality, long throughput, int maxConcurrency, long from, long until) {
    if (price < 1 || price > OrderBookCore.MAX_PRICE) return invalid("pricePerMtok must be between 1 and " + OrderBookCore.MAX_PRICE);
    if (quality < 0 || quality > 100) return invalid("quality must be between 0 and 100");
    if (throughput < 1 || throughput > MAX_THROUGHPUT) return invalid("throughputTps must be between 1 and " + MAX_THROUGHPUT);
    if (maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY) return invalid("maxConcurrency must be between 1 and " + MAX_CONCURRENCY);
    if (from < 0 || from >= until) return invalid("the window must have from < until");
    return null;
  }

  /** New live fleet limits. */
  static Rejected capacity(long throughput, int maxConcurrency) {
    if (throughput < 1 || throughput > MAX_THROUGHPUT) return invalid("throughputTps must be between 1 and " + MAX_THROUGHPUT);
    if (maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY) return invalid("maxConcurrency must be between 1 and " + MAX_CONCURRENCY);
    return null;
  }

  static Rejected bid(Bid bid, long now, String useCase) {
    if (bid == null) return invalid("a bid is required");
    String bad = badId(bid.bidId(), "bidId");
    if (bad != null) return invalid(bad);
    if (!useCase.equals(bid.useCase())) {
      return BookResult.rejected(Reason.WRONG_USE_CASE, "bid is for use case '" + bid.useCase() + "', this book is '" + useCase + "'");
    }
    long max = OrderBookCore.MAX_PRICE;
    if (bid.ceilingPerMtok() < 1 || bid.ceilingPerMtok() > max) return invalid("ceilingPerMtok must be between 1 and " + max);
    if (bid.tokens() < 1 || bid.tokens() > MAX_TOKENS) return invalid("tokens must be between 1 and " + MAX_TOKENS);
    if (bid.minQuality() < 0 || bid.minQuality() > 100) return invalid("minQuality must be between 0 and 100");
    if (bid.deadlineMillis() <= now) return invalid("the deadline has passed");
    if (bid.escalateAtMillis() > bid.deadlineMillis()) return invalid("the escalation point must not be after the deadline");
    return null;
  }

  /** The ask is on the book and the provider's own. */
  static Rejected ownedAsk(AskState a, String askId, String providerId) {
    if (a == null) return BookResult.rejected(Reason.UNKNOWN_ASK, "no ask " + askId + " on the book");
    if (!a.providerId.equals(providerId)) return BookResult.rejected(Reason.NOT_YOUR_ASK, "ask " + askId + " belongs to another provider");
    return null;
  }

  static Rejected invalid(String detail) {
    return BookResult.rejected(Reason.INVALID, detail);
  }

  static String requireId(String id, String name) {
    if (id == null || id.isBlank()) throw new IllegalArgumentException(name + " is required");
    return id;
  }

  private static String badId(String value, String name) {
    if (value == null || value.isBlank() || value.length() > MAX_ID_LENGTH) return name + " must be 1 to " + MAX_ID_LENGTH + " characters";
    return null;
  }
}
