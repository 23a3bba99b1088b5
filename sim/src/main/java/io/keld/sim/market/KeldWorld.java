package io.keld.sim.market;

import io.keld.ixp.Money;
import io.keld.marketplace.book.Ask;
import io.keld.marketplace.book.Bid;
import io.keld.marketplace.book.BookEvent;
import io.keld.marketplace.book.BookOp;
import io.keld.marketplace.book.BookResult;
import io.keld.marketplace.book.BookView;
import io.keld.marketplace.book.Fill;
import io.keld.marketplace.book.MatchingRules;
import io.keld.marketplace.book.OrderBookCore;
import io.keld.sim.strategy.MarketSignal;
import io.keld.sim.strategy.PricingStrategy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The day on Keld: one real {@link OrderBookCore} per use case, in simulated time. Providers post,
 * re-price and re-size their asks on every tick by their strategies; each job places a bid whose
 * escalation point comes from the exchange's rule ({@link JobRules}); an unmatched bid expires there
 * and the job goes to its backup at list price; a provider that fails part-way is released with the
 * tokens it did, and the rest is bid again (or goes to the backup), as the deadline job does.
 */
final class KeldWorld {

  /** Queue depth of an ask: fills it may hold at once (the book schedules them one after another). */
  static final int ASK_CONCURRENCY = 8;

  private record Tick(int no) {}

  private record Arrival(SimJob job) {}

  private record LegDone(Run run, Fill fill) {}

  private record LegFailed(Run run, Fill fill) {}

  private record Reroute(Run run, long tokens) {}

  private record Expire(String useCase) {}

  /** A job as it runs: what it paid so far and where its work is. */
  private static final class Run {
    final SimJob job;
    long cost;
    long marketTokens;
    long listTokens;
    long pendingTokens;
    int bids;
    boolean escalated;
    boolean rerouted;
    long finish = Long.MAX_VALUE;
    long firstPrice;
    boolean over;

    Run(SimJob job) {
      this.job = job;
    }
  }

  /** A provider's side of the market: its open asks and what it told the book last. */
  private static final class Seller {
    final ProviderSpec spec;
    final Map<String, String> askByUseCase = new TreeMap<>();
    final Map<String, Long> price = new HashMap<>();
    final Map<String, Long> tps = new HashMap<>();
    int fillsSinceTick;
    int asksPosted;

    Seller(ProviderSpec spec) {
      this.spec = spec;
    }
  }

  private final MarketSettings settings;
  private final JobRules rules;
  private final long dayStart;
  private final EventQueue events = new EventQueue();
  private final Map<String, OrderBookCore> books = new TreeMap<>();
  private final Map<String, Seller> sellers = new LinkedHashMap<>();
  private final Map<String, Run> runByBid = new HashMap<>();
  private final List<Run> runs = new ArrayList<>();
  private final WorldLedger ledger;
  private final Map<String, long[]> bestAskByTick = new TreeMap<>();
  private int open;

  KeldWorld(MarketSettings settings, JobRules rules, MarketSetup.Market market) {
    this.settings = settings;
    this.rules = rules;
    this.dayStart = settings.dayStart().toEpochMilli();
    this.ledger = new WorldLedger(market.providers());
    for (String useCase : MarketSetup.useCases(market.providers())) books.put(useCase, new OrderBookCore(useCase, MatchingRules.DEFAULT));
    for (ProviderSpec p : market.providers()) sellers.put(p.providerId(), new Seller(p));
    // The providers post first: a job arriving at the first instant finds the day's opening book.
    events.at(dayStart, new Tick(0));
    for (SimJob job : market.jobs()) {
      Run run = new Run(job);
      runs.add(run);
      events.at(job.arrivalMillis(), new Arrival(job));
    }
    open = runs.size();
  }

  /** Runs the day to its end and returns each job's outcome, in the workload's order. */
  List<JobOutcome> run() {
    Map<SimJob, Run> byJob = new HashMap<>();
    for (Run r : runs) byJob.put(r.job, r);
    while (!events.isEmpty()) {
      EventQueue.Event e = events.next();
      long now = e.atMillis();
      Object what = e.what();
      if (what instanceof Tick t) tick(t.no(), now);
      else if (what instanceof Arrival a) arrive(byJob.get(a.job()), now);
      else if (what instanceof LegDone d) legDone(d.run(), d.fill(), now);
      else if (what instanceof LegFailed f) legFailed(f.run(), f.fill(), now);
      else if (what instanceof Reroute r) reroute(r.run(), r.tokens(), now);
      else if (what instanceof Expire x) handle(x.useCase(), books.get(x.useCase()).expireDue(now), now);
    }
    List<JobOutcome> out = new ArrayList<>(runs.size());
    for (Run r : runs) {
      out.add(new JobOutcome(r.job, r.cost, r.finish, r.finish <= r.job.deadlineMillis(), r.marketTokens, r.listTokens, r.escalated, r.rerouted,
          r.firstPrice));
    }
    return out;
  }

  WorldLedger ledger() {
    return ledger;
  }

  /** Per use case, the best ask on the book at each tick (0: none). */
  Map<String, long[]> bestAskByTick() {
    return bestAskByTick;
  }

  /** The books, as they stand at the end of the run. */
  Map<String, OrderBookCore> books() {
    return books;
  }

  // -- providers ----------------------------------------------------------------------------------

  private void tick(int no, long now) {
    double hour = hourOfDay(now);
    for (Seller s : sellers.values()) {
      ProviderSpec p = s.spec;
      double background = p.background(hour, no);
      long spare = Math.max(1, Math.round(p.capacityTps() * (1 - background) / p.useCases().size()));
      long busy = 0;
      for (Map.Entry<String, String> a : s.askByUseCase.entrySet()) {
        if (books.get(a.getKey()).busyUntil(a.getValue()) > now) busy += s.tps.get(a.getKey());
      }
      double utilisation = background + (double) busy / p.capacityTps();
      for (String useCase : p.useCases()) {
        OrderBookCore book = books.get(useCase);
        String askId = s.askByUseCase.get(useCase);
        Long bestOther = bestOther(book.view(now), askId == null ? null : s.price.get(useCase));
        Long price = p.strategy().price(new MarketSignal(hour, utilisation, bestOther, s.fillsSinceTick));
        if (price == null) {
          if (askId != null) {
            execute(useCase, new BookOp.WithdrawAsk(askId, p.providerId()), now);
            s.askByUseCase.remove(useCase);
          }
          continue;
        }
        if (askId == null) {
          long until = Ask.OPEN_UNTIL;
          if (p.strategy() instanceof PricingStrategy.OffPeak off) until = now + Math.round(off.hoursLeft(hour) * 3_600_000);
          askId = "ask_" + p.providerId().substring(4) + "_" + useCase + "_" + ++s.asksPosted;
          execute(useCase, new BookOp.PostAsk(new Ask(askId, p.providerId(), p.model(), useCase, price, p.quality(), spare, ASK_CONCURRENCY,
              Ask.OPEN_FROM, until, "any", Set.of())), now);
          s.askByUseCase.put(useCase, askId);
        } else {
          if (price.longValue() != s.price.get(useCase)) execute(useCase, new BookOp.AmendAsk(askId, p.providerId(), price, null, null, null, null), now);
          if (spare != s.tps.get(useCase)) execute(useCase, new BookOp.UpdateCapacity(askId, p.providerId(), spare, ASK_CONCURRENCY), now);
        }
        s.price.put(useCase, price);
        s.tps.put(useCase, spare);
      }
      s.fillsSinceTick = 0;
    }
    for (Map.Entry<String, OrderBookCore> b : books.entrySet()) {
      List<BookView.PriceLevel> levels = b.getValue().view(now).asks();
      bestAskByTick.computeIfAbsent(b.getKey(), u -> new long[ticks()])[Math.min(no, ticks() - 1)] = levels.isEmpty() ? 0 : levels.get(0).pricePerMtok();
    }
    long next = now + settings.tick().toMillis();
    if (next < dayStart + MarketSettings.HORIZON_HOURS * 3_600_000L && (open > 0 || next < dayStart + 24 * 3_600_000L)) events.at(next, new Tick(no + 1));
  }

  private int ticks() {
    return (int) (MarketSettings.HORIZON_HOURS * 3600L / settings.tick().toSeconds() + 1);
  }

  /** The cheapest price another ask shows: the lowest level, unless it is this provider's own ask alone. */
  static Long bestOther(BookView view, Long ownPrice) {
    for (BookView.PriceLevel level : view.asks()) {
      if (ownPrice != null && level.pricePerMtok() == ownPrice && level.askCount() == 1) continue;
      return level.pricePerMtok();
    }
    return null;
  }

  private double hourOfDay(long now) {
    return ((now - dayStart) % 86_400_000L) / 3_600_000.0;
  }

  // -- jobs ---------------------------------------------------------------------------------------

  private void arrive(Run run, long now) {
    run.pendingTokens = run.job.tokens();
    bid(run, run.job.tokens(), now);
  }

  private void bid(Run run, long tokens, long now) {
    SimJob job = run.job;
    if (job.deadlineMillis() <= now) {
      // Too late for the book: the backup takes it (late), or the job misses.
      toBackup(run, now);
      return;
    }
    Long backupTps = job.hasBackup() ? settings.backupTps() : null;
    long escalateAt = rules.escalation().at(job.deadlineMillis(), tokens, backupTps);
    String bidId = job.jobId() + ".b" + ++run.bids;
    runByBid.put(bidId, run);
    run.pendingTokens = tokens;
    Bid bid = new Bid(bidId, job.useCase(), job.models(), job.minQuality(), job.ceilingPerMtok(), tokens, job.deadlineMillis(),
        Math.min(escalateAt, job.deadlineMillis()), Set.of(), Set.of(), Set.of(), Set.of());
    execute(job.useCase(), new BookOp.PlaceBid(bid), now);
    if (books.get(job.useCase()).isResting(bidId)) events.at(Math.max(now, bid.escalateAtMillis()), new Expire(job.useCase()));
  }

  private void execute(String useCase, BookOp op, long now) {
    BookResult result = books.get(useCase).execute(op, now);
    if (result instanceof BookResult.Rejected r) throw new IllegalStateException("the book refused " + op + ": " + r.detail());
    handle(useCase, ((BookResult.Accepted) result).events(), now);
  }

  private void handle(String useCase, List<BookEvent> happened, long now) {
    for (BookEvent e : happened) {
      if (e instanceof BookEvent.Filled f) filled(useCase, f.fill(), now);
      else if (e instanceof BookEvent.BidExpired x) toBackup(runByBid.get(x.bidId()), now);
    }
  }

  private void filled(String useCase, Fill fill, long now) {
    Run run = runByBid.get(fill.bidId());
    if (run.firstPrice == 0) run.firstPrice = fill.pricePerMtok();
    sellers.get(fill.providerId()).fillsSinceTick++;
    ledger.cleared(useCase, now, dayStart, fill.tokens(), fill.pricePerMtok(), run.job.listPerMtok());
    boolean fails = run.bids == 1 && run.job.faultDraw() < settings.faultRate();
    if (fails) {
      long at = fill.startMillis() + Math.max(1, (long) ((fill.finishMillis() - fill.startMillis()) * run.job.faultPoint()));
      events.at(Math.min(at, fill.finishMillis()), new LegFailed(run, fill));
    } else {
      events.at(fill.finishMillis(), new LegDone(run, fill));
    }
  }

  private void legDone(Run run, Fill fill, long now) {
    execute(run.job.useCase(), new BookOp.ReleaseFill(fill.fillId(), fill.tokens(), false), now);
    paid(run, fill, fill.tokens(), fill.finishMillis());
    finish(run, fill.finishMillis());
  }

  private void legFailed(Run run, Fill fill, long now) {
    long done = (long) ((double) fill.tokens() * (now - fill.startMillis()) / (fill.finishMillis() - fill.startMillis()));
    done = Math.max(0, Math.min(fill.tokens() - 1, done));
    execute(run.job.useCase(), new BookOp.ReleaseFill(fill.fillId(), done, true), now);
    paid(run, fill, done, now);
    run.rerouted = true;
    events.at(now + rules.faultDetectionMillis(), new Reroute(run, fill.tokens() - done));
  }

  private void reroute(Run run, long tokens, long now) {
    bid(run, tokens, now);
  }

  /** The provider is paid for the tokens it did, at its fill's price. */
  private void paid(Run run, Fill fill, long tokens, long end) {
    run.cost += Money.costMicroUsd(tokens, fill.pricePerMtok());
    run.marketTokens += tokens;
    ledger.sold(fill.providerId(), tokens, fill.pricePerMtok(), fill.startMillis(), end, dayStart);
  }

  /** The escalation: the job's remaining tokens go to its backup at list price, or, with none, the job misses. */
  private void toBackup(Run run, long now) {
    if (run.over) return;
    if (!run.job.hasBackup()) {
      run.over = true;
      open--;
      return;
    }
    long tokens = run.pendingTokens;
    run.cost += Money.costMicroUsd(tokens, run.job.listPerMtok());
    run.listTokens += tokens;
    run.escalated = true;
    finish(run, now + (tokens * 1000 + settings.backupTps() - 1) / settings.backupTps());
  }

  private void finish(Run run, long at) {
    run.finish = at;
    run.over = true;
    open--;
  }
}
