package io.keld.bench;

import java.util.ArrayDeque;
import java.util.SplittableRandom;

/**
 * One stream of limit-order operations that both exchange-core's order book and Keld's book core
 * can express, generated once as plain arrays so neither engine pays for generating it: sellers' limit
 * orders (Keld: providers' asks) posted, moved in price and cancelled; buyers' orders that cross
 * (Keld: bids whose ceiling clears the best ask) or rest below the market and are later cancelled.
 *
 * <p>It is a cycle that leaves both books empty: about 1,000 asks are posted, then {@code mainOps}
 * operations run in steady state, then everything left is cancelled; the benchmark replays it
 * over and over. The mix of the main part, per 100: 40 ask price moves (one to three ticks of
 * 0.33%), 25 crossing bids, 10 resting bids (priced below the market, so an ask that moves low
 * enough crosses them), 10 cancels of the oldest resting bid (a no-op where a moved ask filled it
 * first, on both engines alike), 15 posts or cancels of asks (whichever keeps the book at about 1,000).
 */
final class BookPeersStream {

  static final byte POST_ASK = 0;
  static final byte MOVE_ASK = 1;
  static final byte CANCEL_ASK = 2;
  static final byte CROSSING_BID = 3;
  static final byte RESTING_BID = 4;
  static final byte CANCEL_BID = 5;

  static final int PROVIDERS = 200;
  static final int ASKS = 1_000;
  static final long MARKET = 300_000;
  static final long TICK = 1_000;
  static final long ASK_FLOOR = 200_000;
  static final long ASK_CEILING = 400_000;
  /** Above every ask: a crossing bid always clears the best one. */
  static final long CROSSING_LIMIT = 1_000_000;

  /** What each operation is, and on what: an ask number or a bid number, a price, the ask's provider. */
  final byte[] kind;
  final int[] target;
  final long[] price;
  final int[] provider;
  final int length;
  /** How many distinct asks and bids one cycle names (their numbers are 0 ... n-1). */
  final int askNumbers;
  final int bidNumbers;

  private BookPeersStream(byte[] kind, int[] target, long[] price, int[] provider, int length, int askNumbers, int bidNumbers) {
    this.kind = kind;
    this.target = target;
    this.price = price;
    this.provider = provider;
    this.length = length;
    this.askNumbers = askNumbers;
    this.bidNumbers = bidNumbers;
  }

  static BookPeersStream generate(long seed, int mainOps) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int capacity = ASKS + mainOps + ASKS * 2 + mainOps / 5 + 16;
    byte[] kind = new byte[capacity];
    int[] target = new int[capacity];
    long[] price = new long[capacity];
    int[] provider = new int[capacity];
    int n = 0;
    // Live asks, as the generator sees them (asks are never filled away: both engines give them effectively unlimited size).
    int[] live = new int[ASKS * 2];
    long[] livePrice = new long[ASKS * 2];
    int[] liveProvider = new int[ASKS * 2];
    int liveCount = 0;
    int askSeq = 0;
    int bidSeq = 0;
    ArrayDeque<Integer> resting = new ArrayDeque<>();

    for (int i = 0; i < ASKS; i++) {
      int p = rnd.nextInt(PROVIDERS);
      long px = ASK_FLOOR + TICK * rnd.nextInt((int) ((ASK_CEILING - ASK_FLOOR) / TICK) + 1);
      live[liveCount] = askSeq;
      livePrice[liveCount] = px;
      liveProvider[liveCount] = p;
      liveCount++;
      kind[n] = POST_ASK;
      target[n] = askSeq++;
      price[n] = px;
      provider[n] = p;
      n++;
    }
    for (int op = 0; op < mainOps; op++) {
      int roll = rnd.nextInt(100);
      if (roll < 40) {
        int i = rnd.nextInt(liveCount);
        long px = livePrice[i] + (rnd.nextBoolean() ? 1 : -1) * TICK * (1 + rnd.nextInt(3));
        px = Math.max(ASK_FLOOR - 20 * TICK, Math.min(ASK_CEILING, px));
        livePrice[i] = px;
        kind[n] = MOVE_ASK;
        target[n] = live[i];
        price[n] = px;
        provider[n] = liveProvider[i];
      } else if (roll < 65) {
        kind[n] = CROSSING_BID;
        target[n] = bidSeq++;
        price[n] = CROSSING_LIMIT;
      } else if (roll < 75) {
        kind[n] = RESTING_BID;
        resting.add(bidSeq);
        target[n] = bidSeq++;
        // Below the market: it rests, until an ask moves down to it.
        price[n] = ASK_FLOOR - 50 * TICK + TICK * rnd.nextInt(45);
      } else if (roll < 85) {
        Integer oldest = resting.poll();
        if (oldest == null) {
          op--;
          continue;
        }
        kind[n] = CANCEL_BID;
        target[n] = oldest;
      } else if (liveCount < ASKS) {
        int p = rnd.nextInt(PROVIDERS);
        long px = ASK_FLOOR + TICK * rnd.nextInt((int) ((ASK_CEILING - ASK_FLOOR) / TICK) + 1);
        live[liveCount] = askSeq;
        livePrice[liveCount] = px;
        liveProvider[liveCount] = p;
        liveCount++;
        kind[n] = POST_ASK;
        target[n] = askSeq++;
        price[n] = px;
        provider[n] = p;
      } else {
        int i = rnd.nextInt(liveCount);
        kind[n] = CANCEL_ASK;
        target[n] = live[i];
        provider[n] = liveProvider[i];
        liveCount--;
        live[i] = live[liveCount];
        livePrice[i] = livePrice[liveCount];
        liveProvider[i] = liveProvider[liveCount];
      }
      n++;
    }
    // Close the cycle: both books end empty, so the stream can be replayed as it is.
    for (Integer b : resting) {
      kind[n] = CANCEL_BID;
      target[n] = b;
      n++;
    }
    for (int i = 0; i < liveCount; i++) {
      kind[n] = CANCEL_ASK;
      target[n] = live[i];
      provider[n] = liveProvider[i];
      n++;
    }
    return new BookPeersStream(kind, target, price, provider, n, askSeq, bidSeq);
  }
}
