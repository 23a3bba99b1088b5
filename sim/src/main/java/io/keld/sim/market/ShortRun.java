package io.keld.sim.market;

import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import io.keld.sim.strategy.MarketSignal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A short stretch of a seed's day, small enough to run through a real node in real time: the
 * {@code summarize} book as the seed's providers open it at 10:00, and the seed's first report
 * generation jobs, shrunk (tokens, throughput and deadlines scaled down together, arrivals compressed
 * into seconds). {@link #simulate} runs it on the book core in simulated time, as the day does; a
 * node test runs the same plan through books, deadline jobs, Flow and fleets over HTTP, and the two
 * must agree on clearing prices and the hit rate.
 */
public final class ShortRun {

  public static final String USE_CASE = "summarize";
  /** Throughput and tokens are the day's divided by this: each job takes as long as it would have. */
  static final long SCALE = 100;
  static final long MAX_JOB_TOKENS = 3_000;

  /** An ask of the opening book. */
  public record Offer(String askId, String providerId, String model, long pricePerMtok, int quality, long throughputTps) {}

  /**
   * A job of the run.
   *
   * @param arrivalOffsetMillis when it arrives, from the run's start
   */
  public record Order(String jobId, Set<String> models, int minQuality, long ceilingPerMtok, long tokens, long arrivalOffsetMillis,
      long leadMillis, long backupPricePerMtok) {}

  public record Plan(List<Offer> offers, List<Order> orders, long backupTps) {}

  /** How the run went for one job on the book core: the price it first cleared at (0: it went to its backup), and whether it was on time. */
  public record Cleared(String jobId, long pricePerMtok, boolean onTime) {}

  private ShortRun() {}

  public static Plan draw(MarketSettings settings, List<ListedModel> priceBook, int jobs, long spanMillis) {
    MarketSetup.Market market = MarketSetup.draw(settings, priceBook);
    List<Offer> offers = new ArrayList<>();
    double hour = 10;
    for (ProviderSpec p : market.providers()) {
      if (!p.useCases().contains(USE_CASE)) continue;
      double background = p.background(hour, 40);
      Long price = p.strategy().price(new MarketSignal(hour, background, null, 0));
      if (price == null) continue;
      long tps = Math.max(100, Math.round(p.capacityTps() * (1 - background) / p.useCases().size() / SCALE));
      offers.add(new Offer("ask_" + p.providerId().substring(4) + "_short", p.providerId(), p.model(), price, p.quality(), tps));
    }
    List<SimJob> picked = market.jobs().stream().filter(j -> j.useCase().equals(USE_CASE) && j.jobClass().latencyTolerant()).limit(jobs).toList();
    if (picked.isEmpty()) throw new IllegalArgumentException("the seed's day has no " + USE_CASE + " jobs");
    long first = picked.get(0).arrivalMillis();
    long last = picked.get(picked.size() - 1).arrivalMillis();
    List<Order> orders = new ArrayList<>();
    for (SimJob j : picked) {
      long offset = last == first ? 0 : (j.arrivalMillis() - first) * spanMillis / (last - first);
      long tokens = Math.max(200, Math.min(MAX_JOB_TOKENS, j.tokens() / SCALE));
      // 15 min to 4 h become 10 to 50 s: room for a queue, not for a day.
      long lead = 10_000 + Math.min(40_000, j.leadMillis() / 360);
      orders.add(new Order(j.jobId(), j.models(), j.minQuality(), j.ceilingPerMtok(), tokens, offset, lead,
          j.hasBackup() ? j.listPerMtok() : 0));
    }
    return new Plan(List.copyOf(offers), List.copyOf(orders), 2_000);
  }

  /** The plan on the book core in simulated time: a fill holds its ask until its scheduled finish, then is released. */
  public static List<Cleared> simulate(Plan plan, JobRules rules) {
    OrderBookCore book = new OrderBookCore(USE_CASE, MatchingRules.DEFAULT);
    EventQueue events = new EventQueue();
    long start = 0;
    for (Offer o : plan.offers()) {
      check(book.execute(new BookOp.PostAsk(new Ask(o.askId(), o.providerId(), o.model(), USE_CASE, o.pricePerMtok(), o.quality(), o.throughputTps(),
          KeldWorld.ASK_CONCURRENCY, Ask.OPEN_FROM, Ask.OPEN_UNTIL, "any", Set.of())), start));
    }
    Map<String, Order> byBid = new HashMap<>();
    Map<String, Cleared> out = new LinkedHashMap<>();
    for (Order o : plan.orders()) {
      out.put(o.jobId(), null);
      events.at(start + o.arrivalOffsetMillis(), o);
    }
    while (!events.isEmpty()) {
      EventQueue.Event e = events.next();
      long now = e.atMillis();
      List<BookEvent> happened;
      if (e.what() instanceof Order o) {
        long deadline = now + o.leadMillis();
        Long backupTps = o.backupPricePerMtok() > 0 ? plan.backupTps() : null;
        long escalateAt = Math.min(deadline, rules.escalation().at(deadline, o.tokens(), backupTps));
        Bid bid = new Bid(o.jobId(), USE_CASE, o.models(), o.minQuality(), o.ceilingPerMtok(), o.tokens(), deadline, escalateAt,
            Set.of(), Set.of(), Set.of(), Set.of());
        byBid.put(o.jobId(), o);
        happened = check(book.execute(new BookOp.PlaceBid(bid), now));
        if (book.isResting(o.jobId())) events.at(escalateAt, "expire");
      } else if (e.what() instanceof Fill f) {
        happened = check(book.execute(new BookOp.ReleaseFill(f.fillId(), f.tokens(), false), now));
      } else {
        happened = book.expireDue(now);
      }
      for (BookEvent b : happened) {
        if (b instanceof BookEvent.Filled f) {
          out.put(f.fill().bidId(), new Cleared(f.fill().bidId(), f.fill().pricePerMtok(), f.fill().finishMillis() <= f.fill().deadlineMillis()));
          events.at(f.fill().finishMillis(), f.fill());
        } else if (b instanceof BookEvent.BidExpired x) {
          Order o = byBid.get(x.bidId());
          out.put(x.bidId(), new Cleared(x.bidId(), 0, o.backupPricePerMtok() > 0));
        }
      }
    }
    return List.copyOf(out.values());
  }

  private static List<BookEvent> check(BookResult r) {
    if (r instanceof BookResult.Rejected x) throw new IllegalStateException("the book refused: " + x.detail());
    return ((BookResult.Accepted) r).events();
  }
}
