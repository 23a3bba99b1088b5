package io.keld.sim.market;

import io.keld.ixp.Money;
import io.keld.sim.strategy.MarketSignal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The same day bought through a cost-sorting router: every job goes to the cheapest price posted for
 * its use case (of enough quality, and its model when it names one) at the moment it arrives, with
 * no view of deadlines or capacity. A provider works its jobs one after another, so a popular cheap
 * provider builds a queue; a job that cannot start before its deadline fails and is bought at list
 * price instead (so it is counted), and one that finishes late is a miss. A failed provider's rest
 * is re-run at list price once noticed. The providers are the same, with the same strategies and
 * their own customers' load; they see the router's work as they see Keld's.
 */
final class RouterWorld {

  private record Tick(int no) {}

  private record Arrival(SimJob job) {}

  /** One provider's price on one use case, as posted now (null: not posted). */
  private static final class Seat {
    final ProviderSpec provider;
    final String useCase;
    Long price;
    long tps = 1;
    long freeAt;
    int fillsSinceTick;

    Seat(ProviderSpec provider, String useCase) {
      this.provider = provider;
      this.useCase = useCase;
    }
  }

  private final MarketSettings settings;
  private final JobRules rules;
  private final long dayStart;
  private final EventQueue events = new EventQueue();
  private final Map<String, List<Seat>> seatsByUseCase = new TreeMap<>();
  private final Map<String, List<Seat>> seatsByProvider = new LinkedHashMap<>();
  private final WorldLedger ledger;
  private final List<SimJob> jobs;
  private final List<JobOutcome> outcomes = new ArrayList<>();

  RouterWorld(MarketSettings settings, JobRules rules, MarketSetup.Market market) {
    this.settings = settings;
    this.rules = rules;
    this.dayStart = settings.dayStart().toEpochMilli();
    this.ledger = new WorldLedger(market.providers());
    this.jobs = market.jobs();
    for (ProviderSpec p : market.providers()) {
      List<Seat> own = new ArrayList<>();
      for (String useCase : p.useCases()) {
        Seat seat = new Seat(p, useCase);
        own.add(seat);
        seatsByUseCase.computeIfAbsent(useCase, u -> new ArrayList<>()).add(seat);
      }
      seatsByProvider.put(p.providerId(), own);
    }
    events.at(dayStart, new Tick(0));
    for (SimJob job : jobs) events.at(job.arrivalMillis(), new Arrival(job));
  }

  List<JobOutcome> run() {
    int arrived = 0;
    while (!events.isEmpty()) {
      EventQueue.Event e = events.next();
      if (e.what() instanceof Tick t) {
        tick(t.no(), e.atMillis(), arrived < jobs.size());
      } else {
        outcomes.add(route(((Arrival) e.what()).job(), e.atMillis()));
        arrived++;
      }
    }
    return outcomes;
  }

  WorldLedger ledger() {
    return ledger;
  }

  private void tick(int no, long now, boolean jobsToCome) {
    double hour = ((now - dayStart) % 86_400_000L) / 3_600_000.0;
    for (List<Seat> own : seatsByProvider.values()) {
      ProviderSpec p = own.get(0).provider;
      double background = p.background(hour, no);
      long spare = Math.max(1, Math.round(p.capacityTps() * (1 - background) / p.useCases().size()));
      long busy = 0;
      int fills = 0;
      for (Seat s : own) {
        if (s.freeAt > now) busy += s.tps;
        fills += s.fillsSinceTick;
      }
      double utilisation = background + (double) busy / p.capacityTps();
      for (Seat s : own) {
        Long bestOther = null;
        for (Seat o : seatsByUseCase.get(s.useCase)) {
          if (o != s && o.price != null && (bestOther == null || o.price < bestOther)) bestOther = o.price;
        }
        s.price = p.strategy().price(new MarketSignal(hour, utilisation, bestOther, fills));
        s.tps = spare;
        s.fillsSinceTick = 0;
      }
    }
    long next = now + settings.tick().toMillis();
    if (jobsToCome || next < dayStart + 24 * 3_600_000L) events.at(next, new Tick(no + 1));
  }

  private JobOutcome route(SimJob job, long now) {
    Seat best = null;
    for (Seat s : seatsByUseCase.getOrDefault(job.useCase(), List.of())) {
      if (s.price == null || s.provider.quality() < job.minQuality()) continue;
      if (!job.models().isEmpty() && !job.models().contains(s.provider.model())) continue;
      if (best == null || s.price < best.price || (s.price.equals(best.price) && s.provider.quality() > best.provider.quality())) best = s;
    }
    if (best == null) {
      // Nothing posted fits: the buyer calls the reference model at its list price.
      long finish = now + backupMillis(job.tokens());
      return new JobOutcome(job, Money.costMicroUsd(job.tokens(), job.listPerMtok()), finish, finish <= job.deadlineMillis(), 0, job.tokens(),
          false, false, 0);
    }
    long start = Math.max(now, best.freeAt);
    if (start >= job.deadlineMillis()) {
      // The queue is past the deadline: the job fails here, and is bought at list price elsewhere, late.
      return new JobOutcome(job, Money.costMicroUsd(job.tokens(), job.listPerMtok()), Long.MAX_VALUE, false, 0, job.tokens(), false, false, 0);
    }
    best.fillsSinceTick++;
    long price = best.price;
    long finish = start + (job.tokens() * 1000 + best.tps - 1) / best.tps;
    ledger.cleared(job.useCase(), start, dayStart, job.tokens(), price, job.listPerMtok());
    if (job.faultDraw() < settings.faultRate()) {
      long failAt = start + Math.max(1, (long) ((finish - start) * job.faultPoint()));
      long done = Math.max(0, Math.min(job.tokens() - 1, (long) ((double) job.tokens() * (failAt - start) / (finish - start))));
      best.freeAt = failAt;
      ledger.sold(best.provider.providerId(), done, price, start, failAt, dayStart);
      long rest = job.tokens() - done;
      long end = failAt + rules.faultDetectionMillis() + backupMillis(rest);
      long cost = Money.costMicroUsd(done, price) + Money.costMicroUsd(rest, job.listPerMtok());
      return new JobOutcome(job, cost, end, end <= job.deadlineMillis(), done, rest, false, true, price);
    }
    best.freeAt = finish;
    ledger.sold(best.provider.providerId(), job.tokens(), price, start, finish, dayStart);
    return new JobOutcome(job, Money.costMicroUsd(job.tokens(), price), finish, finish <= job.deadlineMillis(), job.tokens(), 0, false, false, price);
  }

  private long backupMillis(long tokens) {
    return (tokens * 1000 + settings.backupTps() - 1) / settings.backupTps();
  }
}
