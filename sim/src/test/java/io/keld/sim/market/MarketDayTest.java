package io.keld.sim.market;

import static org.junit.jupiter.api.Assertions.*;

import io.keld.ixp.Money;
import io.keld.marketplace.book.OrderBookCore;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulated day on the real book core: reproducible from its seed, and its money adds up. The
 * escalation rule here is the exchange's formula with its default margin (the node wires the real
 * one; {@code MarketCommandTest} runs that).
 */
class MarketDayTest {

  static final JobRules RULES = new JobRules((deadline, tokens, backupTps) -> backupTps == null ? deadline - 2_000
      : deadline - (tokens * 1000 + backupTps - 1) / backupTps - 5_000, 5_000);

  static List<ListedModel> priceBook;

  @BeforeAll
  static void readPriceBook() throws Exception {
    try (Reader csv = Files.newBufferedReader(Path.of("../config/price-book.csv"))) {
      priceBook = PriceBookModels.read(csv);
    }
  }

  static MarketSettings small(long seed) {
    return MarketSettings.of(seed, 24).withJobScale(0.3).withFaultRate(0.05);
  }

  @Test
  void thePriceBookGivesTheReferenceModelsTheirLatestListPrices() {
    ListedModel mini = priceBook.stream().filter(m -> m.model().equals("gpt-5-mini")).findFirst().orElseThrow();
    assertEquals(250_000, mini.inputPerMtok());
    assertEquals(2_000_000, mini.outputPerMtok());
    assertEquals(Math.round(250_000 * 0.8 + 2_000_000 * 0.2), mini.blendedPerMtok(0.2));
    assertTrue(priceBook.stream().noneMatch(m -> m.model().startsWith("text-embedding")), "models without a quality score are left out");
  }

  @Test
  void theSameSeedWritesTheSameReportAndAnotherSeedAnother(@TempDir Path dir) throws Exception {
    MarketDay.Result first = MarketDay.run(small(7), priceBook, RULES);
    MarketDay.Result again = MarketDay.run(small(7), priceBook, RULES);
    Path report = MarketReport.write(first, dir.resolve("a"));
    Path reportAgain = MarketReport.write(again, dir.resolve("b"));
    assertEquals(Files.readString(report), Files.readString(reportAgain));
    assertNotEquals(Files.readString(report), MarketReport.markdown(MarketDay.run(small(8), priceBook, RULES), List.of()));
    for (String chart : List.of("cost-by-class.png", "deadline-hit-rate.png", "escalations.png", "clearing-price-index.png",
        "provider-utilisation.png", "revenue-by-strategy.png")) {
      byte[] png = Files.readAllBytes(dir.resolve("a").resolve(chart));
      assertTrue(png.length > 5_000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', chart + " is a drawn PNG");
      assertTrue(Files.readString(report).contains("](" + chart + ")"), "the report shows " + chart);
    }
  }

  @Test
  void everyMicroDollarAJobPaysIsAProvidersRevenueOrItsBackupsAndNoFillPaysOverItsCeiling() {
    MarketSettings settings = small(11);
    MarketSetup.Market market = MarketSetup.draw(settings, priceBook);
    KeldWorld world = new KeldWorld(settings, RULES, market);
    List<JobOutcome> keld = world.run();
    assertEquals(market.jobs().size(), keld.size());

    long paid = 0;
    long toBackups = 0;
    long marketTokens = 0;
    int escalated = 0;
    int faults = 0;
    for (JobOutcome o : keld) {
      SimJob job = o.job();
      paid += o.costMicroUsd();
      long backupCost = Money.costMicroUsd(o.listTokens(), job.listPerMtok());
      toBackups += backupCost;
      marketTokens += o.marketTokens();
      assertTrue(o.marketTokens() + o.listTokens() <= job.tokens(), job.jobId());
      if (o.onTime()) assertEquals(job.tokens(), o.marketTokens() + o.listTokens(), job.jobId() + " finished all its tokens");
      // The job pays the ask's price, and the ceiling is the limit (per-leg rounding: at most a micro-dollar a leg).
      assertTrue(o.costMicroUsd() - backupCost <= Money.costMicroUsd(o.marketTokens(), job.ceilingPerMtok()) + 2, job.jobId());
      if (o.escalated()) {
        escalated++;
        assertTrue(job.hasBackup(), "only a job with a backup escalates to one");
        if (!o.rerouted()) assertTrue(o.onTime(), job.jobId() + ": the escalation point leaves the backup time to finish");
      }
      if (job.hasBackup() && !o.rerouted()) assertTrue(o.onTime(), job.jobId() + " has a backup and no fault, so it is on time");
      if (o.rerouted()) faults++;
    }
    long revenue = world.ledger().revenueMicroUsd().values().stream().mapToLong(Long::longValue).sum();
    assertEquals(paid, revenue + toBackups, "what buyers paid is what providers earned plus what backups charged");
    long sold = 0;
    for (long[] hours : world.ledger().soldTokensByHour().values()) for (long t : hours) sold += t;
    assertEquals(marketTokens, sold, "every token a provider sold is counted in some hour");
    assertTrue(escalated > 0 && faults > 0, "the day exercises escalations (" + escalated + ") and faults (" + faults + ")");
    for (OrderBookCore book : world.books().values()) {
      assertEquals(0, book.activeFillCount(), book.useCase() + ": every fill was released");
      assertEquals(0, book.restingBidCount(), book.useCase() + ": no bid is left resting");
    }
  }

  @Test
  void theBatchTierIsHalfTheListPriceOnlyWhereItsWindowFitsAndTheHeadlineAddsUp() {
    MarketDay.Result day = MarketDay.run(small(5), priceBook, RULES);
    Map<SimJob, JobOutcome> listByJob = new HashMap<>();
    for (JobOutcome o : day.list()) listByJob.put(o.job(), o);
    int fits = 0;
    for (JobOutcome b : day.batch()) {
      long list = listByJob.get(b.job()).costMicroUsd();
      if (MarketDay.batchFits(b.job())) {
        fits++;
        assertEquals(Money.costMicroUsd(b.job().tokens(), Math.round(b.job().listPerMtok() * 0.5)), b.costMicroUsd());
      } else {
        assertEquals(list, b.costMicroUsd());
      }
    }
    assertTrue(fits > 0, "some jobs' deadlines fit the 24 h window");
    MarketReport.Headline h = MarketReport.headline(day);
    MarketDay.Totals keld = MarketDay.totals(day.keld(), j -> j.jobClass().latencyTolerant());
    MarketDay.Totals list = MarketDay.totals(day.list(), j -> j.jobClass().latencyTolerant());
    assertEquals(1 - (double) keld.costMicroUsd() / list.costMicroUsd(), h.savingsVsList(), 1e-12);
    assertTrue(h.utilisationAfter() >= h.utilisationBefore(), "selling spare capacity adds work, never removes it");
    assertEquals(day.market().jobs().size(), day.router().size());
  }
}
