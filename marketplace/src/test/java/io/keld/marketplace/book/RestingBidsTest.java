package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link RestingBids} with hundreds of bids on few ceilings and deadlines, against a sorted set in rule
 * 4's offer order written out here (higher ceiling, then earlier deadline, then arrival): the first bid,
 * the walk from each bid to the next (also from a bid that has just left, as an offer walks on past a
 * bid it filled), and the escalation heap's earliest (earlier escalation point, then arrival).
 */
class RestingBidsTest {

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3})
  void offerOrderAndEscalationOrderMatchASortedSet(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    RestingBids resting = new RestingBids();
    TreeSet<RestingBids.Entry> expected = new TreeSet<>(Comparator.<RestingBids.Entry>comparingLong(e -> -e.bid.ceilingPerMtok())
        .thenComparingLong(e -> e.bid.deadlineMillis()).thenComparingLong(e -> e.arrivalSeq));
    List<RestingBids.Entry> live = new ArrayList<>();
    long seq = 1;
    for (int step = 0; step < 20_000; step++) {
      if (live.isEmpty() || rnd.nextInt(100) < (live.size() < 400 ? 55 : 45)) {
        long deadline = 2_000_000 + 1_000 * rnd.nextInt(50);
        RestingBids.Entry e = new RestingBids.Entry(bid("job_" + seq, 100_000 + 5_000 * rnd.nextInt(12), deadline,
            deadline - 1_000 * rnd.nextInt(30)), seq++, 1_000);
        resting.add(e);
        expected.add(e);
        live.add(e);
      } else {
        RestingBids.Entry gone = live.remove(rnd.nextInt(live.size()));
        RestingBids.Entry after = expected.higher(gone);
        if (rnd.nextBoolean()) resting.remove(gone);
        else assertSame(gone, resting.remove(gone.bid.bidId()));
        expected.remove(gone);
        assertSame(after, resting.next(gone), "next after a bid that left");
      }
      assertSame(expected.isEmpty() ? null : expected.first(), resting.first(), "first at step " + step);
      if (step % 101 == 0) {
        assertEquals(expected.size(), resting.size());
        RestingBids.Entry e = resting.first();
        for (RestingBids.Entry x : expected) {
          assertSame(x, e, "offer order at step " + step);
          e = resting.next(e);
        }
        assertSame(null, e);
        RestingBids.Entry earliest = null;
        for (RestingBids.Entry x : live) {
          long at = x.bid.escalateAtMillis();
          long best = earliest == null ? Long.MAX_VALUE : earliest.bid.escalateAtMillis();
          if (earliest == null || at < best || at == best && x.arrivalSeq < earliest.arrivalSeq) earliest = x;
        }
        assertSame(earliest, resting.earliest(), "earliest escalation");
      }
    }
  }

  private static Bid bid(String id, long ceiling, long deadline, long escalateAt) {
    return new Bid(id, "summarize", Set.of(), 0, ceiling, 1_000, deadline, escalateAt, Set.of(), Set.of(), Set.of(), Set.of());
  }
}
