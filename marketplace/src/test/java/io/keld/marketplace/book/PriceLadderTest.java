package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link PriceLadder} on ladders far longer than the property tests' books, so that its blocks fill,
 * split, empty and merge, and asks move inside a block, across block edges and across the whole
 * ladder, among crowded prices; against a list sorted by rule 2.
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
    int maxBlocks = 0;
    for (int step = 0; step < 20_000; step++) {
      int roll = rnd.nextInt(100);
      // The ladder grows to a few hundred asks, then shrinks, so blocks split and then merge.
      boolean growing = step < 10_000;
      if (expected.size() < 50 || roll < (growing ? 20 : 10) && expected.size() < 600) {
        AskState a = ask("ask_" + nextId++, price(rnd), 70 + 10 * rnd.nextInt(3), now++);
        ladder.add(a);
        expected.add(a);
      } else if (roll < 30) {
        // (a removal: roll 20-29 while growing, 10-29 while shrinking)
        AskState a = expected.remove(rnd.nextInt(expected.size()));
        ladder.remove(a);
      } else {
        AskState a = expected.get(rnd.nextInt(expected.size()));
        // Mostly a tick or two, sometimes across the whole ladder; sometimes the quality, which
        // moves it among the asks of its price.
        long price = roll < 80 ? Math.max(1, a.price + (rnd.nextInt(7) - 3) * 1_000) : price(rnd);
        int quality = rnd.nextInt(10) == 0 ? 70 + 10 * rnd.nextInt(3) : a.quality;
        a.amend(price, quality, a.throughputTps, a.windowFromMillis, a.windowUntilMillis);
        a.askTimeMillis = now++;
        ladder.moved(a);
      }
      if (step % 7 == 0 || step > 19_900) {
        expected.sort(AskState.PRIORITY);
        assertEquals(expected.size(), ladder.size(), "asks on the ladder");
        assertEquals(expected, ladder.asks(), "rule 2 order after step " + step);
        int blocks = 0;
        for (int k = 0; k < ladder.blockCount(); k++) {
          PriceLadder.Block b = ladder.block(k);
          assertTrue(b.size > 0 && b.size <= PriceLadder.BLOCK, "block size " + b.size);
          assertEquals(k, b.index, "the place the block knows");
          for (int i = 0; i < b.size; i++) {
            assertSame(b, b.asks[i].ladderBlock, "the block of " + b.asks[i].askId);
            assertEquals(b.asks[i].price, b.prices[i], "price beside " + b.asks[i].askId);
          }
          blocks++;
        }
        maxBlocks = Math.max(maxBlocks, blocks);
      }
    }
    assertTrue(maxBlocks >= 8, "the ladder grew to " + maxBlocks + " blocks");
    assertTrue(ladder.blockCount() <= 4, "blocks merge as the ladder shrinks: " + ladder.size() + " asks in " + ladder.blockCount() + " blocks");
  }

  /** Three full blocks of asks priced 100,000, 100,001, ... (a block splits at 64: 32 asks each after). */
  private static List<AskState> ladderOf(PriceLadder ladder, int asks) {
    List<AskState> all = new ArrayList<>();
    for (int i = 0; i < asks; i++) {
      AskState a = ask("ask_" + i, 100_000 + 10 * i, 80, i);
      ladder.add(a);
      all.add(a);
    }
    return all;
  }

  private static void moveTo(PriceLadder ladder, AskState a, long price, long askTime) {
    a.amend(price, a.quality, a.throughputTps, a.windowFromMillis, a.windowUntilMillis);
    a.askTimeMillis = askTime;
    ladder.moved(a);
  }

  @Test
  void movesAcrossBlockEdgesKeepTheOrder() {
    PriceLadder ladder = new PriceLadder();
    List<AskState> asks = ladderOf(ladder, 96);
    assertTrue(ladder.blockCount() >= 2, "blocks: " + ladder.blockCount());
    PriceLadder.Block second = ladder.block(1);
    // The first ask of the second block moves just below the first block's last.
    AskState first = second.asks[0];
    PriceLadder.Block firstBlock = ladder.block(0);
    moveTo(ladder, first, firstBlock.prices[firstBlock.size - 1] - 5, 1_000);
    // The last ask of the first block moves just above the second block's first.
    AskState last = ladder.block(0).asks[ladder.block(0).size - 1];
    moveTo(ladder, last, ladder.block(1).prices[0] + 5, 1_001);
    // An ask ranked before its block's first, but still after the block before: it stays in its block.
    PriceLadder.Block b = ladder.block(1);
    AskState third = b.asks[2];
    moveTo(ladder, third, b.prices[0] - 1, 1_002);
    assertLadderHolds(ladder, asks);
  }

  @Test
  void aMoveIntoAFullBlockSplitsItAndTheOrderHolds() {
    PriceLadder ladder = new PriceLadder();
    List<AskState> asks = ladderOf(ladder, 64 + 33);
    // Fill the last block to the brim, then move the last ask of the block before it into the middle of it.
    PriceLadder.Block lastBlock = ladder.block(ladder.blockCount() - 1);
    int n = 0;
    while (lastBlock.size < PriceLadder.BLOCK) {
      AskState a = ask("more_" + n++, lastBlock.prices[lastBlock.size - 1] + 10, 80, 5_000 + n);
      ladder.add(a);
      asks.add(a);
    }
    int blocks = ladder.blockCount();
    PriceLadder.Block before = ladder.block(blocks - 2);
    AskState mover = before.asks[before.size - 1];
    moveTo(ladder, mover, lastBlock.prices[PriceLadder.BLOCK / 2] + 1, 9_000);
    assertEquals(blocks + 1, ladder.blockCount(), "the full block split");
    assertLadderHolds(ladder, asks);
  }

  @Test
  void anAskAloneInItsBlockMovesOutAndTheBlockGoes() {
    PriceLadder ladder = new PriceLadder();
    List<AskState> asks = ladderOf(ladder, 128);
    // Empty a middle block down to one ask (its neighbours hold 32 each: too many to take it in), then move that ask away.
    PriceLadder.Block middle = ladder.block(1);
    while (middle.size > 1) {
      AskState gone = middle.asks[0];
      ladder.remove(gone);
      asks.remove(gone);
    }
    assertSame(middle, ladder.block(1), "the block stood with one ask");
    moveTo(ladder, middle.asks[0], ladder.block(ladder.blockCount() - 1).prices[0] + 1, 9_000);
    for (int k = 0; k < ladder.blockCount(); k++) assertTrue(ladder.block(k) != middle, "the emptied block went");
    assertLadderHolds(ladder, asks);
  }

  /** The ladder holds {@code asks} in rule 2's order, each block knows its place, and each ask its block. */
  private static void assertLadderHolds(PriceLadder ladder, List<AskState> asks) {
    List<AskState> expected = new ArrayList<>(asks);
    expected.sort(AskState.PRIORITY);
    assertEquals(expected, ladder.asks());
    for (int k = 0; k < ladder.blockCount(); k++) {
      PriceLadder.Block b = ladder.block(k);
      assertEquals(k, b.index, "the place the block knows");
      for (int i = 0; i < b.size; i++) assertSame(b, b.asks[i].ladderBlock, "the block of " + b.asks[i].askId);
    }
  }

  @Test
  void blocksLeftNearlyEmptyJoinTheirNeighbours() {
    PriceLadder ladder = new PriceLadder();
    List<AskState> asks = new ArrayList<>();
    for (int i = 0; i < 640; i++) {
      AskState a = ask("ask_" + i, 100_000 + i, 80, i);
      ladder.add(a);
      asks.add(a);
    }
    int full = ladder.blockCount();
    // Seven asks of every eight leave, spread over every block.
    for (int i = 0; i < asks.size(); i++) if (i % 8 != 0) ladder.remove(asks.get(i));
    assertEquals(80, ladder.size());
    List<AskState> left = new ArrayList<>();
    for (int i = 0; i < asks.size(); i += 8) left.add(asks.get(i));
    assertEquals(left, ladder.asks());
    assertTrue(full >= 10 && ladder.blockCount() <= 6, full + " blocks before, " + ladder.blockCount() + " after");
  }

  /** A few prices only, so many asks share one, often across a block's edge. */
  private static long price(SplittableRandom rnd) {
    return 100_000 + 1_000 * rnd.nextInt(rnd.nextBoolean() ? 5 : 200);
  }

  private static AskState ask(String id, long price, int quality, long askTime) {
    return new AskState(new Ask(id, "prv_1", "llama-3-70b", "summarize", price, quality, 1_000, 4, Ask.OPEN_FROM, Ask.OPEN_UNTIL,
        "eu", Set.of()), askTime);
  }
}
