package io.keld.marketplace.book;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.keld.marketplace.book.BookEvent.Filled;
import io.keld.marketplace.clearing.BookLogEntry;
import io.keld.marketplace.clearing.BookLogVerifier;
import io.keld.marketplace.clearing.PublicBookLog;
import io.keld.marketplace.clearing.Pseudonyms;
import io.keld.marketplace.clearing.Viewer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

/**
 * What {@code keld verify} accepts is what the book produced: for generated operation sequences (the
 * generator of {@link OrderBookPropertiesTest}), the book's own log, pseudonymised, verifies with every
 * fill; and the same log with one fill altered in any recorded term fails, at that fill's sequence number.
 */
class VerifiableLogPropertiesTest {

  static final Pseudonyms PSEUDONYMS = new Pseudonyms("property-test secret, 32 bytes..".getBytes(StandardCharsets.UTF_8));

  enum Alteration { PRICE, FEASIBLE_ASKS, BEST_COMPETING, SLOT, TOKENS, RULE_VERSION, FILL_ID, DEADLINE }

  @Provide
  Arbitrary<List<OrderBookPropertiesTest.Step>> sequences() {
    return OrderBookPropertiesTest.steps().list().ofMinSize(1).ofMaxSize(150);
  }

  @Provide
  Arbitrary<Alteration> alterations() {
    return Arbitraries.of(Alteration.class);
  }

  @Property(tries = 300, edgeCases = EdgeCasesMode.NONE)
  void theVerifierAcceptsWhatTheBookProducedAndNothingAltered(@ForAll("sequences") List<OrderBookPropertiesTest.Step> steps,
      @ForAll @IntRange(min = 0, max = 1_000) int pick, @ForAll("alterations") Alteration alteration) {
    OrderBookPropertiesTest.Run run = new OrderBookPropertiesTest.Run(steps);
    run.run();
    PublicBookLog renderer = new PublicBookLog(OrderBookPropertiesTest.UC, PSEUDONYMS, Viewer.PUBLIC);
    List<BookLogEntry> log = new ArrayList<>();
    for (BookEvent e : run.journal) log.add(renderer.render(new BookLogEntry(log.size() + 1, e)));

    BookLogVerifier.Report report = verify(log);
    assertTrue(report.ok(), () -> "the book's own log failed: " + report.mismatches());
    long fills = log.stream().filter(e -> e.event() instanceof Filled).count();
    assertEquals(fills, report.fillsVerified());
    Statistics.label("fills").collect(fills == 0 ? "0" : fills < 5 ? "1-4" : "5+");

    List<BookLogEntry> filled = log.stream().filter(e -> e.event() instanceof Filled).toList();
    if (filled.isEmpty()) return;
    BookLogEntry target = filled.get(pick % filled.size());
    Filled f = (Filled) target.event();
    List<BookLogEntry> altered = new ArrayList<>(log);
    altered.set((int) target.seq() - 1, new BookLogEntry(target.seq(), new Filled(alter(f.fill(), alteration), f.bid(), f.atMillis())));
    BookLogVerifier.Report bad = verify(altered);
    assertFalse(bad.ok(), () -> alteration + " of " + target + " was accepted");
    assertEquals(target.seq(), bad.mismatches().get(0).seq(), () -> alteration + ": " + bad.mismatches().get(0).describe());
  }

  static Fill alter(Fill f, Alteration a) {
    long price = a == Alteration.PRICE ? f.pricePerMtok() + 1 : f.pricePerMtok();
    int feasible = a == Alteration.FEASIBLE_ASKS ? (f.feasibleAsks() == 1 ? 2 : f.feasibleAsks() - 1) : f.feasibleAsks();
    Long competing = a == Alteration.BEST_COMPETING ? (f.bestCompetingPricePerMtok() == null ? Long.valueOf(f.pricePerMtok()) : null)
        : f.bestCompetingPricePerMtok();
    long shift = a == Alteration.SLOT ? 1 : 0;
    long tokens = a == Alteration.TOKENS ? f.tokens() + 1 : f.tokens();
    String version = a == Alteration.RULE_VERSION ? "0.9" : f.ruleVersion();
    String fillId = a == Alteration.FILL_ID ? f.fillId() + "0" : f.fillId();
    long deadline = a == Alteration.DEADLINE ? f.deadlineMillis() + 1 : f.deadlineMillis();
    return new Fill(fillId, f.bidId(), f.askId(), f.providerId(), f.model(), price, tokens, f.startMillis() + shift, f.finishMillis() + shift,
        deadline, f.filledAtMillis(), competing, feasible, version);
  }

  static BookLogVerifier.Report verify(List<BookLogEntry> log) {
    BookLogVerifier v = new BookLogVerifier(OrderBookPropertiesTest.UC, List.of(OrderBookPropertiesTest.RULES));
    for (BookLogEntry e : log) v.accept(e);
    return v.finish();
  }
}
