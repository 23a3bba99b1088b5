package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link PriceLadder} on ladders far longer than the property tests' books: its searches step from
 * stale position hints and halve only past a distance, so the long jumps, the crowded prices and the
 * hints left behind by other asks' moves are what this drives, against a list sorted by rule 2.
 */
class PriceLadderTest {

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void keepsRuleTwoOrderAndFindsEveryAskThroughMovesOfEveryDistance(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    PriceLadder ladder = new PriceLadder();
    List<AskState> expected = new ArrayList<>();
    long now = 1_000;
    int nextId = 0;
    for (int step = 0; step < 20_000; step++) {
      int roll = rnd.nextInt(100);
      if (expected.size() < 50 || roll < 15 && expected.size() < 600) {
        AskState a = ask("ask_" + nextId++, price(rnd), 70 + 10 * rnd.nextInt(3), now++);
        ladder.add(a);
        expected.add(a);
      } else if (roll < 30) {
        AskState a = expected.remove(rnd.nextInt(expected.size()));
        ladder.remove(ladder.indexOf(a));
      } else {
        AskState a = expected.get(rnd.nextInt(expected.size()));
        int at = ladder.indexOf(a);
        // Mostly a tick or two, sometimes across the whole ladder; sometimes the quality, which
        // moves it among the asks of its price.
        long price = roll < 80 ? Math.max(1, a.price + (rnd.nextInt(7) - 3) * 1_000) : price(rnd);
        int quality = rnd.nextInt(10) == 0 ? 70 + 10 * rnd.nextInt(3) : a.quality;
        a.amend(price, quality, a.throughputTps, a.windowFromMillis, a.windowUntilMillis);
        a.askTimeMillis = now++;
        ladder.moved(at);
      }
      if (step % 97 == 0 || step > 19_900) {
        expected.sort(AskState.PRIORITY);
        assertEquals(expected.size(), ladder.size(), "asks on the ladder");
        for (int i = 0; i < expected.size(); i++) {
          assertSame(expected.get(i), ladder.ask(i), "ask at " + i + " after step " + step);
          assertEquals(expected.get(i).price, ladder.price(i), "price at " + i);
        }
        for (AskState a : expected) assertSame(a, ladder.ask(ladder.indexOf(a)), "indexOf " + a.askId);
      }
    }
  }

  /** A few prices only, so many asks share one (more than the eight a search steps over before halving). */
  private static long price(SplittableRandom rnd) {
    return 100_000 + 1_000 * rnd.nextInt(rnd.nextBoolean() ? 5 : 200);
  }

  private static AskState ask(String id, long price, int quality, long askTime) {
    return new AskState(new Ask(id, "prv_1", "llama-3-70b", "summarize", price, quality, 1_000, 4, Ask.OPEN_FROM, Ask.OPEN_UNTIL,
        "eu", Set.of()), askTime);
  }
}
