package io.keld.marketplace.book;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One model's asks in priority order (rule 2), in blocks of at most {@link #BLOCK}: each block a
 * plain array of asks with their prices beside them in a {@code long[]}, every ask of a block ranking
 * before every ask of the next. Finding a place searches prices without reading an ask; only among
 * asks of equal price are quality, ask time and id compared.
 *
 * <p>Why blocks: in one flat array, an ask posted or withdrawn moved every ask after it, half the
 * ladder on average (book-core-peers, 1,000 asks: array copying was about a tenth of a CPU profile's
 * samples), and an amend searched the ladder for its ask. In a block a post moves at most a block. Each
 * ask knows its block ({@link AskState#ladderBlock}), so an amend or a withdrawal finds the block
 * without a search and the ask in it by a hint (else by reading outward from it), and a price move of a tick
 * or two usually stays inside that block.
 */
final class PriceLadder {

  /** The most asks one block holds: a full block splits in two; a block under a quarter full joins a neighbour when they fit. */
  static final int BLOCK = 64;

  /** A run of asks in priority order, with their prices beside them. */
  static final class Block {
    final AskState[] asks = new AskState[BLOCK];
    final long[] prices = new long[BLOCK];
    int size;
    /** Its place among the ladder's blocks. */
    int index;
  }

  private Block[] blocks = new Block[4];
  private int blockCount;
  private int size;

  /** How many asks stand on the ladder. */
  int size() {
    return size;
  }

  /** How many blocks the asks are in; {@link #block} reads them in priority order. */
  int blockCount() {
    return blockCount;
  }

  Block block(int k) {
    return blocks[k];
  }

  /** Every ask in priority order, as a new list. */
  List<AskState> asks() {
    List<AskState> all = new ArrayList<>(size);
    for (int k = 0; k < blockCount; k++) {
      Block b = blocks[k];
      for (int i = 0; i < b.size; i++) all.add(b.asks[i]);
    }
    return all;
  }

  /** Puts {@code a} in its place by its current price, quality, ask time and id. */
  void add(AskState a) {
    if (blockCount == 0) insertBlock(0, new Block());
    int k = blockFor(a);
    Block b = blocks[k];
    insert(k, b, placeIn(b, a), a);
  }

  /** Takes {@code a}, which stands on this ladder, off it. */
  void remove(AskState a) {
    Block b = a.ladderBlock;
    removeAt(b, slotOf(b, a));
    a.ladderBlock = null;
    size--;
    settle(b);
  }

  /** {@code a}'s price, quality or ask time changed: moves it to its new place. */
  void moved(AskState a) {
    Block b = a.ladderBlock;
    int at = slotOf(b, a);
    long price = a.price;
    b.prices[at] = price;
    // Usually a tick or two, inside the same block: step there, moving only the asks between.
    if (at > 0 && compare(a, price, b, at - 1) < 0) {
      if (isFirst(b) || compare(a, price, b, 0) > 0) {
        int to = at - 1;
        while (to > 0 && compare(a, price, b, to - 1) < 0) to--;
        System.arraycopy(b.asks, to, b.asks, to + 1, at - to);
        System.arraycopy(b.prices, to, b.prices, to + 1, at - to);
        b.asks[to] = a;
        b.prices[to] = price;
        a.ladderSlotHint = to;
        return;
      }
    } else if (at < b.size - 1 && compare(a, price, b, at + 1) > 0) {
      if (isLast(b) || compare(a, price, b, b.size - 1) < 0) {
        int to = at + 1;
        while (to < b.size - 1 && compare(a, price, b, to + 1) > 0) to++;
        System.arraycopy(b.asks, at + 1, b.asks, at, to - at);
        System.arraycopy(b.prices, at + 1, b.prices, at, to - at);
        b.asks[to] = a;
        b.prices[to] = price;
        a.ladderSlotHint = to;
        return;
      }
    } else if (staysBetweenBlocks(b, at, a, price)) {
      return;
    }
    // Off this block and in where it now goes: mostly the next block or the one before, sometimes
    // this one again (before its first ask, but after the block before).
    removeAt(b, at);
    size--;
    int k = blockNear(a, price, b.index);
    Block to = blocks[k];
    insert(k, to, placeIn(to, a), a);
    settle(b);
  }

  /**
   * The block {@code a} goes in, stepping block by block from block {@code k} (which may have just
   * been left empty by {@code a}): the first whose last ask ranks after it, or the last block.
   */
  private int blockNear(AskState a, long price, int k) {
    int t = k;
    while (t > 0 && compare(a, price, blocks[t - 1], blocks[t - 1].size - 1) < 0) t--;
    while (t < blockCount - 1 && (blocks[t].size == 0 || compare(a, price, blocks[t], blocks[t].size - 1) > 0)) t++;
    return t;
  }

  /** In order with its neighbours in block {@code b}: and, first or last there, with the blocks either side. */
  private boolean staysBetweenBlocks(Block b, int at, AskState a, long price) {
    if (at == 0 && !isFirst(b)) {
      Block previous = blocks[b.index - 1];
      if (compare(a, price, previous, previous.size - 1) < 0) return false;
    }
    if (at == b.size - 1 && !isLast(b)) {
      Block next = blocks[b.index + 1];
      if (compare(a, price, next, 0) > 0) return false;
    }
    return true;
  }

  private static boolean isFirst(Block b) {
    return b.index == 0;
  }

  private boolean isLast(Block b) {
    return b.index == blockCount - 1;
  }

  /**
   * Where {@code a} stands in its block: where it stood last or, as asks before it come and go a
   * place or two at a time, found by reading outward from there.
   */
  private static int slotOf(Block b, AskState a) {
    AskState[] asks = b.asks;
    int n = b.size;
    if (n == 0) throw new IllegalStateException("ask " + a.askId + " is on an empty block of its ladder");
    int hint = Math.min(a.ladderSlotHint, n - 1);
    if (asks[hint] == a) return hint;
    for (int d = 1; d < n; d++) {
      int below = hint - d;
      int above = hint + d;
      if (below >= 0 && asks[below] == a) return a.ladderSlotHint = below;
      if (above < n && asks[above] == a) return a.ladderSlotHint = above;
      if (below < 0 && above >= n) break;
    }
    throw new IllegalStateException("ask " + a.askId + " is not on its block of its ladder");
  }

  /** The block {@code a} goes in: the first whose last ask ranks after it, or the last block. */
  private int blockFor(AskState a) {
    long price = a.price;
    int lo = 0;
    int hi = blockCount - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      Block b = blocks[mid];
      if (compare(a, price, b, b.size - 1) < 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Binary search of block {@code b} for where {@code a} goes. */
  private static int placeIn(Block b, AskState a) {
    long price = a.price;
    int lo = 0;
    int hi = b.size - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = compare(a, price, b, mid);
      if (c > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Puts {@code a} at {@code at} of block {@code k}, splitting the block first when it is full. */
  private void insert(int k, Block b, int at, AskState a) {
    if (b.size == BLOCK) {
      Block upper = new Block();
      int half = BLOCK / 2;
      System.arraycopy(b.asks, half, upper.asks, 0, BLOCK - half);
      System.arraycopy(b.prices, half, upper.prices, 0, BLOCK - half);
      Arrays.fill(b.asks, half, BLOCK, null);
      upper.size = BLOCK - half;
      b.size = half;
      for (int i = 0; i < upper.size; i++) {
        upper.asks[i].ladderBlock = upper;
        upper.asks[i].ladderSlotHint = i;
      }
      insertBlock(k + 1, upper);
      if (at > half) {
        b = upper;
        at -= half;
      }
    }
    System.arraycopy(b.asks, at, b.asks, at + 1, b.size - at);
    System.arraycopy(b.prices, at, b.prices, at + 1, b.size - at);
    b.asks[at] = a;
    b.prices[at] = a.price;
    b.size++;
    a.ladderBlock = b;
    a.ladderSlotHint = at;
    size++;
  }

  private static void removeAt(Block b, int at) {
    System.arraycopy(b.asks, at + 1, b.asks, at, b.size - at - 1);
    System.arraycopy(b.prices, at + 1, b.prices, at, b.size - at - 1);
    b.asks[--b.size] = null;
  }

  /** After a removal: an empty block goes; one under a quarter full joins a neighbour when both fit in half a block. */
  private void settle(Block b) {
    if (b.size >= BLOCK / 4) return;
    int k = b.index;
    if (b.size == 0) {
      removeBlock(k);
      return;
    }
    if (k + 1 < blockCount && blocks[k + 1].size + b.size <= BLOCK / 2) {
      append(b, blocks[k + 1]);
      removeBlock(k + 1);
    } else if (k > 0 && blocks[k - 1].size + b.size <= BLOCK / 2) {
      append(blocks[k - 1], b);
      removeBlock(k);
    }
  }

  /** Puts {@code from}'s asks after {@code to}'s, each learning its new block and place. */
  private static void append(Block to, Block from) {
    System.arraycopy(from.asks, 0, to.asks, to.size, from.size);
    System.arraycopy(from.prices, 0, to.prices, to.size, from.size);
    for (int i = to.size; i < to.size + from.size; i++) {
      to.asks[i].ladderBlock = to;
      to.asks[i].ladderSlotHint = i;
    }
    to.size += from.size;
  }

  private void insertBlock(int k, Block b) {
    if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, blockCount * 2);
    System.arraycopy(blocks, k, blocks, k + 1, blockCount - k);
    blocks[k] = b;
    blockCount++;
    for (int i = k; i < blockCount; i++) blocks[i].index = i;
  }

  private void removeBlock(int k) {
    System.arraycopy(blocks, k + 1, blocks, k, blockCount - k - 1);
    blocks[--blockCount] = null;
    for (int i = k; i < blockCount; i++) blocks[i].index = i;
  }

  /** Rule 2 between {@code a} (priced {@code price}) and the ask at {@code i} of {@code b}; the ask is read only at equal prices. */
  private static int compare(AskState a, long price, Block b, int i) {
    long p = b.prices[i];
    if (price != p) return price < p ? -1 : 1;
    return AskState.compareAtEqualPrice(a, b.asks[i]);
  }
}
