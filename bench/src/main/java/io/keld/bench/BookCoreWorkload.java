package io.keld.bench;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.List;
import java.util.function.Consumer;

/**
 * A realistic stream of operations on one book of about 1,000 asks from 200 providers, kept in a
 * steady state: providers move prices and capacity most often, then bids arrive (most of which
 * match), fills are released as their work ends, and asks come and go.
 *
 * <p>The mix, per 100 operations: 45 amends (price moves, some throughput), 21 bids (about 85%
 * priced to match, 30% with a model allow-list), 19 fill releases (oldest fill first), 10 posts or
 * withdrawals (whichever keeps the book at about 1,000 asks), 5 cancels of resting bids; plus an
 * expiry sweep every 256 operations. Simulated time advances 1 ms per operation.
 */
public final class BookCoreWorkload {

  static final String USE_CASE = "summarize";
  static final int PROVIDERS = 200;
  static final int ASKS = 1_000;
  static final String[] MODELS = {"llama-3-70b", "llama-3-8b", "mixtral-8x7b", "qwen-72b", "gemma-27b",
      "mistral-large", "phi-3", "deepseek-v3", "command-r", "yi-34b"};
  static final String[] REGIONS = {"eu", "us", "apac"};
  static final long MARKET_PRICE = 300_000; // $0.30 per Mtok

  enum Kind { AMEND, BID, RELEASE, POST_OR_WITHDRAW, CANCEL }

  private static final Kind[] MIX = mix();

  final OrderBookCore book = new OrderBookCore(USE_CASE, MatchingRules.DEFAULT);
  private final SplittableRandom rnd;
  private final Kind[] kinds = new Kind[1 << 16];
  private long now = 1_800_000_000_000L;
  private long step;
  private long askSeq;
  private long bidSeq;

  // Our own view of the live asks, to pick targets for amends and withdrawals.
  private String[] askIds = new String[ASKS * 2];
  private String[] askProviders = new String[ASKS * 2];
  private long[] askPrices = new long[ASKS * 2];
  private int liveAsks;

  private final ArrayDeque<String> activeFills = new ArrayDeque<>();
  private final ArrayDeque<String> restingBids = new ArrayDeque<>();

  // Counters for the report.
  final long[] opsByKind = new long[Kind.values().length];
  long posts;
  long withdrawals;
  long bids;
  long fills;
  long rejected;

  /** Told every event the book emits, in order (the book's log), when set; null in the JMH benchmark. */
  private final Consumer<BookEvent> journal;

  public BookCoreWorkload(long seed) {
    this(seed, null);
  }

  public BookCoreWorkload(long seed, Consumer<BookEvent> journal) {
    this.journal = journal;
    rnd = new SplittableRandom(seed);
    for (int i = 0; i < kinds.length; i++) kinds[i] = MIX[rnd.nextInt(MIX.length)];
    for (int i = 0; i < ASKS; i++) record(post());
  }

  private static Kind[] mix() {
    Kind[] m = new Kind[100];
    int i = 0;
    for (int n = 0; n < 45; n++) m[i++] = Kind.AMEND;
    for (int n = 0; n < 21; n++) m[i++] = Kind.BID;
    for (int n = 0; n < 19; n++) m[i++] = Kind.RELEASE;
    for (int n = 0; n < 10; n++) m[i++] = Kind.POST_OR_WITHDRAW;
    for (int n = 0; n < 5; n++) m[i++] = Kind.CANCEL;
    return m;
  }

  /** One operation on the book. */
  public BookResult step() {
    now++;
    if ((++step & 255) == 0) {
      List<BookEvent> expired = book.expireDue(now);
      if (journal != null) expired.forEach(journal);
    }
    Kind kind = kinds[(int) (step & (kinds.length - 1))];
    opsByKind[kind.ordinal()]++;
    BookResult result = switch (kind) {
      case AMEND -> amend();
      case BID -> bid();
      case RELEASE -> release();
      case POST_OR_WITHDRAW -> liveAsks < ASKS ? post() : withdraw();
      case CANCEL -> cancel();
    };
    record(result);
    return result;
  }

  private BookResult amend() {
    int i = rnd.nextInt(liveAsks);
    if (rnd.nextInt(10) < 7) {
      // Price moves by one to three ticks of 0.5%, around the market.
      long tick = Math.max(1, askPrices[i] / 200);
      long price = Math.max(1_000, askPrices[i] + (rnd.nextBoolean() ? 1 : -1) * tick * (1 + rnd.nextInt(3)));
      askPrices[i] = price;
      return book.execute(new BookOp.AmendAsk(askIds[i], askProviders[i], price, null, null, null, null), now);
    }
    long tps = 2_000 + rnd.nextInt(8_000);
    return book.execute(new BookOp.AmendAsk(askIds[i], askProviders[i], null, null, tps, null, null), now);
  }

  private BookResult bid() {
    bids++;
    long tokens = 1_000 + rnd.nextInt(19_000);
    boolean matchable = rnd.nextInt(100) < 85;
    long ceiling = matchable ? MARKET_PRICE * 2 : MARKET_PRICE / 4;
    long deadline = now + 600_000 + rnd.nextInt(1_200_000);
    long escalateAt = matchable ? deadline - 60_000 : now + 5_000 + rnd.nextInt(15_000);
    Set<String> models = rnd.nextInt(10) < 3 ? Set.of(MODELS[rnd.nextInt(MODELS.length)]) : Set.of();
    Bid bid = new Bid("job_" + (++bidSeq), USE_CASE, models, rnd.nextInt(60), ceiling, tokens, deadline, escalateAt,
        Set.of(), Set.of(), Set.of(), Set.of());
    return book.execute(new BookOp.PlaceBid(bid), now);
  }

  private BookResult release() {
    String fillId = activeFills.poll();
    if (fillId == null) return amend();
    return book.execute(new BookOp.ReleaseFill(fillId, 1_000, false), now);
  }

  private BookResult post() {
    posts++;
    int p = rnd.nextInt(PROVIDERS);
    String id = "ask_" + (++askSeq);
    long price = MARKET_PRICE / 2 + rnd.nextInt((int) MARKET_PRICE);
    Ask ask = new Ask(id, "prv_" + p, MODELS[(p + (int) (askSeq % 3)) % MODELS.length], USE_CASE, price,
        50 + rnd.nextInt(50), 2_000 + rnd.nextInt(8_000), 8, Ask.OPEN_FROM, Ask.OPEN_UNTIL, REGIONS[p % REGIONS.length],
        p % 2 == 0 ? Set.of("zdr") : Set.of());
    askIds[liveAsks] = id;
    askProviders[liveAsks] = ask.providerId();
    askPrices[liveAsks] = price;
    liveAsks++;
    return book.execute(new BookOp.PostAsk(ask), now);
  }

  private BookResult withdraw() {
    withdrawals++;
    int i = rnd.nextInt(liveAsks);
    BookResult r = book.execute(new BookOp.WithdrawAsk(askIds[i], askProviders[i]), now);
    liveAsks--;
    askIds[i] = askIds[liveAsks];
    askProviders[i] = askProviders[liveAsks];
    askPrices[i] = askPrices[liveAsks];
    return r;
  }

  private BookResult cancel() {
    String bidId = restingBids.poll();
    if (bidId == null) return amend();
    return book.execute(new BookOp.CancelBid(bidId), now);
  }

  private void record(BookResult result) {
    if (result instanceof BookResult.Accepted a) {
      if (journal != null) a.events().forEach(journal);
      for (BookEvent e : a.events()) {
        if (e instanceof BookEvent.Filled f) {
          fills++;
          activeFills.add(f.fill().fillId());
        } else if (e instanceof BookEvent.BidRested r) {
          restingBids.add(r.bid().bidId());
        }
      }
    } else {
      rejected++;
    }
  }
}
