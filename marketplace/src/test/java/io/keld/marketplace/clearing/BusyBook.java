package io.keld.marketplace.clearing;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A busy book, run through the engine: thousands of asks from many providers, amends, capacity
 * updates, withdrawals, bids from several enterprises (most fill, some rest, some expire), releases
 * and cancellations, on a coarse price grid so that ties happen. The result is the book's log as the
 * entity would persist it, numbered from 1.
 */
final class BusyBook {

  static final String BOOK = "summarize";
  static final long T0 = 1_800_000_000_000L;
  static final String[] PROVIDERS = new String[40];
  static final String[] ENTERPRISES = {"acme", "globex", "initech", "umbrella"};
  static final String[] MODELS = {"llama-70b", "mixtral", "qwen-7b", "gemma-27b"};
  static final long[] PRICES = {100_000, 120_000, 150_000, 180_000, 200_000, 250_000};

  static {
    for (int i = 0; i < PROVIDERS.length; i++) PROVIDERS[i] = "prv_org" + i;
  }

  final OrderBookCore core = new OrderBookCore(BOOK, MatchingRules.DEFAULT);
  final List<BookLogEntry> log = new ArrayList<>();
  final List<String> askIds = new ArrayList<>();
  final List<String> bidIds = new ArrayList<>();
  private final SplittableRandom rnd;
  private long now = T0;
  private int asks;
  private int bids;

  BusyBook(long seed) {
    rnd = new SplittableRandom(seed);
  }

  static BusyBook run(long seed, int asks, int ops) {
    BusyBook b = new BusyBook(seed);
    for (int i = 0; i < asks; i++) b.post();
    for (int i = 0; i < ops; i++) b.step();
    return b;
  }

  String providerOf(String askId) {
    return PROVIDERS[Integer.parseInt(askId.substring(askId.lastIndexOf('_') + 1)) % PROVIDERS.length];
  }

  /** The enterprise whose job placed the bid: bids are named {@code job_<enterprise>_<n>.b1}. */
  static String enterpriseOf(String bidId) {
    return bidId.substring(4, bidId.indexOf('_', 4));
  }

  private void step() {
    now += rnd.nextInt(4) == 0 ? rnd.nextInt(5_000) : rnd.nextInt(50);
    int k = rnd.nextInt(100);
    if (k < 30) bid();
    else if (k < 50) amend();
    else if (k < 70) release();
    else if (k < 78) capacity();
    else if (k < 84) post();
    else if (k < 88) withdraw();
    else if (k < 92) cancel();
    else exec(new BookOp.ExpireDue());
  }

  private void post() {
    int n = asks++;
    String id = "ask_" + PROVIDERS[n % PROVIDERS.length] + "_" + n;
    askIds.add(id);
    exec(new BookOp.PostAsk(new Ask(id, providerOf(id), MODELS[rnd.nextInt(MODELS.length)], BOOK, PRICES[rnd.nextInt(PRICES.length)],
        70 + 10 * rnd.nextInt(3), 500 + 500L * rnd.nextInt(8), 1 + rnd.nextInt(3), Ask.OPEN_FROM, Ask.OPEN_UNTIL,
        rnd.nextBoolean() ? "eu" : "us", rnd.nextInt(4) == 0 ? Set.of("zdr") : Set.of())));
  }

  private String anyAsk() {
    return askIds.get(rnd.nextInt(askIds.size()));
  }

  private void amend() {
    String id = anyAsk();
    exec(new BookOp.AmendAsk(id, providerOf(id), PRICES[rnd.nextInt(PRICES.length)], rnd.nextBoolean() ? null : 70 + 10 * rnd.nextInt(3),
        null, null, null));
  }

  private void capacity() {
    String id = anyAsk();
    exec(new BookOp.UpdateCapacity(id, providerOf(id), 500 + 500L * rnd.nextInt(8), 1 + rnd.nextInt(3)));
  }

  private void withdraw() {
    String id = anyAsk();
    exec(new BookOp.WithdrawAsk(id, providerOf(id)));
  }

  private void bid() {
    int n = bids++;
    String id = "job_" + ENTERPRISES[n % ENTERPRISES.length] + "_" + n + ".b1";
    bidIds.add(id);
    long deadline = now + 10_000 + rnd.nextInt(600_000);
    long escalate = deadline - 5_000 - rnd.nextInt(5_000);
    Set<String> denied = rnd.nextInt(6) == 0 ? Set.of(PROVIDERS[rnd.nextInt(PROVIDERS.length)]) : Set.of();
    Set<String> allowed = rnd.nextInt(10) == 0 ? Set.of(PROVIDERS[rnd.nextInt(20)], PROVIDERS[20 + rnd.nextInt(20)]) : Set.of();
    exec(new BookOp.PlaceBid(new Bid(id, BOOK, rnd.nextInt(4) == 0 ? Set.of(MODELS[rnd.nextInt(MODELS.length)]) : Set.of(),
        rnd.nextInt(3) == 0 ? 80 : 0, PRICES[rnd.nextInt(PRICES.length)], 1_000 + rnd.nextInt(200_000), deadline, escalate,
        rnd.nextInt(5) == 0 ? Set.of("eu") : Set.of(), rnd.nextInt(8) == 0 ? Set.of("zdr") : Set.of(), allowed, denied)));
  }

  private void release() {
    if (core.activeFillCount() == 0) return;
    // The oldest active fill still on the book: fill ids count up from 1.
    for (long n = Math.max(1, core.nextFillSeq() - 200 - rnd.nextInt(400)); n < core.nextFillSeq(); n++) {
      String fillId = "fil_" + BOOK + "_" + n;
      if (core.activeFill(fillId) != null) {
        exec(new BookOp.ReleaseFill(fillId, rnd.nextInt(100_000), rnd.nextInt(10) == 0));
        return;
      }
    }
  }

  private void cancel() {
    if (bidIds.isEmpty()) return;
    exec(new BookOp.CancelBid(bidIds.get(rnd.nextInt(Math.max(0, bidIds.size() - 50), bidIds.size()))));
  }

  private void exec(BookOp op) {
    // As the entity does: due expiries first, then the operation, at one time.
    List<BookEvent> events = new ArrayList<>(core.expireDue(now));
    if (core.execute(op, now) instanceof BookResult.Accepted a) events.addAll(a.events());
    for (BookEvent e : events) log.add(new BookLogEntry(log.size() + 1, e));
  }

  long count(Class<? extends BookEvent> type) {
    return log.stream().filter(e -> type.isInstance(e.event())).count();
  }
}
