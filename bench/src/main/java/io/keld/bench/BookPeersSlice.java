package io.keld.bench;

import io.keld.marketplace.book.BookResult;
import java.util.function.IntUnaryOperator;
import java.util.function.LongSupplier;

/**
 * Keld's side of book-core-peers' stream as {@code book-core-compare} drives it: made through a class
 * loader of its own, it runs whichever book core that loader finds. {@link #applyAsInt} runs that many
 * operations; {@link #getAsLong} is the fills of one cycle, counted when it was made.
 */
public final class BookPeersSlice implements IntUnaryOperator, LongSupplier {

  private final BookPeers.Keld keld;
  private final long fillsPerCycle;

  public BookPeersSlice() {
    BookPeersStream stream = BookPeersStream.generate(BookCorePeersBenchmark.SEED, BookCorePeersBenchmark.MAIN_OPS);
    keld = new BookPeers.Keld(stream);
    for (int i = 0; i < stream.length; i++) keld.step();
    if (keld.book.askCount() != 0 || keld.book.restingBidCount() != 0 || keld.book.activeFillCount() != 0) {
      throw new IllegalStateException("the book is not empty after one cycle: " + keld.book.askCount() + " asks, "
          + keld.book.restingBidCount() + " bids, " + keld.book.activeFillCount() + " fills");
    }
    fillsPerCycle = keld.fills;
  }

  @Override
  public int applyAsInt(int operations) {
    int accepted = 0;
    for (int i = 0; i < operations; i++) accepted += keld.step() instanceof BookResult.Accepted ? 1 : 0;
    return accepted;
  }

  @Override
  public long getAsLong() {
    return fillsPerCycle;
  }
}
