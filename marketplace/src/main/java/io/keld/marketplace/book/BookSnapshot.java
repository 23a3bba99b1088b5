package io.keld.marketplace.book;

import io.keld.ixp.CborSerializable;
import java.util.List;

/**
 * The whole state of a book, in a canonical order, so that two books are the same exactly when
 * their snapshots are equal. Used for entity snapshots and to compare books in tests.
 */
public record BookSnapshot(
    String useCase,
    MatchingRules rules,
    long nextFillSeq,
    long nextArrivalSeq,
    List<AskEntry> asks,
    List<RestingEntry> restingBids,
    List<Fill> activeFills)
    implements CborSerializable {

  /** An ask as it stands now: its current terms and when it last moved in priority. */
  public record AskEntry(Ask ask, long askTimeMillis) implements CborSerializable {}

  public record RestingEntry(Bid bid, long arrivalSeq, long restedAtMillis) implements CborSerializable {}
}
